"""`mtasts check` as a sender sees it (issue 8, items 6-8), against the loopback world.

- Which hosts a sender delivers to (RFC 5321 section 5.1, RFC 7505): with no MX record the
  domain itself (its implicit MX), none behind a null MX; MX names compared without regard
  to case and never replaced by their CNAME targets.
- One resolver for every look-up of a check: the policy host's and the MX hosts' addresses
  come from `--nameserver` too. The system resolver is switched off in those tests (it
  answers "Name or service not known" for any name, as it does for names only a private
  resolver knows), and `--connect-to :PORT` keeps the resolved address while reaching the
  loopback server on its random port.
- `mtasts check` with no DOMAIN checks every domain of the spec; its help shows `DOMAIN...`
  and a typed metavar for every option that takes a value.

Each test asserts what a user sees: finding names, the key words of their messages, the
JSON fields, the exit code.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from pathlib import Path
from typing import Any

import pytest
from clihelpers import run, write_spec
from harness import MtaStsWorld
from harness.smtp_server import LocalSmtpServer
from test_check import MINTED, check, deploy_good, policy_text

from provisioner.checks.dnsprobe import make_resolver, query_addresses
from provisioner.checks.httpsprobe import fetch_policy
from provisioner.render import render_spec
from provisioner.rfc8461 import policy_id
from provisioner.spec import load_spec

POLICY_PATH = "/.well-known/mta-sts.txt"


@pytest.fixture(autouse=True)
def _no_spec_in_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`mtasts check` reads ./mtasts.yaml when it exists: run where there is none."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def world(mta_sts_world: MtaStsWorld) -> MtaStsWorld:
    return mta_sts_world


@pytest.fixture
def no_system_resolver(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The system resolver knows no name (as for names only a private resolver serves);
    addresses still work. Returns the names it was asked for."""
    real = socket.getaddrinfo
    asked: list[str] = []

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str):
            try:
                ipaddress.ip_address(host)
            except ValueError:
                asked.append(host)
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def _deploy_no_mx(world: MtaStsWorld, domain: str, mx: tuple[str, ...], mode: str) -> None:
    """A correct deployment except that the domain has an address and no MX record."""
    deploy_good(world, domain, mx=mx, mode=mode, max_age=1_209_600 if mode == "enforce" else 86400)
    world.unpublish(domain, "MX")
    world.publish_a(domain, ["127.0.0.1"])


# --- item 6: the hosts senders deliver to ---------------------------------------------------


def test_no_mx_means_the_domain_itself_and_enforce_must_cover_it(world: MtaStsWorld) -> None:
    """The field fault: no MX record, an enforce policy naming only mx hosts. Senders deliver
    to the domain's own address, which no pattern covers: enforce blocks that mail."""
    _deploy_no_mx(world, "implicit.example", ("mx1.implicit.example",), "enforce")
    result = check(world, "implicit.example")
    assert result.exit_code == 1, result.stdout
    assert result.failing("implicit.example") == {"mx_coverage"}
    message = result.messages("implicit.example", "mx_coverage", "fail")
    assert message.startswith("enforce would block mail to implicit.example: ")
    assert "publishes no MX records" in message
    assert "implicit MX" in message
    report = result.report("implicit.example")
    assert report["mx_hosts"] == []
    assert report["delivery_hosts"] == ["implicit.example"]

    text = check(world, "implicit.example", fmt="text")
    assert "implicit.example: FAIL" in text.stdout
    assert "enforce would block mail to implicit.example" in text.stdout


def test_no_mx_with_a_pattern_for_the_domain_itself_passes(world: MtaStsWorld) -> None:
    _deploy_no_mx(world, "implicit.example", ("implicit.example",), "enforce")
    result = check(world, "implicit.example")
    assert result.exit_code == 0, result.stdout
    assert result.warning("implicit.example") == set()
    passed = result.messages("implicit.example", "mx_coverage", "pass")
    assert "senders deliver to the domain itself (its implicit MX" in passed
    assert "an mx pattern covers it" in passed


