"""The gcp provider end to end through the CLI, on the Cloud DNS fake and the GCS emulator
(the endpoint half stubbed: gcp_world.StubEndpoints): apply from empty, idempotence, the
publish order of a mode change, and what must be kept exactly as it was."""

# ruff: noqa: F811 (the `gcp` fixture is imported from gcp_world, then requested by name)
from __future__ import annotations

import json

from clihelpers import run
from gcp_world import BUCKET, LB_V4, LB_V6, GcpWorld, gcp  # noqa: F401

ENFORCE = {"mode": "enforce", "max_age": 1209600}


def apply(spec, *args: str) -> None:
    result = run("apply", "-c", spec, "--auto-approve", *args)
    assert result.exit_code == 0, result.stdout + result.stderr


def plan(spec, *args: str):
    result = run("plan", "-c", spec, "--format", "json", *args)
    assert result.exit_code == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def assert_idempotent(spec) -> None:
    again = plan(spec)
    assert again["changes"] == [], again["changes"]


def test_apply_from_empty_publishes_everything_and_replans_empty(gcp: GcpWorld):
    zone = gcp.zone("example.com", mx=["mx1.example.com"])
    spec = gcp.spec({"example.com": {"mx": ["mx1.example.com"]}})
    apply(spec)

    stored = gcp.policy("example.com")
    assert stored is not None
    assert stored["body"].startswith("version: STSv1\r\nmode: testing\r\n")
    assert stored["content_type"] == "text/plain; charset=utf-8"
    assert stored["cache_control"] == "max-age=300"
    [sts] = gcp.txt(zone, "_mta-sts.example.com")
    assert sts.startswith("v=STSv1; id=")
    assert gcp.txt(zone, "_smtp._tls.example.com") == ["v=TLSRPTv1; rua=mailto:tlsrpt@example.net"]
    assert gcp.rrdatas(zone, "mta-sts.example.com", "A") == [LB_V4]
    assert gcp.rrdatas(zone, "mta-sts.example.com", "AAAA") == [LB_V6]
    assert gcp.lb.hosts == {"mta-sts.example.com"}
    bucket = gcp.gcs.client().get_bucket(BUCKET)
    assert bucket.iam_configuration.uniform_bucket_level_access_enabled
    bindings = bucket.get_iam_policy(requested_policy_version=3).bindings
    assert {"role": "roles/storage.objectViewer", "members": {"allUsers"}} in bindings
    assert_idempotent(spec)


def test_mode_change_writes_the_object_before_the_id(gcp: GcpWorld, monkeypatch):
    zone = gcp.zone("example.net", mx=["in.mail.example.net"])
    spec = gcp.spec({"example.net": {"mx": ["*.mail.example.net"]}})
    apply(spec)
    [old_id] = gcp.txt(zone, "_mta-sts.example.net")
    before = gcp.policy("example.net")

    log: list[str] = []
    from providers.gcp import clouddns, storage

    write, change = storage.PolicyBucket.write, clouddns.CloudDns.send
    monkeypatch.setattr(
        storage.PolicyBucket, "write", lambda s, d, b: (log.append("object"), write(s, d, b))[1]
    )
    monkeypatch.setattr(
        clouddns.CloudDns, "send", lambda s, e: (log.append("dns"), change(s, list(e)))[1]
    )
    gcp.dns.calls.clear()
    gcp.lb.calls.clear()
    spec = gcp.spec({"example.net": {"mx": ["*.mail.example.net"], **ENFORCE}})
    apply(spec)
    assert log == ["object", "dns"]
    assert "mode: enforce" in gcp.policy("example.net")["body"]
    [new_id] = gcp.txt(zone, "_mta-sts.example.net")
    assert new_id != old_id
    assert gcp.policy("example.net")["generation"] != before["generation"]
    # one change for the zone, polled until done; the endpoint untouched
    assert gcp.dns.count(kind="changes.create") == 1
    assert not [c for c in gcp.lb.calls if c[0] == "converge"]
    assert_idempotent(spec)


