"""`mtasts check DOMAIN...` against deployments served on 127.0.0.1 (issue 5).

Every test publishes DNS records in the local authoritative server, serves the policy from
the local HTTPS server (certificates from the world's trustme CA), runs the CLI in-process
with `--nameserver`, `--connect-to` and `--ca-bundle` aimed at them, and asserts what a user
sees: the finding names (`sts_record`, `policy_fetch`, `policy_certificate`,
`policy_syntax`, `max_age`, `mx_coverage`, `sts_id`, `tlsrpt`, `smtp_starttls`, `dns`), the
key words of their messages, the verdict and the exit code.

One test per breakage in ../shared/RFC-NOTES.md ("Common real-world breakages"); a checker
bug is a strict xfail naming it.
"""

from __future__ import annotations

import json
import re
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from clihelpers import run, write_spec
from harness import MtaStsWorld
from harness.https_server import EXPIRING_DAYS
from harness.smtp_server import LocalSmtpServer

from provisioner.render import render_spec
from provisioner.rfc8461 import policy_id
from provisioner.spec import load_spec

POLICY_PATH = "/.well-known/mta-sts.txt"
CHECK_NAMES = {
    "sts_record",
    "policy_fetch",
    "policy_certificate",
    "policy_syntax",
    "max_age",
    "mx_coverage",
    "sts_id",
    "tlsrpt",
    "smtp_starttls",
    "dns",
}
RANK = {"fail": 0, "warn": 1, "pass": 2}


def policy_text(
    mx: tuple[str, ...] | list[str], mode: str = "enforce", max_age: int = 1_209_600
) -> str:
    lines = ["version: STSv1", f"mode: {mode}", *(f"mx: {m}" for m in mx), f"max_age: {max_age}"]
    return "".join(line + "\r\n" for line in lines)


def deploy_good(
    world: MtaStsWorld,
    domain: str,
    *,
    mx: tuple[str, ...] | None = None,
    mode: str = "enforce",
    max_age: int = 1_209_600,
    sts_id: str = "20261128a",
) -> str:
    """A correct deployment: TXT, policy, TLSRPT, MX hosts all covered. Returns the policy."""
    hosts = mx or (f"mx1.{domain}", f"mx2.{domain}")
    body = policy_text(hosts, mode, max_age)
    world.deploy(domain, body, sts_id, tlsrpt_rua=f"mailto:tlsrpt@{domain}", mx=[h for h in hosts])
    return body


@dataclass
class CheckRun:
    exit_code: int
    stdout: str
    stderr: str
    seconds: float

    def json(self) -> dict[str, Any]:
        return json.loads(self.stdout)

    def report(self, domain: str) -> dict[str, Any]:
        (found,) = [d for d in self.json()["domains"] if d["domain"] == domain]
        return found

    def findings(
        self, domain: str, check: str | None = None, status: str | None = None
    ) -> list[dict[str, str]]:
        return [
            f
            for f in self.report(domain)["findings"]
            if (check is None or f["check"] == check) and (status is None or f["status"] == status)
        ]

    def messages(self, domain: str, check: str, status: str) -> str:
        """Every message of that check and status, one per line (for `in` assertions)."""
        return "\n".join(f["message"] for f in self.findings(domain, check, status))

    def failing(self, domain: str) -> set[str]:
        return {f["check"] for f in self.findings(domain, status="fail")}

    def warning(self, domain: str) -> set[str]:
        return {f["check"] for f in self.findings(domain, status="warn")}


@pytest.fixture(autouse=True)
def _no_spec_in_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`mtasts check` reads ./mtasts.yaml when it exists: run where there is none."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def world(mta_sts_world: MtaStsWorld) -> MtaStsWorld:
    return mta_sts_world


def check(
    world: MtaStsWorld,
    *args: str | Path,
    fmt: str = "json",
    timeout: float = 5,
    connect_to: str | None = None,
) -> CheckRun:
    """`mtasts check ARGS` aimed at the world's DNS and HTTPS servers."""
    host, port = world.nameserver
    started = time.monotonic()
    result = run(
        "check",
        *args,
        "--nameserver",
        f"{host}:{port}",
        "--connect-to",
        connect_to or f"127.0.0.1:{world.https.port}",
        "--ca-bundle",
        world.ca_file,
        "--timeout",
        str(timeout),
        "--format",
        fmt,
    )
    return CheckRun(result.exit_code, result.stdout, result.stderr, time.monotonic() - started)


# --- a good deployment ---------------------------------------------------------------------


def test_good_deployment_passes_in_every_format(world: MtaStsWorld) -> None:
    deploy_good(world, "good.example")

    text = check(world, "good.example", fmt="text")
    assert text.exit_code == 0, text.stdout
    assert "good.example: PASS" in text.stdout
    assert "1 of 1 domains pass." in text.stdout
    assert "FAIL" not in text.stdout

    data = check(world, "good.example")
    assert data.exit_code == 0
    assert data.json()["ok"] is True
    report = data.report("good.example")
    assert report["ok"] is True
    assert report["sts_id"] == "20261128a"
    assert report["policy"] == {
        "mode": "enforce",
        "max_age": 1_209_600,
        "mx": ["mx1.good.example", "mx2.good.example"],
    }
    assert report["mx_hosts"] == ["mx1.good.example", "mx2.good.example"]
    assert {f["status"] for f in report["findings"]} == {"pass"}
    assert {f["check"] for f in report["findings"]} >= {
        "sts_record",
        "policy_fetch",
        "policy_certificate",
        "policy_syntax",
        "mx_coverage",
        "tlsrpt",
    }
    # The fetch reports its response time and TLS version; the certificate its end date.
    fetch = data.messages("good.example", "policy_fetch", "pass")
    assert re.search(r"200 text/plain, \d+ bytes in \d+\.\d\ds over TLSv1\.[23]", fetch)
    assert isinstance(report["fetch_seconds"], float)
    assert "valid for mta-sts.good.example until" in data.messages(
        "good.example", "policy_certificate", "pass"
    )

    markdown = check(world, "good.example", fmt="markdown")
    assert markdown.exit_code == 0
    assert "1 of 1 domains pass" in markdown.stdout
    assert "| good.example | pass | all | every check passed |" in markdown.stdout


