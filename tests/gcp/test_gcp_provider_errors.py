"""The gcp provider when Google says no: every failure is one line naming the provider, the
domain and the call (a quota or a permission by name), transient answers (429, 5xx) are
survived, another writer's change is named as such, and a hung API ends the run within
MTASTS_READ_TIMEOUT."""

# ruff: noqa: F811 (the `gcp` fixture is imported from gcp_world, then requested by name)
from __future__ import annotations

import json
import time

from clihelpers import run
from gcp_world import GcpWorld, gcp  # noqa: F401
from test_gcp_provider import apply, assert_idempotent

DOMAIN = {"example.com": {"mx": ["mx1.example.com"]}}


def one_line_error(result) -> str:
    assert result.exit_code == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: ")
    assert "http://" not in line  # the request URL is noise: the call is named in words
    return str(line)


def test_a_quota_error_is_one_line_naming_the_quota(gcp: GcpWorld):
    gcp.zone("example.com", mx=["mx1.example.com"])
    gcp.dns.inject(
        "POST",
        r"/changes$",
        403,
        reason="quotaExceeded",
        message="Quota exceeded for quota 'rrsetAdditionsPerChange'.",
        times=5,
    )
    line = one_line_error(run("apply", "-c", gcp.spec(DOMAIN), "--auto-approve"))
    assert "gcp: example.com: changing records in managed zone example-com failed" in line
    assert "HTTP 403" in line and "rrsetAdditionsPerChange" in line


def test_a_missing_permission_is_one_line_naming_it(gcp: GcpWorld):
    gcp.zone("example.com", mx=["mx1.example.com"])
    gcp.dns.inject("GET", r"/rrsets$", 403)
    line = one_line_error(run("plan", "-c", gcp.spec(DOMAIN)))
    assert "listing records of managed zone example-com failed: HTTP 403" in line
    assert "dns.resourceRecordSets.list" in line

    gcp.gcs.inject("GET", r"/o$", 403)
    line = one_line_error(run("plan", "-c", gcp.spec(DOMAIN)))
    assert "gcp: listing policies in gs://mtasts-test-policies failed: HTTP 403" in line


def test_429_and_5xx_answers_are_survived(gcp: GcpWorld):
    gcp.zone("example.com", mx=["mx1.example.com"])
    gcp.dns.inject("GET", r"/managedZones$", 429)
    gcp.dns.inject("GET", r"/rrsets$", 503)
    gcp.dns.inject("POST", r"/changes$", 429)
    gcp.dns.inject("POST", r"/changes$", 500)
    gcp.dns.inject("GET", r"/changes/", 502)
    gcp.gcs.inject("GET", r"/o$", 429)
    gcp.gcs.inject("POST", r"/upload/", 503)
    spec = gcp.spec(DOMAIN)
    apply(spec)
    assert gcp.policy("example.com") is not None
    assert gcp.dns.count(kind="changes.create") == 2 + 2  # two phases, two refused tries
    assert_idempotent(spec)


def test_another_writer_is_named_and_nothing_of_the_change_applies(gcp: GcpWorld):
    zone = gcp.zone("example.com", mx=["mx1.example.com"])
    gcp.dns.inject("POST", r"/changes$", 412)
    line = one_line_error(run("apply", "-c", gcp.spec(DOMAIN), "--auto-approve"))
    assert "another writer changed managed zone example-com since mtasts read it" in line
    assert "run 'mtasts plan' again" in line
    assert gcp.rrset(zone, "mta-sts.example.com.", "A") is None
    assert gcp.policy("example.com") is None  # phase 0 failed: nothing later ran


def test_another_writer_of_the_policy_object_is_not_overwritten(gcp: GcpWorld, monkeypatch):
    gcp.zone("example.com", mx=["mx1.example.com"])
    spec = gcp.spec(DOMAIN)
    apply(spec)
    from providers.gcp import storage

    original = storage.PolicyBucket.write

    def racing(self, domain: str, body: str) -> None:
        gcp.gcs.client().bucket("mtasts-test-policies").blob(
            f"mta-sts.{domain}/.well-known/mta-sts.txt"
        ).upload_from_string(b"someone else's")
        original(self, domain, body)

    monkeypatch.setattr(storage.PolicyBucket, "write", racing)
    changed = gcp.spec({"example.com": {"mx": ["mx1.example.com"], "mode": "enforce"}})
    line = one_line_error(run("apply", "-c", changed, "--auto-approve"))
    assert "another writer changed gs://mtasts-test-policies/mta-sts.example.com/" in line
    assert gcp.policy("example.com")["body"] == "someone else's"


def test_a_hung_api_is_bounded_by_the_read_timeout(gcp: GcpWorld):
    gcp.zone("example.com", mx=["mx1.example.com"])
    gcp.dns.hang("GET", r"/rrsets$", hold=30)
    started = time.monotonic()
    result = run("plan", "-c", gcp.spec(DOMAIN), env={"MTASTS_READ_TIMEOUT": "1"})
    assert time.monotonic() - started < 10
    line = one_line_error(result)
    assert "listing records of managed zone example-com failed: no answer in time" in line


def test_a_bad_knob_is_one_line(gcp: GcpWorld):
    gcp.zone("example.com", mx=["mx1.example.com"])
    result = run("plan", "-c", gcp.spec(DOMAIN), env={"MTASTS_GCP_DNS_RATE": "fast"})
    assert "MTASTS_GCP_DNS_RATE" in one_line_error(result)