def test_foreign_rrdatas_and_other_rrsets_are_kept_byte_for_byte(gcp: GcpWorld):
    zone = gcp.zone("example.com", mx=["mx1.example.com"])
    state = gcp.dns.state
    foreign_sts = ['"v=STSv1; id=old1"', '"foreign \\"quoted\\" value"', '"caf\\195\\169" "x"']
    state.add_rrset(zone, "_mta-sts.example.com.", "TXT", foreign_sts, ttl=3600)
    foreign_rpt = ['"v=TLSRPTv1; rua=mailto:old@example.org"', '"a" "b"']
    state.add_rrset(zone, "_smtp._tls.example.com.", "TXT", foreign_rpt, ttl=120)
    state.add_rrset(zone, "example.com.", "TXT", ['"v=spf1 -all"', '"x;y" "z"'], ttl=86400)
    state.add_rrset(zone, "www.example.com.", "CNAME", ["example.com."], ttl=60)
    state.add_rrset(zone, "mta-sts.example.com.", "TXT", ['"site-verification=1"'], ttl=30)
    others = {
        (r["name"], r["type"]): r
        for r in state.rrsets(zone)
        if r["name"] not in ("_mta-sts.example.com.", "_smtp._tls.example.com.")
    }
    spec = gcp.spec({"example.com": {"mx": ["mx1.example.com"]}})
    apply(spec)

    sts = gcp.rrset(zone, "_mta-sts.example.com.", "TXT")
    assert sts["ttl"] == 3600
    assert sts["rrdatas"][:2] == foreign_sts[1:]
    [ours] = [t for t in sts["rrdatas"] if t not in foreign_sts]
    assert ours.startswith('"v=STSv1; id=')
    rpt = gcp.rrset(zone, "_smtp._tls.example.com.", "TXT")
    assert rpt["ttl"] == 120
    assert rpt["rrdatas"] == ['"a" "b"', '"v=TLSRPTv1; rua=mailto:tlsrpt@example.net"']
    after = {(r["name"], r["type"]): r for r in state.rrsets(zone)}
    for key, rrset in others.items():
        assert after[key] == rrset, key
    new = (
        set(after)
        - set(others)
        - {
            ("_mta-sts.example.com.", "TXT"),
            ("_smtp._tls.example.com.", "TXT"),
        }
    )
    assert new == {("mta-sts.example.com.", "A"), ("mta-sts.example.com.", "AAAA")}
    assert_idempotent(spec)


def test_nested_domains_in_one_zone_cost_one_listing_and_one_change(gcp: GcpWorld):
    zone = gcp.zone("example.com", mx=["mx1.example.com"])
    gcp.dns.state.add_rrset(zone, "mail.example.com.", "MX", ["10 mx1.example.com."])
    domains = {d: {"mx": ["mx1.example.com"]} for d in ("example.com", "mail.example.com")}
    spec = gcp.spec(domains)
    gcp.dns.calls.clear()
    result = run("plan", "-c", spec, "--format", "json")
    assert result.exit_code == 2 or result.exit_code == 0, result.stderr
    assert gcp.dns.count(kind="resourceRecordSets.list") == 1
    assert gcp.dns.count(kind="managedZones.list") == 1
    apply(spec)
    for domain in domains:
        assert gcp.txt(zone, f"_mta-sts.{domain}")
        assert gcp.rrdatas(zone, f"mta-sts.{domain}", "A") == [LB_V4]
    # phase 0 (A/AAAA) and phase 2 (TXT): one change each for the zone
    creates = [c for c in gcp.dns.calls if c.kind == "changes.create"]
    assert len(creates) == 2
    assert len(creates[1].body["additions"]) == 4
    assert_idempotent(spec)


def test_private_zones_never_match_and_pins_win(gcp: GcpWorld):
    gcp.zone("example.com", name="example-com-private", visibility="private")
    spec = gcp.spec({"example.com": {"mx": ["mx1.example.com"]}})
    result = run("plan", "-c", spec)
    assert result.exit_code == 1
    assert "no public Cloud DNS managed zone for example.com" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1

    gcp.zone("example.com", name="outer")
    gcp.zone("sub.example.com", name="inner")
    spec = gcp.spec({"a.sub.example.com": {"mx": ["mx1.example.com"]}})
    apply(spec)
    assert gcp.txt("inner", "_mta-sts.a.sub.example.com")
    spec = gcp.spec(
        {"b.sub.example.com": {"mx": ["mx1.example.com"]}},
        zone_names={"B.Sub.Example.com": "outer"},
    )
    apply(spec)
    assert gcp.txt("outer", "_mta-sts.b.sub.example.com")
    assert not gcp.txt("inner", "_mta-sts.b.sub.example.com")