def test_no_mx_is_only_a_warning_under_testing(world: MtaStsWorld) -> None:
    _deploy_no_mx(world, "implicit.example", ("mx1.implicit.example",), "testing")
    result = check(world, "implicit.example")
    assert result.exit_code == 0, result.stdout
    assert result.warning("implicit.example") == {"mx_coverage"}
    message = result.messages("implicit.example", "mx_coverage", "warn")
    assert "implicit MX" in message
    assert "not covered by the mx patterns: implicit.example" in message


def test_a_wildcard_does_not_cover_the_implicit_mx(world: MtaStsWorld) -> None:
    """`*.implicit.example` matches one label more, never implicit.example itself."""
    _deploy_no_mx(world, "implicit.example", ("*.implicit.example",), "enforce")
    result = check(world, "implicit.example")
    assert result.exit_code == 1
    assert "enforce would block mail to implicit.example" in result.messages(
        "implicit.example", "mx_coverage", "fail"
    )


def test_no_mx_and_no_address_receives_no_mail(world: MtaStsWorld) -> None:
    deploy_good(world, "nomail.example")
    world.unpublish("nomail.example", "MX")
    result = check(world, "nomail.example")
    assert result.exit_code == 0, result.stdout
    assert result.warning("nomail.example") == {"mx_coverage"}
    assert "publishes no MX records and has no address: it receives no mail" in (
        result.messages("nomail.example", "mx_coverage", "warn")
    )
    assert result.report("nomail.example")["delivery_hosts"] == []


def test_null_mx_accepts_no_mail_and_blocks_nothing(world: MtaStsWorld) -> None:
    """`MX 0 .` (RFC 7505): no host to cover, so nothing for enforce to block; said plainly,
    because a domain that publishes a policy and accepts no mail is worth a look."""
    deploy_good(world, "nullmx.example")
    world.publish_mx("nullmx.example", [(0, ".")])
    world.publish_a("nullmx.example", ["127.0.0.1"])  # an address does not make it an MX
    result = check(world, "nullmx.example")
    assert result.exit_code == 0, result.stdout
    assert result.warning("nullmx.example") == {"mx_coverage"}
    message = result.messages("nullmx.example", "mx_coverage", "warn")
    assert "null MX (RFC 7505): it accepts no mail" in message
    for finding in result.findings("nullmx.example"):
        assert "block mail to ." not in finding["message"], finding
    report = result.report("nullmx.example")
    assert report["null_mx"] is True
    assert report["mx_hosts"] == []
    assert report["delivery_hosts"] == []


def test_null_mx_beside_other_mx_records_is_named_and_the_others_judged(
    world: MtaStsWorld,
) -> None:
    deploy_good(world, "mixed.example")
    world.publish_mx(
        "mixed.example", [(0, "."), (10, "mx1.mixed.example"), (20, "mx9.mixed.example")]
    )
    result = check(world, "mixed.example")
    assert result.exit_code == 1
    assert "null MX (MX 0 .) beside other MX records, which RFC 7505 forbids" in (
        result.messages("mixed.example", "mx_coverage", "warn")
    )
    fail = result.messages("mixed.example", "mx_coverage", "fail")
    assert fail == "enforce would block mail to mx9.mixed.example: no mx pattern covers it"
    assert result.report("mixed.example")["mx_hosts"] == ["mx1.mixed.example", "mx9.mixed.example"]


def test_mx_names_are_compared_without_regard_to_case(world: MtaStsWorld) -> None:
    deploy_good(world, "case.example", mx=("mx1.case.example", "*.mail.case.example"))
    world.publish_mx("case.example", ["MX1.Case.Example", "In.MAIL.case.EXAMPLE"], keep_case=True)
    result = check(world, "case.example")
    assert result.exit_code == 0, result.stdout
    assert result.findings("case.example", "mx_coverage", "pass")
    assert result.report("case.example")["mx_hosts"] == ["mx1.case.example", "in.mail.case.example"]


