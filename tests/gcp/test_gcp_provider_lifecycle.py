"""The gcp provider through a domain's life: refused beside a delegation, removed after
max_age (RFC 8461 section 8.3, the clock moved with MTASTS_NOW), and a saved plan refused
once the project moved under it."""

# ruff: noqa: F811 (the `gcp` fixture is imported from gcp_world, then requested by name)
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from clihelpers import run
from gcp_world import LB_V4, GcpWorld, gcp, gcp_endpoint_servers, gcp_full  # noqa: F401
from test_gcp_provider import apply, assert_idempotent, plan


def test_a_delegated_mta_sts_cname_is_refused_at_plan_with_nothing_written(gcp: GcpWorld):
    zone = gcp.zone("example.com", mx=["mx1.example.com"])
    gcp.dns.state.add_rrset(
        zone, "_mta-sts.example.com.", "CNAME", ["_mta-sts.hosted.example.net."]
    )
    gcp.dns.calls.clear()
    spec = gcp.spec({"example.com": {"mx": ["mx1.example.com"]}})
    for command in (("plan",), ("apply", "--auto-approve")):
        result = run(*command, "-c", spec)
        assert result.exit_code == 1
        [line] = result.stderr.strip().splitlines()
        assert "_mta-sts.example.com is a CNAME to _mta-sts.hosted.example.net" in line
        assert "delegated" in line
    assert gcp.dns.count(kind="changes.create") == 0
    assert gcp.gcs.count("POST") == 0
    assert gcp.policy("example.com") is None
    assert gcp.lb.hosts == set()


def test_a_foreign_address_at_the_policy_host_is_refused(gcp: GcpWorld):
    zone = gcp.zone("example.com", mx=["mx1.example.com"])
    gcp.dns.state.add_rrset(zone, "mta-sts.example.com.", "A", ["198.51.100.9"])
    spec = gcp.spec({"example.com": {"mx": ["mx1.example.com"]}})
    result = run("plan", "-c", spec)
    assert result.exit_code == 1
    assert "mta-sts.example.com is an A (198.51.100.9)" in result.stderr
    assert gcp.dns.count(kind="changes.create") == 0


def test_a_foreign_record_at_the_authorization_name_is_refused_never_replaced(
    gcp_full: GcpWorld,
):
    """`_acme-challenge.mta-sts.<d>` holding somebody else's record (an ACME DNS-01
    delegation here): the plan stops naming it, nothing is created or written. Before, the
    apply created the Certificate Manager pieces and replaced the CNAME with its own."""
    world = gcp_full
    zone = world.zone("example.com", mx=["mx1.example.com"])
    name = "_acme-challenge.mta-sts.example.com"
    world.dns.state.add_rrset(zone, name + ".", "CNAME", ["x1.auth.acme-dns.example.net."])
    world.dns.calls.clear()
    spec = world.spec({"example.com": {"mx": ["mx1.example.com"]}})
    for command in (("plan",), ("apply", "--auto-approve")):
        result = run(*command, "-c", spec)
        assert result.exit_code == 1, result.stdout + result.stderr
        [line] = result.stderr.strip().splitlines()
        assert f"{name} is a CNAME to x1.auth.acme-dns.example.net" in line
    assert world.dns.count(kind="changes.create") == 0
    assert world.rrdatas(zone, name, "CNAME") == ["x1.auth.acme-dns.example.net."]
    assert world.certs.names("dnsAuthorizations") == []
    assert world.policy("example.com") is None


def test_a_domain_delegated_away_from_its_zone_is_refused(gcp: GcpWorld):
    """The project has example.com's zone, which delegates sub.example.com elsewhere by NS:
    records written there would never be served (below a zone cut). Before, the apply
    wrote them and reported success; now the plan stops in one line naming the NS."""
    zone = gcp.zone("example.com", mx=["mx1.example.com"])
    gcp.dns.state.add_rrset(zone, "sub.example.com.", "NS", ["ns1.other-dns.example.net."])
    gcp.dns.calls.clear()
    spec = gcp.spec({"sub.example.com": {"mx": ["mx1.example.com"]}})
    for command in (("plan",), ("apply", "--auto-approve")):
        result = run(*command, "-c", spec)
        assert result.exit_code == 1, result.stdout + result.stderr
        [line] = result.stderr.strip().splitlines()
        assert "gcp: sub.example.com: sub.example.com is delegated by NS in managed zone" in line
        assert "ns1.other-dns.example.net" in line
    assert gcp.dns.count(kind="changes.create") == 0
    assert gcp.policy("sub.example.com") is None


