"""The endpoint is a structured value: the plan says by field what is missing or wrong, and a
saved plan carries the fields (issue 9.6), refusing an older plan's sentence in one line."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from provisioner.plan import Action, Change, Plan, diff
from provisioner.rfc8461 import Mode, Policy
from provisioner.state import MISSING, DesiredDomain, Endpoint, LiveDomain, Resource

NOW = datetime(2026, 1, 1, tzinfo=UTC)
HOST = "mta-sts.example.com"
WANTED = Endpoint(HOST, "gcp-lb", (("certificate", "ACTIVE"), ("host rule", "present")))


def desired(endpoint: Endpoint | None = WANTED) -> DesiredDomain:
    policy = Policy(Mode.TESTING, 86400, ("mx1.example.com",))
    return DesiredDomain("example.com", "p", policy, policy.render(), None, endpoint)


def endpoint_change(live: Endpoint | None) -> Change | None:
    want = desired()
    have = LiveDomain("example.com", policy_text=want.policy_text, endpoint=live)
    plan = diff({"example.com": want}, {"example.com": have}, NOW)
    return next((c for c in plan.changes if c.resource is Resource.ENDPOINT), None)


def test_a_healthy_endpoint_plans_nothing_whatever_the_part_order() -> None:
    shuffled = Endpoint(HOST, "gcp-lb", tuple(reversed(WANTED.parts)))
    assert endpoint_change(WANTED) is None
    assert endpoint_change(shuffled) is None


def test_the_plan_names_each_wrong_or_missing_part() -> None:
    live = Endpoint(HOST, "gcp-lb", (("certificate", "PROVISIONING"),))
    change = endpoint_change(live)
    assert change is not None and change.action is Action.UPDATE
    assert change.reason == "certificate PROVISIONING -> ACTIVE; host rule missing"
    assert change.endpoint_before == live and change.endpoint_after == WANTED


def test_a_missing_endpoint_is_created_and_a_foreign_target_named() -> None:
    created = endpoint_change(None)
    assert created is not None and created.action is Action.CREATE
    assert created.reason == "new endpoint"
    other = Endpoint(HOST, "worker", (("script", "someone-else"),))
    assert WANTED.differences(other) == (
        "target worker -> gcp-lb",
        "certificate missing",
        "host rule missing",
        "script someone-else -> (none)",
    )
    assert WANTED.part("nope") == MISSING


def test_plan_json_carries_the_fields_and_reads_back_the_same_change() -> None:
    live = Endpoint(HOST, "gcp-lb", (("certificate", "FAILED"), ("host rule", "present")))
    change = endpoint_change(live)
    assert change is not None
    data = change.to_json()
    assert data["before"] == {
        "host": HOST,
        "target": "gcp-lb",
        "parts": {"certificate": "FAILED", "host rule": "present"},
    }
    assert data["after"]["parts"] == {"certificate": "ACTIVE", "host rule": "present"}
    again = Change.from_json(json.loads(json.dumps(data)))
    assert again == change


@pytest.mark.parametrize(
    "value",
    [
        "gcp-lb mta-sts.example.com (needs: certificate PROVISIONING)",  # an older plan's text
        {"host": HOST, "target": "gcp-lb"},
        {"host": HOST, "target": "gcp-lb", "parts": ["certificate", "ACTIVE"]},
        {"host": HOST, "target": 7, "parts": {}},
        {"host": HOST, "target": "x", "parts": {"certificate": None}},
        {"host": HOST, "target": "x", "parts": {}, "extra": 1},
    ],
)
def test_a_malformed_endpoint_in_a_plan_is_a_value_error(value: object) -> None:
    data = {
        "domain": "example.com",
        "provider": "p",
        "resource": "endpoint",
        "action": "update",
        "before": value,
        "after": WANTED.to_json(),
    }
    with pytest.raises(ValueError):
        Plan.from_json({"changes": [data]})


def test_the_endpoint_is_in_the_live_fingerprint() -> None:
    a = LiveDomain("example.com", endpoint=WANTED)
    b = LiveDomain("example.com", endpoint=Endpoint(HOST, "gcp-lb", (("certificate", "FAILED"),)))
    assert a.fingerprint() != b.fingerprint()
    assert a.fingerprint() == LiveDomain("example.com", endpoint=WANTED).fingerprint()
