"""Run the real clients (postfix-mta-sts-resolver's STSResolver, checkdmarc) in a subprocess.

Why a subprocess: aiohttp builds its verified SSL context when it is imported, so
``SSL_CERT_FILE`` must point at the test CA before that import; requests reads
``HTTPS_PROXY`` and ``REQUESTS_CA_BUNDLE`` from the environment. A child process with that
environment gets both right and leaves the test process untouched.

Two ways to run: one fresh process per call (``run_*`` with no ``process``; simplest, about
0.2-0.4 s each for the imports), or a long-lived ``ClientProcess`` that pays the imports once
per world. Every call still builds a new STSResolver (new c-ares channel, new aiohttp session)
and clears checkdmarc's process-wide DNS and nameserver-failure caches, so calls do not leak
state into each other.

This file is both the parent-side API and the child script (``python sts_client.py`` answers
one JSON request from stdin, ``--serve`` answers one per line), so the child imports only
installed packages and the standard library.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SUBPROCESS_TIMEOUT = 60.0
"""Hard limit on one client run; the clients' own timeouts are much shorter."""

_SCRUBBED_ENV = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "WS_PROXY",
    "WSS_PROXY",
    "SSL_CERT_DIR",
    "SSL_CERT_FILE",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
)


@dataclass(frozen=True)
class ClientTarget:
    """Where a client must look: the local DNS server, the CONNECT proxy and the CA to trust."""

    dns_host: str
    dns_port: int
    proxy_url: str
    ca_file: Path

    def env(self) -> dict[str, str]:
        """Environment for any client process: only the test CA trusted, HTTPS via the proxy."""
        env = {k: v for k, v in os.environ.items() if k.upper() not in _SCRUBBED_ENV}
        env.update(
            HTTPS_PROXY=self.proxy_url,
            https_proxy=self.proxy_url,
            SSL_CERT_FILE=str(self.ca_file),
            REQUESTS_CA_BUNDLE=str(self.ca_file),
            PYTHONDONTWRITEBYTECODE="1",
        )
        return env


@dataclass(frozen=True)
class StsClientResult:
    """What postfix-mta-sts-resolver concluded, as its ``resolve()`` returned it.

    ``status`` is the ``STSFetchResult`` member name: VALID, FETCH_ERROR, NONE or NOT_CHANGED.
    ``log`` holds the client's own log lines (e.g. why a fetch failed).
    """

    status: str
    policy_id: str | None = None
    policy: dict[str, Any] | None = None
    log: tuple[str, ...] = ()

    @property
    def mode(self) -> str | None:
        return None if self.policy is None else self.policy.get("mode")

    @property
    def mx(self) -> tuple[str, ...]:
        return () if self.policy is None else tuple(self.policy.get("mx", ()))

    @property
    def max_age(self) -> int | None:
        return None if self.policy is None else self.policy.get("max_age")


@dataclass(frozen=True)
class CheckdmarcResult:
    """checkdmarc's MTA-STS verdict (``check_mta_sts``), plus TLS-RPT and live-MX coverage."""

    valid: bool
    error: str | None = None
    warnings: tuple[str, ...] = ()
    policy_id: str | None = None
    policy: dict[str, Any] | None = None
    tlsrpt: dict[str, Any] = field(default_factory=dict)
    mx_hosts: tuple[str, ...] = ()
    mx_not_covered: tuple[str, ...] = ()

    @property
    def errors(self) -> tuple[str, ...]:
        return () if self.error is None else (self.error,)


_MARKER = "@@mta-sts-harness@@ "
"""Prefix of the child's answer lines, so a library printing to stdout cannot confuse us."""


def _parse_answer(line: str) -> dict[str, Any]:
    answer = json.loads(line.removeprefix(_MARKER))
    if "__error__" in answer:
        raise RuntimeError(f"client run failed in the child:\n{answer['__error__']}")
    return answer