@pytest.mark.parametrize(
    ("patterns", "blocked"),
    [(("mx1.alias.example",), None), (("smtp.provider.example",), "mx1.alias.example")],
    ids=["mx-name-covered", "only-the-cname-target-covered"],
)
def test_coverage_is_judged_on_mx_names_not_cname_targets(
    world: MtaStsWorld, patterns: tuple[str, ...], blocked: str | None
) -> None:
    """RFC 8461 section 4.1: the MX host name, not the name its CNAME points to."""
    deploy_good(world, "alias.example", mx=patterns)
    world.publish_mx("alias.example", ["mx1.alias.example"])
    world.publish_cname("mx1.alias.example", "smtp.provider.example")
    world.publish_a("smtp.provider.example", ["127.0.0.1"])
    result = check(world, "alias.example")
    assert result.report("alias.example")["mx_hosts"] == ["mx1.alias.example"]
    if blocked is None:
        assert result.exit_code == 0, result.stdout
    else:
        assert result.exit_code == 1
        assert f"enforce would block mail to {blocked}: no mx pattern covers it" in (
            result.messages("alias.example", "mx_coverage", "fail")
        )


def test_smtp_probes_the_implicit_mx(
    world: MtaStsWorld, smtp_server: LocalSmtpServer, no_system_resolver: list[str]
) -> None:
    """With no MX record, --smtp probes the domain itself, as a sender connects to it."""
    _deploy_no_mx(world, "implicit.example", ("implicit.example",), "enforce")
    result = check(world, "implicit.example", "--smtp", "--smtp-connect-to", f":{smtp_server.port}")
    assert result.exit_code == 0, result.stdout
    assert "implicit.example: STARTTLS with a valid certificate" in result.messages(
        "implicit.example", "smtp_starttls", "pass"
    )
    assert smtp_server.sni_names == ["implicit.example"]


def test_smtp_probes_nothing_behind_a_null_mx(
    world: MtaStsWorld, smtp_server: LocalSmtpServer
) -> None:
    deploy_good(world, "nullmx.example")
    world.publish_mx("nullmx.example", [(0, ".")])
    result = check(world, "nullmx.example", "--smtp", "--smtp-connect-to", smtp_server.address)
    assert result.findings("nullmx.example", "smtp_starttls") == []
    assert smtp_server.sni_names == []


# --- item 7: one resolver for every look-up -------------------------------------------------


def test_policy_host_address_comes_from_the_nameserver(
    world: MtaStsWorld, no_system_resolver: list[str]
) -> None:
    """The field fault: against a private resolver, the fetch asked the system's for
    mta-sts.<domain> and failed with "Name or service not known"."""
    deploy_good(world, "private.example")  # publishes mta-sts.private.example A 127.0.0.1
    result = check(world, "private.example", connect_to=f":{world.https.port}")
    assert result.exit_code == 0, result.stdout
    assert no_system_resolver == []
    assert ("mta-sts.private.example", "A") in world.dns_queries
    (request,) = world.https_requests
    assert request.sni == "mta-sts.private.example"  # the name is kept for SNI and Host
    assert request.host == "mta-sts.private.example"


def test_the_resolved_address_is_the_one_connected_to(world: MtaStsWorld) -> None:
    """An A record pointing where nothing listens: the fetch goes there (and names it)."""
    deploy_good(world, "elsewhere.example")
    world.publish_a("mta-sts.elsewhere.example", ["127.0.0.9"])
    result = check(world, "elsewhere.example", connect_to=f":{world.https.port}")
    assert result.exit_code == 1
    assert result.failing("elsewhere.example") == {"policy_fetch"}
    message = result.messages("elsewhere.example", "policy_fetch", "fail")
    assert f"cannot connect to mta-sts.elsewhere.example (127.0.0.9 port {world.https.port})" in (
        message
    )
    assert world.https_requests == []


def test_policy_host_without_an_address_is_named(
    world: MtaStsWorld, no_system_resolver: list[str]
) -> None:
    deploy_good(world, "noaddr.example")
    world.unpublish("mta-sts.noaddr.example", "A")
    result = check(world, "noaddr.example", connect_to=f":{world.https.port}")
    assert result.exit_code == 1
    assert result.failing("noaddr.example") == {"policy_fetch"}
    assert "mta-sts.noaddr.example has no A or AAAA record" in result.messages(
        "noaddr.example", "policy_fetch", "fail"
    )
    assert no_system_resolver == []


