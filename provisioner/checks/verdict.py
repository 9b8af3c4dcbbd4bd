"""Judging one domain as a strict RFC 8461/8460 sender would, one named finding per rule.

Each finding has a stable `check` name (for JSON consumers and tests), a status (`fail`
blocks the verdict, `warn` does not, `pass` is shown only in full output) and one sentence a
person can act on. The breakages real deployments hit (../shared/RFC-NOTES.md) each have a
finding of their own: a redirect says where it pointed, an uncovered MX says that enforce
would block mail to it, a stale id says which policy it fails to announce.

MX coverage is judged on the hosts senders really deliver to (`dnsprobe.MailRoute`): the MX
names, the domain itself when it has no MX record, none behind a null MX. Every DNS question
of a check, host addresses included, goes to one resolver (see connect.py).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from provisioner.checks.connect import ConnectTo
from provisioner.checks.dnsprobe import (
    DnsFailure,
    MailRoute,
    TxtAnswer,
    make_resolver,
    query_addresses,
    query_mail_route,
    query_txt,
)
from provisioner.checks.httpsprobe import FetchResult, fetch_policy
from provisioner.checks.smtpprobe import StarttlsResult, probe_starttls
from provisioner.concurrency import each
from provisioner.rfc8460 import is_tlsrpt_record, parse_tlsrpt_record, render_tlsrpt_record
from provisioner.rfc8461 import (
    GrammarError,
    Mode,
    Policy,
    id_names_body,
    is_sts_record,
    max_age_advice,
    parse_policy,
    parse_sts_record,
    uncovered_mx_hosts,
)


class Status(StrEnum):
    FAIL = "fail"
    WARN = "warn"
    PASS = "pass"


@dataclass(frozen=True)
class Finding:
    check: str
    status: Status
    message: str


@dataclass(frozen=True)
class CheckOptions:
    nameserver: str | None = None
    """`HOST:PORT` of the resolver for every look-up of the check; None: the system's."""
    ca_bundle: str | None = None
    connect_to: ConnectTo | None = None
    """Where the policy fetch connects instead (`(None, PORT)`: the resolved address)."""
    smtp: bool = False
    smtp_connect_to: ConnectTo | None = None
    timeout: float = 10.0
    cert_days: int = 14
    """Warn when the policy host's certificate expires within this many days."""


@dataclass
class DomainReport:
    domain: str
    findings: list[Finding] = field(default_factory=list)
    sts_id: str | None = None
    policy: Policy | None = None
    mx_hosts: tuple[str, ...] = ()
    """The names in the MX records (no null MX), lower-case, by preference."""
    route: MailRoute | None = None
    """Where senders deliver (MX hosts, or the domain itself); None when DNS failed."""
    fetch_seconds: float | None = None

    @property
    def delivery_hosts(self) -> tuple[str, ...]:
        return self.route.hosts if self.route is not None else ()

    @property
    def ok(self) -> bool:
        return not any(f.status is Status.FAIL for f in self.findings)

    def add(self, check: str, status: Status, message: str) -> None:
        self.findings.append(Finding(check, status, message))

    def ordered(self) -> list[Finding]:
        rank = {Status.FAIL: 0, Status.WARN: 1, Status.PASS: 2}
        return sorted(self.findings, key=lambda f: rank[f.status])


def check_domains(
    domains: list[str], options: CheckOptions, expected_policies: dict[str, str] | None = None
) -> list[DomainReport]:
    """Check every domain concurrently; one dead endpoint costs at most the timeout."""
    expected = expected_policies or {}
    return each(lambda d: check_domain(d, options, expected.get(d)), domains)