def test_fetch_is_one_get_with_sni_for_the_policy_host(world: MtaStsWorld) -> None:
    deploy_good(world, "sni.example")
    assert check(world, "sni.example").exit_code == 0
    (request,) = world.https_requests
    assert request.sni == "mta-sts.sni.example"
    assert request.host == "mta-sts.sni.example"
    assert (request.method, request.path) == ("GET", POLICY_PATH)


def test_other_txt_values_beside_the_sts_record_are_harmless(world: MtaStsWorld) -> None:
    deploy_good(world, "other.example")
    world.publish_txt(
        "_mta-sts.other.example", ["google-site-verification=abc", "v=STSv1; id=20261128a"]
    )
    result = check(world, "other.example")
    assert result.exit_code == 0, result.stdout
    assert result.report("other.example")["sts_id"] == "20261128a"


# --- the policy fetch ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("location", "status"),
    [
        ("https://www.redirect.example/", 301),  # to www
        ("https://redirect.example/.well-known/mta-sts.txt", 302),  # to the apex
        ("http://mta-sts.redirect.example/.well-known/mta-sts.txt", 307),  # https -> http
        ("/mta-sts.txt", 308),  # relative
    ],
    ids=["to-www", "to-apex", "to-http", "relative"],
)
def test_redirect_is_reported_with_its_location(
    world: MtaStsWorld, location: str, status: int
) -> None:
    deploy_good(world, "redirect.example")
    world.serve_redirect("mta-sts.redirect.example", POLICY_PATH, location, status=status)
    result = check(world, "redirect.example")
    assert result.exit_code == 1
    assert result.failing("redirect.example") == {"policy_fetch"}
    message = result.messages("redirect.example", "policy_fetch", "fail")
    assert f"redirects ({status}) to {location}" in message
    assert "do not follow redirects" in message
    # Not followed: exactly one request reached the server.
    assert len(world.https_requests) == 1


def test_https_redirect_for_an_http_only_site_is_named_in_text(world: MtaStsWorld) -> None:
    """The classic: the site redirects every URL to a canonical https://www. address."""
    deploy_good(world, "redirect.example")
    world.serve_redirect(
        "mta-sts.redirect.example", POLICY_PATH, "https://www.redirect.example/mta-sts"
    )
    result = check(world, "redirect.example", fmt="text")
    assert result.exit_code == 1
    assert "redirect.example: FAIL" in result.stdout
    assert "to https://www.redirect.example/mta-sts" in result.stdout


def test_wrong_path_answers_404(world: MtaStsWorld) -> None:
    deploy_good(world, "path.example")
    body = policy_text(["mx1.path.example", "mx2.path.example"])
    world.unserve("mta-sts.path.example")
    world.serve("mta-sts.path.example", "/mta-sts.txt", body)  # not under /.well-known/
    result = check(world, "path.example")
    assert result.exit_code == 1
    assert result.failing("path.example") == {"policy_fetch"}
    message = result.messages("path.example", "policy_fetch", "fail")
    assert "HTTP 404" in message
    assert "https://mta-sts.path.example/.well-known/mta-sts.txt" in message


def test_text_html_fails(world: MtaStsWorld) -> None:
    body = deploy_good(world, "html.example")
    world.serve("mta-sts.html.example", POLICY_PATH, body, content_type="text/html")
    result = check(world, "html.example")
    assert result.exit_code == 1
    assert result.failing("html.example") == {"policy_fetch"}
    message = result.messages("html.example", "policy_fetch", "fail")
    assert "served as text/html" in message
    assert "text/plain" in message


@pytest.mark.parametrize(
    "content_type", ["text/plain; charset=utf-8", "TEXT/PLAIN", "text/plain;charset=us-ascii"]
)
def test_text_plain_with_parameters_passes(world: MtaStsWorld, content_type: str) -> None:
    body = deploy_good(world, "plain.example")
    world.serve("mta-sts.plain.example", POLICY_PATH, body, content_type=content_type)
    result = check(world, "plain.example")
    assert result.exit_code == 0, result.stdout


def test_no_content_type_fails(world: MtaStsWorld) -> None:
    body = deploy_good(world, "notype.example")
    world.serve("mta-sts.notype.example", POLICY_PATH, body, content_type=None)
    result = check(world, "notype.example")
    assert result.exit_code == 1
    assert "(no Content-Type)" in result.messages("notype.example", "policy_fetch", "fail")


def test_cdn_bot_challenge_403(world: MtaStsWorld) -> None:
    deploy_good(world, "cdn.example")
    world.serve(
        "mta-sts.cdn.example",
        POLICY_PATH,
        "<html><body>Checking your browser...</body></html>",
        status=403,
        content_type="text/html",
    )
    result = check(world, "cdn.example")
    assert result.exit_code == 1
    assert result.failing("cdn.example") == {"policy_fetch"}
    message = result.messages("cdn.example", "policy_fetch", "fail")
    assert "HTTP 403" in message
    assert "bot challenge" in message


def test_policy_over_64_kb_fails(world: MtaStsWorld) -> None:
    body = deploy_good(world, "big.example")
    padding = "".join(f"ext{i}: {'x' * 100}\r\n" for i in range(700))  # legal extension lines
    assert len((body + padding).encode()) > 64 * 1024
    world.serve("mta-sts.big.example", POLICY_PATH, body + padding)
    result = check(world, "big.example")
    assert result.exit_code == 1
    assert result.failing("big.example") == {"policy_fetch"}
    assert "larger than 64 KB" in result.messages("big.example", "policy_fetch", "fail")


