"""Cloudflare DNS: the `_mta-sts` and `_smtp._tls` TXT records, read per zone and changed in
one batch per zone per phase.

Reading: one filtered, paginated list per zone (`type=TXT`, `name.startswith=_`) returns
every underscore TXT name of the zone at once, whatever the number of domains in it, where
a per-name query would cost two calls per domain. A second filtered list (`type=MX`) gives
the live MX hosts, which the planner uses to warn before `enforce` blocks mail; it doubles
the read calls, so `read_mx: false` turns it off for very large accounts.

Writing: Cloudflare stores records one by one, so the plan's whole wanted rrset
(`rrset_after`) is turned into the fewest record operations: records whose value is wanted
stay, a stale mtasts record is patched into a new value (keeping its id), surplus mtasts
records are deleted and missing values are created. A value mtasts does not own (not
`v=STSv1`/`v=TLSRPTv1`) is never deleted, even when it appeared after the plan was made.
All of a zone's operations go in one `dns_records/batch` call, which Cloudflare runs in one
transaction, so a failed call leaves the zone as it was and the next plan converges.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import cloudflare

from provisioner.plan import Change
from provisioner.rfc8460 import is_tlsrpt_record
from provisioner.rfc8461 import is_sts_record
from provisioner.state import Resource, record_name
from provisioner.txtstrings import zone_quoted

from .client import all_pages, api_errors

RECORDS_PER_PAGE = 500
BATCH_MAX_OPERATIONS = 200
"""Cloudflare's batch limit on the smallest plans; larger plans are split."""
AUTO_TTL = 1
RECORD_COMMENT = "managed by mtasts"

_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


def txt_value(content: str) -> str:
    """A record's content as the value senders see: quoted strings joined, unquoted as is."""
    text = content.strip()
    if not text.startswith('"'):
        return content
    parts = _QUOTED.findall(text)
    return "".join(re.sub(r"\\(.)", r"\1", part) for part in parts)


@dataclass
class TxtRecord:
    id: str
    value: str


@dataclass
class ZoneRecords:
    """What one zone holds at the names mtasts reads: TXT by owner name, MX hosts by name."""

    txt: dict[str, list[TxtRecord]] = field(default_factory=dict)
    mx: dict[str, list[str]] | None = None


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
    patches = tuple(
        {"id": old.id, "type": "TXT", "name": name, "content": zone_quoted(value)}
        for old, value in zip(stale, missing, strict=False)
    )
    deletes = tuple({"id": old.id} for old in stale[len(missing) :])
    posts = tuple(
        {
            "type": "TXT",
            "name": name,
            "content": zone_quoted(value),
            "ttl": AUTO_TTL,
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
        """The zone's underscore TXT records (and MX), read once and cached."""
        with self._lock:
            cached = self._zones.get(zone_id)
        if cached is not None:
            return cached
        with api_errors(self._provider, f"{label}: listing TXT records"):
            txt = all_pages(
                lambda page: self._client.dns.records.list(
                    zone_id=zone_id,
                    type="TXT",
                    name={"startswith": "_"},
                    page=page,
                    per_page=RECORDS_PER_PAGE,
                )
            )
        records = ZoneRecords()
        for rec in txt:
            if getattr(rec, "type", None) == "TXT":
                records.txt.setdefault(_name(rec.name), []).append(
                    TxtRecord(rec.id, txt_value(rec.content or ""))
                )
        if self._read_mx:
            with api_errors(self._provider, f"{label}: listing MX records"):
                mx = all_pages(
                    lambda page: self._client.dns.records.list(
                        zone_id=zone_id, type="MX", page=page, per_page=RECORDS_PER_PAGE
                    )
                )
            records.mx = {}
            for rec in mx:
                if getattr(rec, "type", None) == "MX" and rec.content:
                    records.mx.setdefault(_name(rec.name), []).append(_name(rec.content))
        with self._lock:
            self._zones[zone_id] = records
        return records

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
                    TxtRecord(created.id, txt_value(created.content or ""))
                )


def _name(value: str) -> str:
    return value.lower().rstrip(".")
