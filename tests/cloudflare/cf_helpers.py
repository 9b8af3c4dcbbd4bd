"""Helpers for the Cloudflare tests: specs aimed at the fake, and reading what it holds."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from cf_fake_api import FakeCloudflareApi
from cf_fake_state import ACCOUNT_ID
from clihelpers import RUA, write_spec

from providers.cloudflare.worker import PolicyMap, parse_script, render_script

CF_DEFAULTS: dict[str, Any] = {
    "provider": "cf",
    "mode": "testing",
    "max_age": 86400,
    "tlsrpt": {"rua": [RUA]},
}


def cf_spec(
    directory: Path,
    domains: Mapping[str, Mapping[str, Any]],
    **settings: Any,
) -> Path:
    provider = {"type": "cloudflare", "account_id": ACCOUNT_ID, **settings}
    return write_spec(directory, domains, defaults=CF_DEFAULTS, providers={"cf": provider})


def domains_spec(names: Iterable[str], **settings: Any) -> dict[str, dict[str, Any]]:
    return {name: {"mx": [f"mx.{name}"], **settings} for name in names}


def add_zones(api: FakeCloudflareApi, *names: str, mx: bool = True) -> dict[str, str]:
    """Zones in the fake, each with an MX record for `mx.<zone>`; name -> zone id."""
    ids = {}
    for name in names:
        ids[name] = api.state.add_zone(name)
        if mx:
            api.state.add_record(ids[name], "MX", name, f"mx.{name}", priority=10)
    return ids


def live_map(api: FakeCloudflareApi, worker: str = "mtasts") -> PolicyMap:
    text = api.state.script_text(worker)
    assert text is not None, "no Worker script uploaded"
    policies = parse_script(text)
    assert policies is not None
    return policies


def set_published(api: FakeCloudflareApi, host: str, when: datetime) -> None:
    """Rewrite the script as if host's policy had been published at `when`."""
    policies = live_map(api)
    policies[host] = type(policies[host])(policies[host].body, when)
    script = api.state.scripts["mtasts"]
    main = script.metadata["main_module"]
    ctype = script.modules[main][0]
    script.modules[main] = (ctype, render_script(policies).encode())


def bound_hosts(api: FakeCloudflareApi) -> dict[str, str]:
    """Custom domain hostname -> service."""
    return {d["hostname"]: d["service"] for d in api.state.domains.values()}


class SilentServer:
    """A loopback TCP server that accepts every connection and never answers: the API that
    kept `plan` silent for ten minutes. `accepted` counts the connections (the attempts)."""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def base_url(self) -> str:
        host, port = self._sock.getsockname()[:2]
        return f"http://{host}:{port}/client/v4"

    def _serve(self) -> None:
        self._sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            self._held.append(conn)

    def close(self) -> None:
        self._stop.set()
        for conn in self._held:
            conn.close()
        self._sock.close()
