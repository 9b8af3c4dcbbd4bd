"""Secrets never printed, silence never waited on for long, every setting checked (issue 14).

A CRLF `.env` leaves `\\r` in the credentials and botocore's refusal used to quote the whole
session token; a key id without its secret and a refused endpoint were "internal error"; an
endpoint that accepts and never answers kept `plan` silent for twelve minutes. Each is now one
line naming the provider (and the call), within seconds when the timeouts are small.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from aws_world import AwsWorld
from botocore.exceptions import ClientError, HTTPClientError
from clihelpers import run

from providers.aws.errors import describe

TOKEN = "SENTINEL-SESSION-TOKEN-7f3a9c"
SECRET = "SENTINEL-SECRET-KEY-41b2"


def one_line_error(result) -> str:
    assert result.exit_code == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    return lines[0]


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A loopback TCP server that accepts every connection and never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(2)
        for conn in held:
            conn.close()
        listener.close()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_crlf_session_token_is_named_never_shown(aws: AwsWorld, monkeypatch):
    aws.create_zone("example.com")
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN + "\r")
    spec = aws.spec({"example.com": {"mx": ["mx.example.com"]}})
    result = run("plan", "-c", spec)
    line = one_line_error(result)
    assert line == (
        "error: aws: AWS_SESSION_TOKEN holds a control character (a CRLF .env file?); "
        "fix it and run again"
    ), line
    assert TOKEN not in result.stdout + result.stderr


def test_a_crlf_secret_key_is_named_never_shown(aws: AwsWorld, monkeypatch):
    aws.create_zone("example.com")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET + "\r")
    spec = aws.spec({"example.com": {"mx": ["mx.example.com"]}})
    result = run("plan", "-c", spec)
    assert "AWS_SECRET_ACCESS_KEY holds a control character" in one_line_error(result)
    assert SECRET not in result.stdout + result.stderr


def test_error_descriptions_never_quote_headers_or_the_signed_request():
    refused = HTTPClientError(error=ValueError(f"Invalid header value b'{TOKEN}\\r'"))
    assert TOKEN not in describe(refused)
    assert "HTTP client refused" in describe(refused)
    mismatch = ClientError(
        {
            "Error": {
                "Code": "SignatureDoesNotMatch",
                "Message": "The request signature we calculated does not match.\n\nThe "
                f"Canonical String for this request should have been\n'POST\n/\n"
                f"x-amz-security-token:{TOKEN}\n'",
            }
        },
        "ListHostedZones",
    )
    text = describe(mismatch)
    assert text == "SignatureDoesNotMatch: The request signature we calculated does not match."
    assert TOKEN not in text


def test_a_key_id_without_its_secret_is_one_line(aws: AwsWorld, monkeypatch):
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    spec = aws.spec({"example.com": {"mx": ["mx.example.com"]}})
    line = one_line_error(run("plan", "-c", spec))
    assert line == (
        "error: aws: partial AWS credentials: AWS_SECRET_ACCESS_KEY is missing "
        "(credentials from env)"
    ), line


def test_a_refused_endpoint_is_one_line_naming_the_call(aws: AwsWorld, monkeypatch):
    port = _closed_port()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    spec = aws.spec({"example.com": {"mx": ["mx.example.com"]}})
    started = time.monotonic()
    line = one_line_error(run("plan", "-c", spec))
    assert time.monotonic() - started < 30
    assert line.startswith("error: aws: S3 ListObjectsV2: cannot reach "), line
    assert f"http://127.0.0.1:{port}: connection refused (2 tries)" in line, line


def test_an_endpoint_that_never_answers_fails_in_seconds_naming_the_call(
    aws: AwsWorld, monkeypatch, silent_server: str
):
    monkeypatch.setenv("AWS_ENDPOINT_URL", silent_server)
    monkeypatch.setenv("MTASTS_READ_TIMEOUT", "0.5")
    spec = aws.spec({"example.com": {"mx": ["mx.example.com"]}})
    started = time.monotonic()
    line = one_line_error(run("plan", "-c", spec))
    elapsed = time.monotonic() - started
    assert line == (
        "error: aws: S3 ListObjectsV2: no answer within 0.5 s (2 tries; MTASTS_READ_TIMEOUT)"
    ), line
    assert elapsed < 15, elapsed  # 2 tries of 0.5 s plus one backoff, not 12 of 60 s


def test_the_run_deadline_stops_retries(aws: AwsWorld, monkeypatch, silent_server: str):
    monkeypatch.setenv("AWS_ENDPOINT_URL", silent_server)
    monkeypatch.setenv("MTASTS_READ_TIMEOUT", "1.5")
    monkeypatch.setenv("MTASTS_DEADLINE", "1")
    spec = aws.spec({"example.com": {"mx": ["mx.example.com"]}})
    line = one_line_error(run("plan", "-c", spec))
    assert line == (
        "error: aws: S3 ListObjectsV2: the run's deadline of 1 s passed (MTASTS_DEADLINE); "
        "nothing more was sent"
    ), line


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("MTASTS_READ_TIMEOUT", "20s", "'20s' is not a number of seconds"),
        ("MTASTS_CONNECT_TIMEOUT", "0", "0 is outside"),
        ("MTASTS_DEADLINE", "nan", "nan is outside"),
        ("MTASTS_AWS_CERT_TIMEOUT", "soon", "'soon' is not a number of seconds"),
        ("MTASTS_AWS_DEPLOY_TIMEOUT", "-5", "-5 is outside"),
        ("MTASTS_AWS_ROUTE53_RPS", "fast", "'fast' is not a rate"),
        ("MTASTS_AWS_INSYNC_TIMEOUT", "10m", "'10m' is not a number of seconds"),
        ("MTASTS_WORKERS", "0", "0 is outside"),
    ],
)
def test_a_bad_setting_is_one_line_never_a_silent_default(
    aws: AwsWorld, monkeypatch, variable, value, message
):
    aws.create_zone("example.com")
    monkeypatch.setenv(variable, value)
    spec = aws.spec({"example.com": {"mx": ["mx.example.com"]}})
    line = one_line_error(run("plan", "-c", spec))
    assert line.startswith(f"error: aws: {variable}: "), line
    assert message in line, line


def test_a_refused_endpoint_without_retries_is_still_one_line(aws: AwsWorld, monkeypatch):
    """With a single try, botocore's own error reaches the provider's reporting: one line."""
    monkeypatch.setattr("providers.aws.session.TOTAL_MAX_ATTEMPTS", 1)
    port = _closed_port()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    spec = aws.spec({"example.com": {"mx": ["mx.example.com"]}})
    line = one_line_error(run("plan", "-c", spec))
    assert line == (
        "error: aws: listing policies in s3://mtasts-test-policies failed: cannot reach "
        f"http://127.0.0.1:{port}: connection refused"
    ), line


def test_past_the_deadline_a_success_stands_and_a_retry_is_refused():
    from types import SimpleNamespace

    from providers.aws.calls import CallGuard, RunDeadline, Timeouts
    from provisioner.deadline import Deadline

    guard = CallGuard("aws", Timeouts(connect=1.0, read=1.0, deadline=1.0))
    assert isinstance(guard.deadline, Deadline), "the core's deadline, not a copy"
    now = [0.0]
    guard.deadline = Deadline(1.0, clock=lambda: now[0])
    now[0] = 2.0  # a second past it
    event = "needs-retry.route-53.ChangeResourceRecordSets"
    ok = (SimpleNamespace(status_code=200), {})
    assert guard.needs_retry(event, attempts=1, response=ok) is None, "the change is live"
    busy = (SimpleNamespace(status_code=503), {})
    with pytest.raises(RunDeadline, match=r"^aws: Route53 ChangeResourceRecordSets: the run"):
        guard.needs_retry(event, attempts=1, response=busy)
    with pytest.raises(RunDeadline):
        guard.before_call("before-call.s3.GetObject")


def test_route53_is_paced_with_a_jitter_margin_on_the_configured_quota():
    """5 in any 1.1 s at the default quota; a raised quota keeps the same 0.1 s margin."""
    from providers.aws.session import JITTER_MARGIN, pacing
    from provisioner.knobs import Rate

    [(_, _, default)] = pacing(Rate(5, 1.0))["route53"]
    assert default == Rate(5, 1.0 + JITTER_MARGIN) and JITTER_MARGIN == 0.1
    [(_, _, raised)] = pacing(Rate(1200, 300.0))["route53"]
    assert raised == Rate(1200, 300.1)
