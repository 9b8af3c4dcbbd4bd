"""`type: cloudflare` through the real CLI against the fake Cloudflare API.

Every scenario ends with the idempotence check (`plan --detailed-exitcode` exits 0), and
the API-call bounds the issue states are counted on the fake's request log: zones listed
once per run, one DNS batch per zone per phase, one script upload per policy phase.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from cf_fake_state import ACCOUNT_ID
from cf_helpers import (
    add_zones,
    bound_hosts,
    cf_spec,
    domains_spec,
    live_map,
    set_published,
)
from clihelpers import REPO, RUA, run

SCRIPT_PUT = r"^/accounts/\w+/workers/scripts/mtasts$"
BATCH = r"/dns_records/batch$"


def assert_idempotent(spec, api=None):
    result = run("plan", "-c", spec, "--detailed-exitcode")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "No changes" in result.stdout
    if api is not None:
        assert api.count("PUT") == 0 and api.count("POST") == 0 and api.count("DELETE") == 0


def apply_ok(spec):
    result = run("apply", "-c", spec, "--auto-approve")
    assert result.exit_code == 0, result.stdout + result.stderr
    return result


def test_apply_from_empty_deploys_everything_with_bounded_calls(cf_api, tmp_path):
    names = [f"d{i}.example" for i in range(6)]
    zones = add_zones(cf_api, *names)
    spec = cf_spec(tmp_path, domains_spec(names))

    planned = run("plan", "-c", spec, "--detailed-exitcode")
    assert planned.exit_code == 2, planned.stderr
    assert "Plan: 24 to add, 0 to change, 0 to destroy." in planned.stdout
    assert cf_api.count("GET", r"^/zones$") == 1
    assert cf_api.count(None, r"dns_records") == len(names)  # one listing of each zone

    cf_api.calls.clear()
    apply_ok(spec)
    assert cf_api.count("GET", r"^/zones$") == 1, "zones are listed once per run"
    assert cf_api.count("POST", BATCH) == len(zones), "one batch per zone in the TXT phase"
    assert cf_api.count("POST", r"/dns_records$") == 0, "records go through the batch endpoint"
    # phase 0 creates the script before binding domains, phase 1 uploads all policies once
    assert cf_api.count("PUT", SCRIPT_PUT) == 2
    assert cf_api.count("PUT", r"/workers/domains$") == len(names)
    # the script is live before any STS record points at it
    order = [c.path for c in cf_api.calls if c.method in ("PUT", "POST")]
    last_upload = max(i for i, p in enumerate(order) if p.endswith("/workers/scripts/mtasts"))
    first_batch = min(i for i, p in enumerate(order) if p.endswith("/batch"))
    assert last_upload < first_batch

    policies = live_map(cf_api)
    assert sorted(policies) == [f"mta-sts.{n}" for n in names]
    for name in names:
        body = policies[f"mta-sts.{name}"].body
        assert body == f"version: STSv1\r\nmode: testing\r\nmx: mx.{name}\r\nmax_age: 86400\r\n"
        (sts,) = cf_api.state.txt_values(f"_mta-sts.{name}")
        assert sts.startswith("v=STSv1; id=")
        assert cf_api.state.txt_values(f"_smtp._tls.{name}") == [f"v=TLSRPTv1; rua={RUA}"]
    assert bound_hosts(cf_api) == {f"mta-sts.{n}": "mtasts" for n in names}

    cf_api.calls.clear()
    assert_idempotent(spec, cf_api)
    assert cf_api.count("GET", r"^/zones$") == 1


def test_foreign_records_at_the_same_names_and_elsewhere_are_preserved(cf_api, tmp_path):
    zone = add_zones(cf_api, "example.com")["example.com"]
    state = cf_api.state
    keep = {
        state.add_record(zone, "TXT", "_mta-sts.example.com", "google-site-verification=xyz"),
        state.add_record(zone, "TXT", "_smtp._tls.example.com", '"some other value"'),
        state.add_record(zone, "TXT", "_dmarc.example.com", "v=DMARC1; p=none"),
        state.add_record(zone, "TXT", "example.com", "v=spf1 -all"),
        state.add_record(zone, "A", "www.example.com", "192.0.2.1"),
    }
    stale = state.add_record(zone, "TXT", "_mta-sts.example.com", "v=STSv1; id=old")
    twin = state.add_record(zone, "TXT", "_mta-sts.example.com", "v=STSv1; id=older")
    spec = cf_spec(tmp_path, domains_spec(["example.com"]))

    apply_ok(spec)

    ids = {r["id"] for r in state.all_records()}
    assert keep <= ids, "foreign records keep their ids"
    assert stale in ids and twin not in ids, "one stale STS record is patched, the twin deleted"
    sts = state.txt_values("_mta-sts.example.com")
    assert "google-site-verification=xyz" in sts
    assert [v for v in sts if v.startswith("v=STSv1")] != ["v=STSv1; id=old"]
    assert len([v for v in sts if v.startswith("v=STSv1")]) == 1
    assert state.txt_values("_smtp._tls.example.com") == [
        "some other value",
        f"v=TLSRPTv1; rua={RUA}",
    ]
    assert_idempotent(spec)


def test_mode_change_uploads_once_and_changes_only_that_domain(cf_api, tmp_path):
    add_zones(cf_api, "a.example", "b.example")
    spec = cf_spec(tmp_path, domains_spec(["a.example", "b.example"]))
    apply_ok(spec)
    before = live_map(cf_api)
    old_sts = cf_api.state.txt_values("_mta-sts.a.example")

    spec = cf_spec(
        tmp_path,
        {
            "a.example": {"mx": ["mx.a.example"], "mode": "enforce", "max_age": 1209600},
            "b.example": {"mx": ["mx.b.example"]},
        },
    )
    planned = run("plan", "-c", spec, "--format", "json")
    changes = json.loads(planned.stdout)["changes"]
    assert {(c["domain"], c["resource"]) for c in changes} == {
        ("a.example", "policy"),
        ("a.example", "sts_record"),
    }
    text = run("plan", "-c", spec).stdout
    assert "mode testing -> enforce" in text

    cf_api.calls.clear()
    apply_ok(spec)
    assert cf_api.count("PUT", SCRIPT_PUT) == 1
    assert cf_api.count("POST", BATCH) == 1
    after = live_map(cf_api)
    assert "mode: enforce" in after["mta-sts.a.example"].body
    assert after["mta-sts.b.example"] == before["mta-sts.b.example"], "carried over untouched"
    assert cf_api.state.txt_values("_mta-sts.a.example") != old_sts
    assert_idempotent(spec)


def test_removal_follows_rfc8461_section_8_3(cf_api, tmp_path):
    zone = add_zones(cf_api, "keep.example", "gone.example")["gone.example"]
    cf_api.state.add_record(zone, "TXT", "_mta-sts.gone.example", "foreign=1")
    spec = cf_spec(tmp_path, domains_spec(["keep.example", "gone.example"]))
    apply_ok(spec)

    spec = cf_spec(tmp_path, domains_spec(["keep.example"]))
    step1 = apply_ok(spec)
    assert "removal step 1 of 2" in step1.stdout
    policies = live_map(cf_api)
    assert "mode: none" in policies["mta-sts.gone.example"].body
    assert "mta-sts.gone.example" in bound_hosts(cf_api), "still served while caches expire"

    waiting = run("plan", "-c", spec, "--detailed-exitcode")
    assert waiting.exit_code == 0, waiting.stdout
    assert "removal waits until" in waiting.stdout + waiting.stderr

    set_published(cf_api, "mta-sts.gone.example", datetime.now(UTC) - timedelta(days=2))
    step2 = apply_ok(spec)
    assert "removal step 2 of 2" in step2.stdout
    assert "mta-sts.gone.example" not in live_map(cf_api)
    assert "mta-sts.gone.example" not in bound_hosts(cf_api)
    assert cf_api.state.txt_values("_mta-sts.gone.example") == ["foreign=1"]
    assert cf_api.state.txt_values("_smtp._tls.gone.example") == [f"v=TLSRPTv1; rua={RUA}"]
    assert "mta-sts.keep.example" in live_map(cf_api)
    assert_idempotent(spec)


def test_rate_limited_api_is_survived(cf_api, tmp_path, monkeypatch):
    names = [f"r{i}.example" for i in range(4)]
    add_zones(cf_api, *names)
    spec = cf_spec(tmp_path, domains_spec(names))
    cf_api.inject("POST", BATCH, 429, times=2, retry_after=1)
    cf_api.inject("PUT", r"/workers/domains$", 503, times=2)
    cf_api.inject("GET", r"^/zones$", 429, times=1, retry_after=1)

    apply_ok(spec)

    assert sum(1 for f in cf_api.faults if f.times == 0) == 3, "every injected fault was met"
    assert len(live_map(cf_api)) == len(names)
    assert_idempotent(spec)


def test_client_side_limiter_keeps_under_the_server_limit(cf_api, tmp_path, monkeypatch):
    names = [f"l{i}.example" for i in range(3)]
    add_zones(cf_api, *names)
    spec = cf_spec(tmp_path, domains_spec(names), read_mx=False)
    cf_api.rate_limit(limit=12, window=1.0, retry_after=1)
    monkeypatch.setenv("MTASTS_CLOUDFLARE_RATE_LIMIT", "8/1")

    apply_ok(spec)
    assert cf_api.throttled == 0, "the client-side limiter kept every request under the limit"
    # in this process the next run shares the token's pacer; a run in another process (or a
    # second tool on the account) has its own, and the server may throttle its first
    # requests: 429s are retried, the plan completes either way
    assert_idempotent(spec)
    assert len(live_map(cf_api)) == len(names)


def test_a_failure_half_way_converges_on_the_next_apply(cf_api, tmp_path):
    names = ["f1.example", "f2.example", "f3.example"]
    add_zones(cf_api, *names)
    spec = cf_spec(tmp_path, domains_spec(names))
    cf_api.inject("POST", BATCH, 400, times=1)

    failed = run("apply", "-c", spec, "--auto-approve")
    assert failed.exit_code == 1
    (line,) = failed.stderr.strip().splitlines()
    assert "apply stopped in phase 'TXT records'" in line and "cf:" in line
    assert len(live_map(cf_api)) == 3, "policies were live before the TXT phase"

    planned = run("plan", "-c", spec, "--format", "json")
    left = json.loads(planned.stdout)["changes"]
    assert left and all(c["resource"] in ("sts_record", "tlsrpt_record") for c in left)
    apply_ok(spec)
    assert_idempotent(spec)


def test_a_bad_or_missing_token_is_one_line(cf_api, tmp_path, monkeypatch):
    add_zones(cf_api, "example.com")
    spec = cf_spec(tmp_path, domains_spec(["example.com"]))
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "wrong-secret-token")
    bad = run("plan", "-c", spec)
    assert bad.exit_code == 1
    (line,) = bad.stderr.strip().splitlines()
    assert "401" in line and "CLOUDFLARE_API_TOKEN" in line and "cf:" in line
    assert "wrong-secret-token" not in bad.stdout + bad.stderr

    monkeypatch.delenv("CLOUDFLARE_API_TOKEN")
    missing = run("plan", "-c", spec)
    assert missing.exit_code == 1
    assert "CLOUDFLARE_API_TOKEN is not set" in missing.stderr
    assert run("validate", "-c", spec).exit_code == 0, "validate needs no token"


def test_a_foreign_worker_of_the_same_name_is_never_overwritten(cf_api, tmp_path):
    add_zones(cf_api, "example.com")
    cf_api.state.put_script(
        "mtasts",
        {"main_module": "index.js", "compatibility_date": "2024-01-01"},
        {"index.js": ("application/javascript+module", b"export default {}")},
    )
    spec = cf_spec(tmp_path, domains_spec(["example.com"]))
    result = run("apply", "-c", spec, "--auto-approve")
    assert result.exit_code == 1
    assert "was not written by mtasts" in result.stderr
    assert cf_api.count("PUT") == 0


def test_saved_plan_holds_no_token_and_applies(cf_api, tmp_path):
    add_zones(cf_api, "example.com")
    spec = cf_spec(tmp_path, domains_spec(["example.com"]), worker="mail-policies")
    plan_file = tmp_path / "plan.json"
    assert run("plan", "-c", spec, "--out", plan_file).exit_code == 0
    saved = plan_file.read_text()
    assert "test-token" not in saved
    assert json.loads(saved)["providers"]["cf"]["settings"]["account_id"] == ACCOUNT_ID
    result = run("apply", "--auto-approve", plan_file)
    assert result.exit_code == 0, result.stderr
    assert "mail-policies" in cf_api.state.scripts
    assert bound_hosts(cf_api) == {"mta-sts.example.com": "mail-policies"}
    assert_idempotent(spec)


def test_a_host_bound_to_another_worker_is_repointed_in_the_plan(cf_api, tmp_path):
    zone = add_zones(cf_api, "example.com")["example.com"]
    cf_api.state.put_script(
        "other",
        {"main_module": "a.mjs", "compatibility_date": "2024-01-01"},
        {"a.mjs": ("application/javascript+module", b"export default {}")},
    )
    cf_api.state.put_domain(
        {"hostname": "mta-sts.example.com", "service": "other", "zone_id": zone}
    )
    spec = cf_spec(tmp_path, domains_spec(["example.com"]))
    text = run("plan", "-c", spec).stdout
    assert "worker mta-sts.example.com: script other -> mtasts" in text
    apply_ok(spec)
    assert bound_hosts(cf_api) == {"mta-sts.example.com": "mtasts"}
    assert_idempotent(spec)


def test_subdomains_share_their_zone_and_its_batch(cf_api, tmp_path):
    add_zones(cf_api, "example.com", "deep.example.com")
    names = ["example.com", "a.example.com", "b.example.com", "x.deep.example.com"]
    spec = cf_spec(tmp_path, domains_spec(names))
    apply_ok(spec)
    assert cf_api.count("POST", BATCH) == 2
    zones = {d["hostname"]: d["zone_name"] for d in cf_api.state.domains.values()}
    assert zones["mta-sts.x.deep.example.com"] == "deep.example.com"
    assert zones["mta-sts.b.example.com"] == "example.com"
    assert_idempotent(spec)


def test_a_domain_without_a_zone_is_a_clear_error(cf_api, tmp_path):
    add_zones(cf_api, "example.com")
    spec = cf_spec(tmp_path, domains_spec(["example.org"]))
    result = run("plan", "-c", spec)
    assert result.exit_code == 1
    assert "example.org: no zone of Cloudflare account" in result.stderr


def test_mx_outside_the_policy_warns_before_enforce(cf_api, tmp_path):
    add_zones(cf_api, "example.com")
    spec = cf_spec(
        tmp_path,
        {"example.com": {"mx": ["other.example.net"], "mode": "enforce", "max_age": 1209600}},
    )
    result = run("plan", "-c", spec)
    assert "enforce would block mail to mx.example.com" in result.stdout + result.stderr


def test_the_example_spec_plans_and_applies(cf_api, tmp_path):
    spec = tmp_path / "cloudflare.yaml"
    spec.write_text((REPO / "examples" / "cloudflare.yaml").read_text())
    assert run("validate", "-c", spec).exit_code == 0
    # The live MX hosts are the ones the example names: its enforce domain then blocks no
    # mail (an uncovered MX would be refused at apply as blocks-mail).
    zones = add_zones(cf_api, "example.com", "example.org", mx=False)
    for host in ("mx1.example.com", "mx2.example.com"):
        cf_api.state.add_record(zones["example.com"], "MX", "example.com", host, priority=10)
    cf_api.state.add_record(zones["example.org"], "MX", "example.org", "aspmx.l.google.com")
    planned = run("plan", "-c", spec, "--detailed-exitcode")
    assert planned.exit_code == 2, planned.stderr
    assert "Plan: 12 to add" in planned.stdout
    apply_ok(spec)
    assert sorted(live_map(cf_api)) == [
        "mta-sts.example.com",
        "mta-sts.example.org",
        "mta-sts.shop.example.org",
    ]
    assert_idempotent(spec)
