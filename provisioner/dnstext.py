"""DNS text, one way for every provider: TXT character-strings and zone lookup by suffix.

Each DNS API spells a TXT record its own way: Route53 and Cloud DNS take zone-file text
(quoted character-strings, `\\"`, `\\\\` and `\\ddd` escapes), Cloudflare takes the same in
its `content` field, the local provider writes zone files. Three hand-written parsers used
to disagree (`"a\\059b"` read as an error, as `a059b` and as `a;b`). Here dnspython parses
and renders all of it (RFC 1035 sections 3.3 and 5.1), so every provider reads the same
value from the same text.

Values. A TXT record is one or more character-strings of at most 255 bytes; readers join
them with no separator (RFC 7208 section 3.3, which RFC 8461 section 3.1 follows; note
that dnspython's `to_text()` joins with a space). A value is the joined bytes decoded as
UTF-8 with `surrogateescape`, so any byte sequence round-trips exactly, ASCII or not.
mtasts's own values are ASCII; foreign ones are whatever the operator wrote, and a
provider that must write them back keeps their original text (`TxtRecord.text`), never a
re-rendering, so their string split and escapes survive byte for byte. What a person or a
JSON report reads (`mtasts check`) is `readable_value`: the same bytes, with each byte that
is not UTF-8 written as a zone-file `\\DDD` escape, since a lone surrogate cannot be printed
or put in JSON.

Zones. A domain lives in the zone whose name is the longest suffix of it, unless the
operator pinned a zone for it; pins are keyed by domain names normalised as the spec
normalises them (lower case, IDN to A-labels), so an IDN pin is never silently ignored.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import dns.exception
import dns.rdata
import dns.rdataclass
import dns.rdatatype
from dns.rdtypes.ANY.TXT import TXT

from provisioner.rfc8461 import normalize_hostname

MAX_STRING_BYTES = 255
"""The longest character-string (RFC 1035 section 3.3)."""

ENCODING_ERRORS = "surrogateescape"
READABLE_ERRORS = "mtasts-decimal-escape"


def _decimal_escape(exc: UnicodeError) -> tuple[str, int]:
    """Codec error handler: the undecodable bytes as `\\DDD` (RFC 1035 section 5.1)."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    return "".join(f"\\{byte:03d}" for byte in bad), exc.end


codecs.register_error(READABLE_ERRORS, _decimal_escape)


class DnsTextError(ValueError):
    """Zone-file text that is not a valid TXT rdata; the message says why."""


@dataclass(frozen=True)
class TxtRecord:
    """One TXT rdata: its character-strings as bytes, and the value senders see."""

    strings: tuple[bytes, ...]

    @property
    def value(self) -> str:
        return join_strings(self.strings)

    @property
    def text(self) -> str:
        """Zone-file text: each string quoted, escapes as dnspython writes them."""
        return str(TXT(dns.rdataclass.IN, dns.rdatatype.TXT, list(self.strings)).to_text())


def parse_txt(text: str) -> TxtRecord:
    """TXT rdata from zone-file text (`"a" "b"`, `a`, `"a\\059b"`); raises DnsTextError."""
    try:
        rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, text)
    except (dns.exception.DNSException, ValueError) as exc:
        raise DnsTextError(f"not TXT record data: {_shown(text)} ({exc})") from None
    assert isinstance(rdata, TXT)
    return TxtRecord(tuple(rdata.strings))


def txt_value(text: str) -> str:
    """The value senders see for zone-file text: strings joined with no separator."""
    return parse_txt(text).value


def _shown(text: str) -> str:
    """Text as an error quotes it: cut to 80 characters (a foreign value may be 64 KiB)."""
    return repr(text) if len(text) <= 80 else repr(text[:80]) + f"... ({len(text)} chars)"