def test_removal_waits_max_age_then_deletes_only_what_mtasts_wrote(gcp: GcpWorld):
    zone = gcp.zone("example.com", mx=["mx1.example.com"])
    gcp.zone("example.org", mx=["mx1.example.org"])
    gcp.dns.state.add_rrset(zone, "_mta-sts.example.com.", "TXT", ['"keep me"'], ttl=900)
    both = {
        "example.com": {"mx": ["mx1.example.com"]},
        "example.org": {"mx": ["mx1.example.org"]},
    }
    apply(gcp.spec(both))
    spec = gcp.spec({"example.org": both["example.org"]})
    apply(spec)
    assert "mode: none" in gcp.policy("example.com")["body"]
    waiting = run("plan", "-c", spec)
    assert "removal waits until" in waiting.stdout
    assert gcp.policy("example.com") is not None

    later = {"MTASTS_NOW": (datetime.now(UTC) + timedelta(days=2)).isoformat()}
    result = run("apply", "-c", spec, "--auto-approve", env=later)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert gcp.policy("example.com") is None
    assert gcp.rrdatas(zone, "_mta-sts.example.com") == ['"keep me"']
    assert gcp.rrset(zone, "_mta-sts.example.com.", "TXT")["ttl"] == 900
    assert gcp.txt(zone, "_smtp._tls.example.com")  # TLS reporting is left as it is
    assert gcp.rrset(zone, "mta-sts.example.com.", "A") is None
    assert gcp.rrset(zone, "mta-sts.example.com.", "AAAA") is None
    assert gcp.lb.hosts == {"mta-sts.example.org"}
    assert gcp.policy("example.org") is not None
    assert run("plan", "-c", spec, "--detailed-exitcode", env=later).exit_code == 0


def test_a_saved_plan_is_refused_once_the_project_moved(gcp: GcpWorld, tmp_path):
    gcp.zone("example.com", mx=["mx1.example.com"])
    spec = gcp.spec({"example.com": {"mx": ["mx1.example.com"]}})
    apply(spec)
    spec = gcp.spec({"example.com": {"mx": ["mx1.example.com"], "mode": "enforce"}})
    saved = tmp_path / "plan.json"
    assert run("plan", "-c", spec, "--out", saved).exit_code in (0, 2)
    # someone else edits the policy object between plan and apply
    blob = (
        gcp.gcs.client()
        .bucket("mtasts-test-policies")
        .blob("mta-sts.example.com/.well-known/mta-sts.txt")
    )
    blob.upload_from_string(b"version: STSv1\r\nmode: none\r\nmax_age: 60\r\n")
    gcp.dns.calls.clear()
    result = run("apply", "--auto-approve", saved)
    assert result.exit_code == 1
    assert "example.com" in result.stderr
    assert "Traceback" not in result.stderr
    assert gcp.dns.count(kind="changes.create") == 0
    assert "mode: none" in gcp.policy("example.com")["body"]


def test_a_saved_plan_applies_in_a_fresh_process_as_planned(gcp: GcpWorld, tmp_path):
    zone = gcp.zone("example.com", mx=["mx1.example.com"])
    spec = gcp.spec({"example.com": {"mx": ["mx1.example.com"]}})
    saved = tmp_path / "plan.json"
    assert run("plan", "-c", spec, "--out", saved).exit_code in (0, 2)
    result = run("apply", "--auto-approve", saved)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert gcp.rrdatas(zone, "mta-sts.example.com", "A") == [LB_V4]
    assert_idempotent(spec)
    assert plan(spec)["changes"] == []
