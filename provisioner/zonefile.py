"""BIND zone fragments: the local provider's DNS, and `mtasts render`'s record files.

A fragment holds absolute owner names so it can be `$INCLUDE`d or pasted into any zone.
It is parsed with dnspython (comments, `$TTL`, multi-string TXT all understood) and written
from the `zone.j2` template, keeping every record mtasts does not own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import dns.exception
import dns.name
import dns.rdatatype
import dns.zone

from provisioner.templating import template_environment
from provisioner.txtstrings import join_strings, zone_quoted

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
    return ZoneRecord(owner, ttl, "TXT", zone_quoted(value), value)


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
                    records.append(txt_record(owner, join_strings(rdata.strings), rdataset.ttl))
                else:
                    records.append(ZoneRecord(owner, rdataset.ttl, rdtype, rdata.to_text()))
    return records


def txt_values(records: Iterable[ZoneRecord], owner: str) -> tuple[str, ...]:
    return tuple(
        r.value for r in records if r.owner == owner and r.rdtype == "TXT" and r.value is not None
    )


def replace_txt(records: list[ZoneRecord], owner: str, values: Iterable[str]) -> list[ZoneRecord]:
    """The fragment with `owner`'s TXT values replaced, each other record kept in place."""
    kept = [r for r in records if not (r.owner == owner and r.rdtype == "TXT")]
    at = next((i for i, r in enumerate(records) if r.owner == owner and r.rdtype == "TXT"), None)
    new = [txt_record(owner, v) for v in values]
    if at is None:
        return kept + new
    position = sum(1 for r in records[:at] if not (r.owner == owner and r.rdtype == "TXT"))
    return kept[:position] + new + kept[position:]


def render_zone_fragment(domain: str, records: Iterable[ZoneRecord]) -> str:
    template = template_environment().get_template("zone.j2")
    return template.render(domain=domain, ttl=RECORD_TTL, records=list(records))
