"""One TLS-RPT report (RFC 8460 section 4.4) from its JSON bytes, read as tolerantly as real
senders require, into the few numbers `mtasts reports` adds up.

Tolerated, because each was seen from a real reporter (issue 12): `mx-host` as a string or
an array, or the draft's `mx-host-pattern` (none of them is needed for the summary, so any
shape passes); `policy-string` missing, empty, a list of lines, one string, or for TLSA one
string holding a JSON array (only an `sts` policy's `mode:` line is read from it);
`failure-details` missing, null or empty; `contact-info` null; `policy-domain` missing (for
`no-policy-found`: the domain is then taken from the file name `sender!domain!begin!end` or
the mail's `Report Domain:` subject, else `(unknown)`); date-times without a timezone (UTC);
an end of 23:59:59 (read as inclusive: the range ends at the next midnight); counts written
as strings; any `failure-reason-code`; failure details that do not add up to the summary's
total (both are kept); result types this module has never heard of (kept as written).

Refused, with a one-line reason naming the field: not JSON, JSON nested deeper than the
parser's stack allows, no `policies` list, a policy without `policy-type` or `summary`, a
count that is negative, fractional or above `MAX_COUNT`, a date-time that is not ISO 8601 or
not within `MIN_YEAR`..`MAX_YEAR`, more than `MAX_POLICIES` policies, a
range that ends before it starts or spans more than `MAX_RANGE_DAYS` days.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from provisioner.rfc8461 import Mode, normalize_hostname
from provisioner.sanitize import printable

MAX_COUNT = 10**12
"""The largest session count believed: a trillion sessions a day is no real mail system, and
a bigger number is a corrupt or hostile report that would swamp every rate."""

MAX_RANGE_DAYS = 31
"""The longest date range read. Reports cover one day (RFC 8460 section 4.1 recommends 24
hours); a month is generous, and a 100-year range would make 36,500 day buckets."""

MAX_POLICIES = 1_000
"""Policies read per report. A report covers one policy domain (RFC 8460 section 4.1), with
an entry per policy type evaluated: a handful. A hostile 16 MiB report could otherwise hold
100,000 policies, each a new counter to keep."""

MIN_YEAR, MAX_YEAR = 1970, 9000
"""Dates outside are refused: far from any report, and near datetime's year-9999 limit a
day's arithmetic would overflow."""

UNKNOWN_DOMAIN = "(unknown)"
UNKNOWN_MODE = "unknown"
"""The mode of an `sts` policy whose `policy-string` names no readable mode."""
_NO_MX = "(unknown)"
_MICROSECOND = timedelta(microseconds=1)
_MODES = {mode.value for mode in Mode}


class ReportError(ValueError):
    """Why some bytes are not a readable report: one line, naming the field."""


@dataclass(frozen=True)
class PolicyResult:
    """One entry of `policies[]`: its domain, what senders evaluated, and the sessions.

    `details` are (result-type, receiving MX, failed sessions) as written.
    """

    domain: str
    mode: str
    successful: int
    failed: int
    details: tuple[tuple[str, str, int], ...]


@dataclass(frozen=True)
class Report:
    """A report's identity, its range (`end` exclusive, in the report's own offset) and
    its policies."""

    organization: str
    report_id: str | None
    start: datetime
    end: datetime
    policies: tuple[PolicyResult, ...]

    @property
    def days(self) -> list[tuple[date, int]]:
        return day_shares(self.start, self.end)