def test_policy_just_under_64_kb_passes(world: MtaStsWorld) -> None:
    body = deploy_good(world, "edge.example")
    line = f"ext: {'x' * 100}\r\n"
    padding = line * ((64 * 1024 - len(body) - 200) // len(line))
    world.serve("mta-sts.edge.example", POLICY_PATH, body + padding)
    result = check(world, "edge.example")
    assert "policy_fetch" not in result.failing("edge.example"), result.stdout


# --- the policy host's certificate ---------------------------------------------------------


@pytest.mark.parametrize(
    ("problem", "words"),
    [
        ("wrong-name", "not valid for 'mta-sts.cert.example'"),
        ("untrusted", "unable to get local issuer certificate"),
        ("expired", "certificate has expired"),
    ],
)
def test_certificate_problem_fails(world: MtaStsWorld, problem: str, words: str) -> None:
    deploy_good(world, "cert.example")
    world.serve_wrong_cert("mta-sts.cert.example", problem)  # type: ignore[arg-type]
    result = check(world, "cert.example")
    assert result.exit_code == 1
    assert result.failing("cert.example") == {"policy_certificate"}
    assert words in result.messages("cert.example", "policy_certificate", "fail")
    assert world.https_requests == []  # the handshake was refused: no request was sent


def test_certificate_expiring_within_cert_days_warns_naming_the_date(world: MtaStsWorld) -> None:
    deploy_good(world, "soon.example")
    world.serve_wrong_cert("mta-sts.soon.example", "expiring")
    end = datetime.now(UTC) + timedelta(days=EXPIRING_DAYS)
    dates = {(end + timedelta(days=d)).date().isoformat() for d in (-1, 0)}

    result = check(world, "soon.example", "--cert-days", "14", fmt="text")
    assert result.exit_code == 0, result.stdout
    assert "soon.example: PASS" in result.stdout

    data = check(world, "soon.example", "--cert-days", "14")
    assert data.warning("soon.example") == {"policy_certificate"}
    message = data.messages("soon.example", "policy_certificate", "warn")
    assert "within 14 days" in message
    assert any(f"expires on {d}" in message for d in dates), message
    assert data.findings("soon.example", "policy_fetch", "pass")  # the policy still passes
    assert data.findings("soon.example", "policy_syntax", "pass")

    relaxed = check(world, "soon.example", "--cert-days", str(EXPIRING_DAYS - 2))
    assert relaxed.exit_code == 0
    assert relaxed.warning("soon.example") == set()
    assert relaxed.findings("soon.example", "policy_certificate", "pass")


# --- the _mta-sts TXT record ---------------------------------------------------------------


def test_no_sts_record_fails(world: MtaStsWorld) -> None:
    deploy_good(world, "notxt.example")
    world.unpublish("_mta-sts.notxt.example")
    result = check(world, "notxt.example")
    assert result.exit_code == 1
    assert result.failing("notxt.example") == {"sts_record"}
    assert "senders see no policy" in result.messages("notxt.example", "sts_record", "fail")


@pytest.mark.parametrize(
    ("value", "bad"),
    [
        ("v=STSv1; id=abc+def", "abc+def"),
        ("v=STSv1; id=2026-11-28", "2026-11-28"),
        ("v=STSv1; id=20261128.1", "20261128.1"),
        ("v=STSv1; id=dGhlIGlk/Zm9v+YmFy==", "dGhlIGlk/Zm9v+YmFy=="),  # base64
        ("v=STSv1; id=" + "a" * 33, "a" * 33),
    ],
    ids=["plus", "dash", "dot", "base64", "too-long"],
)
def test_invalid_id_characters_fail(world: MtaStsWorld, value: str, bad: str) -> None:
    deploy_good(world, "id.example")
    world.publish_txt("_mta-sts.id.example", [value])
    result = check(world, "id.example")
    assert result.exit_code == 1
    assert "sts_record" in result.failing("id.example")
    message = result.messages("id.example", "sts_record", "fail")
    assert f"id {bad!r}" in message
    assert "letters and digits" in message


def test_space_before_semicolon_fails(world: MtaStsWorld) -> None:
    deploy_good(world, "space.example")
    world.publish_txt("_mta-sts.space.example", ["v=STSv1 ; id=20261128a"])
    result = check(world, "space.example")
    assert result.exit_code == 1
    assert "does not start with 'v=STSv1;'" in result.messages(
        "space.example", "sts_record", "fail"
    )


def test_two_sts_records_fail(world: MtaStsWorld) -> None:
    deploy_good(world, "two.example")
    world.publish_txt("_mta-sts.two.example", ["v=STSv1; id=old1", "v=STSv1; id=new2"])
    result = check(world, "two.example")
    assert result.exit_code == 1
    assert "sts_record" in result.failing("two.example")
    message = result.messages("two.example", "sts_record", "fail")
    assert "2 v=STSv1 records" in message
    assert "ignore them all" in message


def test_txt_beside_a_cname_fails(world: MtaStsWorld) -> None:
    deploy_good(world, "beside.example")
    world.publish_txt("_mta-sts.provider.example", ["v=STSv1; id=delegated1"])
    world.publish_cname(
        "_mta-sts.beside.example", "_mta-sts.provider.example", beside_other_records=True
    )
    result = check(world, "beside.example")
    assert result.exit_code == 1
    assert "sts_record" in result.failing("beside.example")
    assert "CNAME beside TXT" in result.messages("beside.example", "sts_record", "fail")


def test_txt_beside_a_cname_is_not_reported_as_coming_through_it(world: MtaStsWorld) -> None:
    deploy_good(world, "beside.example")
    world.publish_txt("_mta-sts.provider.example", ["v=STSv1; id=delegated1"])
    world.publish_cname(
        "_mta-sts.beside.example", "_mta-sts.provider.example", beside_other_records=True
    )
    result = check(world, "beside.example")
    assert result.exit_code == 1
    for finding in result.findings("beside.example", "sts_record"):
        assert "through the CNAME" not in finding["message"], finding


def test_cname_alone_is_followed_and_passes(world: MtaStsWorld) -> None:
    deploy_good(world, "delegated.example")
    world.unpublish("_mta-sts.delegated.example")
    world.publish_cname("_mta-sts.delegated.example", "_mta-sts.provider.example")
    world.publish_txt("_mta-sts.provider.example", ["v=STSv1; id=delegated1"])
    result = check(world, "delegated.example")
    assert result.exit_code == 0, result.stdout
    assert result.report("delegated.example")["sts_id"] == "delegated1"
    assert "through the CNAME to _mta-sts.provider.example" in result.messages(
        "delegated.example", "sts_record", "pass"
    )


@pytest.mark.parametrize(
    "strings",
    [["v=STSv1; ", "id=20261128a"], ["v=STSv1; id=2026", "1128a"], ["v=STS", "v1; id=20261128a"]],
    ids=["at-field", "inside-id", "inside-version"],
)
def test_txt_split_into_strings_is_joined_with_no_separator(
    world: MtaStsWorld, strings: list[str]
) -> None:
    deploy_good(world, "split.example")
    world.publish_txt("_mta-sts.split.example", [strings])
    result = check(world, "split.example")
    assert result.exit_code == 0, result.stdout
    assert result.report("split.example")["sts_id"] == "20261128a"
    assert "v=STSv1; id=20261128a" in result.messages("split.example", "sts_record", "pass")


# --- the policy body -----------------------------------------------------------------------


def _serve_body(world: MtaStsWorld, domain: str, body: str | bytes) -> None:
    world.serve(f"mta-sts.{domain}", POLICY_PATH, body)


def test_typo_nmx_is_named_as_a_warning(world: MtaStsWorld) -> None:
    body = deploy_good(world, "typo.example")
    _serve_body(world, "typo.example", body + "nmx: mx3.typo.example\r\n")
    result = check(world, "typo.example")
    assert result.exit_code == 0, result.stdout  # an unknown key is a legal extension
    assert result.warning("typo.example") == {"policy_syntax"}
    message = result.messages("typo.example", "policy_syntax", "warn")
    assert "unknown key 'nmx'" in message
    assert "did you mean 'mx'" in message


def test_typo_nmx_instead_of_every_mx_is_named(world: MtaStsWorld) -> None:
    deploy_good(world, "typo.example")
    body = "version: STSv1\r\nmode: enforce\r\nnmx: mx1.typo.example\r\nmax_age: 1209600\r\n"
    _serve_body(world, "typo.example", body)
    result = check(world, "typo.example")
    assert result.exit_code == 1
    assert "policy_syntax" in result.failing("typo.example")
    assert "nmx" in "\n".join(f["message"] for f in result.findings("typo.example"))


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (
            policy_text(["mx1.bad.example", "192.0.2.25"]),
            ["line 4", "'192.0.2.25' is an IP address"],
        ),
        (
            "# MTA-STS policy\r\n" + policy_text(["mx1.bad.example", "mx2.bad.example"]),
            ["line 1", "'# MTA-STS policy'"],
        ),
        (
            "version: STSv1\r\nmode: enforce\r\nmx: mx1.bad.example\r\n"
            "mx: mx2.bad.example # backup\r\nmax_age: 1209600\r\n",
            ["line 4", "spaces"],
        ),
        (
            "\ufeff" + policy_text(["mx1.bad.example", "mx2.bad.example"]),
            ["line 1", "byte order mark"],
        ),
        (
            "version: STSv1\r\nmode: enforce\r\n  mx: mx1.bad.example\r\n"
            "mx: mx2.bad.example\r\nmax_age: 1209600\r\n",
            ["line 3", "leading whitespace"],
        ),
        (
            "version: STSv1\r\nmode: enforce\r\n\r\nmx: mx1.bad.example\r\n"
            "mx: mx2.bad.example\r\nmax_age: 1209600\r\n",
            ["line 3", "blank line"],
        ),
        (
            policy_text(["mx1.bad.example", "mx2.bad.example"], mode="Enforce"),
            ["line 2", "'Enforce'"],
        ),
        (
            policy_text(["mx1.bad.example.", "mx2.bad.example"]),
            ["line 3", "trailing dot"],
        ),
    ],
    ids=[
        "ip-in-mx",
        "comment-line",
        "trailing-comment",
        "bom",
        "leading-spaces",
        "blank-line",
        "mode-case",
        "mx-trailing-dot",
    ],
)
def test_policy_syntax_breakage_fails_naming_the_line(
    world: MtaStsWorld, body: str, words: list[str]
) -> None:
    deploy_good(world, "bad.example")
    _serve_body(world, "bad.example", body.encode("utf-8"))
    result = check(world, "bad.example")
    assert result.exit_code == 1
    assert result.failing("bad.example") == {"policy_syntax"}
    message = result.messages("bad.example", "policy_syntax", "fail")
    assert message.startswith("invalid policy: ")
    for word in words:
        assert word in message
    assert result.report("bad.example")["policy"] is None


