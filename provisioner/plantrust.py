"""A saved plan is data from outside: every value is checked like a spec before it is applied.

`apply PLANFILE` reads a file anyone with write access to a CI artifact, a shared disk or a
pull request could have edited. Before this module, it applied whatever the file held: a
domain `x/../../../escaped`, a policy body of any text, a TXT value with a newline, an id
that is not the body's, a `destructive: false` on a mass removal. Now nothing in the file is
trusted for a decision; every change must be one that `provisioner.plan.diff` could have
computed against the live state read again at apply time:

- names: each domain is a normalised host name of at least two labels, in the plan's scope
  for a provider the plan configures, with one change per resource;
- shapes: create has no `before`, delete no `after`, update both;
- bodies: a policy parses strictly (RFC 8461 section 3.2) and re-renders byte for byte;
  a TXT value parses and re-renders as mtasts renders it (RFC 8461 section 3.1, RFC 8460
  section 3); an endpoint is exactly what its provider would build;
- ids: each new `_mta-sts` id announces the body that will be live when it is published
  (the plan's new policy, or the live one), and was not minted in the future;
- ownership: `before` and `rrset_before` are what is live now; `rrset_after` keeps every
  foreign value at the name, in order, and holds exactly one value of mtasts's own;
- removal: a policy, record or endpoint is deleted only after the RFC 8461 section 8.3 wait
  (a live `mode: none` policy older than its max_age);
- safety: which domains are destructive, and how many domains are managed, are recomputed
  from the changes and the providers, never read from the file; so is each domain's risk
  class (`provisioner.risk`) against the MX hosts live now: a file that says `routine` for
  an enforce that blocks mail is applied as `blocks-mail`, and refused as one. Only the
  claim `retire` is taken from the file, and only for changes that are a removal step.

The descriptive text of the file (reasons, summaries, warnings) is kept for display only,
each squeezed onto one line. Every refusal is one line naming the field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from provisioner.errors import MtastsError, one_line
from provisioner.plan import (
    Action,
    Change,
    DomainPlan,
    Plan,
    domain_risk,
    is_downgrade,
    policy_or_none,
)
from provisioner.provider import Provider
from provisioner.rfc8460 import is_tlsrpt_record, parse_tlsrpt_record
from provisioner.rfc8461 import (
    GrammarError,
    Mode,
    Policy,
    id_minted_at,
    id_names_body,
    is_sts_record,
    normalize_hostname,
    parse_policy,
    parse_sts_record,
)
from provisioner.risk import Risk, is_removal_step
from provisioner.state import TLSRPT_PREFIX, LiveDomain, Resource

MAX_NAME_LENGTH = 253
"""The longest DNS name in text form (RFC 1035 section 2.3.4, without the final dot)."""

MAX_TEXT = 500
"""Longest reason or summary kept from a file, in characters."""

CLOCK_SKEW = timedelta(hours=1)
"""How far in the future an id's minting time may be before the id is refused."""


class UntrustedPlanError(MtastsError):
    """A saved plan holds a value that no plan computed now could hold."""


