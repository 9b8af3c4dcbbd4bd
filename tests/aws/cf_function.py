"""Run a CloudFront Function's JavaScript for real, in node, on viewer requests.

`run(code, [(host, uri), ...])` calls the code's `handler(event)` once per request, with the
event shape CloudFront Functions pass (`event.request.uri`, `headers.host.value`), and returns
what it answered: the (possibly rewritten) request, or a response (`statusCode`). One node
process per batch, so checking every domain at every step stays cheap.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

_HARNESS = """
const code = require("fs").readFileSync(0, "utf8");
const input = JSON.parse(process.env.MTASTS_REQUESTS);
const handler = new Function(code + "\\nreturn handler;")();
const out = input.map(([host, uri]) => {
  const headers = host === null ? {} : { host: { value: host } };
  const answer = handler({ version: "1.0", context: { eventType: "viewer-request" },
    viewer: { ip: "192.0.2.1" }, request: { method: "GET", uri, querystring: {}, headers,
    cookies: {} } });
  return answer.statusCode !== undefined ? { status: answer.statusCode } : { uri: answer.uri };
});
process.stdout.write(JSON.stringify(out));
"""


def node() -> str:
    found = shutil.which("node")
    assert found, "node is needed to run the CloudFront Function"
    return found


def run(code: str, requests: list[tuple[str | None, str]]) -> list[dict[str, Any]]:
    answer = subprocess.run(
        [node(), "-e", _HARNESS],
        input=code,
        capture_output=True,
        text=True,
        timeout=30,
        env={"MTASTS_REQUESTS": json.dumps(requests)},
        check=True,
    )
    return list(json.loads(answer.stdout))