def _run_once(target: ClientTarget, request: dict[str, Any], timeout: float) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve())],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        env=target.env(),
        timeout=timeout,
        check=False,
    )
    answers = [line for line in proc.stdout.splitlines() if line.startswith(_MARKER)]
    if proc.returncode != 0 or not answers:
        raise RuntimeError(
            f"client subprocess failed (rc={proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return _parse_answer(answers[-1])


class ClientProcess:
    """A long-lived child answering client runs, one JSON line each.

    A run that times out kills the child (the next run starts a new one); the child's stderr
    (warnings, crashes) goes to ``stderr_path`` for post-mortems.
    """

    def __init__(self, target: ClientTarget, stderr_path: Path) -> None:
        self.target = target
        self.stderr_path = Path(stderr_path)
        self._proc: subprocess.Popen[str] | None = None
        self._answers: queue.Queue[str | None] = queue.Queue()
        self._reader: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> ClientProcess:
        """Start the child now, so its imports overlap with the caller's own setup."""
        with self._lock:
            self._ensure()
        return self

    def _ensure(self) -> subprocess.Popen[str]:
        if self._proc is not None:
            if self._proc.poll() is None:
                return self._proc
            self._reap()  # it died since the last run: collect it, then start afresh
        with self.stderr_path.open("ab") as stderr:
            proc = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "--serve"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env=self.target.env(),
                text=True,
                bufsize=1,
            )
        answers: queue.Queue[str | None] = queue.Queue()

        def read() -> None:
            assert proc.stdout is not None
            with proc.stdout:
                for line in proc.stdout:
                    if line.startswith(_MARKER):
                        answers.put(line)
            answers.put(None)

        self._reader = threading.Thread(target=read, name="client-process-reader", daemon=True)
        self._reader.start()
        self._proc, self._answers = proc, answers
        return proc

    def run(self, request: dict[str, Any], timeout: float) -> dict[str, Any]:
        with self._lock:
            proc = self._ensure()
            assert proc.stdin is not None
            try:
                proc.stdin.write(json.dumps(request) + "\n")
                proc.stdin.flush()
            except OSError as exc:
                self._kill()
                raise RuntimeError(f"client process died; see {self.stderr_path}") from exc
            try:
                line = self._answers.get(timeout=timeout)
            except queue.Empty:
                self._kill()
                raise subprocess.TimeoutExpired(proc.args, timeout) from None
            if line is None:
                self._kill()
                raise RuntimeError(f"client process died; see {self.stderr_path}")
            return _parse_answer(line)

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._reap()

    def _reap(self) -> None:
        """Wait for the child, then for the reader to reach EOF and close the pipes."""
        assert self._proc is not None
        proc, self._proc = self._proc, None
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        if self._reader is not None:
            self._reader.join(10)

    def close(self) -> None:
        with self._lock:
            if self._proc is None:
                return
            assert self._proc.stdin is not None
            self._proc.stdin.close()  # EOF: the child's loop ends
            self._reap()


def _run(
    target: ClientTarget,
    request: dict[str, Any],
    timeout: float,
    process: ClientProcess | None,
) -> dict[str, Any]:
    if process is None:
        return _run_once(target, request, timeout)
    return process.run(request, timeout)


def run_postfix_client(
    target: ClientTarget,
    domain: str,
    last_known_id: str | None = None,
    *,
    process: ClientProcess | None = None,
    client_timeout: float = 5.0,
    timeout: float = SUBPROCESS_TIMEOUT,
) -> StsClientResult:
    """Resolve a domain's policy with the real STSResolver, through the local servers."""
    request = {
        "client": "postfix",
        "domain": domain,
        "last_known_id": last_known_id,
        "dns": [target.dns_host, target.dns_port],
        "timeout": client_timeout,
    }
    out = _run(target, request, timeout, process)
    return StsClientResult(out["status"], out["id"], out["policy"], tuple(out["log"]))


