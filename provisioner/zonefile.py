r"""BIND zone fragments: the local provider's DNS, and `mtasts render`'s record files.

A fragment holds absolute owner names so it can be `$INCLUDE`d or pasted into any zone.
It is parsed with dnspython (comments, `$TTL`, multi-string TXT all understood) and written
from the `zone.j2` template, keeping every record mtasts does not own.

Foreign data round-trips exactly. `edit_zone_fragment` changes a fragment line by line: a
line holding one of mtasts's TXT records is replaced or dropped, every other line (comments,
`$TTL`, foreign records with their TTLs, strings and escapes) is kept as the operator wrote
it, and the result is parsed back and checked to hold exactly the records intended; when
the text is too unusual for that (a record over several lines, `$ORIGIN`), the fragment is
rendered from its records instead, each keeping the TTL and the rdata text dnspython gives
(a TXT keeps its split into strings and escapes: `\010` for a newline, `\195\169` for a
UTF-8 byte), losing only comments. Values mtasts writes are rendered by dnspython too, so
no value (non-ASCII, a quote, a control character) can break the file's syntax.

A fragment that no longer holds any record is written as comments only, never deleted: users
`$INCLUDE` it, and a missing include breaks the whole parent zone at the next reload.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import dns.exception
import dns.name
import dns.rdatatype
import dns.rdtypes.txtbase
import dns.zone
import dns.zonefile

from provisioner.dnstext import join_strings, txt_text
from provisioner.templating import template_environment

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
    return ZoneRecord(owner, ttl, "TXT", txt_text(value), value)


def parse_zone_fragment(text: str, origin: str, filename: str = "<zone>") -> list[ZoneRecord]:
    """The records of a fragment; errors read `<filename>:<line>: <problem>`."""
    try:
        zone = dns.zone.from_text(
            text, origin=origin + ".", relativize=False, check_origin=False, filename=filename
        )
    except dns.exception.DNSException as exc:
        raise ZoneFileError(str(exc)) from None
    if "$ORIGIN" in text.upper():
        _refuse_names_outside(text, origin, filename)
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


def _refuse_names_outside(text: str, origin: str, filename: str) -> None:
    """A `$ORIGIN` leading outside the domain: refuse, rather than lose those records.

    dnspython drops records outside the zone without a word, and the fragment's line edit
    reads each line on its own (with the domain as origin), so a relative name under a
    foreign `$ORIGIN` would be taken for one of mtasts's and deleted. A relative `$ORIGIN`
    stays under the domain; an absolute one must name the domain or a name under it.
    """
    apex = dns.name.from_text(origin + ".")
    for number, line in enumerate(text.split("\n"), start=1):
        match = _ORIGIN_LINE.match(line)
        if match is None or not match.group(1).endswith("."):
            continue
        try:
            inside = dns.name.from_text(match.group(1)).is_subdomain(apex)
        except dns.exception.DNSException:
            inside = False
        if not inside:
            raise ZoneFileError(
                f"{filename}:{number}: $ORIGIN {match.group(1)} is outside {origin}: mtasts "
                "edits only fragments whose names are all under their domain"
            )


_ORIGIN_LINE = re.compile(r"^\s*\$ORIGIN\s+(\S+)", re.IGNORECASE)


def txt_values(records: Iterable[ZoneRecord], owner: str) -> tuple[str, ...]:
    return tuple(
        r.value for r in records if r.owner == owner and r.rdtype == "TXT" and r.value is not None
    )


DELEGATING_TYPES = ("CNAME", "NS")
"""Records that hand a name to someone else: no TXT of mtasts's may stand beside them."""


def delegation(records: Iterable[ZoneRecord], owner: str) -> ZoneRecord | None:
    """The CNAME or NS at `owner`, if the fragment delegates that name (RFC 1034 3.6.2:
    nothing may stand beside a CNAME; beside an NS, a TXT is occluded by the zone cut)."""
    return next((r for r in records if r.owner == owner and r.rdtype in DELEGATING_TYPES), None)


def replace_txt(records: list[ZoneRecord], owner: str, values: Iterable[str]) -> list[ZoneRecord]:
    """The fragment with `owner`'s TXT values replaced, each other record kept in place.

    A value already there keeps its record (TTL, string split, escapes): the diff hands back
    foreign values as joined text, and rewriting them from that would change them.
    """
    existing = [r for r in records if r.owner == owner and r.rdtype == "TXT"]
    ttl = rrset_ttl(records, owner)
    kept = [r for r in records if not (r.owner == owner and r.rdtype == "TXT")]
    at = next((i for i, r in enumerate(records) if r.owner == owner and r.rdtype == "TXT"), None)
    new: list[ZoneRecord] = []
    for value in values:
        same = next((r for r in existing if r.value == value), None)
        if same is None:
            new.append(txt_record(owner, value, ttl))
        else:
            existing.remove(same)
            new.append(same)
    if at is None:
        return kept + new
    position = sum(1 for r in records[:at] if not (r.owner == owner and r.rdtype == "TXT"))
    return kept[:position] + new + kept[position:]


