r"""BIND zone fragments: the local provider's DNS, and `mtasts render`'s record files.

A fragment holds absolute owner names so it can be `$INCLUDE`d or pasted into any zone.
It is parsed with dnspython (comments, `$TTL`, multi-string TXT all understood) and written
from the `zone.j2` template, keeping every record mtasts does not own.

Foreign data round-trips exactly: each record keeps the TTL and the rdata text dnspython
gives for it (a TXT keeps its split into strings and its escapes: `\010` for a newline,
`\195\169` for a UTF-8 byte), and a TXT value that is still wanted after a change keeps its
record as it was. Only values mtasts writes are rendered anew, by dnspython too, so no value
(non-ASCII, a quote, a control character) can break the file's syntax.

A fragment that no longer holds any record is written as comments only, never deleted: users
`$INCLUDE` it, and a missing include breaks the whole parent zone at the next reload.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import dns.exception
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.zone

from provisioner.templating import template_environment
from provisioner.txtstrings import MAX_STRING_BYTES, join_strings

RECORD_TTL = 300


class ZoneFileError(ValueError):
    """A fragment dnspython cannot read; the message carries its line when known."""


@dataclass(frozen=True)
class ZoneRecord:
    owner: str
    """Absolute name without the trailing dot, lower case."""
    ttl: int
    rdtype: str
    rdata: str
    """Zone-file text of the record data (for TXT: quoted strings)."""
    value: str | None = None
    """For TXT: the value as senders see it, strings joined with no separator."""


def txt_record(owner: str, value: str, ttl: int = RECORD_TTL) -> ZoneRecord:
    """A TXT record mtasts writes: split into 255-byte strings, escaped by dnspython."""
    data = value.encode("utf-8")
    strings = [data[i : i + MAX_STRING_BYTES] for i in range(0, len(data), MAX_STRING_BYTES)]
    rdata = dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT, strings or [b""])
    return ZoneRecord(owner, ttl, "TXT", rdata.to_text(), value)


def parse_zone_fragment(text: str, origin: str, filename: str = "<zone>") -> list[ZoneRecord]:
    """The records of a fragment; errors read `<filename>:<line>: <problem>`."""
    try:
        zone = dns.zone.from_text(
            text, origin=origin + ".", relativize=False, check_origin=False, filename=filename
        )
    except dns.exception.DNSException as exc:
        raise ZoneFileError(str(exc)) from None
    records: list[ZoneRecord] = []
    for name, node in zone.nodes.items():
        owner = name.to_text(omit_final_dot=True).lower()
        for rdataset in node.rdatasets:
            rdtype = dns.rdatatype.to_text(rdataset.rdtype)
            for rdata in rdataset:
                if rdtype == "TXT":
                    value = join_strings(rdata.strings)
                    records.append(ZoneRecord(owner, rdataset.ttl, rdtype, rdata.to_text(), value))
                else:
                    records.append(ZoneRecord(owner, rdataset.ttl, rdtype, rdata.to_text()))
    return records


def txt_values(records: Iterable[ZoneRecord], owner: str) -> tuple[str, ...]:
    return tuple(
        r.value for r in records if r.owner == owner and r.rdtype == "TXT" and r.value is not None
    )


def cname_target(records: Iterable[ZoneRecord], owner: str) -> str | None:
    """The CNAME target at `owner` (no trailing dot), if the fragment delegates that name."""
    for r in records:
        if r.owner == owner and r.rdtype == "CNAME":
            return r.rdata.rstrip(".").lower()
    return None


def replace_txt(records: list[ZoneRecord], owner: str, values: Iterable[str]) -> list[ZoneRecord]:
    """The fragment with `owner`'s TXT values replaced, each other record kept in place.

    A value already there keeps its record (TTL, string split, escapes): the diff hands back
    foreign values as joined text, and rewriting them from that would change them.
    """
    existing = [r for r in records if r.owner == owner and r.rdtype == "TXT"]
    kept = [r for r in records if not (r.owner == owner and r.rdtype == "TXT")]
    at = next((i for i, r in enumerate(records) if r.owner == owner and r.rdtype == "TXT"), None)
    new: list[ZoneRecord] = []
    for value in values:
        same = next((r for r in existing if r.value == value), None)
        if same is None:
            new.append(txt_record(owner, value))
        else:
            existing.remove(same)
            new.append(same)
    if at is None:
        return kept + new
    position = sum(1 for r in records[:at] if not (r.owner == owner and r.rdtype == "TXT"))
    return kept[:position] + new + kept[position:]


def render_zone_fragment(domain: str, records: Iterable[ZoneRecord]) -> str:
    """The fragment's text; with no records, comments only (a valid, empty include)."""
    listed = list(records)
    if not listed:
        return (
            f"; {domain}: no MTA-STS or TLS-RPT records: mtasts removed them.\n"
            "; This file is kept, empty, so that a zone which $INCLUDEs it still loads.\n"
        )
    template = template_environment().get_template("zone.j2")
    return template.render(domain=domain, ttl=RECORD_TTL, records=listed)
