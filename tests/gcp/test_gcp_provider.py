"""The gcp provider end to end through the CLI, on the Cloud DNS fake and the GCS emulator
(the endpoint half stubbed: gcp_world.StubEndpoints): apply from empty, idempotence, the
publish order of a mode change, and what must be kept exactly as it was."""

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
    assert gcp.txt(zone, "_smtp._tls.example.com") == [
        "v=TLSRPTv1; rua=mailto:tlsrpt@example.net"
    ]
    assert gcp.rrdatas(zone, "mta-sts.example.com", "A") == [LB_V4]
    assert gcp.rrdatas(zone, "mta-sts.example.com", "AAAA") == [LB_V6]
    assert gcp.lb.hosts == {"mta-sts.example.com"}
    bucket = gcp.gcs.client().get_bucket(BUCKET)
    assert bucket.iam_configuration.uniform_bucket_level_access_enabled
    bindings = bucket.get_iam_policy(requested_policy_version=3).bindings
    assert {"role": "roles/storage.objectViewer", "members": {"allUsers"}} in bindings
    assert_idempotent(spec)
