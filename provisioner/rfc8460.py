"""RFC 8460 (SMTP TLS Reporting): the `_smtp._tls` TXT record, both ways.

Rendered as `v=TLSRPTv1; rua=<uri>,<uri>`: `rua` first and no space after a comma, since a
strict reporter drops `, https://...`. Inside a URI, `,` `!` and `;` are percent-encoded
(section 3), so the record splits back into the same URIs. Only `mailto:` and `https:`
destinations exist (section 3).

This module is the only place that knows this grammar: the spec validates each report URI
with `normalize_rua` and the whole record with `render_tlsrpt_record`, so a spec that loads
renders, and `parse_tlsrpt_record` reads live records with the same URI rules. Decisions:
- One URI per spec item. `mailto:a@example.com,mailto:b@example.net` pasted into one item
  (as it appears in a record) would otherwise be published as ONE URI with `%2C` inside,
  which strict reporters refuse; it is refused with the list to write instead.
- A URI a reporter cannot use is refused, not published: an https port outside 1-65535,
  `user:password@` in an https URI (a credential published in DNS, and RFC 9110 section
  4.2.4 forbids userinfo in https URIs), a mailto address with more than one `@`.
- The whole value is capped at `TLSRPT_RECORD_MAX_BYTES`, far below the 65,535 bytes of
  one TXT record's data (RFC 1035 section 3.2.1): see the constant for why that number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from provisioner.rfc8461 import (
    GrammarError,
    extension_field,
    normalize_hostname,
    split_tagged_record,
)

TLSRPT_VERSION = "v=TLSRPTv1"

TLSRPT_RECORD_MAX_BYTES = 2048
"""The longest `_smtp._tls` value mtasts publishes (some fifty report URIs).