def test_lf_line_ends_pass(world: MtaStsWorld) -> None:
    body = deploy_good(world, "lf.example")
    _serve_body(world, "lf.example", body.replace("\r\n", "\n"))
    assert check(world, "lf.example").exit_code == 0


@pytest.mark.parametrize(
    ("mode", "max_age", "words"),
    [("enforce", 86400, "two weeks"), ("testing", 3600, "one day")],
)
def test_short_max_age_is_a_warning(
    world: MtaStsWorld, mode: str, max_age: int, words: str
) -> None:
    deploy_good(world, "age.example", mode=mode, max_age=max_age)
    result = check(world, "age.example")
    assert result.exit_code == 0, result.stdout
    assert result.warning("age.example") == {"max_age"}
    message = result.messages("age.example", "max_age", "warn")
    assert f"max_age {max_age} is short for mode {mode}" in message
    assert words in message


# --- consistency: live MX against the policy ---------------------------------------------


def test_mx_out_of_step_blocks_mail_under_enforce(world: MtaStsWorld) -> None:
    deploy_good(world, "step.example")
    world.publish_mx("step.example", ["mx1.step.example", "mx3.step.example"])
    result = check(world, "step.example")
    assert result.exit_code == 1
    assert result.failing("step.example") == {"mx_coverage"}
    assert "enforce would block mail to mx3.step.example" in result.messages(
        "step.example", "mx_coverage", "fail"
    )
    assert "mx1.step.example" not in result.messages("step.example", "mx_coverage", "fail")


def test_mx_out_of_step_is_a_warning_in_testing(world: MtaStsWorld) -> None:
    deploy_good(world, "step.example", mode="testing", max_age=86400)
    world.publish_mx("step.example", ["mx1.step.example", "mx3.step.example"])
    result = check(world, "step.example")
    assert result.exit_code == 0
    assert result.warning("step.example") == {"mx_coverage"}
    message = result.messages("step.example", "mx_coverage", "warn")
    assert "mx3.step.example" in message
    assert "enforce would block mail" in message


