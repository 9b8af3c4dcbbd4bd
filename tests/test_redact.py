"""Secrets stay secret (issue 14.5): no credential reaches stdout, stderr, a plan file or a log.

The suite-level test sets a sentinel in every variable of `redact.CREDENTIAL_VARIABLES` (and a
Google key file with a sentinel private key), with the CRLF `.env` file's trailing `\\r` on the
tokens, then runs every command on the local provider and on AWS and Cloudflare providers
aimed at a closed loopback port, and greps everything the user can see for the sentinels.
With the `\\r`, botocore refuses the session token header with an exception quoting it: the
error line a user sees must say `***` instead.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import typer
from botocore.exceptions import HTTPClientError
from clihelpers import run, simple_domains, write_spec

from provisioner import cli
from provisioner.errors import ProviderError
from provisioner.redact import (
    CREDENTIAL_FILE_VARIABLES,
    CREDENTIAL_VARIABLES,
    MASK,
    redact,
)

KEY_FILE_SECRET = "SENTINELPRIVATEKEYLINEdGhpcyBpcyBub3QgYSByZWFsIGtleQ"


def sentinel(name: str) -> str:
    """The sentinel value of a credential variable: unique, long, and shaped like a token."""
    if name == "AWS_ACCESS_KEY_ID":
        return "AKIASENTINEL7F3A9C01"
    if name == "CLOUDFLARE_EMAIL":
        return "sentinel-7f3a9c@example.net"
    return f"SENTINEL-{name.lower().replace('_', '-')}-7f3a9c"


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- the scrubber ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", CREDENTIAL_VARIABLES)
def test_every_credential_value_is_scrubbed_in_every_form(name: str) -> None:
    value = sentinel(name)
    env = {name: value + "\r"}
    forms = [value, value + "\r", repr(value + "\r")[1:-1], json.dumps(value + "\r")[1:-1]]
    for form in [*forms, quote(value + "\r", safe="")]:
        text = f"failed: header value b'{form}' was refused"

        assert redact(text, env) == f"failed: header value b'{MASK}' was refused", form


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("Authorization: AWS4-HMAC-SHA256 Credential=AKIA/x, Signature=ab", "Authorization: ***"),
        (
            "{'Authorization': b'AWS4-HMAC-SHA256 Credential=AKIA/x', 'Host': 'h'}",
            "{'Authorization': ***, 'Host': 'h'}",
        ),
        (
            '{"X-Auth-Key": "abc123def", "X-Auth-Email": "a@b.c"}',
            '{"X-Auth-Key": ***, "X-Auth-Email": ***}',
        ),
        ("x-amz-security-token: FQoGZXIvYXdzE", "x-amz-security-token: ***"),
        ("sent Bearer eyJhbGciOiJIUzI1NiJ9.e30.x to /zones", "sent Bearer *** to /zones"),
        (
            "header AWS4-HMAC-SHA256 Credential=AKIAX/2026/s3, Signature=0a1b",
            "header AWS4-HMAC-SHA256 Credential=***, Signature=***",
        ),
        (
            "GET /o?X-Amz-Credential=AKIA%2F1&X-Amz-Security-Token=FQo&x=1",
            "GET /o?X-Amz-Credential=***&X-Amz-Security-Token=***&x=1",
        ),
        ("AWS_SECRET_ACCESS_KEY=abc in .env", "AWS_SECRET_ACCESS_KEY=***"),
        ("aws_session_token = FQoGZXIvYXdz", "aws_session_token = ***"),
    ],
)
def test_credential_fields_are_scrubbed_whatever_their_value(text: str, scrubbed: str) -> None:
    assert redact(text, {}) == scrubbed


def test_messages_without_secrets_are_unchanged() -> None:
    text = (
        "aws: no AWS credentials found (boto3's chain: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
        "AWS_PROFILE and ~/.aws); cf: CLOUDFLARE_API_TOKEN is not set: create an API token"
    )

    assert redact(text, {"CLOUDFLARE_API_KEY": "abc"}) == text


def test_a_short_value_is_not_replaced_everywhere() -> None:
    assert redact("mode testing, max_age 86400", {"CLOUDFLARE_EMAIL": "a"}) == (
        "mode testing, max_age 86400"
    )


def test_secrets_inside_credential_files_are_scrubbed(tmp_path: Path) -> None:
    key = tmp_path / "key.json"
    pem = f"-----BEGIN PRIVATE KEY-----\n{KEY_FILE_SECRET}\n-----END PRIVATE KEY-----\n"
    key.write_text(json.dumps({"type": "service_account", "private_key": pem}))
    shared = tmp_path / "credentials"
    shared.write_text("[default]\naws_secret_access_key = SENTINELSHAREDSECRET0042\n")
    env = {"GOOGLE_APPLICATION_CREDENTIALS": str(key), "AWS_SHARED_CREDENTIALS_FILE": str(shared)}

    text = redact(f"bad key line {KEY_FILE_SECRET}; signing with SENTINELSHAREDSECRET0042", env)

    assert text == "bad key line ***; signing with ***"


# --- the whole CLI --------------------------------------------------------------------------


@pytest.fixture
def sentinels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every credential variable set to its sentinel; returns the strings that must never
    appear anywhere (each value as set and stripped)."""
    secrets = []
    for name in CREDENTIAL_VARIABLES:
        value = sentinel(name)
        monkeypatch.setenv(name, value + "\r")  # as read from a `.env` file with CRLF ends
        secrets.append(value)
    key = tmp_path / "gcp-key.json"
    pem = f"-----BEGIN PRIVATE KEY-----\n{KEY_FILE_SECRET}\n-----END PRIVATE KEY-----\n"
    key.write_text(json.dumps({"type": "service_account", "private_key": pem}))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
    secrets.append(KEY_FILE_SECRET)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    dead = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", dead)
    monkeypatch.setenv("CLOUDFLARE_BASE_URL", f"{dead}/client/v4")
    # One attempt each: a refused connection fails at once instead of after minutes of
    # backoff; what is printed is the same.
    monkeypatch.setattr("providers.aws.session.TOTAL_MAX_ATTEMPTS", 1)
    monkeypatch.setattr("providers.cloudflare.client.MAX_RETRIES", 0)
    yield secrets