def check_domain(domain: str, options: CheckOptions, expected_policy: str | None) -> DomainReport:
    """One domain, every DNS question (host addresses included) asked of one resolver.

    `expected_policy` is the body the spec would publish, compared with the served one.
    """
    report = DomainReport(domain)
    resolver = make_resolver(options.nameserver, options.timeout)

    def resolve(host: str) -> tuple[str, ...]:
        return query_addresses(resolver, host)

    try:
        sts = query_txt(resolver, f"_mta-sts.{domain}")
        tlsrpt = query_txt(resolver, f"_smtp._tls.{domain}")
        report.route = query_mail_route(resolver, domain)
    except DnsFailure as exc:
        report.add("dns", Status.FAIL, str(exc))
        return report
    report.mx_hosts = report.route.mx_hosts
    record_id = _judge_sts_record(report, sts)
    fetched = fetch_policy(
        domain,
        timeout=options.timeout,
        ca_bundle=options.ca_bundle,
        connect_to=options.connect_to,
        resolve=resolve,
    )
    body = _judge_fetch(report, fetched, options.cert_days)
    if body is not None:
        _judge_policy(report, body, record_id, expected_policy)
    _judge_tlsrpt(report, tlsrpt)
    if options.smtp:
        _judge_starttls(report, options, resolve)
    return report


def _judge_sts_record(report: DomainReport, answer: TxtAnswer) -> str | None:
    check = "sts_record"
    if answer.cname_beside_txt:
        report.add(
            check,
            Status.FAIL,
            f"_mta-sts.{report.domain} has a CNAME beside TXT records: resolvers disagree "
            "on which one wins",
        )
    value = _the_one_record(
        report,
        check,
        answer,
        is_sts_record,
        missing=(Status.FAIL, f"no v=STSv1 TXT record at {answer.name}: senders see no policy"),
        duplicates=f"v=STSv1 records at {answer.name}: senders ignore them all",
    )
    if value is None:
        return None
    if not value.startswith("v=STSv1;"):
        report.add(check, Status.FAIL, f"{value!r} does not start with 'v=STSv1;': senders drop it")
        return None
    try:
        record = parse_sts_record(value)
    except GrammarError as exc:
        report.add(check, Status.FAIL, f"invalid record: {exc}")
        return None
    followed = answer.cname is not None and not answer.cname_beside_txt
    via = f" (through the CNAME to {answer.cname})" if followed else ""
    report.add(check, Status.PASS, f"{value}{via}")
    report.sts_id = record.id
    return record.id


def _judge_fetch(report: DomainReport, fetched: FetchResult, cert_days: int) -> str | None:
    check = "policy_fetch"
    url = fetched.url
    report.fetch_seconds = fetched.seconds if fetched.status is not None else None
    if fetched.error is not None:
        kind = "policy_certificate" if fetched.error_kind == "certificate" else check
        report.add(kind, Status.FAIL, f"{url}: {fetched.error}")
        return None
    _judge_certificate_expiry(report, fetched, cert_days)
    if fetched.status in (301, 302, 303, 307, 308):
        report.add(
            check,
            Status.FAIL,
            f"{url} redirects ({fetched.status}) to {fetched.location or '(no Location)'}:"
            " senders do not follow redirects",
        )
        return None
    if fetched.status != 200:
        hint = " (a CDN bot challenge?)" if fetched.status in (403, 503) else ""
        report.add(
            check, Status.FAIL, f"{url} answered HTTP {fetched.status}{hint}; senders need 200"
        )
        return None
    media = (fetched.content_type or "").split(";", 1)[0].strip().lower()
    if media != "text/plain":
        report.add(
            check,
            Status.FAIL,
            f"{url} is served as {fetched.content_type or '(no Content-Type)'}; senders "
            "need text/plain",
        )
        return None
    if fetched.too_large:
        report.add(check, Status.FAIL, f"{url} is larger than 64 KB")
        return None
    assert fetched.body is not None
    try:
        body = fetched.body.decode("utf-8")
    except UnicodeDecodeError:
        report.add(check, Status.FAIL, f"{url} is not UTF-8 text")
        return None
    report.add(
        check,
        Status.PASS,
        f"{url}: 200 text/plain, {len(fetched.body)} bytes in {fetched.seconds:.2f}s "
        f"over {fetched.tls_version}",
    )
    return body


