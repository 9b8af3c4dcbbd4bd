"""Cloud DNS: managed zones listed once, ONE rrset listing per zone, ONE change per zone.

API reference: https://cloud.google.com/dns/docs/reference/rest/v1 (managedZones.list,
resourceRecordSets.list, changes.create, changes.get).

Why the library's connection and not its objects. google-cloud-dns builds the requests,
the credentials and the error classes (google-api-core's `Conflict`, `PreconditionFailed`,
...), but its `ManagedZone` drops `visibility` (private zones must never match), its
`ResourceRecordSet` drops `routingPolicy`, and none of its calls takes a timeout or a retry
(google-cloud-dns has no retry at all). So every request goes through
`client._connection.api_request`, the library's own transport, with the run's timeouts,
the shared Cloud DNS pacer (`provisioner.pacing.CLOUD_DNS`, per DNS project) and the
provider's retry of 429 and 5xx answers (`providers.gcp.transient`, bounded by
MTASTS_GCP_RETRY_TIMEOUT). A change is atomic, so a refused or failed one applied nothing
and is safe to send again.

Reading. Zones are listed once per run (pages of up to 1,000), public ones only; a domain's
zone is its `zone_names` pin, else the longest `dnsName` suffix (`provisioner.dnstext`).
Each zone is then read with one paged `rrsets` listing, whatever the number of domains in
it: a per-name query would cost three calls per domain.

Writing. Cloud DNS has no in-place update: a change deletes the exact live rrset (ttl and
rrdatas: anything else is 412) and adds the new one. All of a phase's rrsets for a zone go
in ONE change (split only past the documented limits of 1,000 additions, 1,000 deletions
and 100,000 rrdata bytes per change, keeping each deletion with its addition). Sending and
waiting are two steps (`send`, `wait`): every zone's change is sent first, then all are
awaited together, the first look only after a pause (a change just sent reads `pending`:
asking at once is a wasted call), later looks only at the changes still pending, with
pauses growing to 10 s. A change whose answer already says `done` is never read again.
The API applies a zone's changes in sequence ("the current state of the ManagedZone is the
sum effect of applying all Change elements in the Changes collection in sequence", and
`done` means the update was sent to the authoritative servers:
https://cloud.google.com/dns/docs/reference/rest/v1/changes), so once a later change of a
zone is done, every earlier one is too: the provider uses that to await the endpoint's
records with the TXT change that follows them (providers/gcp/provider.py). 409 (an rrset someone
added since the read) and 412 (one someone changed) mean another writer changed the zone:
one line says so, nothing of that change was applied (a change is atomic).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from providers.gcp.clients import client_options, credentials_for, http_timeout
from providers.gcp.errors import reported
from providers.gcp.transient import retried
from provisioner.concurrency import each
from provisioner.dnstext import zone_for
from provisioner.errors import ProviderError
from provisioner.knobs import seconds
from provisioner.pacing import CLOUD_DNS, shared_pacer
from provisioner.polling import Wait, poll

PAGE_SIZE = 1000
MAX_ADDITIONS = 1000
MAX_DELETIONS = 1000
MAX_RRDATA_BYTES = 100_000
"""Per change, from https://cloud.google.com/dns/quotas."""
TXT_TTL = 300
"""The TTL of a TXT rrset mtasts creates; an existing rrset keeps its own."""
CHANGE_TIMEOUT = seconds("MTASTS_GCP_DNS_CHANGE_TIMEOUT", 600.0)
"""How long apply waits for one Cloud DNS change to be `done`."""
FIRST_LOOK = 1.0
"""Seconds between sending changes and the first look at their status."""


def absolute(name: str) -> str:
    """A name as Cloud DNS spells it: lower case, trailing dot."""
    return name.lower().rstrip(".") + "."


@dataclass(frozen=True)
class Rrset:
    """One whole resource record set, as Cloud DNS adds and deletes it.

    `rrdatas` are the API's text: for TXT, zone-file text (quoted character-strings).
    `routed` marks an rrset with a `routingPolicy` (no plain rrdatas): never rewritten.
    """

    name: str
    type: str
    ttl: int
    rrdatas: tuple[str, ...]
    routed: bool = field(default=False, compare=False)

    @property
    def key(self) -> tuple[str, str]:
        return (self.name, self.type)

    def resource(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "ttl": self.ttl,
            "rrdatas": list(self.rrdatas),
        }

    @classmethod
    def from_resource(cls, item: Mapping[str, Any]) -> Rrset:
        return cls(
            absolute(str(item["name"])),
            str(item["type"]),
            int(item.get("ttl") or 0),
            tuple(str(r) for r in item.get("rrdatas") or ()),
            routed="routingPolicy" in item,
        )


