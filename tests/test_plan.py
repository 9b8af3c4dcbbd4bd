"""The diff engine on its own: desired + live + a clock in, an ordered plan out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from provisioner.plan import Action, Change, Plan, diff
from provisioner.rfc8461 import Mode, Policy, policy_id, render_sts_record
from provisioner.state import DesiredDomain, Endpoint, LiveDomain, Resource

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
RUA = "v=TLSRPTv1; rua=mailto:tlsrpt@example.net"


def desired(
    domain: str = "example.com",
    mode: Mode = Mode.TESTING,
    max_age: int = 86400,
    mx: tuple[str, ...] = ("mx1.example.com",),
    tlsrpt: str | None = RUA,
    endpoint: Endpoint | None = None,
) -> DesiredDomain:
    policy = Policy(mode, max_age, mx)
    return DesiredDomain(
        domain=domain,
        provider="local",
        policy=policy,
        policy_text=policy.render(),
        tlsrpt_record=tlsrpt,
        endpoint=endpoint,
    )


def cdn(domain: str, certificate: str = "ISSUED") -> Endpoint:
    return Endpoint(
        f"mta-sts.{domain}", "cdn", (("certificate", certificate), ("route", "present"))
    )


def live_from(want: DesiredDomain, **overrides: object) -> LiveDomain:
    """What a provider would report after `want` was applied."""
    fields: dict[str, object] = {
        "domain": want.domain,
        "policy_text": want.policy_text,
        "policy_published_at": NOW - timedelta(days=1),
        "sts_txt": (sts_for(want),),
        "tlsrpt_txt": (want.tlsrpt_record,) if want.tlsrpt_record else (),
        "endpoint": want.endpoint,
    }
    fields.update(overrides)
    return LiveDomain(**fields)  # type: ignore[arg-type]


def sts_for(want: DesiredDomain, at: datetime = NOW - timedelta(days=1)) -> str:
    """The `_mta-sts` value an apply at `at` would have published for `want`."""
    return render_sts_record(policy_id(want.policy_text, at))


def by_resource(plan: Plan) -> dict[Resource, Change]:
    return {c.resource: c for c in plan.changes}


def test_new_domain_creates_policy_then_records():
    plan = diff({"example.com": desired()}, {}, NOW)
    assert [(c.resource, c.action) for c in plan.changes] == [
        (Resource.POLICY, Action.CREATE),
        (Resource.STS_RECORD, Action.CREATE),
        (Resource.TLSRPT_RECORD, Action.CREATE),
    ]
    assert plan.summary_line() == "Plan: 3 to add, 0 to change, 0 to destroy."
    assert plan.changes[0].reason == "new domain"


def test_applied_state_plans_nothing():
    want = desired()
    plan = diff({"example.com": want}, {"example.com": live_from(want)}, NOW)
    assert not plan.has_changes
    assert plan.unchanged_domains == 1


def test_mode_change_speaks_mta_sts_and_orders_policy_before_id():
    old = desired(mode=Mode.TESTING, max_age=86400)
    new = desired(mode=Mode.ENFORCE, max_age=1209600)
    plan = diff({"example.com": new}, {"example.com": live_from(old)}, NOW)
    assert [c.resource for c in plan.changes] == [Resource.POLICY, Resource.STS_RECORD]
    assert plan.changes[0].phase < plan.changes[1].phase
    story = plan.domains[0].summary
    old_id = policy_id(old.policy_text, NOW - timedelta(days=1))
    new_id = policy_id(new.policy_text, NOW)
    assert story == f"mode testing -> enforce, max_age 86400 -> 1209600, id {old_id} -> {new_id}"
    assert plan.changes[1].before == sts_for(old)
    assert plan.changes[1].after == sts_for(new, NOW)


def test_phases_run_across_domains_endpoint_policy_records():
    wants = {d: desired(domain=d, endpoint=cdn(d)) for d in ("a.example", "b.example")}
    plan = diff(wants, {}, NOW)
    phases = [c.phase for c in plan.changes]
    assert phases == sorted(phases)
    assert [c.resource for c in plan.changes][:2] == [Resource.ENDPOINT, Resource.ENDPOINT]


def test_foreign_txt_values_are_kept_and_duplicate_sts_records_collapse():
    want = desired()
    live = live_from(
        want,
        sts_txt=("google-site-verification=abc", "v=STSv1; id=old1", "v=STSv1; id=old2"),
        tlsrpt_txt=("some other text", want.tlsrpt_record),
    )
    plan = diff({"example.com": want}, {"example.com": live}, NOW)
    sts = by_resource(plan)[Resource.STS_RECORD]
    assert sts.rrset_after == ("google-site-verification=abc", sts_for(want, NOW))
    assert sts.reason == "2 records at this name: senders ignore them all"
    assert Resource.TLSRPT_RECORD not in by_resource(plan)


def test_no_tlsrpt_in_spec_leaves_the_live_record_alone():
    want = desired(tlsrpt=None)
    live = live_from(want, tlsrpt_txt=("v=TLSRPTv1; rua=mailto:someone@example.org",))
    plan = diff({"example.com": want}, {"example.com": live}, NOW)
    assert not plan.has_changes


def test_invalid_live_policy_is_replaced_and_says_so():
    want = desired()
    live = live_from(want, policy_text="<html>hello</html>")
    plan = diff({"example.com": want}, {"example.com": live}, NOW)
    assert by_resource(plan)[Resource.POLICY].reason == (
        "live policy is not valid MTA-STS; replaced"
    )


def test_a_missing_policy_beside_live_records_is_published_and_said_plainly():
    """A first apply that stopped before its policy phase left records, no policy: the
    plan does not call a missing policy 'not valid MTA-STS'."""
    want = desired()
    live = live_from(want, policy_text=None, policy_published_at=None, endpoint=cdn("example.com"))
    plan = diff({"example.com": want}, {"example.com": live}, NOW)
    assert by_resource(plan)[Resource.POLICY].reason == "no policy published yet"


def test_enforce_warns_about_live_mx_hosts_the_patterns_miss():
    want = desired(mode=Mode.ENFORCE, max_age=1209600, mx=("*.mail.example.com",))
    live = LiveDomain("example.com", mx_hosts=("a.mail.example.com", "b.c.mail.example.com"))
    plan = diff({"example.com": want}, {"example.com": live}, NOW)
    assert plan.warnings == (
        "example.com: enforce would block mail to b.c.mail.example.com: no mx pattern covers it",
    )


def test_removal_first_publishes_mode_none_with_same_mx_and_max_age():
    old = desired(mode=Mode.ENFORCE, max_age=1209600)
    plan = diff({}, {"example.com": live_from(old)}, NOW, removals={"example.com": "local"})
    changes = by_resource(plan)
    none_policy = Policy(Mode.NONE, 1209600, ("mx1.example.com",))
    assert changes[Resource.POLICY].after == none_policy.render()
    assert changes[Resource.STS_RECORD].after == render_sts_record(
        policy_id(none_policy.render(), NOW)
    )
    assert Resource.TLSRPT_RECORD not in changes
    assert plan.domains[0].destructive


def test_removal_waits_max_age_after_mode_none_was_published():
    none = desired(mode=Mode.NONE, max_age=86400)
    published = NOW - timedelta(hours=1)
    live = live_from(none, policy_published_at=published)
    plan = diff({}, {"example.com": live}, NOW, removals={"example.com": "local"})
    assert not plan.has_changes
    assert plan.notes == (
        "example.com: removal waits until 2026-11-29T11:00:00+00:00 (mode none published "
        "2026-11-28T11:00:00+00:00, max_age 86400s)",
    )


def test_removal_deletes_only_mtasts_values_once_max_age_has_passed():
    none = desired(mode=Mode.NONE, max_age=86400)
    live = live_from(
        none,
        policy_published_at=NOW - timedelta(seconds=86400),
        sts_txt=("keep me", sts_for(none)),
        endpoint=cdn("example.com"),
    )
    plan = diff({}, {"example.com": live}, NOW, removals={"example.com": "local"})
    changes = by_resource(plan)
    assert {c.action for c in plan.changes} == {Action.DELETE}
    assert changes[Resource.STS_RECORD].rrset_after == ("keep me",)
    assert Resource.TLSRPT_RECORD not in changes, "TLS reporting may serve DANE too: kept"
    assert plan.notes == (
        "example.com: the _smtp._tls record is left as it is (TLS reporting may serve more "
        "than MTA-STS); delete it by hand if it is no longer wanted",
    )
    order = [c.resource for c in plan.changes]
    assert order.index(Resource.STS_RECORD) < order.index(Resource.POLICY)
    assert order.index(Resource.POLICY) < order.index(Resource.ENDPOINT)


def test_removal_with_a_stale_id_first_points_the_id_at_the_none_policy():
    none = desired(mode=Mode.NONE, max_age=86400)
    live = live_from(none, sts_txt=("v=STSv1; id=older",))
    plan = diff({}, {"example.com": live}, NOW, removals={"example.com": "local"})
    assert [c.resource for c in plan.changes] == [Resource.STS_RECORD]
    assert plan.changes[0].after == sts_for(none, NOW)


def test_removal_of_a_domain_that_publishes_no_policy_and_no_id_creates_neither():
    """Only an endpoint and a TLS-RPT record are left (an apply stopped before its policy
    phase): no sender holds a policy from here, so no mode none policy and no new
    _mta-sts record are published to be deleted again later."""
    old = desired()
    live = live_from(old, policy_text=None, sts_txt=(), endpoint=cdn("example.com"))
    plan = diff({}, {"example.com": live}, NOW, removals={"example.com": "local"})

    assert [(c.resource, c.action) for c in plan.changes] == [(Resource.ENDPOINT, Action.DELETE)]
    assert plan.domains[0].summary == "removal: nothing published under MTA-STS, endpoint deleted"
    assert plan.domains[0].step == 2
    assert plan.notes == (
        "example.com: the _smtp._tls record is left as it is (TLS reporting may serve more "
        "than MTA-STS); delete it by hand if it is no longer wanted",
    )


def test_removal_of_a_garbage_policy_still_goes_through_mode_none():
    """A body that does not parse may have replaced a valid policy a sender still caches:
    the RFC 8461 section 8.3 path stays."""
    live = live_from(desired(), policy_text="<html>oops</html>", sts_txt=())
    plan = diff({}, {"example.com": live}, NOW, removals={"example.com": "local"})

    changes = by_resource(plan)
    assert "mode: none" in (changes[Resource.POLICY].after or "")
    assert changes[Resource.STS_RECORD].action is Action.CREATE


def test_domain_back_in_the_spec_during_the_wait_gets_its_policy_back():
    want = desired(mode=Mode.ENFORCE, max_age=1209600)
    none = desired(mode=Mode.NONE, max_age=1209600)
    plan = diff({"example.com": want}, {"example.com": live_from(none)}, NOW)
    assert by_resource(plan)[Resource.POLICY].after == want.policy_text
    assert not plan.domains[0].destructive


@pytest.mark.parametrize(
    ("managed", "destructive", "unsafe"),
    [(10, 3, False), (10, 4, True), (3, 1, False), (2, 2, True), (100, 30, False)],
)
def test_unsafe_threshold(managed: int, destructive: int, unsafe: bool):
    wants, lives, removals = {}, {}, {}
    for i in range(managed):
        name = f"d{i}.example"
        old = desired(domain=name, mode=Mode.ENFORCE, max_age=1209600)
        lives[name] = live_from(old)
        if i < destructive:
            removals[name] = "local"
        else:
            wants[name] = old
    plan = diff(wants, lives, NOW, removals=removals)
    assert plan.managed_domains == managed
    assert plan.unsafe is unsafe


def test_downgrade_counts_as_destructive():
    old = desired(mode=Mode.ENFORCE, max_age=1209600)
    new = desired(mode=Mode.TESTING, max_age=1209600)
    plan = diff({"example.com": new}, {"example.com": live_from(old)}, NOW)
    assert plan.destructive_domains == ("example.com",)


def test_plan_json_round_trips():
    plan = diff({"example.com": desired()}, {}, NOW, warnings=["example.com: no tlsrpt"])
    data = plan.to_json()
    assert data["format_version"] == 1
    assert data["summary"] == {
        "create": 3,
        "update": 0,
        "delete": 0,
        "unchanged_domains": 0,
        "risk": {"blocks-mail": 0, "downgrade": 0, "retire": 0, "enforce": 0, "routine": 1},
        "text": "Plan: 3 to add, 0 to change, 0 to destroy. 1 routine; 0 blocking mail",
    }
    assert set(data["changes"][0]) == {
        "domain",
        "provider",
        "resource",
        "action",
        "before",
        "after",
        "reason",
    }
    assert Plan.from_json(data).changes == plan.changes


def test_unchanged_policy_under_its_own_id_keeps_the_id():
    want = desired()
    plan = diff({"example.com": want}, {"example.com": live_from(want)}, NOW)
    assert not plan.has_changes


def test_id_of_an_earlier_release_names_its_body_and_is_kept():
    """Ids minted before the publication time was added (20 hex) do not churn on upgrade."""
    import hashlib

    want = desired()
    legacy = hashlib.sha256(want.policy_text.encode()).hexdigest()[:20]
    live = live_from(want, sts_txt=(render_sts_record(legacy),))
    assert not diff({"example.com": want}, {"example.com": live}, NOW).has_changes


def test_crash_between_policy_and_id_moves_the_id_and_says_why():
    """The old id announces the new body after a stopped apply: the next plan moves it."""
    old = desired(mode=Mode.TESTING)
    new = desired(mode=Mode.ENFORCE, max_age=1209600)
    crashed = live_from(new, sts_txt=(sts_for(old),))
    plan = diff({"example.com": new}, {"example.com": crashed}, NOW)
    assert [c.resource for c in plan.changes] == [Resource.STS_RECORD]
    sts = plan.changes[0]
    assert sts.after == sts_for(new, NOW)
    assert "does not announce the policy being served" in sts.reason


def test_reverting_after_a_crash_mints_an_id_never_seen_before():
    """Back to the old body: its old id may sit in caches beside the NEW body, so it moves."""
    old = desired(mode=Mode.TESTING)
    new = desired(mode=Mode.ENFORCE, max_age=1209600)
    crashed = live_from(new, sts_txt=(sts_for(old),))
    plan = diff({"example.com": old}, {"example.com": crashed}, NOW)
    changes = by_resource(plan)
    assert changes[Resource.POLICY].after == old.policy_text
    assert changes[Resource.STS_RECORD].before == sts_for(old)
    assert changes[Resource.STS_RECORD].after == sts_for(old, NOW)
    assert sts_for(old, NOW) != sts_for(old)


def test_foreign_id_over_the_right_body_moves_once():
    want = desired()
    live = live_from(want, sts_txt=("v=STSv1; id=handmade2024",))
    plan = diff({"example.com": want}, {"example.com": live}, NOW)
    assert [c.after for c in plan.changes] == [sts_for(want, NOW)]
    again = live_from(want, sts_txt=(sts_for(want, NOW),))
    assert not diff({"example.com": want}, {"example.com": again}, NOW).has_changes


def test_a_revert_within_the_same_second_still_mints_an_unseen_id():
    old = desired(mode=Mode.TESTING)
    new = desired(mode=Mode.ENFORCE, max_age=1209600)
    crashed = live_from(new, sts_txt=(sts_for(old, NOW),))
    plan = diff({"example.com": old}, {"example.com": crashed}, NOW)
    after = by_resource(plan)[Resource.STS_RECORD].after
    assert after == sts_for(old, NOW + timedelta(seconds=1))