def _leaks(secrets: list[str], text: str) -> list[str]:
    return [s for s in secrets if s in text]


def test_no_command_prints_or_writes_a_credential(
    sentinels: list[str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    assert set(CREDENTIAL_FILE_VARIABLES) >= {"GOOGLE_APPLICATION_CREDENTIALS"}
    local = write_spec(tmp_path / "local", simple_domains(["a.example", "b.example"]))
    aws = write_spec(
        tmp_path / "aws",
        simple_domains(["a.example"]),
        defaults={"provider": "aws", "mode": "testing", "max_age": 86400},
        providers={"aws": {"type": "aws", "region": "eu-west-1", "bucket": "mtasts-sentinel"}},
    )
    cloudflare = write_spec(
        tmp_path / "cf",
        simple_domains(["a.example"]),
        defaults={"provider": "cf", "mode": "testing", "max_age": 86400},
        providers={"cf": {"type": "cloudflare", "account_id": "0123456789abcdef" * 2}},
    )
    plan_file = tmp_path / "plan.json"
    dead_dns = f"127.0.0.1:{closed_port()}"
    commands: list[tuple[int, tuple[str | Path, ...]]] = [
        (0, ("validate", "-c", local)),
        (0, ("plan", "-c", local)),
        (0, ("plan", "-c", local, "--format", "markdown")),
        (0, ("plan", "-c", local, "--format", "json", "--out", plan_file)),
        (0, ("apply", "--auto-approve", plan_file)),
        (0, ("apply", "-c", local, "--auto-approve")),
        (0, ("render", "-c", local, "--out", tmp_path / "rendered")),
        (1, ("check", "a.example", "--nameserver", dead_dns, "--timeout", "1")),
    ]
    for spec in (aws, cloudflare):
        commands += [
            (0, ("validate", "-c", spec)),
            (1, ("plan", "-c", spec)),
            (1, ("plan", "-c", spec, "--format", "json", "--out", tmp_path / "failed.json")),
            (1, ("apply", "-c", spec, "--auto-approve")),
        ]

    for code, command in commands:
        result = run(*command)
        shown = "mtasts " + " ".join(map(str, command))
        assert result.exit_code == code, (shown, result.stdout, result.stderr)
        for stream, text in (("stdout", result.stdout), ("stderr", result.stderr)):
            assert not _leaks(sentinels, text), f"{shown}: {stream}: {text}"

    written = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "gcp-key.json"]
    assert plan_file in written
    for path in written:
        assert not _leaks(sentinels, path.read_text(errors="replace")), path
    assert not _leaks(sentinels, caplog.text)


def test_an_sdk_error_quoting_the_crlf_token_is_scrubbed(
    sentinels: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """botocore refuses a session token ending in `\\r` with an exception quoting the header
    value, and mtasts printed that exception on its one-line error."""
    token = os.environ["AWS_SESSION_TOKEN"]
    refused = ValueError(f"Invalid header value {token.encode()!r}")

    with pytest.raises(typer.Exit), cli._errors_as_exit():
        raise HTTPClientError(error=refused)

    assert capsys.readouterr().err == (
        "error: internal error: HTTPClientError: An HTTP Client raised an unhandled exception: "
        "Invalid header value b'***' (set MTASTS_DEBUG=1 for a traceback, and please report it)\n"
    )


def test_a_provider_error_quoting_credentials_is_scrubbed(
    sentinels: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    key = os.environ["CLOUDFLARE_API_KEY"]
    message = (
        f"cf: HTTP 400 for {{'X-Auth-Key': '{key}', 'Authorization': 'Bearer abcdefghijklmnop'}}"
    )

    with pytest.raises(typer.Exit), cli._errors_as_exit():
        raise ProviderError(message)

    assert capsys.readouterr().err == (
        "error: cf: HTTP 400 for {'X-Auth-Key': ***, 'Authorization': ***}\n"
    )