def test_policy_host_through_a_cname_resolves_through_the_nameserver(
    world: MtaStsWorld, no_system_resolver: list[str]
) -> None:
    """The usual hosted endpoint: mta-sts.<domain> is a CNAME to the provider's host."""
    deploy_good(world, "hosted.example")
    world.unpublish("mta-sts.hosted.example", "A")
    world.publish_cname("mta-sts.hosted.example", "sts.provider.example")
    world.publish_a("sts.provider.example", ["127.0.0.1"])
    result = check(world, "hosted.example", connect_to=f":{world.https.port}")
    assert result.exit_code == 0, result.stdout
    assert world.https_requests[0].sni == "mta-sts.hosted.example"


def test_connect_to_host_and_port_still_wins(world: MtaStsWorld) -> None:
    deploy_good(world, "override.example")
    world.publish_a("mta-sts.override.example", ["127.0.0.9"])  # would fail if used
    result = check(world, "override.example")  # --connect-to 127.0.0.1:<port>
    assert result.exit_code == 0, result.stdout
    assert ("mta-sts.override.example", "A") not in world.dns_queries


def test_mx_host_addresses_come_from_the_nameserver(
    world: MtaStsWorld, smtp_server: LocalSmtpServer, no_system_resolver: list[str]
) -> None:
    deploy_good(world, "smtp.example")
    world.publish_a("mx1.smtp.example", ["127.0.0.1"])
    world.publish_a("mx2.smtp.example", ["127.0.0.1"])
    result = check(world, "smtp.example", "--smtp", "--smtp-connect-to", f":{smtp_server.port}")
    assert result.exit_code == 0, result.stdout
    assert sorted(smtp_server.sni_names) == ["mx1.smtp.example", "mx2.smtp.example"]
    assert {("mx1.smtp.example", "A"), ("mx2.smtp.example", "A")} <= set(world.dns_queries)
    assert no_system_resolver == []


def test_mx_host_without_an_address_is_named(
    world: MtaStsWorld, smtp_server: LocalSmtpServer, no_system_resolver: list[str]
) -> None:
    deploy_good(world, "smtp.example")
    world.publish_a("mx1.smtp.example", ["127.0.0.1"])
    result = check(world, "smtp.example", "--smtp", "--smtp-connect-to", f":{smtp_server.port}")
    assert result.exit_code == 1
    assert result.failing("smtp.example") == {"smtp_starttls"}
    assert "mx1.smtp.example: STARTTLS with a valid certificate" in result.messages(
        "smtp.example", "smtp_starttls", "pass"
    )
    assert "mx2.smtp.example: mx2.smtp.example has no A or AAAA record" in result.messages(
        "smtp.example", "smtp_starttls", "fail"
    )


def test_query_addresses_asks_the_given_resolver(world: MtaStsWorld) -> None:
    world.publish_a("two.addr.example", ["127.0.0.1", "127.0.0.2"])
    host, port = world.nameserver
    resolver = make_resolver(f"{host}:{port}", timeout=2)
    assert query_addresses(resolver, "two.addr.example") == ("127.0.0.1", "127.0.0.2")
    assert query_addresses(resolver, "none.addr.example") == ()
    assert ("two.addr.example", "AAAA") in world.dns_queries


def test_fetch_policy_resolves_with_the_given_function(
    world: MtaStsWorld, no_system_resolver: list[str]
) -> None:
    body = deploy_good(world, "fn.example")
    asked: list[str] = []

    def resolve(name: str) -> tuple[str, ...]:
        asked.append(name)
        return ("127.0.0.1",)

    fetched = fetch_policy(
        "fn.example",
        timeout=5,
        ca_bundle=str(world.ca_file),
        connect_to=(None, world.https.port),
        resolve=resolve,
    )
    assert fetched.error is None, fetched.error
    assert fetched.body == body.encode()
    assert asked == ["mta-sts.fn.example"]


# --- item 8: every domain of the spec, and the help text ------------------------------------


