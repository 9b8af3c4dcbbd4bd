"""What the Cloudflare provider sends, prints and waits for (issue 14, items 5 and 7).

- Credentials: exactly `CLOUDFLARE_API_TOKEN` goes out, as a Bearer token, even with the
  Global API Key, the e-mail, a service key and custom auth headers set in the environment
  (the SDK would prefer those); no error message carries a credential, even when the API
  (or a proxy) echoes the request's headers.
- Waiting: every request has connect and read timeouts and the run a deadline, from the
  validated knobs every provider shares (`MTASTS_CONNECT_TIMEOUT`, `MTASTS_READ_TIMEOUT`,
  `MTASTS_DEADLINE`); an API that accepts and never answers ends the run in seconds with
  the provider and the call named. Tested against a loopback server that never answers.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import cloudflare
import httpx
import pytest
from cf_fake_state import ACCOUNT_ID, TOKEN
from cf_helpers import SilentServer, add_zones, cf_spec, domains_spec
from clihelpers import run

from providers.cloudflare.client import api_errors, scrub
from providers.cloudflare.gate import RequestGate
from provisioner.deadline import Deadline, DeadlinePassed
from provisioner.errors import ProviderError
from provisioner.knobs import Rate
from provisioner.pacing import Pacer
from provisioner.provider import NoProgress
from provisioner.registry import build_provider

GLOBAL_KEY = "global-api-key-SENTINEL-0001"
EMAIL = "owner-SENTINEL@example.com"
SERVICE_KEY = "v1.0-service-key-SENTINEL-0002"
SCRIPT_CONTENT = rf"^/accounts/{ACCOUNT_ID}/workers/scripts/mtasts/content/v2$"


@pytest.fixture
def every_credential(cf_api, monkeypatch):
    """The documented token plus everything else the SDK would read (and prefer)."""
    monkeypatch.setenv("CLOUDFLARE_API_KEY", GLOBAL_KEY)
    monkeypatch.setenv("CLOUDFLARE_EMAIL", EMAIL)
    monkeypatch.setenv("CLOUDFLARE_API_USER_SERVICE_KEY", SERVICE_KEY)
    monkeypatch.setenv(
        "CLOUDFLARE_CUSTOM_HEADERS", f"X-Auth-Key: {GLOBAL_KEY}\nX-Trace: kept-header"
    )
    return cf_api


@pytest.fixture
def silent(cf_api, monkeypatch) -> Iterator[SilentServer]:
    server = SilentServer()
    monkeypatch.setenv("CLOUDFLARE_BASE_URL", server.base_url)
    try:
        yield server
    finally:
        server.close()


def one_line(result) -> str:
    """The only line on stderr, without the CLI's `error: ` prefix."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0].removeprefix("error: ")


# Credentials


def test_only_the_documented_token_is_sent_with_every_credential_set(every_credential, tmp_path):
    add_zones(every_credential, "example.com")
    spec = cf_spec(tmp_path, domains_spec(["example.com"]))
    result = run("apply", "-c", spec, "--auto-approve")
    assert result.exit_code == 0, result.stderr
    calls = every_credential.calls
    assert calls
    for call in calls:
        assert call.headers["authorization"] == f"Bearer {TOKEN}", call.path
        for header in ("x-auth-key", "x-auth-email", "x-auth-user-service-key"):
            assert header not in call.headers, (header, call.path)
        assert call.headers.get("x-trace") == "kept-header", "other custom headers still go"
    sent = " ".join(str(c.headers) for c in calls)
    assert GLOBAL_KEY not in sent and EMAIL not in sent and SERVICE_KEY not in sent


def test_an_error_that_echoes_the_headers_prints_no_credential(every_credential, tmp_path):
    add_zones(every_credential, "example.com")
    spec = cf_spec(tmp_path, domains_spec(["example.com"]))
    every_credential.inject("GET", r"^/zones$", 400, echo_headers=True)
    result = run("plan", "-c", spec)
    assert result.exit_code == 1
    line = one_line(result)
    assert "cf: listing the zones" in line and "HTTP 400" in line
    for secret in (TOKEN, GLOBAL_KEY, EMAIL, SERVICE_KEY):
        assert secret not in result.stdout + result.stderr


