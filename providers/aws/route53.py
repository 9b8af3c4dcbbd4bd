"""Route53: hosted zones, one targeted listing per zone, and change batches within limits.

Reading. Hosted zones are listed once per provider (cached for the run). A domain's zone is
`zone_ids[domain]` when set, else the public zone whose name is the longest suffix of the
domain. Each zone is then read with ONE paginated ListResourceRecordSets over the run of
names that holds every name mtasts owns for every spec domain in the zone (apex MX,
`_mta-sts`, `_smtp._tls`, `mta-sts` alias A/AAAA and the ACM validation CNAME under it):
`listing.ListingRange` chooses where to start and when to stop so that no owned name is
missed whatever order the domains' names sort in (an apex and its subdomains in one zone, hyphens);
a zone of a few hundred records is one request.

TXT values. Route53 stores a TXT record as zone-file text: quoted character-strings of at
most 255 bytes each, `\\"` and `\\\\` escaped, other bytes as `\\ddd`. That text is read
and written by `provisioner.dnstext` (dnspython), as every provider's is: strings joined
with no separator when read, mtasts's values split at 255 bytes and quoted when written.
moto accepts unquoted and over-long strings, AWS does not; dnstext never writes either. A
value already live (a foreign one) is written back as the very text Route53 returned
(`txt_rrset`), so its string split and escapes survive byte for byte.

Writing. One ChangeResourceRecordSets per zone per apply step, split only when a batch would
pass Route53's limits: 1,000 ResourceRecord elements and 32,000 characters of values, where
an UPSERT counts twice. Every batch is waited for until INSYNC, so a phase returns only when
its records are live on Route53's servers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from providers.aws.errors import reported
from providers.aws.listing import ListingRange
from providers.aws.tuning import INSYNC_TIMEOUT
from provisioner.concurrency import each
from provisioner.dnstext import DnsTextError, parse_txt, txt_text, zone_for
from provisioner.errors import ProviderError
from provisioner.polling import Wait, WaitTimedOut, poll

MAX_BATCH_RECORDS = 1000
MAX_BATCH_CHARS = 32_000
LIST_PAGE = 300
TXT_TTL = 300

RRSet = dict[str, Any]

_ESCAPE = re.compile(r"\\(\d{3}|.)")


def normalize(name: str) -> str:
    """Route53's spelling of a name (trailing dot, `\\052` for `*`) as mtasts's."""
    return _ESCAPE.sub(_unescape_one, name).rstrip(".").lower()


def _unescape_one(match: re.Match[str]) -> str:
    token = match.group(1)
    return chr(int(token, 8)) if len(token) == 3 and token.isdigit() else token


def txt_strings(stored: str) -> list[bytes]:
    """The character-strings of one stored TXT value (zone-file text, read by dnspython).

    Text dnspython cannot read (moto stores anything, e.g. an unbalanced quote) is taken as
    one string of its own bytes, so a read never fails on someone else's record.
    """
    try:
        return list(parse_txt(stored).strings)
    except DnsTextError:
        return [stored.encode("utf-8", "surrogateescape")]


def txt_value(stored: str) -> str:
    """The value senders see: the strings joined with no separator."""
    try:
        return parse_txt(stored).value
    except DnsTextError:
        return stored


def txt_record(value: str) -> str:
    """One TXT value as Route53 wants it: quoted strings of at most 255 bytes, escaped."""
    return txt_text(value)


@dataclass(frozen=True)
class Zone:
    id: str
    name: str
    private: bool


class ZoneIndex:
    """Every hosted zone of the account, listed once, and the zone of each domain."""

    def __init__(self, provider: str, client: Any, zone_ids: Mapping[str, str]) -> None:
        self.provider = provider
        self.client = client
        self.zone_ids = dict(zone_ids)
        """domain -> zone id, keyed as spec domains are (`AwsSettings` normalised them)."""
        self._zones: list[Zone] | None = None

    def zones(self) -> list[Zone]:
        if self._zones is None:
            found: list[Zone] = []
            with reported(self.provider, None, "listing Route53 hosted zones"):
                for page in self.client.get_paginator("list_hosted_zones").paginate():
                    for z in page["HostedZones"]:
                        found.append(
                            Zone(
                                z["Id"].split("/")[-1],
                                normalize(z["Name"]),
                                bool(z.get("Config", {}).get("PrivateZone")),
                            )
                        )
            self._zones = found
        return self._zones

    def zone_for(self, domain: str) -> Zone:
        """The pinned zone, else the public zone with the longest suffix (`dnstext.zone_for`);
        of two public zones with the same name, the first listed, as Route53 lists them."""
        zones = self.zones()
        wanted = self.zone_ids.get(domain)
        if wanted is not None:
            for zone in zones:
                if zone.id == wanted:
                    return zone
            raise ProviderError(
                f"{self.provider}: {domain}: zone_ids names hosted zone {wanted}, "
                "which this account does not have"
            )
        public = [zone for zone in zones if not zone.private]
        name = zone_for(domain, [zone.name for zone in public])
        if name is None:
            raise ProviderError(
                f"{self.provider}: {domain}: no Route53 hosted zone for {domain} "
                f"({len(zones)} public zones in the account; create one or set zone_ids)"
            )
        return next(zone for zone in public if zone.name == name)


def list_zone(provider: str, client: Any, zone: Zone, domains: Sequence[str]) -> list[RRSet]:
    """The zone's record sets over the run that holds every owned name (`ListingRange`)."""
    span = ListingRange.for_domains(domains)
    found: list[RRSet] = []
    params: dict[str, Any] = {
        "HostedZoneId": zone.id,
        "StartRecordName": span.start + ".",
        "MaxItems": str(LIST_PAGE),
    }
    with reported(provider, min(domains), f"listing records of hosted zone {zone.name}"):
        while True:
            page = client.list_resource_record_sets(**params)
            for rrset in page["ResourceRecordSets"]:
                if span.past(rrset["Name"], normalize(rrset["Name"])):
                    return found
                found.append(rrset)
            if not page.get("IsTruncated"):
                return found
            params["StartRecordName"] = page["NextRecordName"]
            params["StartRecordType"] = page["NextRecordType"]
            if page.get("NextRecordIdentifier"):
                params["StartRecordIdentifier"] = page["NextRecordIdentifier"]