@dataclass(frozen=True)
class Zone:
    name: str
    """The managed zone's name (`example-com`), as the API paths take it."""
    dns_name: str
    """Its DNS name, lower case, no trailing dot."""
    public: bool


@dataclass
class ZoneEdit:
    """What one change must do to one zone; `label` names the domains in error lines."""

    zone: Zone
    label: str
    additions: list[Rrset] = field(default_factory=list)
    deletions: list[Rrset] = field(default_factory=list)

    def replace(self, live: Rrset | None, wanted: Rrset | None) -> None:
        """Make (name, type) hold exactly `wanted` (None: nothing), from `live`."""
        if live == wanted:
            return
        if live is not None:
            self.deletions.append(live)
        if wanted is not None:
            self.additions.append(wanted)

    def __bool__(self) -> bool:
        return bool(self.additions or self.deletions)


@dataclass(frozen=True)
class SentChange:
    """A change the API accepted: its zone edit, id and status as answered."""

    edit: ZoneEdit
    id: str
    status: str


class CloudDns:
    """The Cloud DNS API of one DNS project, paced and timed out, made on first use."""

    def __init__(self, provider: str, project: str, endpoint: str | None) -> None:
        self.provider = provider
        self.project = project
        self.endpoint = endpoint
        self._client: Any = None
        self._zones: list[Zone] | None = None
        self._lock = threading.Lock()

    def _connection(self) -> Any:
        with self._lock:
            if self._client is None:
                import google.cloud.dns as dns

                self._client = dns.Client(
                    project=self.project,
                    credentials=credentials_for(self.endpoint),
                    client_options=client_options(self.endpoint),
                )
            return self._client._connection

    def call(
        self,
        method: str,
        path: str,
        *,
        doing: str,
        domain: str | None = None,
        query: Mapping[str, Any] | None = None,
        data: Any = None,
    ) -> dict[str, Any]:
        """One API request under /projects/{project}: paced, bounded, retried, one-line errors."""
        pacer = shared_pacer(self.project, "clouddns", CLOUD_DNS.read())
        timeout = http_timeout()

        def send() -> dict[str, Any]:
            pacer.acquire()
            answer = self._connection().api_request(
                method=method,
                path=f"/projects/{self.project}{path}",
                query_params=dict(query or {}),
                data=data,
                timeout=timeout,
            )
            return answer if isinstance(answer, dict) else {}

        with reported(self.provider, domain, doing):
            return retried(f"{self.provider}: {doing}", send, time.sleep)

    def pages(self, path: str, key: str, *, doing: str, domain: str | None = None) -> list[Any]:
        items: list[Any] = []
        query: dict[str, Any] = {"maxResults": PAGE_SIZE}
        while True:
            page = self.call("GET", path, doing=doing, domain=domain, query=query)
            items.extend(page.get(key) or ())
            token = page.get("nextPageToken")
            if not token:
                return items
            query = {"maxResults": PAGE_SIZE, "pageToken": token}

    # zones

    def zones(self) -> list[Zone]:
        """Every managed zone of the DNS project, listed once per run."""
        if self._zones is None:
            found = self.pages(
                "/managedZones",
                "managedZones",
                doing=f"listing Cloud DNS managed zones of project {self.project}",
            )
            self._zones = [
                Zone(
                    str(z["name"]),
                    str(z["dnsName"]).lower().rstrip("."),
                    str(z.get("visibility") or "public") == "public",
                )
                for z in found
            ]
        return self._zones

    def zone_for(self, domain: str, pins: Mapping[str, str]) -> Zone:
        """The zone holding `domain`: its pin, else the longest public `dnsName` suffix."""
        zones = self.zones()
        pinned = pins.get(domain)
        if pinned is not None:
            zone = next((z for z in zones if z.name == pinned), None)
            if zone is None:
                raise ProviderError(
                    f"{self.provider}: {domain}: zone_names names managed zone {pinned!r}, "
                    f"which project {self.project} does not have"
                )
            if not zone.public or zone_for(domain, [zone.dns_name]) is None:
                what = "is private" if not zone.public else f"is for {zone.dns_name}"
                raise ProviderError(
                    f"{self.provider}: {domain}: zone_names names managed zone {pinned!r}, "
                    f"which {what}"
                )
            return zone
        public = [z for z in zones if z.public]
        best = zone_for(domain, [z.dns_name for z in public])
        if best is None:
            raise ProviderError(
                f"{self.provider}: {domain}: no public Cloud DNS managed zone for {domain} in "
                f"project {self.project} ({len(public)} public zones; create one or set "
                "zone_names)"
            )
        return next(z for z in public if z.dns_name == best)

    # records

    def list_rrsets(self, zone: Zone, label: str) -> list[Rrset]:
        items = self.pages(
            f"/managedZones/{zone.name}/rrsets",
            "rrsets",
            doing=f"listing records of managed zone {zone.name}",
            domain=label,
        )
        return [Rrset.from_resource(item) for item in items]

    def apply(self, edits: Iterable[ZoneEdit]) -> None:
        """Send every zone's change (zones side by side), then wait until each is `done`."""
        self.wait(self.send(edits))

    def send(self, edits: Iterable[ZoneEdit]) -> list[SentChange]:
        """Send every zone's change, zones side by side; the changes as the API answered."""
        todo = [edit for edit in edits if edit]
        sent = each(self._send, todo)
        return [
            SentChange(edit, str(change.get("id", "")), str(change.get("status", "")))
            for edit, changes in zip(todo, sent, strict=True)
            for change in changes
        ]

    def wait(self, changes: Sequence[SentChange]) -> None:
        """Until every change is `done`: one GET per pending change a round, none at once.

        Bounded by MTASTS_GCP_DNS_CHANGE_TIMEOUT; the first look comes after FIRST_LOOK
        seconds, later ones after pauses growing to 10 s.
        """
        pending = [change for change in changes if change.status != "done"]
        if not pending:
            return
        rounds = [0]

        def done() -> bool | None:
            rounds[0] += 1
            if rounds[0] > 1:
                statuses = each(self._status, pending)
                pending[:] = [c for c, s in zip(pending, statuses, strict=True) if s != "done"]
            return True if not pending else None

        first = pending[0]
        more = f" (and {len(pending) - 1} more)" if len(pending) > 1 else ""
        poll(
            f"{self.provider}: {first.edit.label}: Cloud DNS change {first.id} in "
            f"{first.edit.zone.name}{more} to be done (MTASTS_GCP_DNS_CHANGE_TIMEOUT sets the "
            "wait)",
            done,
            Wait(CHANGE_TIMEOUT.read(), first_pause=FIRST_LOOK, longest_pause=10.0),
        )

    def _status(self, change: SentChange) -> str:
        answer = self.call(
            "GET",
            f"/managedZones/{change.edit.zone.name}/changes/{change.id}",
            doing=f"waiting for change {change.id} of managed zone {change.edit.zone.name}",
            domain=change.edit.label,
        )
        return str(answer.get("status", ""))

    def _send(self, edit: ZoneEdit) -> list[dict[str, Any]]:
        answers = []
        for additions, deletions in split(edit):
            body = {
                "additions": [r.resource() for r in additions],
                "deletions": [r.resource() for r in deletions],
            }
            try:
                answers.append(
                    self.call(
                        "POST",
                        f"/managedZones/{edit.zone.name}/changes",
                        doing=f"changing records in managed zone {edit.zone.name}",
                        domain=edit.label,
                        data=body,
                    )
                )
            except ProviderError as exc:
                if " HTTP 409" in str(exc) or " HTTP 412" in str(exc):
                    raise ProviderError(
                        f"{self.provider}: {edit.label}: another writer changed managed zone "
                        f"{edit.zone.name} since mtasts read it (Cloud DNS refused the change "
                        f"as {'409 already exists' if ' HTTP 409' in str(exc) else '412 stale'}"
                        "; nothing of it was applied); run 'mtasts plan' again"
                    ) from None
                raise
        return answers