def _judge_certificate_expiry(report: DomainReport, fetched: FetchResult, days: int) -> None:
    if fetched.cert_not_after is None:
        return
    left = fetched.cert_not_after - datetime.now(UTC)
    when = fetched.cert_not_after.date().isoformat()
    if left < timedelta(days=days):
        report.add(
            "policy_certificate",
            Status.WARN,
            f"the certificate of mta-sts.{report.domain} expires on {when}, within {days} days",
        )
    else:
        report.add(
            "policy_certificate", Status.PASS, f"valid for mta-sts.{report.domain} until {when}"
        )


def _judge_policy(
    report: DomainReport, body: str, record_id: str | None, expected_policy: str | None
) -> None:
    try:
        parsed = parse_policy(body)
    except GrammarError as exc:
        report.add("policy_syntax", Status.FAIL, f"invalid policy: {exc}")
        return
    policy = report.policy = parsed.policy
    for warning in parsed.warnings:
        report.add("policy_syntax", Status.WARN, warning)
    if not parsed.warnings:
        report.add(
            "policy_syntax",
            Status.PASS,
            f"mode {policy.mode}, max_age {policy.max_age}, mx {', '.join(policy.mx)}",
        )
    advice = max_age_advice(policy.mode, policy.max_age)
    if advice:
        report.add("max_age", Status.WARN, advice)
    if report.route is not None:
        _judge_mx_coverage(report, report.route, policy)
    if expected_policy is not None and record_id is not None:
        _judge_spec_match(report, body, record_id, expected_policy)


def _judge_mx_coverage(report: DomainReport, route: MailRoute, policy: Policy) -> None:
    """The policy's mx patterns against the hosts senders really deliver to.

    RFC 5321 section 5.1: with no MX record, the domain itself is the MX (when it has an
    address), so enforce blocks that mail unless a pattern covers the domain name. A null
    MX (RFC 7505) leaves no host to cover: the domain accepts no mail, which is worth saying
    for a domain that publishes a policy.
    """
    check = "mx_coverage"
    domain = report.domain
    if route.null_mx and route.mx_hosts:
        report.add(
            check,
            Status.WARN,
            f"{domain} publishes a null MX (MX 0 .) beside other MX records, which RFC 7505 "
            "forbids: senders ignore it and deliver to the others",
        )
    if policy.mode is Mode.NONE:
        report.add(check, Status.PASS, "mode none: senders apply no MX rule")
        return
    hosts = route.hosts
    if not hosts:
        why = (
            "publishes a null MX (RFC 7505): it accepts no mail, so there is no host for "
            "the policy to cover"
            if route.null_mx
            else "publishes no MX records and has no address: it receives no mail"
        )
        report.add(check, Status.WARN, f"{domain} {why}")
        return
    uncovered = uncovered_mx_hosts(hosts, policy.mx)
    no_mx = (
        "publishes no MX records, so senders deliver to the domain itself (its implicit MX, "
        "RFC 5321 section 5.1)"
    )
    implicit = f"{domain} {no_mx}"
    if uncovered and policy.mode is Mode.ENFORCE:
        reason = (
            f"it {no_mx}, and no mx pattern covers it"
            if route.implicit
            else "no mx pattern covers it"
        )
        for host in uncovered:
            report.add(check, Status.FAIL, f"enforce would block mail to {host}: {reason}")
    elif uncovered:
        lead = f"{implicit}; " if route.implicit else ""
        report.add(
            check,
            Status.WARN,
            f"{lead}not covered by the mx patterns: {', '.join(uncovered)} (enforce would "
            "block mail to them)",
        )
    elif route.implicit:
        report.add(check, Status.PASS, f"{implicit}, and an mx pattern covers it")
    else:
        report.add(check, Status.PASS, "every live MX matches a pattern")