def _spec_with(directory: Path, domains: list[str], name: str) -> tuple[Path, dict[str, str]]:
    """A spec of enforce domains; returns (path, the policy body it renders per domain)."""
    path = write_spec(
        directory,
        {d: {"mx": [f"mx1.{d}"], "mode": "enforce", "max_age": 1_209_600} for d in domains},
        name=name,
    )
    return path, {d: want.policy_text for d, want in render_spec(load_spec(path)).items()}


def _publish_spec(world: MtaStsWorld, bodies: dict[str, str]) -> None:
    for domain, body in bodies.items():
        world.deploy(
            domain,
            body,
            policy_id(body, MINTED),
            tlsrpt_rua=f"mailto:tlsrpt@{domain}",
            mx=[f"mx1.{domain}"],
        )


def test_no_domain_checks_every_domain_of_the_spec(world: MtaStsWorld, tmp_path: Path) -> None:
    spec, bodies = _spec_with(tmp_path / "spec", ["b.example", "a.example"], "ci.yaml")
    _publish_spec(world, bodies)
    result = check(world, "-c", spec)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert [d["domain"] for d in result.json()["domains"]] == ["a.example", "b.example"]
    for domain in ("a.example", "b.example"):
        assert "the served policy is the spec's, under its id" in result.messages(
            domain, "sts_id", "pass"
        )


def test_no_domain_finds_drift_in_any_domain_of_the_spec(
    world: MtaStsWorld, tmp_path: Path
) -> None:
    spec, bodies = _spec_with(tmp_path / "spec", ["a.example", "b.example"], "ci.yaml")
    _publish_spec(world, bodies)
    world.serve("mta-sts.b.example", POLICY_PATH, policy_text(["mx1.b.example", "mx0.b.example"]))
    result = check(world, "-c", spec)
    assert result.exit_code == 1
    assert result.report("a.example")["ok"] is True
    assert result.failing("b.example") == {"sts_id"}
    text = check(world, "-c", spec, fmt="text")
    assert "1 of 2 domains pass." in text.stdout


def test_no_domain_uses_the_default_spec(world: MtaStsWorld, tmp_path: Path) -> None:
    """./mtasts.yaml, as plan and apply read it when no -c is given."""
    _, bodies = _spec_with(tmp_path, ["a.example"], "mtasts.yaml")  # tmp_path is the cwd
    _publish_spec(world, bodies)
    result = check(world)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert [d["domain"] for d in result.json()["domains"]] == ["a.example"]
    assert result.findings("a.example", "sts_id", "pass")


def test_no_domain_and_no_spec_is_a_one_line_error(world: MtaStsWorld) -> None:
    result = run("check")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "error: nothing to check: name a DOMAIN, or a spec with -c FILE "
        "(mtasts.yaml does not exist)\n"
    )


def test_no_domain_with_a_missing_spec_names_the_file(world: MtaStsWorld, tmp_path: Path) -> None:
    result = run("check", "-c", tmp_path / "nope.yaml")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
    assert "nope.yaml" in result.stderr


def test_help_shows_domain_and_a_typed_metavar_for_every_option() -> None:
    result = run("check", "--help", env={"COLUMNS": "200"})
    assert result.exit_code == 0
    help_text = result.stdout
    assert re.search(r"^Usage: \S+ check \[OPTIONS\] DOMAIN\.\.\.$", help_text, re.M), help_text
    for wrong in ("{DOMAIN", "[DOMAIN", "<list[str]>", "<text", "TEXT", "FLOAT", "INTEGER"):
        assert wrong not in help_text, wrong
    assert re.search(r"^  DOMAIN\.\.\.\s+Domains to check", help_text, re.M)
    options = {
        match.group(1): match.group(2)
        for match in re.finditer(r"^  (?:-\w, )?(--[\w-]+)(?: (\S+))?", help_text, re.M)
    }
    assert options == {
        "--config": "FILE",
        "--nameserver": "IP[:PORT]",
        "--ca-bundle": "PEM",
        "--connect-to": "[HOST]:PORT",
        "--smtp": None,
        "--smtp-connect-to": "[HOST]:PORT",
        "--timeout": "SECONDS",
        "--cert-days": "DAYS",
        "--format": "text|markdown|json",
        "--help": None,
    }
