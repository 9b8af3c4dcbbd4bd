"""The diff engine: desired and live state in, an ordered list of changes out.

One engine serves every provider (as in DNSControl): a provider only reads state and turns
the changes it is given into its API's unit of work. `diff()` is a pure function of
(desired, live, now); it never calls a provider, so a plan can be shown, saved, compared
and tested without any cloud.

The hard decisions, in one place:

Publish order (RFC 8461 section 3.3: senders refetch only when the id changes, so the new
policy must be served before they look). Changes carry a phase, and apply runs phase by
phase across all domains, so a provider can batch each phase:
  0 endpoint create/update, 1 policy create/update, 2 TXT records (`_mta-sts` id and
  `_smtp._tls`, independent of each other), 3 policy delete, 4 endpoint delete.
A failed phase stops the run: an id never points at a policy that is not yet served.

Ownership. At `_mta-sts.<d>` mtasts owns every value that starts with `v=STSv1` (two of them
switch MTA-STS off, so they are all replaced by exactly one); at `_smtp._tls.<d>` every
`v=TLSRPTv1` value. Other TXT values there are kept, in their order. A domain is managed
when its provider holds a policy body for it.

Removal (RFC 8461 section 8.3). A managed domain that leaves the spec is not deleted at
once: first its policy becomes `mode: none` (same mx, same max_age) under a new id. Keeping
the old max_age makes the wait self-describing: the records and the endpoint are deleted on
the first plan after `policy_published_at + max_age`, when every policy served before the
`none` one, and the `none` one itself, has expired from every sender's cache; no state is
kept outside what is published. The `_smtp._tls` record stays: TLS reporting serves DANE as
well, it may predate mtasts, and nothing published says who made it; the plan says so.

Safety. A plan that downgrades (enforce to testing or none, testing to none) or removes
more than `MAX_SAFE_DESTRUCTIVE_FRACTION` of the managed domains, and at least
`MIN_GUARDED_DESTRUCTIVE` of them, is marked unsafe; apply refuses it without
`--allow-destroy`, as octoDNS's thresholds do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from provisioner.rfc8460 import is_tlsrpt_record
from provisioner.rfc8461 import (
    GrammarError,
    Mode,
    Policy,
    id_names_body,
    is_sts_record,
    parse_policy,
    parse_sts_record,
    policy_id,
    render_sts_record,
    uncovered_mx_hosts,
)
from provisioner.risk import Risk, classify, parse_risk, removal_step
from provisioner.state import DesiredDomain, Endpoint, LiveDomain, Resource

FORMAT_VERSION = 1
MAX_SAFE_DESTRUCTIVE_FRACTION = 0.3
MIN_GUARDED_DESTRUCTIVE = 2
GUARDED_RISKS = (Risk.BLOCKS_MAIL,)
"""Risk classes apply refuses unless named with `--allow-risk` (`provisioner.risk`)."""


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


_MODE_RANK = {Mode.NONE: 0, Mode.TESTING: 1, Mode.ENFORCE: 2}


def is_downgrade(before: Mode, after: Mode) -> bool:
    """enforce -> testing or none, testing -> none: what the safety threshold counts."""
    return _MODE_RANK[after] < _MODE_RANK[before]


_RESOURCE_ORDER = {r: i for i, r in enumerate(Resource)}


@dataclass(frozen=True)
class Change:
    """One step of a plan: `before`/`after` are the exact text published (or an endpoint).

    For TXT resources `rrset_before`/`rrset_after` hold every value at the name, foreign ones
    included, so a provider whose API replaces whole record sets needs nothing else. For an
    endpoint `endpoint_before`/`endpoint_after` hold the structured values (plan JSON writes
    them as objects in `before`/`after`), and `before`/`after` their one-line text.
    """

    domain: str
    provider: str
    resource: Resource
    action: Action
    before: str | None
    after: str | None
    reason: str
    rrset_before: tuple[str, ...] = ()
    rrset_after: tuple[str, ...] = ()
    endpoint_before: Endpoint | None = None
    endpoint_after: Endpoint | None = None

    @property
    def phase(self) -> int:
        if self.resource is Resource.ENDPOINT:
            return 4 if self.action is Action.DELETE else 0
        if self.resource is Resource.POLICY:
            return 3 if self.action is Action.DELETE else 1
        return 2

    def sort_key(self) -> tuple[int, str, str, int]:
        return (self.phase, self.provider, self.domain, _RESOURCE_ORDER[self.resource])

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "domain": self.domain,
            "provider": self.provider,
            "resource": self.resource.value,
            "action": self.action.value,
            "before": self.before,
            "after": self.after,
            "reason": self.reason,
        }
        if self.resource in (Resource.STS_RECORD, Resource.TLSRPT_RECORD):
            data["rrset_before"] = list(self.rrset_before)
            data["rrset_after"] = list(self.rrset_after)
        if self.resource is Resource.ENDPOINT:
            data["before"] = _endpoint_json(self.endpoint_before)
            data["after"] = _endpoint_json(self.endpoint_after)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Change:
        """The inverse of `to_json`; KeyError/ValueError on a malformed change."""
        resource = Resource(data["resource"])
        before, after = data.get("before"), data.get("after")
        endpoint_before = endpoint_after = None
        if resource is Resource.ENDPOINT:
            endpoint_before = None if before is None else Endpoint.from_json(before)
            endpoint_after = None if after is None else Endpoint.from_json(after)
            before = None if endpoint_before is None else str(endpoint_before)
            after = None if endpoint_after is None else str(endpoint_after)
        rrset_before = tuple(data.get("rrset_before", ()))
        rrset_after = tuple(data.get("rrset_after", ()))
        values = (before, after, *rrset_before, *rrset_after)
        if any(value is not None and not isinstance(value, str) for value in values):
            raise ValueError(f"a {resource} change holds a value that is not text")
        return cls(
            domain=str(data["domain"]),
            provider=str(data["provider"]),
            resource=resource,
            action=Action(data["action"]),
            before=before,
            after=after,
            reason=str(data.get("reason", "")),
            rrset_before=rrset_before,
            rrset_after=rrset_after,
            endpoint_before=endpoint_before,
            endpoint_after=endpoint_after,
        )


def _endpoint_json(endpoint: Endpoint | None) -> dict[str, Any] | None:
    return None if endpoint is None else endpoint.to_json()


@dataclass(frozen=True)
class DomainPlan:
    """The MTA-STS-level story of one domain, for people reading the plan.

    `risk` is what the changes can break (`provisioner.risk`); `blocked_mx` names the live
    MX hosts a `blocks-mail` domain's policy would refuse; `step` is the removal step (1 or
    2) of a retiring domain, else 0.
    """

    domain: str
    provider: str
    summary: str
    destructive: bool = False
    risk: Risk = Risk.ROUTINE
    blocked_mx: tuple[str, ...] = ()
    step: int = 0

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "domain": self.domain,
            "provider": self.provider,
            "summary": self.summary,
            "destructive": self.destructive,
            "risk": self.risk.value,
        }
        if self.blocked_mx:
            data["blocked_mx"] = list(self.blocked_mx)
        if self.step:
            data["step"] = self.step
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DomainPlan:
        """As saved; `provisioner.plantrust` recomputes risk before a saved plan applies."""
        step = data.get("step", 0)
        return cls(
            str(data["domain"]),
            str(data["provider"]),
            str(data.get("summary", "")),
            bool(data.get("destructive", False)),
            parse_risk(data.get("risk")) or Risk.ROUTINE,
            tuple(str(h) for h in data.get("blocked_mx", ()) if isinstance(h, str)),
            step if type(step) is int and step in (1, 2) else 0,
        )


def domain_risk(
    changes: Iterable[Change], have: LiveDomain, *, retiring: bool
) -> tuple[Risk, tuple[str, ...], int]:
    """One domain's risk class, the MX hosts it would block, and its removal step (or 0).

    `have` is the live state the changes were computed against; `retiring` says the domain
    left the spec (see `provisioner.risk` for the classes and why they are recomputed).
    """
    changes = list(changes)
    policy = next((c for c in changes if c.resource is Resource.POLICY), None)
    deletes = any(c.action is Action.DELETE for c in changes)
    risk, blocked = classify(
        policy_before=have.policy_text,
        policy_after=policy.after if policy is not None else have.policy_text,
        policy_changes=policy is not None and policy.after is not None,
        deletes=deletes,
        mx_hosts=have.mx_hosts,
        retiring=retiring,
    )
    return risk, blocked, removal_step(deletes) if risk is Risk.RETIRE else 0


@dataclass(frozen=True)
class Plan:
    changes: tuple[Change, ...]
    domains: tuple[DomainPlan, ...] = ()
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    unchanged_domains: int = 0
    managed_domains: int = 0

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    def counts(self) -> dict[str, int]:
        counts = {a.value: 0 for a in Action}
        for change in self.changes:
            counts[change.action.value] += 1
        return counts

    @property
    def destructive_domains(self) -> tuple[str, ...]:
        return tuple(d.domain for d in self.domains if d.destructive)

    @property
    def unsafe(self) -> bool:
        """Too many removals or downgrades at once to apply without `--allow-destroy`."""
        count = len(self.destructive_domains)
        limit = MAX_SAFE_DESTRUCTIVE_FRACTION * max(self.managed_domains, 1)
        return count >= MIN_GUARDED_DESTRUCTIVE and count > limit

    def risk_domains(self, risk: Risk) -> tuple[DomainPlan, ...]:
        return tuple(d for d in self.domains if d.risk is risk)

    def refused_risks(self, allowed: Iterable[str] = ()) -> tuple[Risk, ...]:
        """Risk classes present in the plan that apply refuses without `--allow-risk`."""
        allow = set(allowed)
        present = {d.risk for d in self.domains}
        return tuple(r for r in GUARDED_RISKS if r in present and r.value not in allow)

    def risk_reason(self, risk: Risk) -> str:
        """Why apply refuses the plan for `risk`, in one sentence naming the domains."""
        domains = self.risk_domains(risk)
        shown = ", ".join(
            f"{d.domain} ({', '.join(d.blocked_mx[:3])})" if d.blocked_mx else d.domain
            for d in domains[:5]
        )
        more = f" and {len(domains) - 5} more" if len(domains) > 5 else ""
        return (
            f"{_count(len(domains), 'domain')} would enforce a policy whose mx patterns do "
            f"not cover a live MX host: {shown}{more}; senders would refuse mail to those "
            f"hosts; fix the mx list, or pass --allow-risk {risk.value}"
        )

    def risk_counts(self) -> dict[str, int]:
        """Domains per risk class, every class present (zeros included)."""
        counts = {r.value: 0 for r in Risk}
        for d in self.domains:
            counts[d.risk.value] += 1
        return counts

    def risk_line(self) -> str:
        """What users care about: "3 domains to enforce, 1 retiring (step 1 of 2), 12
        routine; 0 blocking mail" (classes with no domain left out, blocking always said)."""
        counts = self.risk_counts()
        parts: list[str] = []
        if counts["enforce"]:
            parts.append(_count(counts["enforce"], "domain") + " to enforce")
        if counts["downgrade"]:
            parts.append(_count(counts["downgrade"], "downgrade"))
        if counts["retire"]:
            steps = sorted({d.step for d in self.risk_domains(Risk.RETIRE) if d.step})
            where = (
                f" (step {steps[0]} of 2)"
                if len(steps) == 1
                else " (steps 1 and 2 of 2)"
                if steps
                else ""
            )
            parts.append(f"{counts['retire']} retiring{where}")
        if counts["routine"]:
            parts.append(f"{counts['routine']} routine")
        blocking = f"{counts['blocks-mail']} blocking mail"
        if not parts:
            return blocking if counts["blocks-mail"] else f"no domain changes; {blocking}"
        return f"{', '.join(parts)}; {blocking}"

    def unsafe_reason(self) -> str:
        """Why the plan needs `--allow-destroy`, in one sentence."""
        count = len(self.destructive_domains)
        shown = ", ".join(self.destructive_domains[:5]) + (", ..." if count > 5 else "")
        return (
            f"{count} of {self.managed_domains} managed domains would be removed or "
            f"downgraded at once ({shown}); apply refuses this without --allow-destroy"
        )

    def summary_line(self) -> str:
        counts = self.counts()
        return (
            f"Plan: {counts['create']} to add, {counts['update']} to change, "
            f"{counts['delete']} to destroy."
        )

    def to_json(self) -> dict[str, Any]:
        counts = self.counts()
        return {
            "format_version": FORMAT_VERSION,
            "changes": [c.to_json() for c in self.changes],
            "warnings": list(self.warnings),
            "summary": {
                **counts,
                "unchanged_domains": self.unchanged_domains,
                "risk": self.risk_counts(),
                "text": f"{self.summary_line()} {self.risk_line()}",
            },
            "domains": [d.to_json() for d in self.domains],
            "notes": list(self.notes),
            "managed_domains": self.managed_domains,
            "unsafe": self.unsafe,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Plan:
        return cls(
            changes=tuple(Change.from_json(c) for c in data.get("changes", ())),
            domains=tuple(DomainPlan.from_json(d) for d in data.get("domains", ())),
            warnings=tuple(w for w in data.get("warnings", ()) if isinstance(w, str)),
            notes=tuple(n for n in data.get("notes", ()) if isinstance(n, str)),
            unchanged_domains=int(data.get("summary", {}).get("unchanged_domains", 0)),
            managed_domains=int(data.get("managed_domains", 0)),
        )


@dataclass
class _DomainDiff:
    """Collects one domain's changes and the words that explain them."""

    domain: str
    provider: str
    changes: list[Change] = field(default_factory=list)
    story: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    destructive: bool = False
    live: LiveDomain | None = None
    retiring: bool = False

    def add(
        self,
        resource: Resource,
        before: str | None,
        after: str | None,
        reason: str,
        rrset_before: tuple[str, ...] = (),
        rrset_after: tuple[str, ...] = (),
    ) -> None:
        if after is None:
            action = Action.DELETE
        elif before is None:
            action = Action.CREATE
        else:
            action = Action.UPDATE
        self.changes.append(
            Change(
                self.domain,
                self.provider,
                resource,
                action,
                before,
                after,
                reason,
                rrset_before,
                rrset_after,
            )
        )

    def add_endpoint(self, before: Endpoint | None, after: Endpoint | None, reason: str) -> None:
        self.add(
            Resource.ENDPOINT,
            None if before is None else str(before),
            None if after is None else str(after),
            reason,
        )
        self.changes[-1] = replace(self.changes[-1], endpoint_before=before, endpoint_after=after)

    def result(self) -> DomainPlan | None:
        if not self.changes:
            return None
        risk, blocked, step = domain_risk(
            self.changes, self.live or LiveDomain(self.domain), retiring=self.retiring
        )
        return DomainPlan(
            self.domain,
            self.provider,
            ", ".join(self.story),
            self.destructive,
            risk,
            blocked,
            step,
        )


def diff(
    desired: Mapping[str, DesiredDomain],
    live: Mapping[str, LiveDomain],
    now: datetime,
    *,
    removals: Mapping[str, str] | None = None,
    warnings: Iterable[str] = (),
    managed_count: int | None = None,
    endpoint_stories: Mapping[str, str] | None = None,
) -> Plan:
    """The plan that moves `live` to `desired`.

    `removals` maps managed domains that are no longer in the spec to their provider name;
    they follow the RFC 8461 section 8.3 removal path. `live` may lack a domain (nothing is
    deployed yet). `now` is the clock removal waits are measured against. `managed_count` is
    how many domains the providers manage in all, when `live` holds only some of them (a
    run limited with -d): the safety threshold is a share of all of them.
    `endpoint_stories` says, by domain, what a provider's endpoint change does beyond its
    fields (`Provider.endpoint_story`).
    """
    results: list[_DomainDiff] = []
    notes: list[str] = []
    for name in sorted(desired):
        want = desired[name]
        story = (endpoint_stories or {}).get(name)
        results.append(_diff_domain(want, live.get(name) or LiveDomain(name), now, story))
        if (republished := republish_note(want, live.get(name))) is not None:
            notes.append(republished)
    for name, provider in sorted((removals or {}).items()):
        if name in desired:
            continue
        result, note = _diff_removal(name, provider, live.get(name) or LiveDomain(name), now)
        results.append(result)
        if note:
            notes.append(note)
    changes = sorted((c for r in results for c in r.changes), key=Change.sort_key)
    domain_plans = [p for r in results if (p := r.result()) is not None]
    all_warnings = [*warnings, *(w for r in results for w in r.warnings)]
    managed = (
        managed_count
        if managed_count is not None
        else sum(1 for state in live.values() if state.policy_text is not None)
    )
    return Plan(
        changes=tuple(changes),
        domains=tuple(domain_plans),
        warnings=tuple(dict.fromkeys(all_warnings)),
        notes=tuple(notes),
        unchanged_domains=sum(1 for r in results if not r.changes and r.domain in desired),
        managed_domains=managed,
    )


def _diff_domain(
    want: DesiredDomain, have: LiveDomain, now: datetime, endpoint_story: str | None = None
) -> _DomainDiff:
    d = _DomainDiff(want.domain, want.provider, live=have)
    is_new = not have.exists
    if want.endpoint is not None and (wrong := want.endpoint.differences(have.endpoint)):
        reason = "new endpoint" if have.endpoint is None else "; ".join(wrong)
        d.add_endpoint(
            have.endpoint,
            want.endpoint,
            f"{reason}: {endpoint_story}" if endpoint_story else reason,
        )
        d.story.append(
            f"endpoint: {endpoint_story}"
            if endpoint_story
            else "endpoint " + ("created" if have.endpoint is None else "updated")
        )
    live_policy = policy_or_none(have.policy_text)
    if have.policy_text != want.policy_text:
        if is_new:
            reason = "new domain"
        elif have.policy_text is None:
            # Records or an endpoint exist, no policy (a first apply stopped before it).
            reason = "no policy published yet"
        else:
            reason = _policy_story(live_policy, want.policy)
        d.add(Resource.POLICY, have.policy_text, want.policy_text, reason)
        d.story.append(
            f"new policy: mode {want.policy.mode}, max_age {want.policy.max_age}"
            if is_new
            else reason
        )
        if live_policy is not None and is_downgrade(live_policy.mode, want.policy.mode):
            d.destructive = True
    sts_record, why = _sts_record_for(have, want.policy_text, now)
    _diff_txt(d, Resource.STS_RECORD, have.sts_txt, sts_record, is_sts_record, why)
    if want.tlsrpt_record is not None:
        _diff_txt(d, Resource.TLSRPT_RECORD, have.tlsrpt_txt, want.tlsrpt_record, is_tlsrpt_record)
    if want.policy.mode is Mode.ENFORCE and have.mx_hosts is not None:
        for host in uncovered_mx_hosts(have.mx_hosts, want.policy.mx):
            d.warnings.append(
                f"{want.domain}: enforce would block mail to {host}: no mx pattern covers it"
            )
    return d


def _sts_record_for(have: LiveDomain, body: str, now: datetime) -> tuple[str, str | None]:
    """The `_mta-sts` value that announces `body` once it is served, and why a new id.

    The live id is kept only when the live policy already is `body` and the id was derived
    from it (`id_names_body`). Otherwise a new id is minted, so no sender can hold another
    body under it: that covers a changed policy, and also an id left announcing the wrong
    body by a run that stopped between the policy and the TXT phase (RFC 8461 section 3.3).
    """
    live_ids = [_record_id(v) for v in have.sts_txt if is_sts_record(v)]
    if have.policy_text == body:
        for live_id in live_ids:
            if id_names_body(live_id, body):
                return render_sts_record(live_id), None
    minted = now
    while policy_id(body, minted) in live_ids:
        minted += timedelta(seconds=1)  # the same second as a live id: never reuse it
    fresh = render_sts_record(policy_id(body, minted))
    if have.policy_text == body and live_ids:
        return fresh, (
            f"id {live_ids[0]} does not announce the policy being served (an earlier run "
            "stopped between the policy and the id?): a new id makes senders refetch"
        )
    return fresh, None


def _diff_txt(
    d: _DomainDiff,
    resource: Resource,
    live_values: tuple[str, ...],
    wanted: str | None,
    owned: Callable[[str], bool],
    why: str | None = None,
) -> None:
    mine = [v for v in live_values if owned(v)]
    foreign = tuple(v for v in live_values if not owned(v))
    after_set = foreign + ((wanted,) if wanted is not None else ())
    if mine == ([wanted] if wanted is not None else []):
        return
    before = mine[0] if mine else None
    if wanted is None:
        reason = "domain removed"
    elif not mine:
        reason = "new record"
    elif len(mine) > 1:
        reason = f"{len(mine)} records at this name: senders ignore them all"
    elif resource is Resource.STS_RECORD:
        reason = f"id {_record_id(before)} -> {_record_id(wanted)}"
        if why:
            reason += f": {why}"
    else:
        reason = "report destinations changed"
    d.add(resource, before, wanted, reason, live_values, after_set)
    if resource is Resource.STS_RECORD and wanted is not None:
        if len(mine) > 1:
            d.story.append(reason)
        elif mine:
            d.story.append(
                f"id {_record_id(before)} -> {_record_id(wanted)}" + (f" ({why})" if why else "")
            )
        else:
            d.story.append(f"id {_record_id(wanted)}")
    elif resource is Resource.TLSRPT_RECORD and wanted is not None:
        d.story.append("tlsrpt " + ("created" if not mine else "updated"))


def _diff_removal(
    domain: str, provider: str, have: LiveDomain, now: datetime
) -> tuple[_DomainDiff, str | None]:
    d = _DomainDiff(domain, provider, destructive=True, live=have, retiring=True)
    live_policy = policy_or_none(have.policy_text)
    if have.policy_text is None and not any(is_sts_record(v) for v in have.sts_txt):
        return _retire_unpublished(d, have)
    if live_policy is None or live_policy.mode is not Mode.NONE:
        none_policy = Policy(
            Mode.NONE,
            live_policy.max_age if live_policy else 86_400,
            live_policy.mx if live_policy else (),
        )
        body = none_policy.render()
        d.add(
            Resource.POLICY,
            have.policy_text,
            body,
            "removed from the spec: mode none first (RFC 8461 section 8.3)",
        )
        _diff_txt(
            d, Resource.STS_RECORD, have.sts_txt, _sts_record_for(have, body, now)[0], is_sts_record
        )
        d.story.insert(
            0,
            f"removal step 1 of 2: mode {live_policy.mode if live_policy else '?'} -> none, "
            f"records deleted max_age ({none_policy.max_age}s) after it is published",
        )
        return d, None
    wanted_id, _ = _sts_record_for(have, have.policy_text or "", now)
    sts_values = [v for v in have.sts_txt if is_sts_record(v)]
    if sts_values != [wanted_id]:
        _diff_txt(d, Resource.STS_RECORD, have.sts_txt, wanted_id, is_sts_record)
        d.story.insert(0, "removal step 1 of 2: the id now names the mode none policy")
        return d, None
    published = have.policy_published_at or now
    expires = published + timedelta(seconds=live_policy.max_age)
    if now < expires:
        return d, (
            f"{domain}: removal waits until {expires.isoformat(timespec='seconds')} "
            f"(mode none published {published.isoformat(timespec='seconds')}, "
            f"max_age {live_policy.max_age}s)"
        )
    reason = f"removal: mode none served since {published.isoformat(timespec='seconds')}"
    _diff_txt(d, Resource.STS_RECORD, have.sts_txt, None, is_sts_record)
    d.changes = [replace(c, reason=reason) for c in d.changes]
    d.add(Resource.POLICY, have.policy_text, None, reason)
    if have.endpoint is not None:
        d.add_endpoint(have.endpoint, None, reason)
    d.story = [
        "removal step 2 of 2: _mta-sts record, policy"
        + (" and endpoint" if have.endpoint is not None else "")
        + " deleted"
    ]
    return d, _tlsrpt_kept_note(have)


def _tlsrpt_kept_note(have: LiveDomain) -> str | None:
    """The note a removal leaves when a TLS-RPT record stays (it may serve DANE too)."""
    if not any(is_tlsrpt_record(v) for v in have.tlsrpt_txt):
        return None
    return (
        f"{have.domain}: the _smtp._tls record is left as it is (TLS reporting may serve more "
        "than MTA-STS); delete it by hand if it is no longer wanted"
    )


def _retire_unpublished(d: _DomainDiff, have: LiveDomain) -> tuple[_DomainDiff, str | None]:
    """Retire a domain that publishes no policy and no `_mta-sts` record (an apply stopped
    before its policy phase, or only its endpoint or TLS-RPT record is left).

    No sender can hold a policy announced from here, so RFC 8461 section 8.3's mode none
    step protects nobody: publishing one would create the very record and policy the
    removal is for. What is left of mtasts's (the endpoint) goes in one step; the TLS-RPT
    record is kept, as in every removal.
    """
    reason = "removal: no policy and no _mta-sts record are published (nothing to retire)"
    if have.endpoint is not None:
        d.add_endpoint(have.endpoint, None, reason)
    d.story = [
        "removal: nothing published under MTA-STS"
        + (", endpoint deleted" if have.endpoint is not None else "")
    ]
    return d, _tlsrpt_kept_note(have)


def policy_or_none(text: str | None) -> Policy | None:
    """The policy a live body holds, or None for no body or one that does not parse."""
    if text is None:
        return None
    try:
        return parse_policy(text).policy
    except GrammarError:
        return None


def _policy_story(live: Policy | None, want: Policy) -> str:
    if live is None:
        return "live policy is not valid MTA-STS; replaced"
    parts: list[str] = []
    if live.mode != want.mode:
        parts.append(f"mode {live.mode} -> {want.mode}")
    if live.max_age != want.max_age:
        parts.append(f"max_age {live.max_age} -> {want.max_age}")
    added = [p for p in want.mx if p not in live.mx]
    removed = [p for p in live.mx if p not in want.mx]
    if added:
        parts.append("mx + " + ", ".join(added))
    if removed:
        parts.append("mx - " + ", ".join(removed))
    if not parts:
        parts.append("policy text differs (same fields)")
    return ", ".join(parts)


def _record_id(value: str | None) -> str:
    if value is None:
        return "none"
    try:
        return parse_sts_record(value).id
    except GrammarError:
        return "invalid"


def _count(number: int, noun: str) -> str:
    """ "1 domain", "2 domains": the plan's sentences count in English."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def republish_note(want: DesiredDomain, have: LiveDomain | None) -> str | None:
    """One line when a plan re-publishes a live policy whose fields (mode, mx, max_age) it
    keeps: its text is not mtasts's canonical form, or its id is not one mtasts derived.

    Why: after `mtasts import` (or any adoption of a hand-made deployment) the first plan
    changes no field, yet shows a policy update and a new id; the note says that this is
    only the canonical re-publication (RFC 8461 section 3.3: senders refetch the same
    policy once, under the new id).
    """
    if have is None or policy_or_none(have.policy_text) != want.policy:
        return None
    if have.policy_text != want.policy_text:
        return (
            f"{want.domain}: mode, mx and max_age unchanged; the live policy is re-published "
            "in mtasts's canonical form under a new id"
        )
    ids = [_record_id(v) for v in have.sts_txt if is_sts_record(v)]
    if len(ids) == 1 and not id_names_body(ids[0], want.policy_text):
        return (
            f"{want.domain}: the policy is unchanged; its id {ids[0]} is replaced by one "
            "mtasts derives from the policy (senders refetch the same policy once)"
        )
    return None