def rrset_ttl(records: Iterable[ZoneRecord], owner: str) -> int:
    """The TTL mtasts writes its TXT value with at `owner`: the RRset's own when one exists.

    Records of one name and type form an RRset with ONE TTL (RFC 2181 section 5.2): a value
    added at another TTL would change the TTL of the operator's values beside it.
    """
    return next((r.ttl for r in records if r.owner == owner and r.rdtype == "TXT"), RECORD_TTL)


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


def edit_zone_fragment(text: str | None, domain: str, rrsets: Mapping[str, Sequence[str]]) -> str:
    """The fragment with the TXT values at each owner of `rrsets` set to exactly those values,
    everything else kept as written (see the module notes); `text` None: a new fragment."""
    if text is None:
        records: list[ZoneRecord] = []
        for owner, values in rrsets.items():
            records = replace_txt(records, owner, values)
        return render_zone_fragment(domain, records)
    before = parse_zone_fragment(text, domain)
    # Lines as the zone file parser sees them: ended by "\n" only (str.splitlines would
    # also split a comment at U+0085 or U+2028 and take its tail for a record).
    *ended, last = text.split("\n")
    lines = [line + "\n" for line in ended] + ([last + "\n"] if last else [])
    for owner, values in rrsets.items():
        lines = _edit_owner_lines(lines, domain, owner, values, rrset_ttl(before, owner))
    edited = "".join(lines)
    if _holds_exactly(edited, domain, before, rrsets):
        return edited
    for owner, values in rrsets.items():
        before = replace_txt(before, owner, values)
    return render_zone_fragment(domain, before)


def _edit_owner_lines(
    lines: list[str], domain: str, owner: str, values: Sequence[str], ttl: int
) -> list[str]:
    """Keep the lines holding a wanted value at `owner`, drop the others, and put the values
    not yet there where the last of the owner's lines was (or at the end)."""
    wanted = Counter(values)
    kept: list[str] = []
    insert_at: int | None = None
    for line in lines:
        value = _owned_txt_value(line, domain, owner)
        if value is None:
            kept.append(line)
            continue
        insert_at = len(kept)
        if wanted[value] > 0:
            wanted[value] -= 1
            kept.append(line)
            insert_at += 1
    added: list[str] = []
    for value in values:
        if wanted[value] > 0:
            wanted[value] -= 1
            added.append(f"{owner}. {ttl} IN TXT {txt_record(owner, value).rdata}\n")
    at = len(kept) if insert_at is None else insert_at
    return kept[:at] + added + kept[at:]


def _owned_txt_value(line: str, domain: str, owner: str) -> str | None:
    """The value of the TXT record at `owner` that `line` holds alone, else None."""
    if "TXT" not in line.upper():
        return None
    try:
        rrsets = dns.zonefile.read_rrsets(
            line, origin=domain + ".", relativize=False, rdclass=None, default_ttl=RECORD_TTL
        )
    except (dns.exception.DNSException, ValueError):
        return None
    if len(rrsets) != 1 or len(rrsets[0]) != 1 or rrsets[0].rdtype != dns.rdatatype.TXT:
        return None
    if rrsets[0].name.to_text(omit_final_dot=True).lower() != owner:
        return None
    rdata = next(iter(rrsets[0]))
    assert isinstance(rdata, dns.rdtypes.txtbase.TXTBase)
    return join_strings(rdata.strings)


def _holds_exactly(
    text: str, domain: str, before: list[ZoneRecord], rrsets: Mapping[str, Sequence[str]]
) -> bool:
    """Whether the edited text parses to `before` with only the owners' TXT values changed."""
    try:
        after = parse_zone_fragment(text, domain)
    except ZoneFileError:
        return False

    def others(records: list[ZoneRecord]) -> Counter[ZoneRecord]:
        return Counter(r for r in records if not (r.owner in rrsets and r.rdtype == "TXT"))

    if others(after) != others(before):
        return False
    return all(
        Counter(txt_values(after, owner)) == Counter(values) for owner, values in rrsets.items()
    )
