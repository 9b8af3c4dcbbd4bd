"""RFC 8460 (SMTP TLS Reporting): the `_smtp._tls` TXT record, both ways.

Rendered as `v=TLSRPTv1; rua=<uri>,<uri>`: `rua` first and no space after a comma, since a
strict reporter drops `, https://...`. Inside a URI, `,` `!` and `;` are percent-encoded
(section 3), so the record splits back into the same URIs. Only `mailto:` and `https:`
destinations exist (section 3).
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

_EXT_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,31}")
_EXT_VALUE_RE = re.compile(r"[\x21-\x3a\x3c\x3e-\x7e]+")
_URI_CHARS_RE = re.compile(r"[\x21-\x7e]+")
_NOT_URI_RE = re.compile(r'["<>\\^`{|}]|%(?![0-9A-Fa-f]{2})')
_ENCODE = {",": "%2C", "!": "%21", ";": "%3B"}
_WSP = " \t"


@dataclass(frozen=True)
class TlsRptRecord:
    """The `_smtp._tls` TXT record: where reports go, already percent-encoded."""

    rua: tuple[str, ...]
    extensions: tuple[tuple[str, str], ...] = ()

    def render(self) -> str:
        return render_tlsrpt_record(self.rua)


def normalize_rua(uri: str) -> str:
    """Validate one report destination and percent-encode `,` `!` `;` inside it."""
    text = uri.strip()
    if not text:
        raise ValueError("empty report URI")
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
        address = rest.split("?", 1)[0]
        local, at, host = address.rpartition("@")
        if not at or not local:
            raise ValueError(f"report URI {uri!r} needs an address, as mailto:tlsrpt@example.net")
        _check_host(uri, host)
    else:
        parts = urlsplit(text)
        if not parts.netloc or parts.hostname is None:
            raise ValueError(f"report URI {uri!r} needs a host, as https://reports.example.net/")
        _check_host(uri, parts.hostname)
    return f"{scheme}:{encoded}"


def render_tlsrpt_record(rua: tuple[str, ...] | list[str]) -> str:
    """`v=TLSRPTv1; rua=a,b` with each URI validated and encoded."""
    if not rua:
        raise GrammarError("rua needs at least one report URI")
    return f"{TLSRPT_VERSION}; rua=" + ",".join(normalize_rua(u) for u in rua)


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


def _check_host(uri: str, host: str) -> None:
    try:
        normalize_hostname(host)
    except ValueError as exc:
        raise ValueError(f"report URI {uri!r}: host {exc}") from None
