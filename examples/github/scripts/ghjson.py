#!/usr/bin/env python3
"""The JSON the workflow's scripts read from and send to the GitHub API, without jq.

Standard library only: it runs on the runner's own python3 before mtasts is installed.

    ghjson.py find-comment MARKER AUTHOR   < pages   id of the newest comment of AUTHOR
                                                     whose body starts with MARKER
    ghjson.py find-issue MARKER AUTHOR     < pages   number of the newest open issue (not
                                                     a pull request) of AUTHOR, same rule
    ghjson.py merged-pr SHA                < pulls   "NUMBER HEAD_SHA" of the pull request
                                                     merged as commit SHA
    ghjson.py first-run                    < runs    databaseId of the first run listed
    ghjson.py body FILE [KEY=VALUE]...     > json    {"body": <FILE's text>, KEY: VALUE...}

Pages are `gh api --paginate --slurp` output: a list of pages, each a list of objects.
Finding by marker AND author means a comment someone else wrote, quoting the marker, is
never edited. Prints nothing (exit 0) when nothing matches; exit 1 on unreadable input.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

COMMENT_LIMIT = 65_536
"""GitHub refuses a comment or issue body longer than this many characters."""


def _items(pages: Any) -> Iterator[dict[str, Any]]:
    for page in pages if isinstance(pages, list) else [pages]:
        for item in page if isinstance(page, list) else [page]:
            if isinstance(item, dict):
                yield item


def _by(item: dict[str, Any], marker: str, author: str) -> bool:
    user = item.get("user") or {}
    body = item.get("body") or ""
    return user.get("login") == author and body.startswith(marker)


def find_comment(pages: Any, marker: str, author: str) -> str:
    found = [item["id"] for item in _items(pages) if _by(item, marker, author)]
    return str(max(found)) if found else ""


def find_issue(pages: Any, marker: str, author: str) -> str:
    found = [
        item["number"]
        for item in _items(pages)
        if _by(item, marker, author)
        and item.get("state", "open") == "open"
        and "pull_request" not in item
    ]
    return str(max(found)) if found else ""


def merged_pr(pulls: Any, sha: str) -> str:
    candidates = list(_items(pulls))
    merged = [p for p in candidates if p.get("merge_commit_sha") == sha] or candidates
    if not merged:
        return ""
    pull = merged[0]
    return f"{pull['number']} {pull['head']['sha']}"


def first_run(runs: Any) -> str:
    found = list(_items(runs))
    return str(found[0]["databaseId"]) if found else ""


def body(path: str, fields: list[str]) -> str:
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    if len(text) > COMMENT_LIMIT:
        cut = text[: COMMENT_LIMIT - 200]
        text = cut + "\n\n*(cut to fit one GitHub comment: see the run's summary and artifact)*\n"
    data: dict[str, Any] = {"body": text}
    for field in fields:
        key, _, value = field.partition("=")
        data[key] = value
    return json.dumps(data)


def main(argv: list[str]) -> int:
    command, args = (argv[0], argv[1:]) if argv else ("", [])
    try:
        if command == "body" and args:
            print(body(args[0], args[1:]))
            return 0
        data = json.load(sys.stdin)
        if command == "find-comment" and len(args) == 2:
            result = find_comment(data, args[0], args[1])
        elif command == "find-issue" and len(args) == 2:
            result = find_issue(data, args[0], args[1])
        elif command == "merged-pr" and len(args) == 1:
            result = merged_pr(data, args[0])
        elif command == "first-run" and not args:
            result = first_run(data)
        else:
            print(__doc__, file=sys.stderr)
            return 1
    except (ValueError, KeyError, TypeError, OSError) as exc:
        print(
            f"ghjson.py {command}: unreadable input ({type(exc).__name__}: {exc})", file=sys.stderr
        )
        return 1
    if result:
        print(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