def trusted_plan(
    plan: Plan,
    scope: Mapping[str, tuple[str, ...]],
    providers: Mapping[str, Provider],
    live: Mapping[str, Mapping[str, LiveDomain]],
    now: datetime,
    where: str,
) -> Plan:
    """The plan rebuilt from checked values; raises UntrustedPlanError naming the field.

    `live` is provider -> domain -> state as read again for `scope`; `where` prefixes every
    message (the plan file's path).
    """
    domain_provider = check_names(plan, scope, providers, where)
    by_domain: dict[str, list[Change]] = {}
    for change in plan.changes:
        by_domain.setdefault(change.domain, []).append(change)
    checked: list[Change] = []
    destructive: set[str] = set()
    claimed = {d.domain: d.risk for d in plan.domains}
    risks: dict[str, tuple[Risk, tuple[str, ...], int]] = {}
    for domain, changes in by_domain.items():
        provider = domain_provider[domain]
        have = live.get(provider, {}).get(domain) or LiveDomain(domain)
        new_policy = next(
            (c.after for c in changes if c.resource is Resource.POLICY and c.after is not None),
            None,
        )
        for change in changes:
            field = f"{where}: changes[{plan.changes.index(change)}] ({domain} {change.resource})"
            _check_shape(change, field)
            _check_change(change, field, have, new_policy, providers[provider], now)
            if _is_destructive(change, have):
                destructive.add(domain)
            checked.append(replace(change, reason=_text(change.reason)))
        _check_complete(changes, have, f"{where}: {domain}")
        retiring = claimed.get(domain) is Risk.RETIRE and is_removal_step(
            new_policy if new_policy is not None else have.policy_text,
            any(c.action is Action.DELETE for c in changes),
        )
        risks[domain] = domain_risk(changes, have, retiring=retiring)
    summaries = {d.domain: d.summary for d in plan.domains}
    return Plan(
        changes=tuple(sorted(checked, key=Change.sort_key)),
        domains=tuple(
            DomainPlan(
                domain,
                domain_provider[domain],
                _text(summaries.get(domain, "")) or _fallback_summary(by_domain[domain]),
                domain in destructive,
                *risks[domain],
            )
            for domain in sorted(by_domain)
        ),
        warnings=tuple(_text(w) for w in plan.warnings if isinstance(w, str)),
        notes=tuple(_text(n) for n in plan.notes if isinstance(n, str)),
        unchanged_domains=plan.unchanged_domains,
        managed_domains=sum(len(p.managed_domains()) for p in providers.values()),
    )


def check_providers(
    saved: Mapping[str, Provider], configured: Mapping[str, Provider], where: str
) -> None:
    """Each provider of a saved plan is the spec's provider of that name, setting for setting."""
    for name, provider in sorted(saved.items()):
        mine = configured.get(name)
        if mine is None:
            raise UntrustedPlanError(f"{where}: providers.{name}: not a provider of the spec")
        if mine.type_name != provider.type_name:
            raise UntrustedPlanError(
                f"{where}: providers.{name}.type: {provider.type_name!r} in the plan, "
                f"{mine.type_name!r} in the spec"
            )
        ours, theirs = mine.plan_settings(), provider.plan_settings()
        for key in sorted(set(ours) | set(theirs)):
            if ours.get(key) != theirs.get(key):
                raise UntrustedPlanError(
                    f"{where}: providers.{name}.{key}: the plan says {theirs.get(key)!r}, "
                    f"the spec {ours.get(key)!r}; plan again from the spec"
                )


def _check_complete(changes: list[Change], have: LiveDomain, field: str) -> None:
    """The changes of one domain go together, as `provisioner.plan.diff` makes them.

    Checked one by one, every change of a plan can be valid while the set is not: a policy
    published with its `_mta-sts` change cut out leaves the old id announcing the new body
    (the fault of a crash between phases, made on purpose); a policy deleted while its
    record stays leaves an id for a policy no one serves, forever.
    """
    by_resource = {c.resource: c for c in changes}
    policy = by_resource.get(Resource.POLICY)
    sts = by_resource.get(Resource.STS_RECORD)
    live_ids = [_record_id(v) for v in have.sts_txt if is_sts_record(v)]
    if policy is not None and policy.action is not Action.DELETE:
        if sts is None or sts.after is None:
            raise UntrustedPlanError(
                f"{field}: the policy changes but the _mta-sts id does not: senders would "
                "keep the old policy, or cache the new one under an old id"
            )
        if _record_id(sts.after) in live_ids:
            raise UntrustedPlanError(
                f"{field}: the new policy is announced by an id already live (an id is "
                "never reused for another body)"
            )
    deleting_policy = policy is not None and policy.action is Action.DELETE
    deleting_sts = sts is not None and sts.action is Action.DELETE
    if deleting_policy and live_ids and not deleting_sts:
        raise UntrustedPlanError(
            f"{field}: the policy is deleted but its _mta-sts record stays (RFC 8461 "
            "section 8.3 deletes both)"
        )
    if deleting_sts and not deleting_policy:
        raise UntrustedPlanError(
            f"{field}: the _mta-sts record is deleted but the policy stays (RFC 8461 "
            "section 8.3 deletes both)"
        )
    endpoint = by_resource.get(Resource.ENDPOINT)
    if (
        deleting_policy
        and have.endpoint is not None
        and (endpoint is None or endpoint.action is not Action.DELETE)
    ):
        raise UntrustedPlanError(f"{field}: the policy is deleted but its endpoint stays")