def split_value(value: str) -> TxtRecord:
    """A value as character-strings of at most 255 bytes each (an empty value is one "").

    A cut never falls inside a UTF-8 character (it moves back to the character's first
    byte), so each string of a non-ASCII value reads as text on its own in a DNS console;
    readers join the strings, so the value is the same either way. Raises DnsTextError for
    a string that is no byte sequence (a lone surrogate outside `\udc80`-`\udcff`, e.g.
    from a JSON `\ud800` escape).
    """
    try:
        data = value.encode("utf-8", ENCODING_ERRORS)
    except UnicodeEncodeError:
        raise DnsTextError(f"not a TXT value (holds a lone surrogate): {_shown(value)}") from None
    if not data:
        return TxtRecord((b"",))
    strings: list[bytes] = []
    start = 0
    while len(data) - start > MAX_STRING_BYTES:
        end = start + MAX_STRING_BYTES
        back = end
        while back > end - 3 and data[back] & 0xC0 == 0x80:  # a continuation byte
            back -= 1
        if data[back] & 0xC0 == 0xC0:  # the first byte of a character cut at `end`
            end = back
        strings.append(data[start:end])
        start = end
    strings.append(data[start:])
    return TxtRecord(tuple(strings))


def txt_text(value: str) -> str:
    """Zone-file text publishing `value`: split at 255 bytes, quoted and escaped."""
    return split_value(value).text


def join_strings(strings: Iterable[bytes | str]) -> str:
    """Join character-strings the way senders do: concatenated, no separator."""
    data = b"".join(
        s if isinstance(s, bytes) else s.encode("utf-8", ENCODING_ERRORS) for s in strings
    )
    return data.decode("utf-8", ENCODING_ERRORS)


def readable_value(strings: Iterable[bytes]) -> str:
    """The joined value for people and JSON: UTF-8, each invalid byte as `\\DDD` (so
    `b"id=\\xff"` reads `id=\\255`). No surrogate, so it always prints and serialises."""
    return b"".join(strings).decode("utf-8", READABLE_ERRORS)


def zone_for(
    domain: str, zones: Iterable[str], pins: Mapping[str, str] | None = None
) -> str | None:
    """The zone holding `domain`: its pin, else the longest zone name that is a suffix of it.

    `zones` are zone names (any case, with or without the trailing dot); the answer is one
    of them as given. None when no zone holds the domain.
    """
    domain = domain.rstrip(".").lower()
    if pins and domain in pins:
        return pins[domain]
    best: str | None = None
    best_length = -1
    for zone in zones:
        name = zone.rstrip(".").lower()
        if (domain == name or domain.endswith("." + name)) and len(name) > best_length:
            best, best_length = zone, len(name)
    return best


def rrset_texts(values: Iterable[str], live_texts: Iterable[str]) -> tuple[str, ...]:
    """Zone-file texts publishing `values` (a `Change.rrset_after`), in order, no repeats.

    A value already live keeps its live text byte for byte (`"a" "b"` is not `"ab"` to a
    reader of character-strings, and its escapes are its owner's); any other is rendered by
    `txt_text`. A live text that does not parse is kept only under its own spelling. Why
    here: every provider whose API takes zone-file text must do exactly this to write
    foreign values back unchanged (issue 9.4).
    """
    stored: dict[str, str] = {}
    for text in live_texts:
        try:
            stored.setdefault(txt_value(text), text)
        except DnsTextError:
            stored.setdefault(text, text)
    return tuple(dict.fromkeys(stored.get(value) or txt_text(value) for value in values))


def normalize_pins(pins: Mapping[str, str], setting: str) -> dict[str, str]:
    """Zone pins keyed as spec domains are (lower case, A-labels); raises ValueError naming it."""
    result: dict[str, str] = {}
    for domain, zone in pins.items():
        try:
            key = normalize_hostname(domain)
        except ValueError as exc:
            raise ValueError(f"{setting}: {exc}") from None
        if key in result and result[key] != zone:
            raise ValueError(f"{setting}: {domain!r} is pinned twice, to different zones")
        result[key] = zone
    return result