RFC 8460 sets no limit and one TXT record holds up to 65,535 bytes, but the DNS services
mtasts publishes to cap far lower: Cloudflare at 4,096 wire bytes per record, Route 53 at
4,000 characters of quoted value (each 255-byte string adds two quotes and a space).
2,048 bytes fits both with room to spare, and a longer list is a mistake, not a need.
"""

_URI_CHARS_RE = re.compile(r"[\x21-\x7e]+")
_NOT_URI_RE = re.compile(r'["<>\\^`{|}]|%(?![0-9A-Fa-f]{2})')
_ENCODE = {",": "%2C", "!": "%21", ";": "%3B"}
_COMMA_RE = re.compile(r",|%2C", re.IGNORECASE)
_URI_START_RE = re.compile(r"(?:mailto:[^,]*@|https?://)", re.IGNORECASE)
"""How a pasted second URI starts, after a comma inside one spec item."""
_WSP = " \t"


@dataclass(frozen=True)
class TlsRptRecord:
    """The `_smtp._tls` TXT record: where reports go, already percent-encoded."""

    rua: tuple[str, ...]
    extensions: tuple[tuple[str, str], ...] = ()

    def render(self) -> str:
        return render_tlsrpt_record(self.rua)


def normalize_rua(uri: str) -> str:
    """One report destination, validated, with `,` `!` `;` percent-encoded (section 3).

    `uri` is one URI as a spec writes it (scheme in any case, surrounding blanks allowed).
    Returns the form a record carries; raises ValueError naming the URI and the fix.
    """
    text = uri.strip()
    if not text:
        raise ValueError("empty report URI")
    _refuse_pasted_list(uri, text)
    if not _URI_CHARS_RE.fullmatch(text):
        raise ValueError(f"report URI {uri!r} contains spaces or non-ASCII characters")
    bad = _NOT_URI_RE.search(text)
    if bad:
        raise ValueError(
            f"report URI {uri!r} contains {bad.group()!r}, which a URI cannot hold "
            "(percent-encode it, as %XX)"
        )
    scheme, sep, rest = text.partition(":")
    scheme = scheme.lower()
    if not sep or scheme not in ("mailto", "https"):
        raise ValueError(f"report URI {uri!r} must start with 'mailto:' or 'https:'")
    encoded = "".join(_ENCODE.get(ch, ch) for ch in rest)
    if scheme == "mailto":
        _check_mailto(uri, rest)
    else:
        _check_https(uri, text)
    return f"{scheme}:{encoded}"


def render_tlsrpt_record(
    rua: tuple[str, ...] | list[str], *, max_bytes: int | None = TLSRPT_RECORD_MAX_BYTES
) -> str:
    """`v=TLSRPTv1; rua=a,b` with each URI validated and encoded; raises GrammarError.

    Refuses an empty list and a value over `max_bytes`, so what this returns by default can
    be published by every provider. `max_bytes=None` renders a live record's URIs whatever
    their length, to show how a record that is already published should be written.
    """
    if not rua:
        raise GrammarError("rua needs at least one report URI")
    try:
        uris = [normalize_rua(u) for u in rua]
    except ValueError as exc:
        raise GrammarError(str(exc)) from None
    record = f"{TLSRPT_VERSION}; rua=" + ",".join(uris)
    size = len(record.encode("ascii"))
    if max_bytes is not None and size > max_bytes:
        raise GrammarError(
            f"the _smtp._tls record would be {size:,} bytes ({len(uris):,} report URIs), "
            f"over the {max_bytes:,} bytes mtasts publishes: list fewer report "
            "URIs (one mailbox or endpoint that collects every report is the usual setup)"
        )
    return record


def is_tlsrpt_record(value: str) -> bool:
    """Whether a TXT value claims to be a TLSRPT record; mtasts owns all such values."""
    return value.startswith(TLSRPT_VERSION)


def parse_tlsrpt_record(value: str) -> TlsRptRecord:
    """Parse a `_smtp._tls` TXT value (section 3); raises GrammarError."""
    rua: tuple[str, ...] | None = None
    extensions: list[tuple[str, str]] = []
    for name, val in split_tagged_record(value, TLSRPT_VERSION):
        if name == "rua":
            uris = tuple(u.strip(_WSP) for u in val.split(","))
            for uri in uris:
                try:
                    canonical = normalize_rua(uri)
                except ValueError as exc:
                    raise GrammarError(str(exc)) from None
                if canonical != uri:
                    raise GrammarError(
                        f"report URI {uri!r} must be written {canonical!r} (lower-case scheme; "
                        "',' '!' ';' percent-encoded)"
                    )
            if rua is None:
                rua = uris
        else:
            extensions.append(extension_field(name, val, value))
    if rua is None:
        raise GrammarError(f"no rua in {value!r}")
    return TlsRptRecord(rua=rua, extensions=tuple(extensions))


def _refuse_pasted_list(uri: str, text: str) -> None:
    """Two URIs pasted into one item, as a record lists them: name the list to write.

    A comma inside one URI is legal (it is percent-encoded when published), but a comma
    (or its encoding `%2C`, as a broken record carries it) followed by the start of another
    URI is a list that would be published as one URI.
    """
    pieces = [p.strip(_WSP) for p in _COMMA_RE.split(text)]
    if len(pieces) > 1 and any(_URI_START_RE.match(p) for p in pieces[1:]):
        items = ", ".join('"' + p + '"' for p in pieces if p)
        raise ValueError(
            f"report URI {uri!r} holds {len(pieces)} URIs: write each URI as its own "
            f"list item: rua: [{items}]"
        )


def _check_mailto(uri: str, rest: str) -> None:
    """RFC 6068 section 2: one `local@domain` address (an `@` inside is written `%40`)."""
    address = rest.split("?", 1)[0]
    local, at, host = address.rpartition("@")
    if not at or not local:
        raise ValueError(f"report URI {uri!r} needs an address, as mailto:tlsrpt@example.net")
    if "@" in local:
        pieces = [p for p in address.split(",") if p]
        if len(pieces) > 1 and all(p.count("@") == 1 for p in pieces):
            items = ", ".join(f'"mailto:{p}"' for p in pieces)
            raise ValueError(
                f"report URI {uri!r} holds {len(pieces)} addresses: write each URI as its "
                f"own list item: rua: [{items}]"
            )
        raise ValueError(
            f"report URI {uri!r} holds more than one '@': one address per URI, as "
            "mailto:tlsrpt@example.net"
        )
    _check_host(uri, host)


def _check_https(uri: str, text: str) -> None:
    """A host, no userinfo (RFC 9110 section 4.2.4), a port in 1-65535 (RFC 3986 3.2.3)."""
    parts = urlsplit(text)
    if not parts.netloc or parts.hostname is None:
        raise ValueError(f"report URI {uri!r} needs a host, as https://reports.example.net/")
    if "@" in parts.netloc:
        raise ValueError(
            f"report URI {uri!r} holds a user name or password before '@': an https report "
            "URI carries none (it would be published in DNS); authorise by the path instead"
        )
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is not None and not 1 <= port <= 65535:
        raise ValueError(
            f"report URI {uri!r} has port {parts.netloc.rpartition(':')[2]!r}: a port is a "
            "number from 1 to 65535"
        )
    _check_host(uri, parts.hostname)


def _check_host(uri: str, host: str) -> None:
    try:
        normalize_hostname(host)
    except ValueError as exc:
        raise ValueError(f"report URI {uri!r}: host {exc}") from None