@pytest.mark.parametrize(
    ("live", "blocked"),
    [
        (["a.mail.wild.example"], []),
        (["a.mail.wild.example", "a.b.mail.wild.example"], ["a.b.mail.wild.example"]),
        (["mail.wild.example"], ["mail.wild.example"]),
    ],
    ids=["one-label", "two-labels", "no-label"],
)
def test_wildcard_matches_exactly_one_label(
    world: MtaStsWorld, live: list[str], blocked: list[str]
) -> None:
    deploy_good(world, "wild.example", mx=("*.mail.wild.example",))
    world.publish_mx("wild.example", live)
    result = check(world, "wild.example")
    assert result.exit_code == (1 if blocked else 0), result.stdout
    message = result.messages("wild.example", "mx_coverage", "fail")
    for host in blocked:
        assert f"enforce would block mail to {host}" in message
    if not blocked:
        assert result.findings("wild.example", "mx_coverage", "pass")


def test_mode_none_does_not_claim_every_mx_matches(world: MtaStsWorld) -> None:
    world.deploy(
        "none.example",
        "version: STSv1\r\nmode: none\r\nmax_age: 86400\r\n",
        "none1",
        tlsrpt_rua="mailto:t@none.example",
        mx=["mx1.none.example"],
    )
    result = check(world, "none.example")
    assert result.exit_code == 0, result.stdout
    for finding in result.findings("none.example", "mx_coverage"):
        assert "every live MX matches a pattern" not in finding["message"]


def test_no_mx_records_is_a_warning(world: MtaStsWorld) -> None:
    deploy_good(world, "nomx.example")
    world.unpublish("nomx.example", "MX")
    result = check(world, "nomx.example")
    assert result.warning("nomx.example") == {"mx_coverage"}
    assert "publishes no MX records" in result.messages("nomx.example", "mx_coverage", "warn")


# --- consistency: the TXT id against the spec (-c) -----------------------------------------


MINTED = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
"""When the ids of these tests were published: ids name a body and a time (`policy_id`)."""


def _spec_for(tmp_path: Path, domain: str, mx: list[str]) -> tuple[Path, str]:
    """A spec for domain; returns (path, the policy body it renders).

    The spec holds no id: apply mints `policy_id(body, now)`, so a test publishes the id
    apply would have published at some time, `policy_id(body, MINTED)`.
    """
    path = write_spec(
        tmp_path / "spec",
        {domain: {"mx": mx, "mode": "enforce", "max_age": 1_209_600}},
    )
    want = render_spec(load_spec(path))[domain]
    return path, want.policy_text


def test_id_announcing_the_served_spec_policy_passes(world: MtaStsWorld, tmp_path: Path) -> None:
    spec, body = _spec_for(tmp_path, "spec.example", ["mx1.spec.example"])
    world.deploy("spec.example", body, policy_id(body, MINTED), tlsrpt_rua="mailto:t@spec.example")
    world.publish_mx("spec.example", ["mx1.spec.example"])
    result = check(world, "spec.example", "-c", spec)
    assert result.exit_code == 0, result.stdout
    assert "the served policy is the spec's, under its id" in result.messages(
        "spec.example", "sts_id", "pass"
    )


def test_any_publication_time_of_the_same_body_passes(world: MtaStsWorld, tmp_path: Path) -> None:
    """An id minted for this body a year ago (a spec reverted to it) still announces it."""
    spec, body = _spec_for(tmp_path, "spec.example", ["mx1.spec.example"])
    earlier = policy_id(body, MINTED - timedelta(days=365))
    world.deploy("spec.example", body, earlier, tlsrpt_rua="mailto:t@spec.example")
    world.publish_mx("spec.example", ["mx1.spec.example"])
    result = check(world, "spec.example", "-c", spec)
    assert result.exit_code == 0, result.stdout
    assert result.report("spec.example")["sts_id"] == earlier


@pytest.mark.parametrize(
    "stale_id",
    ["oldid2025", policy_id(policy_text(["mx0.spec.example"]), MINTED)],
    ids=["hand-written", "minted-for-another-body"],
)
def test_stale_id_after_a_policy_change(world: MtaStsWorld, tmp_path: Path, stale_id: str) -> None:
    """The new policy is served, but the TXT still carries an id that announces another
    policy (or none): senders that cached the old policy keep it until max_age runs out."""
    spec, body = _spec_for(tmp_path, "spec.example", ["mx1.spec.example"])
    world.deploy("spec.example", body, stale_id, tlsrpt_rua="mailto:t@spec.example")
    world.publish_mx("spec.example", ["mx1.spec.example"])
    result = check(world, "spec.example", "-c", spec)
    assert result.exit_code == 1
    assert result.failing("spec.example") == {"sts_id"}
    message = result.messages("spec.example", "sts_id", "fail")
    assert f"the served policy is the spec's, but the TXT id {stale_id} does not announce it" in (
        message
    )
    assert "senders keep an old policy until the id changes" in message


def test_stale_policy_after_an_mx_change(world: MtaStsWorld, tmp_path: Path) -> None:
    """The spec gained an MX; the id was moved to the new policy but the old body is still
    served (a CDN cache): senders fetch the old policy under the new id and keep it."""
    spec, body = _spec_for(tmp_path, "spec.example", ["mx1.spec.example", "mx2.spec.example"])
    new_id = policy_id(body, MINTED)
    old_body = policy_text(["mx1.spec.example"])
    world.deploy("spec.example", old_body, new_id, tlsrpt_rua="mailto:t@spec.example")
    world.publish_mx("spec.example", ["mx1.spec.example"])
    result = check(world, "spec.example", "-c", spec)
    assert result.exit_code == 1
    assert result.failing("spec.example") == {"sts_id"}
    message = result.messages("spec.example", "sts_id", "fail")
    assert f"the TXT id {new_id} announces the spec's policy, but another policy is served" in (
        message
    )
    assert "keep it for max_age" in message


