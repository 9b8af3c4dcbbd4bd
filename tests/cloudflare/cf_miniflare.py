"""The generated Worker run for real: workerd through Miniflare (tests/workers/serve.mjs).

One Node process per test session (per xdist worker) on a free port; `serve(script)` swaps
the script in and returns the base URL once workerd serves it. Miniflare builds a
request's URL from its Host header, so `get(host, path)` asks as a sender would for
`https://<host><path>`.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from providers.cloudflare.worker import COMPATIBILITY_DATE

WORKERS_DIR = Path(__file__).resolve().parent.parent / "workers"
SERVE = WORKERS_DIR / "serve.mjs"
INSTALL = "npm ci --prefix tests/workers --no-audit --no-fund"


def miniflare_available_or_skip() -> None:
    """Skip without the npm install, except under CI, where a missing install must fail."""
    missing = None
    if shutil.which("node") is None:
        missing = "node is not installed"
    elif not (WORKERS_DIR / "node_modules" / "miniflare").is_dir():
        missing = f"miniflare is not installed (run: {INSTALL})"
    if missing is None:
        return
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(f"CI is set but {missing}")
    pytest.skip(missing)


@dataclass(frozen=True)
class WorkerResponse:
    status: int
    headers: dict[str, str]
    body: bytes


class MiniflareRunner:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._process: subprocess.Popen[str] | None = None
        self.url: str | None = None
        self._count = 0

    def serve(self, script: str) -> str:
        """Serve this Worker script; returns the plain-HTTP base URL."""
        self._count += 1
        path = self.workdir / f"worker-{self._count}.mjs"
        path.write_text(script, encoding="utf-8")
        if self._process is None:
            self._process = subprocess.Popen(
                ["node", str(SERVE), str(path), COMPATIBILITY_DATE],
                cwd=WORKERS_DIR,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=(self.workdir / "miniflare.stderr").open("w"),
                text=True,
            )
            self.url = self._answer()["url"]
        else:
            assert self._process.stdin is not None
            self._process.stdin.write(json.dumps({"script": str(path)}) + "\n")
            self._process.stdin.flush()
            answer = self._answer()
            assert answer.get("ok"), answer
        assert self.url is not None
        return self.url

    def _answer(self) -> dict[str, object]:
        assert self._process is not None and self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            stderr = (self.workdir / "miniflare.stderr").read_text(errors="replace")
            raise RuntimeError(f"miniflare exited: {stderr[-2000:]}")
        return json.loads(line)

    def request(self, method: str, host: str, path: str) -> WorkerResponse:
        assert self.url is not None
        base = urlsplit(self.url)
        conn = http.client.HTTPConnection(base.hostname, base.port, timeout=10)
        try:
            conn.request(method, path, headers={"Host": host})
            answer = conn.getresponse()
            return WorkerResponse(
                answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
            )
        finally:
            conn.close()

    def get(self, host: str, path: str) -> WorkerResponse:
        return self.request("GET", host, path)

    def stop(self) -> None:
        if self._process is None:
            return
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
