"""Cloud DNS record sets as mtasts hands them to the Cloud DNS writer.

Minimal placeholder created by the endpoint half (it only needs `Rrset`); the provider core
owns this module and the rest of it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rrset:
    """One whole resource record set, as Cloud DNS changes it (additions/deletions of whole
    rrsets: https://cloud.google.com/dns/docs/reference/rest/v1/changes)."""

    name: str
    """Absolute, with the trailing dot: `mta-sts.example.com.`."""
    type: str
    ttl: int
    rrdatas: tuple[str, ...]