def test_old_id_and_old_policy_after_an_mx_change(world: MtaStsWorld, tmp_path: Path) -> None:
    """apply has not run since the spec changed: the live id announces the live (old)
    policy, consistently, and the new MX is not covered yet."""
    spec, _ = _spec_for(tmp_path, "spec.example", ["mx1.spec.example", "mx2.spec.example"])
    old_body = policy_text(["mx1.spec.example"])
    world.deploy(
        "spec.example", old_body, policy_id(old_body, MINTED), tlsrpt_rua="mailto:t@x.example"
    )
    world.publish_mx("spec.example", ["mx1.spec.example", "mx2.spec.example"])
    result = check(world, "spec.example", "-c", spec)
    assert result.exit_code == 1
    assert result.failing("spec.example") == {"sts_id", "mx_coverage"}
    message = result.messages("spec.example", "sts_id", "fail")
    assert message == (
        "the served policy is not the spec's: apply has not run, or another tool changed it"
    )
    assert "enforce would block mail to mx2.spec.example" in result.messages(
        "spec.example", "mx_coverage", "fail"
    )


def test_foreign_policy_under_a_foreign_id(world: MtaStsWorld, tmp_path: Path) -> None:
    spec, _ = _spec_for(tmp_path, "spec.example", ["mx1.spec.example"])
    world.deploy(
        "spec.example",
        policy_text(["mx1.spec.example"], max_age=604800),
        "vendor1",
        tlsrpt_rua="mailto:t@x.example",
    )
    world.publish_mx("spec.example", ["mx1.spec.example"])
    result = check(world, "spec.example", "-c", spec)
    assert result.failing("spec.example") == {"sts_id"}
    assert result.messages("spec.example", "sts_id", "fail").endswith(
        "; the id does not announce it"
    )


def test_domain_not_in_the_spec_gets_no_id_check(world: MtaStsWorld, tmp_path: Path) -> None:
    spec, _ = _spec_for(tmp_path, "spec.example", ["mx1.spec.example"])
    deploy_good(world, "elsewhere.example")
    result = check(world, "elsewhere.example", "-c", spec)
    assert result.exit_code == 0, result.stdout
    assert result.findings("elsewhere.example", "sts_id") == []


def test_missing_spec_given_with_c_is_an_error(world: MtaStsWorld, tmp_path: Path) -> None:
    deploy_good(world, "good.example")
    result = check(world, "good.example", "-c", tmp_path / "nope.yaml")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert "nope.yaml" in result.stderr


# --- _smtp._tls TLSRPT -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (
            "v=TLSRPTv1; rua=mailto:tls@rpt.example, https://reports.rpt.example/v1",
            "a space around a comma",
        ),
        (
            "v=TLSRPTv1; ext=1; rua=mailto:tls@rpt.example,https://reports.rpt.example/v1",
            "rua is not the first field",
        ),
    ],
    ids=["space-after-comma", "rua-not-first"],
)
def test_tlsrpt_style_problems_warn_with_the_canonical_form(
    world: MtaStsWorld, value: str, problem: str
) -> None:
    deploy_good(world, "rpt.example")
    world.publish_txt("_smtp._tls.rpt.example", [value])
    result = check(world, "rpt.example")
    assert result.exit_code == 0, result.stdout
    assert result.warning("rpt.example") == {"tlsrpt"}
    message = result.messages("rpt.example", "tlsrpt", "warn")
    assert problem in message
    assert "write 'v=TLSRPTv1; rua=mailto:tls@rpt.example,https://reports.rpt.example/v1'" in (
        message
    )


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("v=TLSRPTv1; rua=http://reports.rpt.example/v1", "'mailto:' or 'https:'"),
        ("v=TLSRPTv1; ruf=mailto:tls@rpt.example", "no rua"),
        ("v=TLSRPTv1; rua=tls@rpt.example", "'mailto:' or 'https:'"),
    ],
    ids=["http", "no-rua", "bare-address"],
)
def test_tlsrpt_invalid_record_fails(world: MtaStsWorld, value: str, words: str) -> None:
    deploy_good(world, "rpt.example")
    world.publish_txt("_smtp._tls.rpt.example", [value])
    result = check(world, "rpt.example")
    assert result.exit_code == 1
    assert result.failing("rpt.example") == {"tlsrpt"}
    assert words in result.messages("rpt.example", "tlsrpt", "fail")


def test_two_tlsrpt_records_fail(world: MtaStsWorld) -> None:
    deploy_good(world, "rpt.example")
    world.publish_txt(
        "_smtp._tls.rpt.example",
        ["v=TLSRPTv1; rua=mailto:a@rpt.example", "v=TLSRPTv1; rua=mailto:b@rpt.example"],
    )
    result = check(world, "rpt.example")
    assert result.exit_code == 1
    assert result.failing("rpt.example") == {"tlsrpt"}
    assert "2 v=TLSRPTv1 records" in result.messages("rpt.example", "tlsrpt", "fail")


def test_no_tlsrpt_is_only_a_warning(world: MtaStsWorld) -> None:
    deploy_good(world, "rpt.example")
    world.unpublish("_smtp._tls.rpt.example")
    result = check(world, "rpt.example", fmt="text")
    assert result.exit_code == 0
    assert "rpt.example: PASS" in result.stdout
    data = check(world, "rpt.example")
    assert data.warning("rpt.example") == {"tlsrpt"}
    assert "failures go unreported" in data.messages("rpt.example", "tlsrpt", "warn")


# --- --smtp: each MX's STARTTLS ------------------------------------------------------------


def _smtp_check(world: MtaStsWorld, smtp: LocalSmtpServer, domain: str) -> CheckRun:
    return check(world, domain, "--smtp", "--smtp-connect-to", smtp.address)


def test_smtp_starttls_with_a_good_certificate_passes(
    world: MtaStsWorld, smtp_server: LocalSmtpServer
) -> None:
    deploy_good(world, "smtp.example")
    result = _smtp_check(world, smtp_server, "smtp.example")
    assert result.exit_code == 0, result.stdout
    passed = result.messages("smtp.example", "smtp_starttls", "pass")
    assert "mx1.smtp.example: STARTTLS with a valid certificate" in passed
    assert "mx2.smtp.example: STARTTLS with a valid certificate" in passed
    # The certificate was asked for by MX name (SNI), as a sender does.
    assert sorted(smtp_server.sni_names) == ["mx1.smtp.example", "mx2.smtp.example"]