def _judge_spec_match(report: DomainReport, body: str, record_id: str, expected: str) -> None:
    """The served policy and the TXT id against the policy the spec would publish.

    An id announces a body (`id_names_body`): senders refetch only when the id changes, so
    the dangerous drift is an id that announces the spec's policy while an older one is
    still served (a cache in front of the endpoint): senders then keep the old policy
    under the new id for max_age.
    """
    check = "sts_id"
    if body == expected:
        if id_names_body(record_id, body):
            report.add(check, Status.PASS, "the served policy is the spec's, under its id")
        else:
            report.add(
                check,
                Status.FAIL,
                f"the served policy is the spec's, but the TXT id {record_id} does not "
                "announce it: senders keep an old policy until the id changes",
            )
    elif id_names_body(record_id, expected):
        report.add(
            check,
            Status.FAIL,
            f"the TXT id {record_id} announces the spec's policy, but another policy is "
            "served (a cache in front of the endpoint?): senders fetch it under the new id "
            "and keep it for max_age",
        )
    else:
        report.add(
            check,
            Status.FAIL,
            "the served policy is not the spec's: apply has not run, or another tool "
            "changed it"
            + ("" if id_names_body(record_id, body) else "; the id does not announce it"),
        )


def _judge_tlsrpt(report: DomainReport, answer: TxtAnswer) -> None:
    check = "tlsrpt"
    value = _the_one_record(
        report,
        check,
        answer,
        is_tlsrpt_record,
        missing=(Status.WARN, f"no v=TLSRPTv1 record at {answer.name}: failures go unreported"),
        duplicates=f"v=TLSRPTv1 records at {answer.name}: reporters ignore them all",
    )
    if value is None:
        return
    try:
        record = parse_tlsrpt_record(value)
    except GrammarError as exc:
        report.add(check, Status.FAIL, f"invalid record: {exc}")
        return
    problems = []
    if not value.split(";", 1)[-1].strip().startswith("rua="):
        problems.append("rua is not the first field")
    if ", " in value or " ," in value:
        problems.append("a space around a comma (a strict reporter drops the URIs after it)")
    if problems:
        canonical = render_tlsrpt_record(record.rua, max_bytes=None)
        report.add(check, Status.WARN, f"{value!r}: {'; '.join(problems)}; write {canonical!r}")
    else:
        report.add(check, Status.PASS, value)


def _the_one_record(
    report: DomainReport,
    check: str,
    answer: TxtAnswer,
    claims_to_be: Callable[[str], bool],
    *,
    missing: tuple[Status, str],
    duplicates: str,
) -> str | None:
    """The single record of its kind at a name, or None with the finding that says why.

    Readers keep only the values that claim the version and give up unless exactly one
    does (RFC 8461 section 3.1, RFC 8460 section 3): other TXT values there are harmless.
    """
    claims = [v for v in answer.values if claims_to_be(v)]
    if not claims:
        report.add(check, *missing)
        return None
    if len(claims) > 1:
        report.add(check, Status.FAIL, f"{len(claims)} {duplicates}")
        return None
    return claims[0]


def _judge_starttls(
    report: DomainReport, options: CheckOptions, resolve: Callable[[str], tuple[str, ...]]
) -> None:
    """Every delivery host side by side, so several dead ones cost one timeout, not one each.

    The hosts are those senders connect to: the MX hosts, or the domain itself when it has
    no MX record (its implicit MX); none for a null MX.
    """
    hosts = report.delivery_hosts
    if not hosts:
        return

    def probe(host: str) -> StarttlsResult:
        return probe_starttls(
            host,
            timeout=options.timeout,
            ca_bundle=options.ca_bundle,
            connect_to=options.smtp_connect_to,
            resolve=resolve,
        )

    with ThreadPoolExecutor(max_workers=min(8, len(hosts))) as pool:
        results = list(pool.map(probe, hosts))
    for result in results:
        status = Status.PASS if result.ok else Status.FAIL
        report.add("smtp_starttls", status, f"{result.host}: {result.detail}")