def parse_report(data: bytes, fallback_domain: str | None = None) -> Report:
    """The report in `data` (UTF-8 JSON, BOM allowed; bytes that are not UTF-8 are
    replaced, so a stray Latin-1 name does not lose the report). Raises ReportError."""
    text = data.decode("utf-8", errors="replace").lstrip("\ufeff")
    try:
        document = json.loads(text)
    except RecursionError:
        raise ReportError("JSON nested too deeply") from None
    except ValueError as exc:
        raise ReportError(f"not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise ReportError(f"not a TLS-RPT report: JSON {_kind(document)}, not an object")
    policies = document.get("policies")
    if not isinstance(policies, list):
        if "organization-name" not in document and "date-range" not in document:
            raise ReportError("not a TLS-RPT report: no organization-name, date-range, policies")
        raise ReportError("policies: missing or not a list")
    if len(policies) > MAX_POLICIES:
        raise ReportError(f"policies: {len(policies):,} of them, over {MAX_POLICIES:,}")
    start, end = _date_range(document.get("date-range"))
    fallback = _domain(fallback_domain) if fallback_domain else UNKNOWN_DOMAIN
    report_id = document.get("report-id")
    return Report(
        organization=_text(document.get("organization-name")) or "(unknown)",
        report_id=None if report_id is None else _identity_text(report_id),
        start=start,
        end=end,
        policies=tuple(
            _policy(entry, f"policies[{i}]", fallback) for i, entry in enumerate(policies)
        ),
    )


def _policy(entry: Any, where: str, fallback: str) -> PolicyResult:
    if not isinstance(entry, dict):
        raise ReportError(f"{where}: not an object")
    policy = entry.get("policy")
    if not isinstance(policy, dict):
        raise ReportError(f"{where}.policy: missing or not an object")
    kind = policy.get("policy-type")
    if not isinstance(kind, str) or not kind.strip():
        raise ReportError(f"{where}.policy.policy-type: missing")
    kind = kind.strip().lower()
    raw_domain = policy.get("policy-domain")
    domain = _domain(raw_domain) if isinstance(raw_domain, str) and raw_domain.strip() else fallback
    summary = entry.get("summary")
    if not isinstance(summary, dict):
        raise ReportError(f"{where}.summary: missing or not an object")
    successful = _count(summary, "total-successful-session-count", f"{where}.summary")
    failed = _count(summary, "total-failure-session-count", f"{where}.summary")
    details = entry.get("failure-details")
    if details is None:
        details = []
    if not isinstance(details, list):
        raise ReportError(f"{where}.failure-details: not a list")
    return PolicyResult(
        domain=domain,
        mode=_mode(kind, policy.get("policy-string")),
        successful=successful,
        failed=failed,
        details=tuple(_detail(d, f"{where}.failure-details[{i}]") for i, d in enumerate(details)),
    )


def _detail(detail: Any, where: str) -> tuple[str, str, int]:
    if not isinstance(detail, dict):
        raise ReportError(f"{where}: not an object")
    result_type = _text(detail.get("result-type")).strip() or "(none)"
    mx = detail.get("receiving-mx-hostname") or detail.get("receiving-ip")
    host = _text(mx).strip().rstrip(".").lower() if mx else _NO_MX
    return result_type, host or _NO_MX, _count(detail, "failed-session-count", where)


def _mode(kind: str, policy_string: Any) -> str:
    """What the sender evaluated: the `sts` policy's mode, else the policy type."""
    if kind != "sts":
        return kind
    lines: list[Any]
    if isinstance(policy_string, str):
        lines = policy_string.splitlines()
    elif isinstance(policy_string, list):
        lines = [
            part for item in policy_string if isinstance(item, str) for part in item.splitlines()
        ]
    else:
        return UNKNOWN_MODE
    for line in lines:
        key, colon, value = line.partition(":")
        if colon and key.strip().lower() == "mode":
            mode = value.strip().lower()
            return mode if mode in _MODES else UNKNOWN_MODE
    return UNKNOWN_MODE


def _count(fields: Mapping[str, Any], name: str, where: str) -> int:
    """A session count: an integer, or a string of digits; missing or null is 0."""
    value = fields.get(name)
    if value is None:
        return 0
    number: int | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        number = int(value)
    elif isinstance(value, str):
        digits = value.strip()
        if digits.isascii() and digits.isdigit() and len(digits) <= 13:
            number = int(digits)
    if number is None or number < 0:
        raise ReportError(f"{where}.{name}: {_short(value)} is not a session count")
    if number > MAX_COUNT:
        raise ReportError(f"{where}.{name}: {_short(value)} is over {MAX_COUNT:,}")
    return number


def _date_range(value: Any) -> tuple[datetime, datetime]:
    if not isinstance(value, dict):
        raise ReportError("date-range: missing or not an object")
    start = _datetime(value.get("start-datetime"), "date-range.start-datetime")
    end = _datetime(value.get("end-datetime"), "date-range.end-datetime")
    if (end.hour, end.minute, end.second) == (23, 59, 59):
        end = end.replace(microsecond=0) + timedelta(seconds=1)
    end = end.astimezone(start.tzinfo)
    if end < start:
        raise ReportError(
            f"date-range: ends ({_short(value.get('end-datetime'))}) before it starts"
        )
    if end - start > timedelta(days=MAX_RANGE_DAYS):
        raise ReportError(f"date-range: spans more than {MAX_RANGE_DAYS} days")
    return start, end


def _datetime(value: Any, where: str) -> datetime:
    if not isinstance(value, str) or len(value) > 64:
        raise ReportError(f"{where}: missing or not a date-time")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ReportError(f"{where}: {_short(value)} is not an ISO 8601 date-time") from None
    moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    if not MIN_YEAR <= moment.year <= MAX_YEAR:
        raise ReportError(f"{where}: {_short(value)} is not between {MIN_YEAR} and {MAX_YEAR}")
    return moment


def day_shares(start: datetime, end: datetime) -> list[tuple[date, int]]:
    """The calendar days [start, end) touches, each with the time spent in it (microseconds,
    integers so that sharing counts out is exact arithmetic).

    Days are those of the offset the report's `start-datetime` is written in (UTC when it has
    none): a report from 00:00+02:00 to the next 00:00+02:00 is that one day, as its sender
    meant, not a sliver of the day before in UTC. A range of no length is its start day.
    """
    first = start.date()
    if end <= start or end - datetime.combine(
        first, datetime.min.time(), start.tzinfo
    ) <= timedelta(days=1):
        return [(first, 1)]
    shares: list[tuple[date, int]] = []
    day = first
    cursor = start
    while cursor < end:
        midnight = datetime.combine(day + timedelta(days=1), datetime.min.time(), start.tzinfo)
        stop = min(midnight, end)
        shares.append((day, (stop - cursor) // _MICROSECOND))
        cursor = stop
        day += timedelta(days=1)
    return shares


def _domain(value: str) -> str:
    try:
        return normalize_hostname(value)
    except ValueError:  # kept as written (made printable), so the user sees what was sent
        return printable(value.strip().rstrip(".").lower()[:255]) or UNKNOWN_DOMAIN


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value[:255]
    if isinstance(value, bool | int | float):
        return str(value)[:255]
    return json.dumps(value)[:255]


def _identity_text(value: Any) -> str:
    """A report-id as text, whole: it is only hashed (never shown), and two ids that differ
    after 255 characters are two reports."""
    return value if isinstance(value, str) else json.dumps(value)


def _short(value: Any) -> str:
    shown = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def _kind(value: Any) -> str:
    return {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}.get(
        type(value), "null"
    )