def test_smtp_without_starttls_fails(world: MtaStsWorld, smtp_server: LocalSmtpServer) -> None:
    deploy_good(world, "smtp.example")
    smtp_server.mode = "no-starttls"
    result = _smtp_check(world, smtp_server, "smtp.example")
    assert result.exit_code == 1
    assert result.failing("smtp.example") == {"smtp_starttls"}
    message = result.messages("smtp.example", "smtp_starttls", "fail")
    assert "mx1.smtp.example: does not offer STARTTLS" in message
    assert "mx2.smtp.example: does not offer STARTTLS" in message


def test_smtp_certificate_for_the_wrong_name_fails(
    world: MtaStsWorld, smtp_server: LocalSmtpServer
) -> None:
    deploy_good(world, "smtp.example")
    smtp_server.mode = "wrong-name"
    result = _smtp_check(world, smtp_server, "smtp.example")
    assert result.exit_code == 1
    assert result.failing("smtp.example") == {"smtp_starttls"}
    message = result.messages("smtp.example", "smtp_starttls", "fail")
    assert "mx1.smtp.example: certificate:" in message
    assert "not valid for 'mx1.smtp.example'" in message


def test_smtp_is_not_probed_without_the_option(
    world: MtaStsWorld, smtp_server: LocalSmtpServer
) -> None:
    deploy_good(world, "smtp.example")
    smtp_server.mode = "no-starttls"
    result = check(world, "smtp.example")
    assert result.exit_code == 0
    assert result.findings("smtp.example", "smtp_starttls") == []
    assert smtp_server.sni_names == []


# --- output formats and exit codes ---------------------------------------------------------


def _two_domains(world: MtaStsWorld) -> None:
    deploy_good(world, "good.example")
    deploy_good(world, "bad.example")
    world.publish_mx("bad.example", ["mx1.bad.example", "mx9.bad.example"])
    world.unpublish("_smtp._tls.bad.example")


def test_json_schema(world: MtaStsWorld) -> None:
    _two_domains(world)
    result = check(world, "good.example", "bad.example")
    assert result.exit_code == 1
    data = result.json()
    assert data["format_version"] == 1
    assert data["ok"] is False
    assert [d["domain"] for d in data["domains"]] == ["bad.example", "good.example"]
    for report in data["domains"]:
        assert set(report) >= {"domain", "ok", "sts_id", "policy", "mx_hosts", "findings"}
        assert report["findings"]
        for finding in report["findings"]:
            assert set(finding) == {"check", "status", "message"}
            assert finding["check"] in CHECK_NAMES
            assert finding["status"] in RANK
            assert isinstance(finding["message"], str) and finding["message"]
        ranks = [RANK[f["status"]] for f in report["findings"]]
        assert ranks == sorted(ranks), "failing findings first, then warnings"
        assert report["ok"] is all(f["status"] != "fail" for f in report["findings"])
    assert result.report("good.example")["ok"] is True
    assert result.report("bad.example")["findings"][0] == {
        "check": "mx_coverage",
        "status": "fail",
        "message": "enforce would block mail to mx9.bad.example: no mx pattern covers it",
    }


def test_markdown_table(world: MtaStsWorld) -> None:
    _two_domains(world)
    result = check(world, "good.example", "bad.example", fmt="markdown")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "### mtasts check: 1 of 2 domains pass"
    assert "| Domain | Verdict | Check | Finding |" in lines
    assert "|---|---|---|---|" in lines
    rows = [line for line in lines if line.startswith("| ") and "Domain |" not in line]
    assert rows[0].startswith("| bad.example | **fail** | mx_coverage | FAIL: enforce would")
    assert rows[1].startswith("| bad.example | **fail** | tlsrpt | warn: no v=TLSRPTv1")
    assert r"\_smtp.\_tls.bad.example" in rows[1]  # markdown-escaped
    assert rows[2] == "| good.example | pass | all | every check passed |"
    assert len(rows) == 3  # passing findings are left out of the table
    for row in rows:
        assert row.count(" | ") == 3


def test_text_lists_failing_checks_first(world: MtaStsWorld) -> None:
    _two_domains(world)
    result = check(world, "good.example", "bad.example", fmt="text")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    start = lines.index("bad.example: FAIL")
    block = []
    for line in lines[start + 1 :]:
        if not line.startswith("  "):
            break
        block.append(line.split()[0])
    assert block[0] == "FAIL"
    assert block == sorted(block, key=lambda w: {"FAIL": 0, "warn": 1, "ok": 2}[w])
    assert "warn" in block and "ok" in block
    assert "good.example: PASS" in lines
    assert "1 of 2 domains pass." in lines


@pytest.mark.parametrize(
    ("domains", "code"),
    [(["good.example"], 0), (["good.example", "bad.example"], 1), (["bad.example"], 1)],
)
def test_exit_codes(world: MtaStsWorld, domains: list[str], code: int) -> None:
    _two_domains(world)
    for fmt in ("text", "json", "markdown"):
        assert check(world, *domains, fmt=fmt).exit_code == code


def test_warnings_alone_do_not_fail(world: MtaStsWorld) -> None:
    deploy_good(world, "warn.example", mode="enforce", max_age=3600)
    world.unpublish("_smtp._tls.warn.example")
    result = check(world, "warn.example")
    assert result.exit_code == 0
    assert result.warning("warn.example") == {"max_age", "tlsrpt"}
    assert result.json()["ok"] is True


# --- timeouts and concurrency --------------------------------------------------------------


def test_dead_endpoints_are_checked_concurrently(world: MtaStsWorld) -> None:
    """Eight policy hosts that accept TCP and never answer cost one timeout, not eight."""
    domains = [f"dead{i}.example" for i in range(8)]
    for domain in domains:
        deploy_good(world, domain)
    host, port = world.dead_endpoint
    result = check(world, *domains, timeout=1, connect_to=f"{host}:{port}")
    assert result.exit_code == 1
    assert world.silent.peak_open == 8, "the eight fetches were waiting at the same time"
    for domain in domains:
        assert result.failing(domain) == {"policy_fetch"}
        assert "timed out" in result.messages(domain, "policy_fetch", "fail")
        assert result.findings(domain, "sts_record", "pass")  # DNS still answered


