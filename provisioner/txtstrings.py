"""TXT character-strings (RFC 1035 section 3.3): one value may span several strings.

A published value over 255 bytes must be split, and readers join the strings with no
separator (RFC 7208 section 3.3, which RFC 8461 section 3.1 follows). dnspython's
`to_text()` puts a space between strings, so join `rdata.strings` with this module instead.
"""

from __future__ import annotations

from collections.abc import Iterable

MAX_STRING_BYTES = 255


def split_strings(value: str) -> list[str]:
    """Split a TXT value into character-strings of at most 255 bytes each."""
    data = value.encode("ascii")
    if not data:
        return [""]
    return [
        data[i : i + MAX_STRING_BYTES].decode("ascii")
        for i in range(0, len(data), MAX_STRING_BYTES)
    ]


def join_strings(strings: Iterable[str | bytes]) -> str:
    """Join character-strings the way senders do: concatenated, no separator."""
    return "".join(s.decode("ascii", "replace") if isinstance(s, bytes) else s for s in strings)


def zone_quoted(value: str) -> str:
    """A TXT value as zone-file text: each 255-byte string quoted, `"` and `\\` escaped."""
    return " ".join(
        '"' + part.replace("\\", "\\\\").replace('"', '\\"') + '"' for part in split_strings(value)
    )
