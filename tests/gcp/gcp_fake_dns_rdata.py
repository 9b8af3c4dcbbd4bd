"""One rrset of a change, checked as the fake Cloud DNS does (`parse_rrset`): a name with
its trailing dot inside the zone, a known type, a ttl (an int, or a string of digits as
google-cloud-dns sends it), at most `resourceRecordsPerRrset` rrdatas, and rrdatas the real
API accepts; it refuses these with 400 `invalid` (the message names the field, e.g.
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
from typing import Any

from gcp_fake_dns_errors import DnsApiError

RRSET_TYPES = frozenset(
    {"A", "AAAA", "CAA", "CNAME", "DS", "HTTPS", "MX", "NAPTR", "NS", "PTR", "SOA", "SRV"}
    | {"SSHFP", "SVCB", "TLSA", "TXT"}
)
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


def rrset_resource(name: str, rtype: str, ttl: int, rrdatas: list[str]) -> dict[str, Any]:
    return {
        "kind": "dns#resourceRecordSet",
        "name": name,
        "type": rtype,
        "ttl": ttl,
        "rrdatas": list(rrdatas),
    }


def parse_rrset(zone_dns_name: str, item: Any, where: str, max_rrdatas: int) -> dict[str, Any]:
    """The rrset `item` of a change, checked and normalised (name in lower case, ttl an int),
    or DnsApiError as the real API answers."""
    if not isinstance(item, dict):
        raise DnsApiError(400, "invalid", f"Invalid value for '{where}'")
    name = item.get("name")
    rtype = item.get("type")
    if not isinstance(name, str) or not name.endswith(".") or ".." in name:
        raise DnsApiError(400, "invalid", f"Invalid value for '{where}.name': '{name}'")
    name = name.lower()
    if name != zone_dns_name and not name.endswith("." + zone_dns_name):
        raise DnsApiError(
            400,
            "invalid",
            f"The resource '{where}' named '{name} ({rtype})' is not within the zone "
            f"'{zone_dns_name}'",
        )
    if rtype not in RRSET_TYPES:
        raise DnsApiError(400, "invalid", f"Invalid value for '{where}.type': '{rtype}'")
    ttl_raw = item.get("ttl")
    try:
        ttl = int(ttl_raw) if isinstance(ttl_raw, int | str) else -1
    except ValueError:
        ttl = -1
    if ttl < 0 or ttl > 2**31 - 1:
        raise DnsApiError(400, "invalid", f"Invalid value for '{where}.ttl': '{ttl_raw}'")
    rrdatas = item.get("rrdatas")
    if (
        not isinstance(rrdatas, list)
        or not rrdatas
        or not all(isinstance(r, str) and r for r in rrdatas)
    ):
        raise DnsApiError(400, "invalid", f"Invalid value for '{where}.rrdatas'")
    if len(rrdatas) > max_rrdatas:
        raise DnsApiError(
            403, "quotaExceeded", "The change would exceed quota for resourceRecordsPerRrset."
        )
    problem = rrdata_problem(rtype, rrdatas)
    if problem is not None:
        index, why = problem
        raise DnsApiError(400, "invalid", f"Invalid value for '{where}.rrdata[{index}]': {why}")
    return rrset_resource(name, rtype, ttl, rrdatas)