def test_the_provider_error_itself_holds_no_token(every_credential, tmp_path):
    """Not only the CLI's output: the ProviderError the provider raises is already clean."""
    add_zones(every_credential, "example.com")
    provider = build_provider("cf", "cloudflare", {"account_id": ACCOUNT_ID}, tmp_path)
    every_credential.inject("GET", r"^/zones$", 403, echo_headers=True)
    with pytest.raises(ProviderError) as caught:
        provider.read(["example.com"], NoProgress())
    message = str(caught.value)
    assert "lacks a permission" in message and "Bearer ***" in message
    assert TOKEN not in message and "\n" not in message


def test_a_token_with_a_line_end_inside_is_refused_without_showing_it(
    cf_api, tmp_path, monkeypatch
):
    add_zones(cf_api, "example.com")
    spec = cf_spec(tmp_path, domains_spec(["example.com"]))
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "secret-part-one\r\nsecret-part-two")
    result = run("plan", "-c", spec)
    assert result.exit_code == 1
    line = one_line(result)
    assert "CLOUDFLARE_API_TOKEN holds spaces or control characters" in line
    assert "secret-part" not in result.stdout + result.stderr
    assert cf_api.calls == [], "nothing was sent"


def test_scrub_masks_values_and_auth_headers():
    env = {"CLOUDFLARE_API_TOKEN": "tok-123456", "CLOUDFLARE_API_KEY": "key-abcdef"}
    text = "tok-123456 key-abcdef Authorization: Bearer other-token X-Auth-Email: a@b.example"
    assert scrub(text, env) == "*** *** Authorization: Bearer *** X-Auth-Email: ***"


# Timeouts and the run deadline: the knobs every provider shares


def test_an_api_that_never_answers_fails_in_seconds_naming_the_call(silent, tmp_path, monkeypatch):
    spec = cf_spec(tmp_path, domains_spec(["example.com"]))
    monkeypatch.setenv("MTASTS_READ_TIMEOUT", "0.5")
    started = time.monotonic()
    result = run("plan", "-c", spec)
    elapsed = time.monotonic() - started
    assert result.exit_code == 1
    line = one_line(result)
    assert line.startswith("cf: reading Worker script 'mtasts': Cloudflare API GET ")
    assert "/workers/scripts/mtasts/content/v2: no answer within 0.5 s, twice" in line
    assert line.endswith("(MTASTS_READ_TIMEOUT sets the wait)")
    assert silent.accepted == 2, "one try and one retry, not the SDK's nine"
    assert elapsed < 10, f"bounded by the timeout, took {elapsed:.1f} s"


def test_a_connection_that_never_opens_names_the_connect_timeout():
    request = httpx.Request(
        "GET",
        "http://127.0.0.1:9/client/v4/zones",
        extensions={"timeout": {"connect": 2.0, "read": 60.0, "write": 60.0, "pool": 60.0}},
    )
    with pytest.raises(ProviderError) as caught, api_errors("cf", "listing the zones"):
        cause = httpx.ConnectTimeout("timed out", request=request)
        raise cloudflare.APITimeoutError(request=request) from cause
    assert str(caught.value) == (
        "cf: listing the zones: Cloudflare API GET /zones: no connection within 2 s, twice "
        "(MTASTS_CONNECT_TIMEOUT sets the wait)"
    )


def test_the_run_deadline_stops_retries(silent, tmp_path, monkeypatch):
    spec = cf_spec(tmp_path, domains_spec(["example.com"]))
    # 0.5 s per attempt; the retry's backoff (0.375-0.5 s) would end past the 0.8 s deadline
    monkeypatch.setenv("MTASTS_READ_TIMEOUT", "0.5")
    monkeypatch.setenv("MTASTS_DEADLINE", "0.8")
    result = run("plan", "-c", spec)
    assert result.exit_code == 1
    line = one_line(result)
    assert line.startswith("cf: reading Worker script 'mtasts': Cloudflare API GET ")
    assert "the run's deadline of 0.8 s has passed" in line
    assert line.endswith("(MTASTS_DEADLINE sets it)")
    assert silent.accepted == 1


