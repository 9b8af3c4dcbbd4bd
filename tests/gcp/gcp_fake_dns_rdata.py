"""The rrdata checks the fake Cloud DNS applies to an rrset in a change, as the real API
refuses these with 400 `invalid` (the message names the field, e.g.
`entity.change.additions[0].rrdata[1]`):

- A: dotted IPv4; AAAA: IPv6;
- CNAME: exactly one rrdata, a name;
- TXT/SPF: zone-file text, kept as given; each quoted character-string at most 255 bytes
  (escapes `\\"` and `\\\\` counted as one byte), quotes balanced; an unquoted rrdata is
  kept as given too (its words at most 255 bytes each): whether the real API quotes or
  splits unquoted text is not emulated.

Everything else (MX, CAA, SRV, ...) is taken as given: mtasts never writes those, it only has
to carry them through untouched.
"""

from __future__ import annotations

import ipaddress
import re

_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
_TXT = re.compile(r'\s*(?:"(?:[^"\\]|\\.)*"\s*)+')
_NAME = re.compile(r"(?:[A-Za-z0-9_*](?:[-A-Za-z0-9_]{0,61}[A-Za-z0-9_])?\.)+|\.")


def txt_strings(rrdata: str) -> list[str]:
    """The character-strings of one TXT rrdata, unescaped: `"a" "b"` -> ["a", "b"]."""
    if not rrdata.lstrip().startswith('"'):
        return rrdata.split()
    return [re.sub(r"\\(.)", r"\1", part) for part in _QUOTED.findall(rrdata)]


def rrdata_problem(rtype: str, rrdatas: list[str]) -> tuple[int, str] | None:
    """(index, why) of the first rrdata the real API would refuse, or None."""
    if rtype == "CNAME" and len(rrdatas) != 1:
        return 1, "a CNAME rrset holds exactly one rrdata"
    for i, rrdata in enumerate(rrdatas):
        why = _one_problem(rtype, rrdata)
        if why is not None:
            return i, why
    return None


def _one_problem(rtype: str, rrdata: str) -> str | None:
    if rtype in ("A", "AAAA"):
        try:
            address = ipaddress.ip_address(rrdata)
        except ValueError:
            return f"not an {'IPv4' if rtype == 'A' else 'IPv6'} address"
        if address.version != (4 if rtype == "A" else 6):
            return f"not an {'IPv4' if rtype == 'A' else 'IPv6'} address"
    elif rtype == "CNAME" and not _NAME.fullmatch(rrdata):
        return "not a fully qualified name with a trailing dot"
    elif rtype in ("TXT", "SPF"):
        if rrdata.lstrip().startswith('"') and not _TXT.fullmatch(rrdata):
            return "unbalanced quotes"
        if any(len(s.encode()) > 255 for s in txt_strings(rrdata)):
            return "a character-string is longer than 255 bytes"
    return None
