"""Read TLS-RPT reports from paths into a `ReportSet`, one report at a time.

Each report is parsed, added to the counters of its (policy domain, day, mode) buckets and
dropped, so 10,000 files cost the buckets and a number per report seen, not the JSON.

De-duplication: a report is the same report when its `organization-name` and `report-id`
are (RFC 8460 section 4.4 makes `report-id` unique per reporter); a report without an id
is identified by its bytes. Only the first delivery counts; the others are `duplicates`.

Days: a report's sessions go to the calendar days its date range covers, in the offset the
report is written in (see `parse.day_shares`). A one-day report (nearly all of them) gives
everything to its day. A range over several days shares every counter out in proportion to
the time spent in each day, rounding by largest remainder so the totals stay exactly what
the reporter wrote: a daily rate is then an estimate, but no session is lost or invented,
and each day touched counts as covered (the promote gate counts days).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from provisioner.reports.model import Bucket, BucketKey, ReportSet, Unreadable
from provisioner.reports.parse import PolicyResult, Report, ReportError, parse_report
from provisioner.reports.sources import Blob, one_line, report_blobs


def read_reports(paths: Sequence[Path]) -> ReportSet:
    """Every report under `paths` (files, folders, archives, mail; see `sources`).

    Never raises for a bad input: a path that is missing, unreadable, not a report or
    corrupt is listed in `unreadable` with a one-line reason, and the rest is read.
    """
    tally = Tally()
    for item in report_blobs(paths):
        if isinstance(item, Unreadable):
            tally.unreadable.append(item)
        else:
            tally.add_blob(item)
    return tally.result()


class Tally:
    """Counters being filled, one report at a time."""

    def __init__(self) -> None:
        self.buckets: dict[BucketKey, Bucket] = {}
        self.seen: set[int] = set()
        self.reports = 0
        self.duplicates = 0
        self.unreadable: list[Unreadable] = []

    def add_blob(self, blob: Blob) -> None:
        try:
            report = parse_report(blob.data, blob.domain)
        except ReportError as exc:
            self.unreadable.append(Unreadable(blob.label, one_line(str(exc))))
            return
        except RecursionError:
            self.unreadable.append(Unreadable(blob.label, "JSON nested too deeply"))
            return
        except Exception as exc:  # a surprise about hostile data is still one line
            reason = f"cannot read: {type(exc).__name__}: {exc}"
            self.unreadable.append(Unreadable(blob.label, one_line(reason)))
            return
        key = _identity(report, blob.data)
        if key in self.seen:
            self.duplicates += 1
            return
        self.seen.add(key)
        self.reports += 1
        self.add(report)

    def add(self, report: Report) -> None:
        shares = report.days
        for policy in report.policies:
            if len(shares) == 1:
                _add_policy(self._bucket(policy, shares[0][0]), policy, report.organization, None)
                continue
            weights = [weight for _, weight in shares]
            for index, (day, _) in enumerate(shares):
                _add_policy(
                    self._bucket(policy, day), policy, report.organization, (weights, index)
                )

    def _bucket(self, policy: PolicyResult, day: date) -> Bucket:
        key = (policy.domain, day, policy.mode)
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = Bucket()
        return bucket

    def result(self) -> ReportSet:
        return ReportSet(
            reports=self.reports,
            duplicates=self.duplicates,
            unreadable=tuple(self.unreadable),
            buckets=self.buckets,
        )


def _identity(report: Report, data: bytes) -> int:
    """A report's identity as a 128-bit number: BLAKE2b of organization-name and report-id
    (of the bytes when there is no id). Kept for every report read, so it is small: some
    70 bytes a report instead of two strings and a tuple (some 250); a collision between
    two different reports is as likely as guessing a 128-bit key."""
    if report.report_id is None:
        digest = hashlib.blake2b(data, digest_size=16, person=b"bytes").digest()
    else:
        text = f"{report.organization}\0{report.report_id}".encode("utf-8", "surrogatepass")
        digest = hashlib.blake2b(text, digest_size=16, person=b"org+id").digest()
    return int.from_bytes(digest, "big")


def share(count: int, weights: list[int], index: int) -> int:
    """Day `index`'s part of `count` split in proportion to `weights` (largest remainder,
    in integers: the parts of all days add up to `count` exactly, ties to the earlier day)."""
    total = sum(weights)
    parts = [count * weight // total for weight in weights]
    remainders = [count * weight % total for weight in weights]
    missing = count - sum(parts)
    order = sorted(range(len(weights)), key=lambda i: (-remainders[i], i))
    return parts[index] + (1 if index in order[:missing] else 0)


def _add_policy(
    bucket: Bucket,
    policy: PolicyResult,
    organization: str,
    split: tuple[list[int], int] | None,
) -> None:
    if split is None:  # nearly every report: one day, no sharing out
        bucket.successful += policy.successful
        bucket.failed += policy.failed
        bucket.reporters[organization] += policy.successful + policy.failed
        for result_type, mx, count in policy.details:
            bucket.failure_types[result_type] += count
            bucket.failures_by_mx[mx] += count
            bucket.detail_failed += count
        return

    def part(count: int) -> int:
        return share(count, split[0], split[1])

    successful, failed = part(policy.successful), part(policy.failed)
    bucket.successful += successful
    bucket.failed += failed
    bucket.reporters[organization] += successful + failed
    types: Counter[str] = Counter()
    by_mx: Counter[str] = Counter()
    for result_type, mx, count in policy.details:
        types[result_type] += count
        by_mx[mx] += count
    for result_type, count in types.items():
        counted = part(count)
        bucket.failure_types[result_type] += counted
        bucket.detail_failed += counted
    for mx, count in by_mx.items():
        bucket.failures_by_mx[mx] += part(count)