def test_a_pacing_wait_past_the_deadline_sends_nothing(cf_api, tmp_path, monkeypatch):
    """The shared pacer's wait cannot be cut short (`Pacer.acquire` takes no timeout), so the
    request that waited past the deadline is refused after the wait, before it is sent."""
    add_zones(cf_api, "example.com")
    spec = cf_spec(tmp_path, domains_spec(["example.com"]))
    monkeypatch.setenv("MTASTS_CLOUDFLARE_RATE_LIMIT", "1/2")
    monkeypatch.setenv("MTASTS_DEADLINE", "1")
    started = time.monotonic()
    result = run("plan", "-c", spec)
    assert time.monotonic() - started < 10, "at most one window late"
    assert result.exit_code == 1
    line = one_line(result)
    assert line.startswith("cf: listing the zones of account ")
    assert "Cloudflare API GET /zones: the run's deadline of 1 s has passed" in line
    assert len(cf_api.calls) == 1, "only the first request went"


def test_a_hold_past_the_deadline_fails_at_once_naming_the_call():
    clock = [0.0]
    slept: list[float] = []
    deadline = Deadline(10.0, clock=lambda: clock[0])
    gate = RequestGate(Pacer(Rate(1_000_000, 1.0)), deadline, lambda: clock[0], slept.append)
    gate.admit("GET /zones")
    gate.hold(60.0)  # a 429's Retry-After
    with pytest.raises(DeadlinePassed) as caught:
        gate.admit("GET /zones/z/dns_records")
    assert caught.value.call == "GET /zones/z/dns_records" and slept == []
    assert gate.sent == 1
    clock[0] = 11.0
    deadline.restart()
    assert deadline.remaining() == 10.0


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MTASTS_READ_TIMEOUT", "soon"),
        ("MTASTS_READ_TIMEOUT", "0"),
        ("MTASTS_READ_TIMEOUT", "-5"),
        ("MTASTS_READ_TIMEOUT", "3601"),
        ("MTASTS_CONNECT_TIMEOUT", "601"),
        ("MTASTS_DEADLINE", "30/\x1b[2J"),
        ("MTASTS_WORKERS", "0"),
        ("MTASTS_CLOUDFLARE_RATE_LIMIT", "nonsense"),
        ("MTASTS_CLOUDFLARE_RATE_LIMIT", "600/0"),
        ("MTASTS_CLOUDFLARE_RATE_LIMIT", "-1/300"),
        ("MTASTS_CLOUDFLARE_RATE_LIMIT", "0/1"),
    ],
)
def test_a_bad_setting_is_one_line_and_nothing_is_called(
    cf_api, tmp_path, monkeypatch, variable, value
):
    spec = cf_spec(tmp_path, domains_spec(["example.com"]))
    monkeypatch.setenv(variable, value)
    result = run("plan", "-c", spec)
    assert result.exit_code == 1
    line = one_line(result)
    assert line.startswith(f"cf: {variable}: ")
    assert "\x1b" not in line
    assert cf_api.calls == []


def test_the_retired_timeout_knob_is_refused_not_ignored(cf_api, tmp_path, monkeypatch):
    spec = cf_spec(tmp_path, domains_spec(["example.com"]))
    monkeypatch.setenv("MTASTS_CLOUDFLARE_TIMEOUT", "30/3600")
    result = run("plan", "-c", spec)
    assert result.exit_code == 1
    assert one_line(result) == (
        "cf: MTASTS_CLOUDFLARE_TIMEOUT is no longer read: set MTASTS_CONNECT_TIMEOUT, "
        "MTASTS_READ_TIMEOUT and MTASTS_DEADLINE instead (docs/cloudflare.md)"
    )
    assert cf_api.calls == []


def test_good_settings_are_used(cf_api, tmp_path, monkeypatch):
    monkeypatch.setenv("MTASTS_READ_TIMEOUT", " 12.5 ")
    monkeypatch.setenv("MTASTS_CONNECT_TIMEOUT", "3")
    monkeypatch.setenv("MTASTS_DEADLINE", "900")
    monkeypatch.setenv("MTASTS_WORKERS", "4")
    monkeypatch.setenv("MTASTS_CLOUDFLARE_RATE_LIMIT", "1000000/1")
    provider = build_provider("cf", "cloudflare", {"account_id": ACCOUNT_ID}, tmp_path)
    api = provider.api
    deadline = api.gate.deadline
    assert deadline.seconds == 900.0 and 899 < deadline.remaining() <= 900
    assert api.client.timeout.read == 12.5 and api.client.timeout.connect == 3.0
    assert api.gate.pacer.quota == Rate(1_000_000, 1.0), "no limit in practice: for fakes"
    assert api.workers == 4