def run_checkdmarc(
    target: ClientTarget,
    domain: str,
    *,
    process: ClientProcess | None = None,
    dns_timeout: float = 2.0,
    timeout: float = SUBPROCESS_TIMEOUT,
) -> CheckdmarcResult:
    """Check a domain's MTA-STS (and TLS-RPT) with checkdmarc, through the local servers."""
    request = {
        "client": "checkdmarc",
        "domain": domain,
        "dns": [target.dns_host, target.dns_port],
        "timeout": dns_timeout,
    }
    out = _run(target, request, timeout, process)
    return CheckdmarcResult(
        valid=out["valid"],
        error=out.get("error"),
        warnings=tuple(out.get("warnings", ())),
        policy_id=out.get("id"),
        policy=out.get("policy"),
        tlsrpt=out["tlsrpt"],
        mx_hosts=tuple(out["mx_hosts"]),
        mx_not_covered=tuple(out["mx_not_covered"]),
    )


# ---------------------------------------------------------------------------------------------
# Child side: runs in its own interpreter with the environment from ClientTarget.env().

_child_log: list[str] = []


def _child_setup() -> None:
    import logging

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            _child_log.append(f"{record.levelname} {record.name}: {record.getMessage()}")

    root = logging.getLogger()
    root.addHandler(_Collect())
    root.setLevel(logging.DEBUG)
    for noisy in ("asyncio", "urllib3", "checkdmarc"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _child_postfix(request: dict[str, Any]) -> dict[str, Any]:
    import asyncio

    from postfix_mta_sts_resolver.resolver import STSResolver  # after SSL_CERT_FILE is set

    async def resolve() -> tuple[Any, Any]:
        resolver = STSResolver(loop=asyncio.get_running_loop(), timeout=request["timeout"])
        host, port = request["dns"]
        # aiodns hands this to c-ares (ares_set_servers_csv), which takes "ip:port".
        resolver._resolver.nameservers = [f"{host}:{port}"]
        return await resolver.resolve(request["domain"], request["last_known_id"])

    status, payload = asyncio.run(resolve())
    policy_id, policy = payload if payload is not None else (None, None)
    return {"status": status.name, "id": policy_id, "policy": policy}


def _child_checkdmarc(request: dict[str, Any]) -> dict[str, Any]:
    import dns.exception
    from checkdmarc import mta_sts, smtp_tls_reporting, utils
    from dns.nameserver import Do53Nameserver

    # Process-wide caches: a record changed by the previous test must be seen.
    for cache in ("DNS_CACHE", "_NAMESERVER_FAILURES"):
        if hasattr(utils, cache):
            getattr(utils, cache).clear()
    host, port = request["dns"]
    kwargs: dict[str, Any] = {
        "nameservers": [Do53Nameserver(host, port)],
        "timeout": request["timeout"],
        "retries": 0,
    }
    domain = request["domain"]
    result: dict[str, Any] = dict(mta_sts.check_mta_sts(domain, **kwargs))
    result["tlsrpt"] = dict(smtp_tls_reporting.check_smtp_tls_reporting(domain, **kwargs))
    try:
        answers = utils.query_dns(domain, "MX", **kwargs)
    except dns.exception.DNSException:  # no MX published: nothing to cover
        answers = []
    mx_hosts = sorted(answer.split()[-1].rstrip(".") for answer in answers)
    patterns = (result.get("policy") or {}).get("mx", [])
    result["mx_hosts"] = mx_hosts
    result["mx_not_covered"] = (
        [mx for mx in mx_hosts if not mta_sts.mx_in_mta_sts_patterns(mx, patterns)]
        if result["valid"]
        else []
    )
    return result


def _child_answer(line: str) -> str:
    _child_log.clear()
    try:
        request = json.loads(line)
        handler = {"postfix": _child_postfix, "checkdmarc": _child_checkdmarc}[request["client"]]
        result = handler(request)
        result["log"] = list(_child_log)
    except Exception:
        result = {"__error__": traceback.format_exc()}
    return _MARKER + json.dumps(result, default=str) + "\n"


def _child_main(serve: bool) -> None:
    _child_setup()
    if not serve:
        sys.stdout.write("\n" + _child_answer(sys.stdin.read()))
        return
    import checkdmarc.mta_sts  # noqa: F401 - pay the imports before the first request
    import postfix_mta_sts_resolver.resolver  # noqa: F401

    for line in sys.stdin:
        sys.stdout.write(_child_answer(line))
        sys.stdout.flush()


if __name__ == "__main__":
    _child_main(serve="--serve" in sys.argv[1:])
