"""What a sender sees of a gcp deployment: postfix-mta-sts-resolver, the real MTA-STS client,
resolves the TXT records mtasts wrote to Cloud DNS and fetches the policy served from the GCS
object (gcp_world.GcpWorld.serve_in answers as the load balancer's URL map does), before and
after a mode change."""

# ruff: noqa: F811 (the `gcp` fixture is imported from gcp_world, then requested by name)
from __future__ import annotations

import ssl
import urllib.request

from gcp_world import GcpWorld, gcp, gcp_endpoint_servers, gcp_full  # noqa: F401
from harness import MtaStsWorld
from test_gcp_provider import ENFORCE, apply, assert_idempotent


def test_the_real_client_accepts_the_policy_served_from_the_object(
    gcp: GcpWorld, mta_sts_world: MtaStsWorld
):
    zone = gcp.zone("example.com", mx=["mx1.mail.example.com"])
    spec = gcp.spec({"example.com": {"mx": ["*.mail.example.com"]}})
    apply(spec)
    gcp.serve_in(mta_sts_world, zone, "example.com")
    before = mta_sts_world.resolve_with_postfix_client("example.com")
    assert (before.status, before.mode) == ("VALID", "testing"), before.log
    [sts] = gcp.txt(zone, "_mta-sts.example.com")
    assert sts == f"v=STSv1; id={before.policy_id}"
    [request] = [r for r in mta_sts_world.https_requests if r.host == "mta-sts.example.com"]
    assert request.path == "/.well-known/mta-sts.txt"

    spec = gcp.spec({"example.com": {"mx": ["*.mail.example.com"], **ENFORCE}})
    apply(spec)
    assert_idempotent(spec)
    gcp.serve_in(mta_sts_world, zone, "example.com")
    after = mta_sts_world.resolve_with_postfix_client("example.com", before.policy_id)
    assert (after.status, after.mode) == ("VALID", "enforce"), after.log
    assert after.policy_id != before.policy_id
    assert after.policy["mx"] == ["*.mail.example.com"]


def test_the_served_bytes_are_the_object_with_its_media_type(
    gcp: GcpWorld, mta_sts_world: MtaStsWorld
):
    zone = gcp.zone("example.org", mx=["mx1.example.org"])
    apply(gcp.spec({"example.org": {"mx": ["mx1.example.org"]}}))
    gcp.serve_in(mta_sts_world, zone, "example.org")
    stored = gcp.policy("example.org")
    target = mta_sts_world.client_target
    context = ssl.create_default_context(cafile=str(target.ca_file))
    handler = urllib.request.ProxyHandler({"https": target.proxy_url})
    opener = urllib.request.build_opener(handler, urllib.request.HTTPSHandler(context=context))
    with opener.open("https://mta-sts.example.org/.well-known/mta-sts.txt", timeout=10) as got:
        assert got.status == 200
        assert got.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert got.read().decode() == stored["body"]


def test_served_through_the_real_load_balancer_and_accepted(
    gcp_full: GcpWorld, mta_sts_world: MtaStsWorld
):
    world = gcp_full
    zone = world.zone("example.net", mx=["in.mail.example.net"])
    spec = world.spec({"example.net": {"mx": ["*.mail.example.net"], **ENFORCE}})
    apply(spec)
    assert_idempotent(spec)
    world.serve_through_load_balancer(mta_sts_world, zone, "example.net")
    seen = mta_sts_world.resolve_with_postfix_client("example.net")
    assert (seen.status, seen.mode) == ("VALID", "enforce"), seen.log
    assert gcp_full.txt(zone, "_mta-sts.example.net") == [f"v=STSv1; id={seen.policy_id}"]
    route = world.compute.resolve(
        "mta-sts.example.net",
        "/",
        project="mtasts-test",
        ip=world.rrdatas(zone, "mta-sts.example.net", "A")[0],
    )
    # only the policy path is served: any other path maps to no object (a 404)
    assert route.object_key is None or (
        world.gcs.client().bucket(route.bucket).get_blob(route.object_key) is None
    )
