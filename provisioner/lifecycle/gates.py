"""The gates a domain passes before `promote` moves it up: each one a named, evidenced result.

A gate is `pass`, `fail` (blocks the promotion) or `skipped` (not asked for, or nothing to
judge), with one sentence of evidence a reviewer can check: promotion to enforce is the
step that can block mail (RFC 8461 section 5), so a "no" must say why and a "yes" must say
on what grounds. Gates are pure functions of what was measured (a `check` report, a
TLS-RPT summary); measuring is `promote.py`'s job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Protocol

from provisioner.checks.verdict import DomainReport, Status
from provisioner.reports.parse import UNKNOWN_MODE
from provisioner.rfc8461 import Mode, uncovered_mx_hosts


class GateStatus(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class GateResult:
    """One gate's verdict: `gate` is a stable name (`in_spec`, `check`, `mx_coverage`,
    `smtp`, `reports`), `evidence` one sentence."""

    gate: str
    status: GateStatus
    evidence: str

    def to_json(self) -> dict[str, str]:
        return {"gate": self.gate, "status": self.status.value, "evidence": self.evidence}


class ReportSummary(Protocol):
    """What the reports gate reads of `provisioner.reports.DomainSummary` (RFC 8460 section
    4: sessions counted by the senders, per policy domain)."""

    @property
    def failure_types(self) -> Mapping[str, int]: ...
    @property
    def failures_by_mx(self) -> Mapping[str, int]: ...
    @property
    def modes(self) -> Mapping[str, tuple[date, ...]]: ...
    @property
    def sessions_by_mode(self) -> Mapping[str, tuple[int, int]]: ...


_SMTP_CHECK = "smtp_starttls"
_TOP_SHOWN = 3


def check_gate(report: DomainReport) -> GateResult:
    """`check` from the outside passes: records, the served policy equal to the spec's under
    a current id, TLSRPT valid. STARTTLS has its own gate (`smtp_gate`)."""
    failed = [f for f in report.ordered() if f.status is Status.FAIL and f.check != _SMTP_CHECK]
    if failed:
        shown = "; ".join(f"{f.check}: {f.message}" for f in failed[:_TOP_SHOWN])
        more = f" (and {len(failed) - _TOP_SHOWN} more)" if len(failed) > _TOP_SHOWN else ""
        return GateResult("check", GateStatus.FAIL, shown + more)
    if not any(f.check == "tlsrpt" and f.status is Status.PASS for f in report.findings):
        why = next((f.message for f in report.findings if f.check == "tlsrpt"), "no TLSRPT")
        return GateResult(
            "check",
            GateStatus.FAIL,
            f"tlsrpt: {why} (promotion needs TLS reports to judge the step by)",
        )
    return GateResult(
        "check",
        GateStatus.PASS,
        f"records, policy (id {report.sts_id}, the spec's) and TLSRPT pass from the outside",
    )


def mx_gate(report: DomainReport, patterns: tuple[str, ...]) -> GateResult:
    """Every host senders deliver to (the MX hosts, or the domain itself without MX) is
    covered by the spec's mx patterns: enforce blocks mail to any other (section 4.1)."""
    if report.route is None:
        return GateResult("mx_coverage", GateStatus.FAIL, "the live MX records could not be read")
    hosts = report.route.hosts
    if not hosts:
        return GateResult(
            "mx_coverage", GateStatus.PASS, "no host receives mail (null MX or no address)"
        )
    uncovered = uncovered_mx_hosts(hosts, patterns)
    if uncovered:
        return GateResult(
            "mx_coverage",
            GateStatus.FAIL,
            f"not covered by the mx patterns: {', '.join(uncovered)} (enforce would block "
            "mail to them)",
        )
    return GateResult(
        "mx_coverage", GateStatus.PASS, f"{len(hosts)} live MX covered: {', '.join(hosts)}"
    )


def smtp_gate(report: DomainReport, asked: bool) -> GateResult:
    """With `--smtp`: every delivery host offers STARTTLS with a certificate valid for its
    name (section 4.2: under enforce, senders deliver to no other)."""
    if not asked:
        return GateResult("smtp", GateStatus.SKIPPED, "not asked (add --smtp to probe STARTTLS)")
    probes = [f for f in report.findings if f.check == _SMTP_CHECK]
    if not probes:
        return GateResult("smtp", GateStatus.SKIPPED, "no host to probe")
    failed = [f.message for f in probes if f.status is Status.FAIL]
    if failed:
        return GateResult("smtp", GateStatus.FAIL, "; ".join(failed))
    return GateResult(
        "smtp", GateStatus.PASS, f"{len(probes)} MX offer STARTTLS with a valid certificate"
    )


def reports_gate(
    summary: ReportSummary | None,
    mode: Mode,
    *,
    asked: bool,
    min_days: int,
    max_failure_rate: float,
) -> GateResult:
    """TLS-RPT evidence in the CURRENT mode: reports on at least `min_days` days, and a
    failure rate (failed / all sessions, a fraction) at or under `max_failure_rate`.

    Sessions evaluated under another mode do not count: a testing policy's failures are
    what says enforce is safe, an older mode's say nothing about the current step. When the
    rate is too high, the failing MX and result types are named, most failures first.
    """
    if not asked:
        return GateResult("reports", GateStatus.SKIPPED, "not asked (add --reports PATH)")
    if summary is None:
        return GateResult("reports", GateStatus.FAIL, "no TLS report names this domain")
    days = len(summary.modes.get(mode.value, ()))
    successful, failed = summary.sessions_by_mode.get(mode.value, (0, 0))
    total = successful + failed
    if days < min_days:
        named = set(summary.modes.get(mode.value, ()))
        unnamed = len(set(summary.modes.get(UNKNOWN_MODE, ())) - named)
        hint = (
            f" ({unnamed} more day{'s' if unnamed != 1 else ''} of sts reports name no mode: "
            "their policy-string is missing or unreadable, so they do not count)"
            if unnamed
            else ""
        )
        return GateResult(
            "reports",
            GateStatus.FAIL,
            f"reports cover {days} day{'s' if days != 1 else ''} in mode {mode}, {min_days} "
            f"needed{hint}",
        )
    if total == 0:
        return GateResult("reports", GateStatus.FAIL, f"no session reported in mode {mode}")
    rate = failed / total
    measured = (
        f"{failed:,} of {total:,} sessions failed ({_percent(rate)}) over {days} days "
        f"in mode {mode}"
    )
    if rate > max_failure_rate:
        return GateResult(
            "reports",
            GateStatus.FAIL,
            f"{measured}, over {_percent(max_failure_rate)}; by MX: "
            f"{_top(summary.failures_by_mx)}; by result: {_top(summary.failure_types)}",
        )
    return GateResult("reports", GateStatus.PASS, measured)


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.3g} %"


def _top(counts: Mapping[str, int]) -> str:
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    if not ranked:
        return "none named"
    shown = ", ".join(f"{name} {count:,}" for name, count in ranked[:_TOP_SHOWN])
    return shown + (f" and {len(ranked) - _TOP_SHOWN} more" if len(ranked) > _TOP_SHOWN else "")