def txt_rrset(name: str, values: Iterable[str], ttl: int, live: RRSet | None = None) -> RRSet:
    """The TXT record set holding `values`; a value already live keeps its stored text.

    Values are compared joined (the plan speaks joined values), but a foreign value written
    back must stay byte for byte what its owner stored: `"a" "b"` is not `"ab"` to a reader
    of character-strings, so it is never re-split.
    """
    stored = {txt_value(r["Value"]): r["Value"] for r in (live or {}).get("ResourceRecords", ())}
    return {
        "Name": name + ".",
        "Type": "TXT",
        "TTL": ttl,
        "ResourceRecords": [{"Value": stored.get(v) or txt_record(v)} for v in values],
    }


@dataclass
class ChangeSet:
    """Changes for one zone, in the order they must be sent."""

    zone: Zone
    changes: list[dict[str, Any]] = field(default_factory=list)

    def upsert(self, rrset: RRSet) -> None:
        self.changes.append({"Action": "UPSERT", "ResourceRecordSet": rrset})

    def delete(self, rrset: RRSet) -> None:
        self.changes.append({"Action": "DELETE", "ResourceRecordSet": rrset})


def _weight(change: Mapping[str, Any]) -> tuple[int, int]:
    """(records, characters) a change costs against the batch limits; UPSERT counts twice."""
    rrset = change["ResourceRecordSet"]
    records = rrset.get("ResourceRecords", [])
    count = max(1, len(records))
    chars = sum(len(r["Value"]) for r in records)
    factor = 2 if change["Action"] == "UPSERT" else 1
    return count * factor, chars * factor


def batches(changes: Sequence[Mapping[str, Any]]) -> list[list[Mapping[str, Any]]]:
    """Split a zone's changes into the fewest batches within Route53's limits, in order."""
    out: list[list[Mapping[str, Any]]] = []
    current: list[Mapping[str, Any]] = []
    records = chars = 0
    for change in changes:
        r, c = _weight(change)
        if r > MAX_BATCH_RECORDS or c > MAX_BATCH_CHARS:
            raise ValueError(f"{change['ResourceRecordSet']['Name']}: record set over limits")
        if current and (records + r > MAX_BATCH_RECORDS or chars + c > MAX_BATCH_CHARS):
            out.append(current)
            current, records, chars = [], 0, 0
        current.append(change)
        records += r
        chars += c
    if current:
        out.append(current)
    return out


def apply_changes(
    provider: str, client: Any, change_sets: Sequence[tuple[ChangeSet, str]], comment: str
) -> None:
    """Send every zone's changes (zones side by side, paced), then wait until all are INSYNC.

    Waiting only after everything is sent matters at scale: Route53 takes tens of seconds to
    propagate a change, and at 5 requests a second 1,000 zones take 200 s to send, so by the
    time the waits start almost every change is INSYNC and costs one GetChange. Waiting per
    zone inside each worker would instead hold the 16 workers for a minute per zone.
    """
    todo = [(change_set, domain) for change_set, domain in change_sets if change_set.changes]
    sent = each(lambda item: _send(provider, client, item[0], item[1], comment), todo)
    for infos, (_, domain) in zip(sent, todo, strict=True):
        for info in infos:
            wait_insync(provider, client, info, domain)


def _send(
    provider: str, client: Any, change_set: ChangeSet, domain: str, comment: str
) -> list[Mapping[str, Any]]:
    """One ChangeResourceRecordSets for the zone, more only when the limits force it."""
    infos = []
    for batch in batches(change_set.changes):
        with reported(provider, domain, f"changing records in hosted zone {change_set.zone.name}"):
            answer = client.change_resource_record_sets(
                HostedZoneId=change_set.zone.id,
                ChangeBatch={"Comment": comment[:256], "Changes": list(batch)},
            )
        infos.append(answer["ChangeInfo"])
    return infos


def wait_insync(provider: str, client: Any, info: Mapping[str, Any], domain: str) -> None:
    """Poll GetChange until INSYNC; the answer to the change itself counts as the first poll."""
    current = dict(info)
    polls = 0

    def insync() -> bool | None:
        nonlocal current, polls
        polls += 1
        if polls == 1 or current.get("Status") == "INSYNC":
            return True if current.get("Status") == "INSYNC" else None
        with reported(provider, domain, "waiting for a Route53 change"):
            current = dict(client.get_change(Id=current["Id"])["ChangeInfo"])
        return True if current.get("Status") == "INSYNC" else None

    timeout = INSYNC_TIMEOUT.read()
    try:
        poll(f"{provider}: {domain}: Route53 change INSYNC", insync, Wait(timeout, 1.0, 10.0))
    except WaitTimedOut:
        raise ProviderError(
            f"{provider}: {domain}: Route53 change {current.get('Id')} not INSYNC after "
            f"{timeout:.0f} s"
        ) from None
