"""The `_mta-sts` id never announces the wrong policy: after a failed apply (issue 14.3), or
when two applies interleave (issue 14.2).

Reproduced on Cloudflare: a mode change whose TXT phase gets HTTP 500 (on every retry)
leaves the NEW policy served under the OLD id. Ids are `policy_id(body, published_at)`, so
the next plan sees that the live id does not name the live body and moves it, saying why;
and reverting the spec afterwards moves the id again, to a value never seen before (a bare
content hash would plan the old id, already live, and change nothing).
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from cf_fake_state import ACCOUNT_ID
from cf_helpers import add_zones, cf_spec, domains_spec, live_map
from clihelpers import run

from providers.cloudflare.client import MAX_RETRIES
from provisioner.apply import guard_ids
from provisioner.errors import ProviderError
from provisioner.plan import Action, Change
from provisioner.provider import NoProgress
from provisioner.registry import build_provider
from provisioner.rfc8461 import id_names_body, policy_id
from provisioner.state import Resource

BATCH = r"/dns_records/batch$"
HOST = "mta-sts.example.com"
STS = "_mta-sts.example.com"


def live_id(api) -> str:
    (value,) = [v for v in api.state.txt_values("_mta-sts.example.com") if v.startswith("v=STSv1")]
    return value.removeprefix("v=STSv1; id=")


def at(minutes: int) -> dict[str, str]:
    """The run's clock (MTASTS_NOW), `minutes` after the test began, so each run mints its
    ids at a distinct second."""
    when = START + timedelta(minutes=minutes)
    return {"MTASTS_NOW": when.isoformat().replace("+00:00", "Z")}


START = datetime.now(UTC).replace(microsecond=0)


def apply_ok(spec, minutes: int) -> None:
    result = run("apply", "-c", spec, "--auto-approve", env=at(minutes))
    assert result.exit_code == 0, result.stdout + result.stderr


def test_a_failed_txt_phase_moves_the_id_next_time_and_a_revert_gets_a_new_one(cf_api, tmp_path):
    add_zones(cf_api, "example.com")
    testing = cf_spec(tmp_path, domains_spec(["example.com"]))
    apply_ok(testing, 0)
    old_body = live_map(cf_api)[HOST].body
    old_id = live_id(cf_api)
    assert id_names_body(old_id, old_body)
    seen = {old_id}

    enforce = cf_spec(
        tmp_path / "enforce",
        {"example.com": {"mx": ["mx.example.com"], "mode": "enforce", "max_age": 1209600}},
    )
    cf_api.inject("POST", BATCH, 500, times=MAX_RETRIES + 1, retry_after=0.01)
    failed = run("apply", "-c", enforce, "--auto-approve", env=at(1))
    assert failed.exit_code == 1
    (line,) = failed.stderr.strip().splitlines()
    assert "apply stopped in phase 'TXT records'" in line and "HTTP 500" in line
    new_body = live_map(cf_api)[HOST].body
    assert "mode: enforce" in new_body
    assert live_id(cf_api) == old_id, "the reproduction: the OLD id announces the NEW body"
    assert not id_names_body(old_id, new_body)

    planned = run("plan", "-c", enforce, "--format", "json", env=at(2))
    assert planned.exit_code == 0, planned.stderr
    (change,) = json.loads(planned.stdout)["changes"]
    assert (change["resource"], change["action"]) == ("sts_record", "update")
    assert change["before"] == f"v=STSv1; id={old_id}"
    moved = change["after"].removeprefix("v=STSv1; id=")
    assert id_names_body(moved, new_body) and moved not in seen
    assert f"id {old_id} -> {moved}" in change["reason"]
    assert "does not announce the policy being served" in change["reason"]

    apply_ok(enforce, 2)
    assert live_id(cf_api) == moved
    seen.add(moved)
    again = run("plan", "-c", enforce, "--detailed-exitcode", env=at(3))
    assert again.exit_code == 0, again.stdout

    reverted = run("plan", "-c", testing, "--format", "json", env=at(4))
    changes = {c["resource"]: c for c in json.loads(reverted.stdout)["changes"]}
    assert set(changes) == {"policy", "sts_record"}
    assert changes["policy"]["after"] == old_body
    apply_ok(testing, 4)
    back = live_id(cf_api)
    assert live_map(cf_api)[HOST].body == old_body
    assert id_names_body(back, old_body)
    assert back not in seen, "a revert never reuses an id a sender may hold another body under"
    final = run("plan", "-c", testing, "--detailed-exitcode", env=at(5))
    assert final.exit_code == 0, final.stdout


def test_a_concurrent_apply_is_caught_before_any_id_moves(cf_api, tmp_path):
    """Run A uploads its policy, run B uploads another for the same host, then A's TXT
    phase would announce A's policy while B's is served. The core's id guard re-reads the
    provider before the TXT phase; on Cloudflare that read fetches the script again (one
    call), so A stops with nothing written."""
    add_zones(cf_api, "example.com", mx=False)
    body_a = "version: STSv1\r\nmode: testing\r\nmx: mx.example.com\r\nmax_age: 86400\r\n"
    body_b = body_a.replace("testing", "enforce")
    run_a = build_provider("cf", "cloudflare", {"account_id": ACCOUNT_ID}, tmp_path)
    run_b = build_provider("cf", "cloudflare", {"account_id": ACCOUNT_ID}, tmp_path)
    assert run_a.managed_domains() == set() and run_b.managed_domains() == set()
    run_a.read(["example.com"], NoProgress())
    run_b.read(["example.com"], NoProgress())
    policy = Change("example.com", "cf", Resource.POLICY, Action.CREATE, None, body_a, "")
    run_a.apply([policy], NoProgress())
    run_b.apply([replace(policy, after=body_b)], NoProgress())

    when = datetime.now(UTC)
    sts = f"v=STSv1; id={policy_id(body_a, when)}"
    record = Change(
        "example.com", "cf", Resource.STS_RECORD, Action.CREATE, None, sts, "", (), (sts,)
    )
    cf_api.calls.clear()
    with pytest.raises(ProviderError) as caught:
        guard_ids([record], {"cf": run_a})
    assert "example.com is not the one its new id announces" in str(caught.value)
    assert len(cf_api.calls) == 1, "the guard's read costs one fetch of the script"
    assert cf_api.count("GET", r"/workers/scripts/mtasts/content/v2$") == 1
    assert cf_api.state.txt_values(STS) == []

    sts_b = f"v=STSv1; id={policy_id(body_b, when)}"
    guard_ids([replace(record, after=sts_b, rrset_after=(sts_b,))], {"cf": run_b})
