"""After a TXT phase that failed, the id never keeps announcing the wrong policy (issue 14.3).

An apply that publishes a new policy and then fails in the TXT phase (Route53 answering HTTP
500 to every try) leaves the OLD id announcing the NEW body. Ids are now minted from the body
and the time (`policy_id(body, published_at)`), and a live id that does not name the live
body (`id_names_body`) is moved by the next plan, which says why. A revert to the earlier
policy also mints an id never published before, so no sender can hold another body under it.
"""

from __future__ import annotations

import json

import pytest
from aws_faults import FaultProxy
from aws_world import AwsWorld
from clihelpers import run

from provisioner.rfc8461 import id_names_body

MX = {"mx": ["*.mail.example.net"]}
ENFORCE = {**MX, "mode": "enforce", "max_age": 1209600}


def sts_id(aws: AwsWorld) -> str:
    [value] = [v for v in aws.txt("_mta-sts.example.net") if v.startswith("v=STSv1")]
    return value.split("id=", 1)[1]


def apply(spec) -> None:
    result = run("apply", "-c", spec, "--auto-approve")
    assert result.exit_code == 0, result.stdout + result.stderr


def sts_change(spec) -> dict:
    plan = run("plan", "-c", spec, "--format", "json")
    assert plan.exit_code == 0, plan.stderr
    changes = json.loads(plan.stdout)["changes"]
    [change] = [c for c in changes if c["resource"] == "sts_record"]
    return change


def test_a_failed_txt_phase_is_repaired_and_a_revert_mints_a_new_id(
    aws: AwsWorld, fault_proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch
):
    aws.create_zone("example.net", mx=["in.mail.example.net"])
    testing = aws.spec({"example.net": MX})
    apply(testing)
    first = sts_id(aws)
    testing_body = aws.policy("example.net")["body"]
    assert id_names_body(first, testing_body)

    # the TXT phase: every ChangeResourceRecordSets answered 500 (two tries, not twelve,
    # so the test is quick; retrying 5xx is tested in test_aws_errors)
    monkeypatch.setattr("providers.aws.session.TOTAL_MAX_ATTEMPTS", 2)
    fault_proxy.server_error(
        "route53", every=1, limit=100, status=500, method="POST", path="/rrset"
    )
    enforce = aws.spec({"example.net": ENFORCE})
    failed = run("apply", "-c", enforce, "--auto-approve")
    assert failed.exit_code == 1, failed.stdout + failed.stderr
    [line] = failed.stderr.strip().splitlines()
    assert "example.net" in line and "InternalError" in line, line
    enforce_body = aws.policy("example.net")["body"]
    assert "mode: enforce" in enforce_body
    assert sts_id(aws) == first, "the old id is live..."
    assert not id_names_body(first, enforce_body), "...announcing a body it does not name"

    fault_proxy.rules.clear()
    change = sts_change(enforce)
    assert change["before"] == f"v=STSv1; id={first}"
    assert "does not announce the policy being served" in change["reason"], change
    text = run("plan", "-c", enforce)
    assert f"id {first} -> " in text.stdout, text.stdout  # (the text story omits the why)
    apply(enforce)
    second = sts_id(aws)
    assert second != first and id_names_body(second, enforce_body)
    assert run("plan", "-c", enforce, "--detailed-exitcode").exit_code == 0

    testing = aws.spec({"example.net": MX})  # the same file: write the old spec back
    change = sts_change(testing)
    assert change["before"] == f"v=STSv1; id={second}"
    apply(testing)
    third = sts_id(aws)
    assert aws.policy("example.net")["body"] == testing_body
    assert third not in (first, second), "a revert never reuses an id"
    assert id_names_body(third, testing_body)
    assert run("plan", "-c", testing, "--detailed-exitcode").exit_code == 0


def test_a_revert_straight_after_the_failure_still_moves_the_id(
    aws: AwsWorld, fault_proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch
):
    """The issue's case: the live id names the old body, which the revert publishes again."""
    aws.create_zone("example.net", mx=["in.mail.example.net"])
    apply(aws.spec({"example.net": MX}))
    first = sts_id(aws)
    testing_body = aws.policy("example.net")["body"]

    monkeypatch.setattr("providers.aws.session.TOTAL_MAX_ATTEMPTS", 2)
    fault_proxy.server_error(
        "route53", every=1, limit=100, status=500, method="POST", path="/rrset"
    )
    failed = run("apply", "-c", aws.spec({"example.net": ENFORCE}), "--auto-approve")
    assert failed.exit_code == 1, failed.stdout + failed.stderr
    fault_proxy.rules.clear()

    testing = aws.spec({"example.net": MX})
    change = sts_change(testing)
    assert change["before"] == f"v=STSv1; id={first}"
    assert change["after"] != change["before"], "senders may hold the enforce body under it"
    apply(testing)
    reverted = sts_id(aws)
    assert reverted != first and id_names_body(reverted, testing_body)
    assert aws.policy("example.net")["body"] == testing_body
    assert run("plan", "-c", testing, "--detailed-exitcode").exit_code == 0