def test_the_id_guard_sees_a_policy_published_by_another_run(gcp: GcpWorld, monkeypatch):
    zone = gcp.zone("example.com", mx=["mx1.example.com"])
    spec = gcp.spec(DOMAIN)
    apply(spec)
    [old] = gcp.txt(zone, "_mta-sts.example.com")
    from providers.gcp import storage

    original = storage.PolicyBucket.write

    def then_someone_else(self, domain: str, body: str) -> None:
        original(self, domain, body)
        gcp.gcs.client().bucket("mtasts-test-policies").blob(
            f"mta-sts.{domain}/.well-known/mta-sts.txt"
        ).upload_from_string(body.replace("enforce", "testing").encode())

    monkeypatch.setattr(storage.PolicyBucket, "write", then_someone_else)
    changed = gcp.spec({"example.com": {"mx": ["mx1.example.com"], "mode": "enforce"}})
    gcp.dns.calls.clear()
    line = one_line_error(run("apply", "-c", changed, "--auto-approve"))
    assert "apply stopped before the TXT records" in line
    assert gcp.txt(zone, "_mta-sts.example.com") == [old]
    assert gcp.dns.count(kind="changes.create") == 0
    assert gcp.dns.count(kind="resourceRecordSets.list") == 1  # the guard re-lists policies only


def test_a_refused_txt_change_after_an_unpolled_endpoint_change_is_one_line(
    gcp: GcpWorld, monkeypatch
):
    """The endpoint phase's change is sent and not polled there (the TXT change settles it).
    When the TXT change is then refused, the run stops at once with one line: no wait for
    the earlier change, nothing of the TXT change applied, the policy already served."""
    from providers.gcp import clouddns

    zone = gcp.zone("example.com", mx=["mx1.example.com"])
    sends = []
    send = clouddns.CloudDns.send

    def second_refused(self, edits):
        sends.append(1)
        if len(sends) == 2:
            gcp.dns.inject("POST", r"/changes$", 412)
        return send(self, edits)

    monkeypatch.setattr(clouddns.CloudDns, "send", second_refused)
    started = time.monotonic()
    line = one_line_error(run("apply", "-c", gcp.spec(DOMAIN), "--auto-approve"))
    assert time.monotonic() - started < 30
    assert "another writer changed managed zone example-com" in line
    assert gcp.rrset(zone, "mta-sts.example.com.", "A") is not None
    assert gcp.rrset(zone, "_mta-sts.example.com.", "TXT") is None
    assert gcp.policy("example.com") is not None
    assert [c.kind for c in gcp.dns.calls].count("changes.get") == 0
    monkeypatch.setattr(clouddns.CloudDns, "send", send)
    apply(gcp.spec(DOMAIN))  # the next run completes it
    assert gcp.rrset(zone, "_mta-sts.example.com.", "TXT") is not None


FAKE_KEY = "-----BEGIN PRIVATE KEY-----\nc2VrcmV0LWtleS1tYXRlcmlhbA==\n-----END PRIVATE KEY-----\n"


def test_an_unusable_credentials_file_is_named_and_its_key_never_printed(
    gcp: GcpWorld, monkeypatch, tmp_path
):
    """GOOGLE_APPLICATION_CREDENTIALS at a service-account file whose key does not load:
    the line names the variable and the file (it said 'no Google Cloud credentials found'
    of a file that is there), and nothing of the key reaches the output."""
    key = tmp_path / "sa.json"
    account = {
        "type": "service_account",
        "project_id": "mtasts-test",
        "private_key_id": "0123abcd",
        "private_key": FAKE_KEY,
        "client_email": "mtasts@mtasts-test.iam.gserviceaccount.com",
        "token_uri": "http://127.0.0.1:9/token",
    }
    key.write_text(json.dumps(account))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
    gcp.zone("example.com", mx=["mx1.example.com"])
    spec = gcp.spec(DOMAIN, dns_endpoint=None)  # null: Cloud DNS on ADC (no token fetched)
    result = run("plan", "-c", spec)
    line = one_line_error(result)
    assert "GOOGLE_APPLICATION_CREDENTIALS is set but unusable" in line
    assert str(key) in line
    for secret in ("c2VrcmV0", "PRIVATE KEY", "0123abcd"):
        assert secret not in result.stdout + result.stderr


def test_a_429_storm_ends_at_the_run_deadline_in_one_line(gcp: GcpWorld):
    """MTASTS_DEADLINE bounds the run's retries: before, a throttled Cloud DNS was retried
    for MTASTS_GCP_RETRY_TIMEOUT (120 s) past a 3 s deadline."""
    gcp.zone("example.com", mx=["mx1.example.com"])
    gcp.dns.inject(
        "POST",
        r"/changes$",
        429,
        message="Quota exceeded for quota 'ChangesPerMinute'.",
        times=10_000,
    )
    result = run("apply", "-c", gcp.spec(DOMAIN), "--auto-approve", env={"MTASTS_DEADLINE": "3"})
    line = one_line_error(result)
    assert "MTASTS_DEADLINE" in line and "HTTP 429" in line and "ChangesPerMinute" in line
    assert gcp.policy("example.com") is None