def _record_id(value: str | None) -> str | None:
    try:
        return parse_sts_record(value or "").id
    except GrammarError:
        return None


def check_names(
    plan: Plan,
    scope: Mapping[str, tuple[str, ...]],
    providers: Mapping[str, Provider],
    where: str,
) -> dict[str, str]:
    """Every name in the plan and its scope, checked BEFORE any provider reads them.

    Returns domain -> provider for the changes. A provider builds paths and API requests
    from these names, so a name is refused before it reaches one.
    """
    for provider, domains in scope.items():
        if provider not in providers:
            raise UntrustedPlanError(f"{where}: scope.{provider}: not a provider of this plan")
        for domain in domains:
            _check_domain(domain, f"{where}: scope.{provider}")
    seen: set[tuple[str, Resource]] = set()
    domain_provider: dict[str, str] = {}
    for index, change in enumerate(plan.changes):
        field = f"{where}: changes[{index}]"
        _check_change_names(change, field, scope, providers, domain_provider, seen)
    return domain_provider


def _check_domain(domain: object, field: str) -> None:
    if not isinstance(domain, str):
        raise UntrustedPlanError(f"{field}: {domain!r} is not a domain name")
    try:
        normal = normalize_hostname(domain)
    except ValueError as exc:
        raise UntrustedPlanError(f"{field}: {exc}") from None
    if normal != domain or "." not in normal:
        raise UntrustedPlanError(f"{field}: {domain!r} is not a normalised domain name")
    if len(TLSRPT_PREFIX + domain) > MAX_NAME_LENGTH:
        raise UntrustedPlanError(
            f"{field}: {domain[:40]!r}...: too long for _smtp._tls.<domain> to be a DNS name"
        )


def _check_change_names(
    change: Change,
    field: str,
    scope: Mapping[str, tuple[str, ...]],
    providers: Mapping[str, Provider],
    domain_provider: dict[str, str],
    seen: set[tuple[str, Resource]],
) -> None:
    _check_domain(change.domain, f"{field}.domain")
    if change.provider not in providers:
        raise UntrustedPlanError(
            f"{field}.provider: {change.provider!r} is not a provider of this plan"
        )
    if change.domain not in scope.get(change.provider, ()):
        raise UntrustedPlanError(
            f"{field}: {change.domain} was not read from provider {change.provider!r} "
            "when the plan was made (not in its scope)"
        )
    if domain_provider.setdefault(change.domain, change.provider) != change.provider:
        raise UntrustedPlanError(f"{field}: {change.domain} is planned on two providers")
    key = (change.domain, change.resource)
    if key in seen:
        raise UntrustedPlanError(f"{field}: a second {change.resource} change for {change.domain}")
    seen.add(key)


def _check_shape(change: Change, field: str) -> None:
    expected = {
        Action.CREATE: (False, True),
        Action.UPDATE: (True, True),
        Action.DELETE: (True, False),
    }[change.action]
    has = (change.before is not None, change.after is not None)
    if has != expected:
        raise UntrustedPlanError(
            f"{field}: a {change.action} needs "
            + {
                Action.CREATE: "no before and an after",
                Action.UPDATE: "a before and an after",
                Action.DELETE: "a before and no after",
            }[change.action]
        )
    for name, value in (("before", change.before), ("after", change.after)):
        if value is not None and not isinstance(value, str):
            raise UntrustedPlanError(f"{field}.{name}: must be text")