def test_dead_mx_hosts_are_probed_side_by_side(world: MtaStsWorld) -> None:
    """Four MX hosts whose SMTP never greets are waited for together, not one by one."""
    deploy_good(world, "deadmx.example")
    world.publish_mx("deadmx.example", [f"mx{i}.deadmx.example" for i in range(4)])
    host, port = world.dead_endpoint
    result = check(
        world, "deadmx.example", "--smtp", "--smtp-connect-to", f"{host}:{port}", timeout=1
    )
    assert result.exit_code == 1
    assert len(result.findings("deadmx.example", "smtp_starttls", "fail")) == 4
    assert world.silent.peak_open == 4, "the four probes were open at the same time"


def test_a_trickling_endpoint_costs_at_most_the_timeout(world: MtaStsWorld) -> None:
    body = deploy_good(world, "slow.example")
    world.serve("mta-sts.slow.example", POLICY_PATH, body, trickle=0.03)  # ~2.2 s in all
    result = check(world, "slow.example", timeout=0.5)
    # Each byte comes well within 0.5 s, so only a deadline for the whole fetch stops it.
    assert result.failing("slow.example") == {"policy_fetch"}
    assert "timeout" in result.messages("slow.example", "policy_fetch", "fail")


def test_dead_nameserver_is_a_dns_finding(world: MtaStsWorld) -> None:
    """A nameserver that never answers costs one timeout and is named as a DNS failure, not
    as a missing record."""
    deploy_good(world, "good.example")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))  # receives the queries, never answers
        port = silent.getsockname()[1]
        result = run(
            "check",
            "good.example",
            "--nameserver",
            f"127.0.0.1:{port}",
            "--timeout",
            "1",
            "--format",
            "json",
        )
    assert result.exit_code == 1
    (report,) = json.loads(result.stdout)["domains"]
    assert report["findings"] == [
        {
            "check": "dns",
            "status": "fail",
            "message": "DNS timed out for _mta-sts.good.example CNAME",
        }
    ]


def test_harness_refuses_a_cname_beside_a_txt_unless_asked(world: MtaStsWorld) -> None:
    """The DNS server keeps refusing broken data by default (the opt-in is explicit)."""
    world.publish_txt("_mta-sts.strict.example", ["v=STSv1; id=1"])
    with pytest.raises(ValueError, match="cannot sit beside"):
        world.publish_cname("_mta-sts.strict.example", "_mta-sts.provider.example")


# --- bad option values ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("--connect-to", "127.0.0.1", "--connect-to: '127.0.0.1' is not HOST:PORT or :PORT"),
        (
            "--connect-to",
            "127.0.0.1:http",
            "--connect-to: '127.0.0.1:http' is not HOST:PORT or :PORT",
        ),
        ("--connect-to", ":0", "--connect-to: ':0' is not HOST:PORT or :PORT"),
        ("--connect-to", ":", "--connect-to: ':' is not HOST:PORT or :PORT"),
        (
            "--smtp-connect-to",
            "mx.example",
            "--smtp-connect-to: 'mx.example' is not HOST:PORT or :PORT",
        ),
        (
            "--nameserver",
            "127.0.0.1:99999",
            "--nameserver: '127.0.0.1:99999' is not an IP address with an optional port "
            "(IP[:PORT])",
        ),
        (
            "--nameserver",
            "127.0.0.1:",
            "--nameserver: '127.0.0.1:' is not an IP address with an optional port (IP[:PORT])",
        ),
        ("--ca-bundle", "missing-ca.pem", "--ca-bundle missing-ca.pem: no such file"),
    ],
)
def test_bad_option_value_is_a_one_line_error(
    world: MtaStsWorld, option: str, value: str, words: str
) -> None:
    deploy_good(world, "good.example")
    result = run("check", "good.example", option, value)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == f"error: {words}\n"


@pytest.mark.parametrize("value", ["garbage", "ns1.example.net:53"])
def test_nameserver_that_is_not_an_address_is_an_option_error(
    world: MtaStsWorld, value: str
) -> None:
    deploy_good(world, "good.example")
    result = run("check", "good.example", "--nameserver", value)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("error: --nameserver")
    assert "internal error" not in result.stderr


@pytest.mark.parametrize("value", ["0", "-1"])
def test_timeout_that_is_not_positive_is_an_option_error(world: MtaStsWorld, value: str) -> None:
    deploy_good(world, "good.example")
    host, port = world.nameserver
    result = run("check", "good.example", "--nameserver", f"{host}:{port}", "--timeout", value)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: --timeout")
    assert len(result.stderr.splitlines()) == 1


def test_invalid_domain_argument_is_a_one_line_error(world: MtaStsWorld) -> None:
    result = run("check", "exa mple.com")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
    assert "'exa mple.com' is not a valid host name" in result.stderr


def test_invalid_domain_argument_error_does_not_name_a_missing_option(world: MtaStsWorld) -> None:
    result = run("check", "exa mple.com")
    assert "--domain" not in result.stderr


def test_domain_arguments_are_normalised_and_deduplicated(world: MtaStsWorld) -> None:
    deploy_good(world, "good.example")
    result = check(world, "Good.Example.", "good.example")
    assert result.exit_code == 0, result.stdout
    assert [d["domain"] for d in result.json()["domains"]] == ["good.example"]


def test_a_body_shorter_than_its_content_length_fails(world: MtaStsWorld) -> None:
    """The server closes before the promised bytes: a sender's read fails, so must check."""
    body = deploy_good(world, "short.example")
    world.serve(
        "mta-sts.short.example", POLICY_PATH, body, headers=[("Content-Length", "100000000000")]
    )
    result = check(world, "short.example")
    assert result.exit_code == 1
    assert result.failing("short.example") == {"policy_fetch"}
    assert "IncompleteRead" in result.messages("short.example", "policy_fetch", "fail")
