"""Workers custom domains: `mta-sts.<domain>` bound to the account's mtasts Worker.

A custom domain is Cloudflare's whole HTTPS endpoint in one object: attaching it creates
the proxied DNS record and orders the edge certificate for the host, detaching it removes
both, so mtasts never writes an A record or a certificate itself. The account's custom
domains come back in one (unpaginated) listing, read once per run.

The endpoint as the planner sees it is `Endpoint(mta-sts.<domain>, "worker", script)`: a
host bound to another script reads as that script's name, so the plan shows an update that
re-points it ("script other -> mtasts"), and a host mtasts never bound reads as no endpoint.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass

import cloudflare

from provisioner.state import Endpoint

from .client import api_errors


def worker_endpoint(service: str, hostname: str) -> Endpoint:
    """`hostname` served by the Worker script `service` (its custom domain)."""
    return Endpoint(hostname, "worker", (("script", service),))


@dataclass(frozen=True)
class CustomDomain:
    id: str
    hostname: str
    service: str
    zone_id: str


class CustomDomains:
    def __init__(self, client: cloudflare.Cloudflare, provider: str, account_id: str) -> None:
        self._client = client
        self._provider = provider
        self._account_id = account_id
        self._by_host: dict[str, CustomDomain] | None = None
        self._lock = threading.Lock()

    def by_host(self) -> dict[str, CustomDomain]:
        with self._lock:
            if self._by_host is None:
                with api_errors(self._provider, "listing Workers custom domains"):
                    listed = self._client.workers.domains.list(account_id=self._account_id)
                self._by_host = {
                    d.hostname.lower(): CustomDomain(d.id, d.hostname.lower(), d.service, d.zone_id)
                    for d in listed
                }
            return self._by_host

    def endpoint(self, hostname: str) -> Endpoint | None:
        bound = self.by_host().get(hostname)
        return None if bound is None else worker_endpoint(bound.service, bound.hostname)

    def attach(self, hostname: str, service: str, zone_id: str, label: str) -> None:
        """Bind (or re-bind) the host to the script; the API answers once it is attached."""
        self.by_host()
        with api_errors(self._provider, f"{label}: attaching custom domain {hostname}"):
            made = self._client.workers.domains.update(
                account_id=self._account_id, hostname=hostname, service=service, zone_id=zone_id
            )
        with self._lock:
            assert self._by_host is not None
            self._by_host[hostname] = CustomDomain(made.id, hostname, made.service, made.zone_id)

    def detach(self, hostname: str, label: str) -> None:
        bound = self.by_host().get(hostname)
        if bound is None:
            return
        what = f"{label}: detaching custom domain {hostname}"
        with api_errors(self._provider, what), contextlib.suppress(cloudflare.NotFoundError):
            self._client.workers.domains.delete(bound.id, account_id=self._account_id)
        with self._lock:
            assert self._by_host is not None
            self._by_host.pop(hostname, None)
