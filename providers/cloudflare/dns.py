"""Cloudflare DNS: the `_mta-sts` and `_smtp._tls` TXT records, read per zone and changed in
one batch per zone per phase; and the records that stop mtasts from writing at all.

Reading: ONE unfiltered, paginated listing per zone (`RECORDS_PER_PAGE` records a page,
so one call for all but the largest zones), whatever the number of domains in it: a
per-name query would cost three calls per domain, and the API takes one `name` filter per
request, so the names mtasts reads (`_mta-sts.<d>`, `_smtp._tls.<d>`, `mta-sts.<d>` and the
MX of `<d>`) cannot be asked for in one filtered request. From the listing come the TXT
values at the underscore names of every domain (nested ones too: `example.com`,
`mail.example.com`, `a.mail.example.com` in one zone) with their ids and TTLs, a CNAME or
NS there (the usual delegation to a hosted MTA-STS service), the live MX hosts (with
`read_mx`; the planner warns before `enforce` blocks mail) and whatever record sits at a
policy host `mta-sts.<d>` (a CNAME to a vendor, an A/AAAA). Everything else is dropped.
`blocking` turns what the listing found into `BlockingRecord`s: a CNAME (or NS) at an
underscore name, an A/AAAA/CNAME/NS at a policy host that is not a Workers custom domain.

Writing: Cloudflare stores records one by one, so the plan's whole wanted rrset
(`rrset_after`) is turned into the fewest record operations: records whose value is wanted
stay, a stale mtasts record is patched into a new value (keeping its id), surplus mtasts
records are deleted and missing values are created. A value mtasts does not own (not
`v=STSv1`/`v=TLSRPTv1`) is never deleted or patched, even when it appeared after the plan
was made, so its TTL, comment and tags stay as they are. All of a zone's operations go in
one `dns_records/batch` call, which Cloudflare runs in one transaction, so a failed call
leaves the zone as it was and the next plan converges.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import cloudflare

from provisioner.dnstext import DnsTextError, txt_text
from provisioner.dnstext import txt_value as zone_text_value
from provisioner.plan import Change
from provisioner.rfc8460 import is_tlsrpt_record
from provisioner.rfc8461 import is_sts_record
from provisioner.state import POLICY_HOST_PREFIX, BlockingRecord, Resource, record_name

from .client import all_pages, api_errors

RECORDS_PER_PAGE = 5000
"""Records a listing page: one page for nearly every zone (the API allows up to 5,000,000:
https://developers.cloudflare.com/api/resources/dns/subresources/records/methods/list/)."""
DELEGATING_TYPES = frozenset({"CNAME", "NS"})
"""At a TXT name: nothing can be written beside them (RFC 1034 section 3.6.2, RFC 1034
section 4.2.1: below a zone cut the parent's records are not served)."""
HOST_TYPES = frozenset({"A", "AAAA", "CNAME", "NS"})
"""At a policy host: Cloudflare refuses a custom domain over these (HTTP 409)."""
BATCH_MAX_OPERATIONS = 200
"""Cloudflare's batch limit on the smallest plans; larger plans are split."""
AUTO_TTL = 1
RECORD_COMMENT = "managed by mtasts"


def txt_value(content: str) -> str:
    """A record's content as the value senders see: quoted strings joined (zone-file escapes,
    `\\DDD` included, decoded by `provisioner.dnstext`), unquoted content as is, and content
    dnspython refuses (an unbalanced quote) as written: no second parser guesses at it."""
    text = content.strip()
    if not text.startswith('"'):
        return content
    try:
        return zone_text_value(text)
    except DnsTextError:
        return content


@dataclass
class TxtRecord:
    id: str
    value: str
    ttl: int = AUTO_TTL


@dataclass
class ZoneRecords:
    """What one zone holds at the names mtasts reads: TXT by owner name, MX hosts by name,
    and (type, content) of the other records at underscore names and policy hosts."""

    txt: dict[str, list[TxtRecord]] = field(default_factory=dict)
    mx: dict[str, list[str]] | None = None
    other: dict[str, list[tuple[str, str]]] = field(default_factory=dict)


@dataclass(frozen=True)
class Operations:
    """One zone's record operations, in the shape of the batch endpoint."""

    deletes: tuple[dict[str, Any], ...] = ()
    patches: tuple[dict[str, Any], ...] = ()
    posts: tuple[dict[str, Any], ...] = ()

    def __len__(self) -> int:
        return len(self.deletes) + len(self.patches) + len(self.posts)

    def __add__(self, other: Operations) -> Operations:
        return Operations(
            self.deletes + other.deletes,
            self.patches + other.patches,
            self.posts + other.posts,
        )

    def chunks(self, size: int = BATCH_MAX_OPERATIONS) -> list[Operations]:
        """Batches of at most `size` operations; deletes first, as the API runs them."""
        ops = [("d", op) for op in self.deletes]
        ops += [("p", op) for op in self.patches] + [("c", op) for op in self.posts]
        out = []
        for i in range(0, len(ops), size):
            part = ops[i : i + size]
            out.append(
                Operations(
                    tuple(op for kind, op in part if kind == "d"),
                    tuple(op for kind, op in part if kind == "p"),
                    tuple(op for kind, op in part if kind == "c"),
                )
            )
        return out


def _owner(resource: Resource) -> Callable[[str], bool]:
    return is_sts_record if resource is Resource.STS_RECORD else is_tlsrpt_record


def operations_for(change: Change, live: Sequence[TxtRecord]) -> Operations:
    """The record operations that turn the live records at the change's name into its
    `rrset_after`, touching only values mtasts owns."""
    name = record_name(change.resource, change.domain)
    owned = _owner(change.resource)
    wanted = list(change.rrset_after)
    stale: list[TxtRecord] = []
    for record in live:
        if record.value in wanted:
            wanted.remove(record.value)
        elif owned(record.value):
            stale.append(record)
    missing = [v for v in wanted if owned(v)]
    # One RRset, one TTL (RFC 2181 section 5.2): a new value joins at the TTL already there.
    ttl = next((record.ttl for record in live), AUTO_TTL)
    patches = tuple(
        {"id": old.id, "type": "TXT", "name": name, "content": txt_text(value)}
        for old, value in zip(stale, missing, strict=False)
    )
    deletes = tuple({"id": old.id} for old in stale[len(missing) :])
    posts = tuple(
        {
            "type": "TXT",
            "name": name,
            "content": txt_text(value),
            "ttl": ttl,
            "comment": RECORD_COMMENT,
        }
        for value in missing[len(stale) :]
    )
    return Operations(deletes, patches, posts)


class DnsRecords:
    """Reads zones' records once, remembers them (with ids) and applies batches to them."""

    def __init__(self, client: cloudflare.Cloudflare, provider: str, read_mx: bool) -> None:
        self._client = client
        self._provider = provider
        self._read_mx = read_mx
        self._zones: dict[str, ZoneRecords] = {}
        self._lock = threading.Lock()

    def read_zone(self, zone_id: str, label: str) -> ZoneRecords:
        """The zone's records at the names mtasts reads (see module doc), listed once (one
        paginated listing) and cached for the run."""
        with self._lock:
            records = self._zones.get(zone_id)
        if records is not None:
            return records
        with api_errors(self._provider, f"{label}: listing DNS records"):
            listed = all_pages(
                lambda page: self._client.dns.records.list(
                    zone_id=zone_id, page=page, per_page=RECORDS_PER_PAGE
                )
            )
        records = ZoneRecords(mx={} if self._read_mx else None)
        for rec in listed:
            self._keep(records, str(getattr(rec, "type", "")), rec)
        with self._lock:
            return self._zones.setdefault(zone_id, records)

    @staticmethod
    def _keep(records: ZoneRecords, rtype: str, rec: Any) -> None:
        """File one listed record where the planner looks for it; drop the rest."""
        name = _name(rec.name)
        if name.startswith("_"):
            if rtype == "TXT":
                records.txt.setdefault(name, []).append(
                    TxtRecord(rec.id, txt_value(rec.content or ""), int(rec.ttl or AUTO_TTL))
                )
            elif rtype in DELEGATING_TYPES:
                records.other.setdefault(name, []).append((rtype, _name(rec.content or "")))
        elif rtype == "MX" and records.mx is not None and rec.content:
            records.mx.setdefault(name, []).append(_name(rec.content))
        if name.startswith(POLICY_HOST_PREFIX) and rtype in HOST_TYPES:
            records.other.setdefault(name, []).append((rtype, _name(rec.content or "")))

    def blocking(self, zone_id: str, domain: str, host_is_ours: bool) -> tuple[BlockingRecord, ...]:
        """Records at `domain`'s names that mtasts must not write beside (see module doc).

        `host_is_ours`: the policy host is a Workers custom domain, whose own DNS record is
        Cloudflare's doing, not a conflict (which Worker it serves is the endpoint diff's
        business)."""
        other = self._zones[zone_id].other
        found: list[BlockingRecord] = []
        for resource in (Resource.STS_RECORD, Resource.TLSRPT_RECORD):
            name = record_name(resource, domain)
            for rtype, value in other.get(name, ()):
                found.append(BlockingRecord(resource, name, rtype, value))
        host = POLICY_HOST_PREFIX + domain
        if not host_is_ours:
            for rtype, value in other.get(host, ()):
                found.append(BlockingRecord(Resource.ENDPOINT, host, rtype, value))
        return tuple(found)

    def values(self, zone_id: str, name: str) -> tuple[str, ...]:
        return tuple(r.value for r in self._zones[zone_id].txt.get(name, ()))

    def mx_hosts(self, zone_id: str, domain: str) -> tuple[str, ...] | None:
        mx = self._zones[zone_id].mx
        return None if mx is None else tuple(sorted(set(mx.get(domain, ()))))

    def apply_zone(self, zone_id: str, changes: Iterable[Change], label: str) -> int:
        """All of a zone's TXT changes in as few batch calls as possible; returns the calls."""
        changes = list(changes)
        records = self.read_zone(zone_id, label)
        ops = Operations()
        for change in changes:
            name = record_name(change.resource, change.domain)
            ops = ops + operations_for(change, records.txt.get(name, []))
        calls = 0
        for chunk in ops.chunks():
            with api_errors(self._provider, f"{label}: DNS batch of {len(chunk)} changes"):
                answer = self._client.dns.records.batch(
                    zone_id=zone_id,
                    deletes=list(chunk.deletes),  # type: ignore[arg-type]
                    patches=list(chunk.patches),  # type: ignore[arg-type]
                    posts=list(chunk.posts),  # type: ignore[arg-type]
                )
            calls += 1
            self._remember(records, chunk, answer)
        return calls

    def _remember(self, records: ZoneRecords, chunk: Operations, answer: Any) -> None:
        """Keep the cache equal to the zone after a batch, so later phases see it."""
        deleted = {op["id"] for op in chunk.deletes}
        patched = {op["id"]: txt_value(op["content"]) for op in chunk.patches}
        with self._lock:
            for name, recs in records.txt.items():
                kept = [r for r in recs if r.id not in deleted]
                for r in kept:
                    r.value = patched.get(r.id, r.value)
                records.txt[name] = kept
            for created in getattr(answer, "posts", None) or []:
                records.txt.setdefault(_name(created.name), []).append(
                    TxtRecord(
                        created.id, txt_value(created.content or ""), int(created.ttl or AUTO_TTL)
                    )
                )


def _name(value: str) -> str:
    return value.lower().rstrip(".")