def test_a_plan_reads_bodies_only_where_the_listing_cannot_vouch_for_them(gcp: GcpWorld):
    import base64

    for domain in ("a.example", "b.example", "c.example"):
        gcp.zone(domain, mx=[f"mx.{domain}"])
    spec = gcp.spec({d: {"mx": [f"mx.{d}"]} for d in ("a.example", "b.example", "c.example")})
    apply(spec)
    bucket = gcp.gcs.client().bucket(BUCKET)
    # a: the same bytes rewritten by hand without the metadata copy: its md5 is the rendered
    # policy's (Provider.read_expecting); b: other bytes, no copy; c: a copy that lies
    same = bucket.blob("mta-sts.a.example/.well-known/mta-sts.txt")
    same.upload_from_string(gcp.policy("a.example")["body"].encode())
    assert not bucket.get_blob("mta-sts.a.example/.well-known/mta-sts.txt").metadata
    bucket.blob("mta-sts.b.example/.well-known/mta-sts.txt").upload_from_string(b"by hand")
    forged = bucket.blob("mta-sts.c.example/.well-known/mta-sts.txt")
    forged.metadata = {"mtasts-policy": base64.b64encode(b"version: STSv1\r\n").decode()}
    forged.upload_from_string(b"edited")
    gcp.gcs.calls.clear()
    shown = plan(spec)
    befores = {c["domain"]: c["before"] for c in shown["changes"] if c["resource"] == "policy"}
    assert befores == {"b.example": "by hand", "c.example": "edited"}
    listings = gcp.gcs.count("GET", r"/o$")
    downloads = len([c for c in gcp.gcs.calls if c.query.get("alt") == "media"])
    assert (listings, downloads) == (1, 2)  # a's body came from the listing alone


def test_dns_project_holds_the_zones_and_project_the_rest(gcp: GcpWorld):
    """Shared-VPC organisations keep DNS in a host project: every Cloud DNS request goes to
    `dns_project`, the bucket stays in `project`; a zone of the same name in `project` is
    never touched."""
    host = "dns-host-project"
    gcp.dns.state.add_zone("example.com", project=host)
    gcp.dns.state.add_rrset(
        "example-com", "example.com", "MX", ["10 mx1.example.com."], project=host
    )
    gcp.zone("example.com")  # a decoy in `project`
    gcp.dns.calls.clear()
    spec = gcp.spec({"example.com": {"mx": ["mx1.example.com"]}}, dns_project=host)
    apply(spec)
    rrset = gcp.dns.state.rrset("example-com", "_mta-sts.example.com.", "TXT", project=host)
    assert rrset is not None
    assert gcp.rrset("example-com", "_mta-sts.example.com.", "TXT") is None
    assert all(c.path.startswith(f"/projects/{host}/") for c in gcp.dns.calls)
    assert gcp.policy("example.com") is not None
    assert_idempotent(spec)


def test_overridden_endpoints_are_called_without_credentials(gcp: GcpWorld, monkeypatch):
    """A client aimed at an emulator or fake (a `*_endpoint` setting) uses anonymous
    credentials, as google-cloud-storage does for its emulator: no token is ever sent to it,
    and no Application Default Credentials are looked up (a broken ADC file is no matter)."""
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/mtasts-test-key.json")
    gcp.zone("example.com", mx=["mx1.example.com"])
    apply(gcp.spec({"example.com": {"mx": ["mx1.example.com"]}}))
    assert gcp.dns.calls
    assert not [c for c in gcp.dns.calls if "authorization" in c.headers]


STRAY = ("a b", "-bad-.example", "bücher.example", "x\nerror: forged", "a" * 300, "example.com.")


def test_stray_keys_in_the_bucket_are_neither_managed_domains_nor_touched(gcp: GcpWorld):
    """Keys of the policy shape around something no spec domain can be (a space, a
    U-label, a forged line, an over-long name): before, the first made the plan treat it as
    a managed domain to remove and stop with 'no public Cloud DNS managed zone for
    -bad-.example'; now the plan has nothing to do and every such object stays."""
    gcp.zone("example.com", mx=["mx1.example.com"])
    spec = gcp.spec({"example.com": {"mx": ["mx1.example.com"]}})
    apply(spec)
    bucket = gcp.gcs.client().bucket(BUCKET)
    keys = {f"mta-sts.{d}/.well-known/mta-sts.txt" for d in STRAY} | {"index.html"}
    for key in keys:
        bucket.blob(key).upload_from_string("theirs", content_type="text/plain")
    assert_idempotent(spec)
    apply(spec)
    assert keys <= {blob.name for blob in bucket.list_blobs()}
