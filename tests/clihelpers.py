"""Helpers for the CLI tests: write a spec into tmp_path, run `mtasts`, look at the files.

Every helper works on what a user sees: the spec they write, the command they type, the
text on stdout and stderr, the exit code and the files the `local` provider leaves on disk.
The CLI runs in-process through typer's CliRunner (click >= 8.2 keeps stderr apart from
stdout); `run_console_script` runs the installed `mtasts` script where a real process
matters (tracebacks, exit codes, `--help`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from provisioner.cli import app

REPO = Path(__file__).resolve().parent.parent
QUICKSTART = REPO / "examples" / "quickstart.yaml"
QUICKSTART_DOMAINS = ("example.com", "example.net", "example.org")

RUA = "mailto:tlsrpt@example.net"
DEFAULTS: dict[str, Any] = {
    "provider": "local",
    "mode": "testing",
    "max_age": 86400,
    "tlsrpt": {"rua": [RUA]},
}
"""Defaults that raise no spec warning, so plans and outputs stay small."""

LOCAL = {"local": {"type": "local", "path": "./out"}}

# Variables a developer might have set that would change what the CLI does.
_CLEAN_ENV: dict[str, str | None] = {
    "MTASTS_CONFIG": None,
    "MTASTS_DEBUG": None,
    "MTASTS_NOW": None,
    "FORCE_COLOR": None,
}


def spec_text(
    domains: Mapping[str, Mapping[str, Any]],
    *,
    defaults: Mapping[str, Any] | None = None,
    providers: Mapping[str, Mapping[str, Any]] | None = None,
) -> str:
    """A spec with one domain per line (JSON flow mappings are YAML), easy to edit."""
    lines = [
        "version: 1",
        f"defaults: {json.dumps(dict(DEFAULTS if defaults is None else defaults))}",
        f"providers: {json.dumps(dict(LOCAL if providers is None else providers))}",
        "domains:",
    ]
    lines += [f"  {name}: {json.dumps(dict(settings))}" for name, settings in domains.items()]
    return "\n".join(lines) + "\n"


def write_spec(
    directory: Path,
    domains: Mapping[str, Mapping[str, Any]],
    *,
    name: str = "mtasts.yaml",
    defaults: Mapping[str, Any] | None = None,
    providers: Mapping[str, Mapping[str, Any]] | None = None,
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(spec_text(domains, defaults=defaults, providers=providers), encoding="utf-8")
    return path


def simple_domains(names: Iterable[str], **settings: Any) -> dict[str, dict[str, Any]]:
    """`{name: {"mx": ["mx.<name>"], **settings}}` for each name."""
    return {name: {"mx": [f"mx.{name}"], **settings} for name in names}


def run(*args: str | Path, input: str | None = None, env: Mapping[str, str] | None = None) -> Any:
    """`mtasts ARGS...` in-process; the result has stdout, stderr and exit_code apart."""
    merged: dict[str, str | None] = {**_CLEAN_ENV, **(env or {})}
    return CliRunner().invoke(
        app, [str(a) for a in args], input=input, env=merged, catch_exceptions=False
    )


def mtasts_executable() -> str:
    beside = Path(sys.executable).with_name("mtasts")
    if beside.exists():
        return str(beside)
    found = shutil.which("mtasts")
    assert found, "the mtasts console script is not installed (pip install -e '.[dev]')"
    return found


def run_console_script(
    *args: str | Path, cwd: Path, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The installed `mtasts` script in a real process, stdin closed, no terminal."""
    full_env = {k: v for k, v in os.environ.items() if k not in _CLEAN_ENV}
    full_env.update(env or {})
    return subprocess.run(
        [mtasts_executable(), *(str(a) for a in args)],
        cwd=cwd,
        env=full_env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# --- the local provider's files -------------------------------------------------------


def policy_file(root: Path, domain: str) -> Path:
    return root / f"mta-sts.{domain}" / ".well-known" / "mta-sts.txt"


def zone_file(root: Path, domain: str) -> Path:
    return root / "zones" / f"{domain}.zone"


def policy_fields(root: Path, domain: str) -> dict[str, Any]:
    """The published policy as `{"mode": ..., "max_age": ..., "mx": [...]}`."""
    text = policy_file(root, domain).read_bytes().decode("utf-8")
    fields: dict[str, Any] = {"mx": []}
    for line in text.split("\r\n"):
        if not line:
            continue
        key, _, value = line.partition(": ")
        if key == "mx":
            fields["mx"].append(value)
        else:
            fields[key] = value
    return fields


_TXT_LINE = re.compile(r"^(\S+)\s+(?:\d+\s+)?(?:IN\s+)?TXT\s+(.*)$")


def txt_values(root: Path, owner: str, domain: str) -> list[str]:
    """TXT values at `owner` in the domain's zone fragment, strings joined, in file order."""
    path = zone_file(root, domain)
    if not path.exists():
        return []
    values = []
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _TXT_LINE.match(line.strip())
        if match and match.group(1).rstrip(".").lower() == owner:
            values.append("".join(re.findall(r'"((?:[^"\\]|\\.)*)"', match.group(2))))
    return values


def sts_values(root: Path, domain: str) -> list[str]:
    return txt_values(root, f"_mta-sts.{domain}", domain)


def tlsrpt_values(root: Path, domain: str) -> list[str]:
    return txt_values(root, f"_smtp._tls.{domain}", domain)


def append_zone(root: Path, domain: str, *lines: str) -> None:
    path = zone_file(root, domain)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        for line in lines:
            handle.write(line + "\n")


def age_policy(root: Path, domain: str, seconds: float) -> None:
    """Make the policy file look published `seconds` ago (its mtime is the publish time)."""
    path = policy_file(root, domain)
    then = time.time() - seconds
    os.utime(path, (then, then))


def snapshot(root: Path) -> dict[str, tuple[bytes, int] | None]:
    """Every file (content, mtime) and directory (None) under root, by relative path."""
    if not root.exists():
        return {}
    tree: dict[str, tuple[bytes, int] | None] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        tree[rel] = (path.read_bytes(), path.stat().st_mtime_ns) if path.is_file() else None
    return tree


def plan_json(*args: str | Path) -> dict[str, Any]:
    result = run("plan", "--format", "json", *args)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)