def _check_change(
    change: Change,
    field: str,
    have: LiveDomain,
    new_policy: str | None,
    provider: Provider,
    now: datetime,
) -> None:
    if change.action is Action.DELETE:
        _check_removal_due(field, have, now)
    if change.resource is Resource.POLICY:
        if change.before != have.policy_text:
            raise UntrustedPlanError(f"{field}.before: is not the policy live now")
        if change.after is not None:
            _check_policy_body(change.after, f"{field}.after")
    elif change.resource is Resource.ENDPOINT:
        if change.endpoint_before != have.endpoint:
            raise UntrustedPlanError(f"{field}.before: is not the endpoint live now")
        if change.after is not None and change.endpoint_after != provider.endpoint_for(
            change.domain
        ):
            raise UntrustedPlanError(
                f"{field}.after: is not the endpoint provider {provider.name!r} builds"
            )
    elif change.resource is Resource.STS_RECORD:
        _check_rrset(change, field, have.sts_txt, is_sts_record)
        if change.after is not None:
            body = new_policy if new_policy is not None else have.policy_text
            _check_sts_value(change.after, f"{field}.after", body, now)
    else:
        _check_rrset(change, field, have.tlsrpt_txt, is_tlsrpt_record)
        if change.after is not None:
            _check_tlsrpt_value(change.after, f"{field}.after")


def _check_policy_body(body: str, field: str) -> None:
    try:
        parsed = parse_policy(body).policy
        rendered = Policy(parsed.mode, parsed.max_age, parsed.mx).render()
    except (GrammarError, ValueError) as exc:
        raise UntrustedPlanError(f"{field}: not a valid policy ({exc})") from None
    if rendered != body:
        raise UntrustedPlanError(f"{field}: not a policy as mtasts renders it")


def _check_sts_value(value: str, field: str, body: str | None, now: datetime) -> None:
    try:
        record = parse_sts_record(value)
    except GrammarError as exc:
        raise UntrustedPlanError(f"{field}: {exc}") from None
    if record.render() != value:
        raise UntrustedPlanError(f"{field}: not a record as mtasts renders it")
    if body is None or not id_names_body(record.id, body):
        raise UntrustedPlanError(
            f"{field}: id {record.id} does not announce the policy it would publish"
        )
    minted = id_minted_at(record.id)
    if minted is not None and minted > now + CLOCK_SKEW:
        raise UntrustedPlanError(f"{field}: id {record.id} was minted in the future")


def _check_tlsrpt_value(value: str, field: str) -> None:
    try:
        record = parse_tlsrpt_record(value)
    except GrammarError as exc:
        raise UntrustedPlanError(f"{field}: {exc}") from None
    if record.render() != value:
        raise UntrustedPlanError(f"{field}: not a record as mtasts renders it")


def _check_rrset(
    change: Change, field: str, live_values: tuple[str, ...], owned: Callable[[str], bool]
) -> None:
    """`before`/`rrset_before` are live; `rrset_after` = the foreign values + ours."""
    if tuple(change.rrset_before) != live_values:
        raise UntrustedPlanError(f"{field}.rrset_before: is not what is live at the name now")
    mine = [v for v in live_values if owned(v)]
    if change.before is not None and change.before not in mine:
        raise UntrustedPlanError(f"{field}.before: is not a value live at the name now")
    foreign = tuple(v for v in live_values if not owned(v))
    wanted = foreign + ((change.after,) if change.after is not None else ())
    if tuple(change.rrset_after) != wanted:
        raise UntrustedPlanError(
            f"{field}.rrset_after: must keep every other value at the name and add only "
            "mtasts's own"
        )


def _check_removal_due(field: str, have: LiveDomain, now: datetime) -> None:
    """RFC 8461 section 8.3: delete only once the `mode: none` policy has outlived max_age."""
    policy = policy_or_none(have.policy_text)
    if policy is None or policy.mode is not Mode.NONE or have.policy_published_at is None:
        raise UntrustedPlanError(
            f"{field}: deletes before a mode none policy was published (RFC 8461 section 8.3)"
        )
    if now < have.policy_published_at + timedelta(seconds=policy.max_age):
        raise UntrustedPlanError(
            f"{field}: deletes before the mode none policy's max_age has passed "
            "(RFC 8461 section 8.3)"
        )


def _is_destructive(change: Change, have: LiveDomain) -> bool:
    if change.action is Action.DELETE:
        return True
    if change.resource is not Resource.POLICY or change.after is None:
        return False
    before, after = policy_or_none(have.policy_text), policy_or_none(change.after)
    return before is not None and after is not None and is_downgrade(before.mode, after.mode)


def _text(value: object) -> str:
    text = one_line(value) if isinstance(value, str) else ""
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _fallback_summary(changes: list[Change]) -> str:
    return ", ".join(f"{c.resource} {c.action}" for c in changes)