def split(edit: ZoneEdit) -> list[tuple[list[Rrset], list[Rrset]]]:
    """The zone's change as few changes as the per-change limits allow (usually one).

    A deletion and the addition at the same (name, type) stay in one change, so no name is
    ever briefly without its record.
    """
    keys: dict[tuple[str, str], tuple[list[Rrset], list[Rrset]]] = {}
    for rrset in edit.deletions:
        keys.setdefault(rrset.key, ([], []))[1].append(rrset)
    for rrset in edit.additions:
        keys.setdefault(rrset.key, ([], []))[0].append(rrset)
    out: list[tuple[list[Rrset], list[Rrset]]] = []
    adds: list[Rrset] = []
    dels: list[Rrset] = []
    size = 0
    for add, delete in keys.values():
        weight = sum(len(d) for r in (*add, *delete) for d in r.rrdatas)
        if (adds or dels) and (
            len(adds) + len(add) > MAX_ADDITIONS
            or len(dels) + len(delete) > MAX_DELETIONS
            or size + weight > MAX_RRDATA_BYTES
        ):
            out.append((adds, dels))
            adds, dels, size = [], [], 0
        adds.extend(add)
        dels.extend(delete)
        size += weight
    if adds or dels:
        out.append((adds, dels))
    return out


def label_for(domains: Sequence[str]) -> str:
    """How an error line names the domains of one zone's change."""
    ordered = sorted(set(domains))
    if not ordered:
        return ""
    return ordered[0] if len(ordered) == 1 else f"{ordered[0]} (+{len(ordered) - 1})"
