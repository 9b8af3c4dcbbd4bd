"""Which Cloudflare zone holds each domain: the account's zones, listed once per run.

A domain lives in the zone with the longest name that is the domain itself or a parent of
it (`mail.example.com` in `example.com` unless `mail.example.com` is a zone of its own).
Listing every zone of the account once (50 per page, the API's maximum) costs N/50 calls;
looking each domain up by name would cost one call per domain. `zone_ids` in the settings
skips the listing for the domains it names.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

import cloudflare

from provisioner.errors import ProviderError

from .client import all_pages, api_errors

ZONES_PER_PAGE = 50


class ZoneIndex:
    """Zone id by domain; the listing happens at most once per instance (once per run)."""

    def __init__(
        self,
        client: cloudflare.Cloudflare,
        provider: str,
        account_id: str,
        pinned: Mapping[str, str] | None = None,
    ) -> None:
        self._client = client
        self._provider = provider
        self._account_id = account_id
        self._pinned = dict(pinned or {})
        self._by_name: dict[str, str] | None = None
        self._lock = threading.Lock()

    def _zones(self) -> dict[str, str]:
        with self._lock:
            if self._by_name is None:
                with api_errors(self._provider, f"listing the zones of account {self._account_id}"):
                    zones = all_pages(
                        lambda page: self._client.zones.list(
                            account={"id": self._account_id}, page=page, per_page=ZONES_PER_PAGE
                        )
                    )
                self._by_name = {z.name.lower().rstrip("."): z.id for z in zones}
            return self._by_name

    def zone_for(self, domain: str) -> str:
        """The zone id holding `domain`; a one-line error when the account has none."""
        if domain in self._pinned:
            return self._pinned[domain]
        zones = self._zones()
        labels = domain.split(".")
        for i in range(len(labels) - 1):
            candidate = ".".join(labels[i:])
            if candidate in zones:
                return zones[candidate]
        raise ProviderError(
            f"{self._provider}: {domain}: no zone of Cloudflare account {self._account_id} "
            "holds this domain (add the zone, or set zone_ids)"
        )

    def zones_for(self, domains: list[str]) -> dict[str, str]:
        """Domain -> zone id, listing the zones only if some domain is not pinned."""
        return {domain: self.zone_for(domain) for domain in domains}
