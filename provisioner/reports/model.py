"""What `mtasts reports` knows once the reports are read: counters per domain, day and mode.

The reader (`provisioner.reports.reader`) feeds one report at a time into a `Tally` and
forgets it, so memory grows with the number of (domain, day, mode) buckets and distinct
report ids, never with the reports' size. `ReportSet.summary` then folds the buckets into a
`DomainSummary` per policy domain, for any window of days and any set of domains, without
reading anything again (the promote gate asks several questions of one read).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date

from provisioner.rfc8461 import normalize_hostname


@dataclass(frozen=True)
class Unreadable:
    """A file (or a member of an archive or mailbox: `path` then says `file!member`) that
    holds no readable report, with a one-line reason."""

    path: str
    error: str


@dataclass(frozen=True)
class DomainSummary:
    """Sessions one policy domain's senders reported, over the days asked for.

    `domain` is the A-label in lower case. Session counts are as the reporters wrote them:
    `failed_sessions` sums `total-failure-session-count`, while `failure_types`,
    `failures_by_mx` sum the `failed-session-count` of the failure details, which real
    reporters do not always make add up (`failure_detail_sessions` is their total; the
    data is shown, never "fixed"). `reporters` is organization-name -> sessions (both
    kinds). `modes` is what the senders evaluated per day: `testing`, `enforce`, `none`, or
    `unknown` for an `sts` policy, else the policy type (`tlsa`, `no-policy-found`, or an
    unknown type as written); `sessions_by_mode` has the same keys -> (successful, failed).
    """

    domain: str
    successful_sessions: int
    failed_sessions: int
    failure_rate: float
    failure_types: dict[str, int]
    failures_by_mx: dict[str, int]
    reporters: dict[str, int]
    days: tuple[date, ...]
    modes: dict[str, tuple[date, ...]]
    sessions_by_mode: dict[str, tuple[int, int]]
    failure_detail_sessions: int = 0
    daily: dict[date, tuple[int, int]] = field(default_factory=dict)
    """Day -> (successful, failed), for a rate over time (the plot)."""

    @property
    def sessions(self) -> int:
        return self.successful_sessions + self.failed_sessions


@dataclass
class Bucket:
    """Counters of one (domain, day, mode): the unit of aggregation."""

    successful: int = 0
    failed: int = 0
    detail_failed: int = 0
    failure_types: Counter[str] = field(default_factory=Counter)
    failures_by_mx: Counter[str] = field(default_factory=Counter)
    reporters: Counter[str] = field(default_factory=Counter)


BucketKey = tuple[str, date, str]
"""(domain, day, mode)"""


@dataclass(frozen=True)
class ReportSet:
    """Every report read, de-duplicated, as counters (see the module docstring).

    `reports` counts distinct reports (organization-name + report-id), `duplicates` the
    deliveries of a report already counted, `unreadable` the inputs that held none.
    """

    reports: int
    duplicates: int
    unreadable: tuple[Unreadable, ...]
    buckets: dict[BucketKey, Bucket] = field(default_factory=dict, repr=False)

    def summary(
        self,
        domains: Collection[str] | None = None,
        since: date | None = None,
        until: date | None = None,
        modes: Collection[str] | None = None,
    ) -> dict[str, DomainSummary]:
        """Domain -> summary, over days `since`..`until` (both inclusive, None: open).

        `domains` are names in any case, with or without a trailing dot, U- or A-labels (None:
        every domain reported). `modes` keeps only the sessions evaluated under those modes
        (keys of `DomainSummary.modes`; None: all), so the failing MX and result types of
        one mode are not mixed with another's (the promote gate judges the current mode).
        A domain named but absent from the reports is absent from the result. Sorted by
        domain.
        """
        wanted = None if domains is None else {_a_label(d) for d in domains}
        grouped: dict[str, list[tuple[date, str, Bucket]]] = {}
        for (domain, day, mode), bucket in self.buckets.items():
            if wanted is not None and domain not in wanted:
                continue
            if modes is not None and mode not in modes:
                continue
            if (since is not None and day < since) or (until is not None and day > until):
                continue
            grouped.setdefault(domain, []).append((day, mode, bucket))
        return {domain: _summarise(domain, grouped[domain]) for domain in sorted(grouped)}


def _summarise(domain: str, rows: Iterable[tuple[date, str, Bucket]]) -> DomainSummary:
    ok = failed = detail = 0
    types: Counter[str] = Counter()
    by_mx: Counter[str] = Counter()
    reporters: Counter[str] = Counter()
    days: set[date] = set()
    modes: dict[str, set[date]] = {}
    by_mode: dict[str, tuple[int, int]] = {}
    daily: dict[date, tuple[int, int]] = {}
    for day, mode, bucket in rows:
        ok += bucket.successful
        failed += bucket.failed
        detail += bucket.detail_failed
        types.update(bucket.failure_types)
        by_mx.update(bucket.failures_by_mx)
        reporters.update(bucket.reporters)
        days.add(day)
        modes.setdefault(mode, set()).add(day)
        s, f = by_mode.get(mode, (0, 0))
        by_mode[mode] = (s + bucket.successful, f + bucket.failed)
        s, f = daily.get(day, (0, 0))
        daily[day] = (s + bucket.successful, f + bucket.failed)
    total = ok + failed
    return DomainSummary(
        domain=domain,
        successful_sessions=ok,
        failed_sessions=failed,
        failure_rate=failed / total if total else 0.0,
        failure_types=_ranked(types),
        failures_by_mx=_ranked(by_mx),
        reporters=_ranked(reporters),
        days=tuple(sorted(days)),
        modes={mode: tuple(sorted(modes[mode])) for mode in sorted(modes)},
        sessions_by_mode={mode: by_mode[mode] for mode in sorted(by_mode)},
        failure_detail_sessions=detail,
        daily=dict(sorted(daily.items())),
    )


def _a_label(name: str) -> str:
    try:
        return normalize_hostname(name)
    except ValueError:
        return name.strip().rstrip(".").lower()


def _ranked(counter: Counter[str]) -> dict[str, int]:
    """Largest first, then by name: the order every output shows."""
    return dict(sorted(counter.items(), key=lambda item: (-item[1], item[0])))
