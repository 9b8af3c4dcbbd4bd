"""`mtasts check` against two independent clients, on the very same served deployments.

For each deployment the local DNS and HTTPS servers serve, three verdicts are taken:

- `mtasts check` (in-process CLI): pass (exit 0) or fail (exit 1), and the failing finding;
- postfix-mta-sts-resolver, a real sender-side client: VALID, FETCH_ERROR or NONE; a sender
  enforces a policy only on VALID, so VALID counts as "pass";
- checkdmarc, a checker: `check_mta_sts` valid, every live MX covered by the policy, and the
  TLSRPT record valid or absent (mtasts only warns when it is absent).

They must agree. Where one legitimately differs, the case says why (`postfix_differs`,
`checkdmarc_differs`), and the test asserts that it does differ, so the note stays true: a
lenient parser accepting what RFC 8461 forbids, a sender that does not look at TLSRPT or
matches MX hosts only when it delivers, a checker that only warns.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from clihelpers import run
from harness import CheckdmarcResult, MtaStsWorld

from provisioner.rfc8461 import policy_id

POLICY_PATH = "/.well-known/mta-sts.txt"
STS_ID = "20261128a"
"""A hand-written id (valid: 1-32 letters and digits), as other tools publish them."""
MINTED = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)

Setup = Callable[[MtaStsWorld, str], None]


def _policy(domain: str, extra: str = "", mode: str = "enforce") -> str:
    return (
        f"version: STSv1\r\nmode: {mode}\r\nmx: mx1.{domain}\r\nmx: mx2.{domain}\r\n"
        f"max_age: 1209600\r\n{extra}"
    )


def _sts_id(domain: str) -> str:
    """The id mtasts would have published for the good policy: its hash and a time."""
    return policy_id(_policy(domain), MINTED)


def _good(world: MtaStsWorld, domain: str) -> None:
    world.deploy(
        domain,
        _policy(domain),
        _sts_id(domain),
        tlsrpt_rua=f"mailto:tlsrpt@{domain}",
        mx=[f"mx1.{domain}", f"mx2.{domain}"],
    )


def _body(body: Callable[[str], str | bytes], **serve: object) -> Setup:
    def setup(world: MtaStsWorld, domain: str) -> None:
        _good(world, domain)
        world.serve(f"mta-sts.{domain}", POLICY_PATH, body(domain), **serve)  # type: ignore[arg-type]

    return setup


def _sts_txt(*values: str | list[str]) -> Setup:
    def setup(world: MtaStsWorld, domain: str) -> None:
        _good(world, domain)
        world.publish_txt(f"_mta-sts.{domain}", list(values))

    return setup


def _redirect(world: MtaStsWorld, domain: str) -> None:
    _good(world, domain)
    world.serve_redirect(f"mta-sts.{domain}", POLICY_PATH, f"https://www.{domain}/")


def _wrong_cert(world: MtaStsWorld, domain: str) -> None:
    _good(world, domain)
    world.serve_wrong_cert(f"mta-sts.{domain}", "wrong-name")


def _no_txt(world: MtaStsWorld, domain: str) -> None:
    _good(world, domain)
    world.unpublish(f"_mta-sts.{domain}")


def _uncovered_mx(world: MtaStsWorld, domain: str) -> None:
    _good(world, domain)
    world.publish_mx(domain, [f"mx1.{domain}", f"mx9.{domain}"])


def _implicit_mx(world: MtaStsWorld, domain: str) -> None:
    """No MX record and an address: senders deliver to the domain itself (RFC 5321 section
    5.1), which the policy (mx1, mx2) does not cover."""
    _good(world, domain)
    world.unpublish(domain, "MX")
    world.publish_a(domain, ["127.0.0.1"])


def _cname_alone(world: MtaStsWorld, domain: str) -> None:
    _good(world, domain)
    world.unpublish(f"_mta-sts.{domain}")
    world.publish_cname(f"_mta-sts.{domain}", "_mta-sts.provider.example")
    world.publish_txt("_mta-sts.provider.example", [f"v=STSv1; id={STS_ID}"])


def _tlsrpt_http(world: MtaStsWorld, domain: str) -> None:
    _good(world, domain)
    world.publish_txt(f"_smtp._tls.{domain}", ["v=TLSRPTv1; rua=http://reports.example.net/"])


@dataclass(frozen=True)
class Case:
    name: str
    setup: Setup
    mtasts_fails: str | None
    """The finding that fails in mtasts check, None when the domain passes."""
    postfix: str
    """postfix-mta-sts-resolver's STSFetchResult."""
    checkdmarc_ok: bool
    postfix_differs: str = ""
    checkdmarc_differs: str = ""


LENIENT_POSTFIX = (
    "postfix-mta-sts-resolver splits each line at ':' and keeps what it recognises, "
    "so it never rejects a malformed line"
)

CASES = [
    Case("good", _good, None, "VALID", True),
    Case("redirect", _redirect, "policy_fetch", "FETCH_ERROR", False),
    Case(
        "text-html",
        _body(_policy, content_type="text/html"),
        "policy_fetch",
        "FETCH_ERROR",
        True,
        checkdmarc_differs="checkdmarc only warns that the Content-Type should be text/plain; "
        "RFC 8461 section 3.3 requires text/plain, and the real sender refuses the policy",
    ),
    Case(
        "text-plain-charset",
        _body(_policy, content_type="text/plain; charset=utf-8"),
        None,
        "VALID",
        True,
    ),
    Case("wrong-cert", _wrong_cert, "policy_certificate", "FETCH_ERROR", False),
    Case("no-txt", _no_txt, "sts_record", "NONE", False),
    Case("two-txt", _sts_txt("v=STSv1; id=old1", "v=STSv1; id=new2"), "sts_record", "NONE", False),
    Case(
        "ip-in-mx",
        _body(lambda d: _policy(d, "mx: 192.0.2.25\r\n")),
        "policy_syntax",
        "VALID",
        True,
        postfix_differs=LENIENT_POSTFIX + ": it keeps '192.0.2.25' as a pattern, which can "
        "never match an MX host name (RFC 8461 section 4.1 patterns are host names)",
        checkdmarc_differs="checkdmarc does not check that an mx value is a host name",
    ),
    Case(
        "blank-line",
        _body(lambda d: _policy(d).replace("mode: enforce\r\n", "mode: enforce\r\n\r\n")),
        "policy_syntax",
        "VALID",
        True,
        postfix_differs=LENIENT_POSTFIX + ": it skips blank lines, which the RFC 8461 "
        "section 3.2 grammar does not allow (a strict sender may reject the policy)",
        checkdmarc_differs="checkdmarc skips blank lines too",
    ),
    Case(
        "comment-line",
        _body(lambda d: "# MTA-STS policy\r\n" + _policy(d)),
        "policy_syntax",
        "VALID",
        False,
        postfix_differs=LENIENT_POSTFIX + ": it ignores the '# ...' line",
    ),
    Case(
        "bom",
        _body(lambda d: b"\xef\xbb\xbf" + _policy(d).encode()),
        "policy_syntax",
        "FETCH_ERROR",
        False,
    ),
    Case(
        "leading-spaces",
        _body(lambda d: _policy(d).replace("mx: ", "  mx: ")),
        "policy_syntax",
        "FETCH_ERROR",
        False,
    ),
    Case(
        "bot-challenge-403",
        _body(lambda d: "<html/>", status=403),
        "policy_fetch",
        "FETCH_ERROR",
        False,
    ),
    Case(
        "over-64-kb",
        _body(lambda d: _policy(d, "".join(f"ext{i}: {'x' * 100}\r\n" for i in range(700)))),
        "policy_fetch",
        "FETCH_ERROR",
        True,
        checkdmarc_differs="checkdmarc reads a policy of any size; senders may refuse one "
        "over 64 KB (RFC 8461 section 3.3), as postfix-mta-sts-resolver does",
    ),
    Case(
        "invalid-id",
        _sts_txt("v=STSv1; id=2026-11-28+1"),
        "sts_record",
        "VALID",
        False,
        postfix_differs="postfix-mta-sts-resolver takes any id string; RFC 8461 section 3.1 "
        "allows only 1-32 letters and digits",
    ),
    Case(
        "space-before-semicolon",
        _sts_txt(f"v=STSv1 ; id={STS_ID}"),
        "sts_record",
        "VALID",
        True,
        postfix_differs="postfix-mta-sts-resolver parses the fields and tolerates the "
        "space; senders that match the literal prefix 'v=STSv1;' drop the record",
        checkdmarc_differs="checkdmarc only warns that the record does not begin with the "
        "literal 'v=STSv1;'",
    ),
    Case("txt-split-in-strings", _sts_txt(["v=STSv1; id=2026", "1128a"]), None, "VALID", True),
    Case("cname-alone", _cname_alone, None, "VALID", True),
    Case(
        "typo-nmx",
        _body(lambda d: _policy(d, f"nmx: mx3.{d}\r\n")),
        None,  # only a warning: an unknown key is a legal extension
        "VALID",
        True,
    ),
    Case(
        "mx-out-of-step",
        _uncovered_mx,
        "mx_coverage",
        "VALID",
        False,
        postfix_differs="the resolver only fetches the policy (which is valid); MX hosts are "
        "matched when mail is delivered, and then mail to mx9 is refused under enforce",
    ),
    Case(
        "no-mx-implicit",
        _implicit_mx,
        "mx_coverage",
        "VALID",
        True,
        postfix_differs="the resolver only fetches the policy (which is valid); at delivery "
        "the sender connects to the domain itself, its implicit MX, and enforce refuses it",
        checkdmarc_differs="the checkdmarc verdict here matches only the MX records against "
        "the policy (mx_in_mta_sts_patterns): with none it sees nothing to cover",
    ),
    Case(
        "tlsrpt-http",
        _tlsrpt_http,
        "tlsrpt",
        "VALID",
        False,
        postfix_differs="postfix-mta-sts-resolver resolves MTA-STS only and never reads TLSRPT",
    ),
]


def _checkdmarc_ok(result: CheckdmarcResult) -> bool:
    tlsrpt = result.tlsrpt
    tlsrpt_ok = bool(tlsrpt.get("valid")) or "does not exist" in str(tlsrpt.get("error", ""))
    return result.valid and not result.mx_not_covered and tlsrpt_ok


@pytest.fixture(autouse=True)
def _no_spec_in_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_verdicts_agree_or_the_difference_is_explained(
    mta_sts_world: MtaStsWorld, case: Case
) -> None:
    world = mta_sts_world
    domain = f"{case.name}.example"
    case.setup(world, domain)

    host, port = world.nameserver
    result = run(
        "check",
        domain,
        "--nameserver",
        f"{host}:{port}",
        "--connect-to",
        f"127.0.0.1:{world.https.port}",
        "--ca-bundle",
        world.ca_file,
        "--timeout",
        "5",
        "--format",
        "json",
    )
    mtasts_ok = result.exit_code == 0
    assert mtasts_ok is (case.mtasts_fails is None), result.stdout
    if case.mtasts_fails is not None:
        (report,) = json.loads(result.stdout)["domains"]
        failing = {f["check"] for f in report["findings"] if f["status"] == "fail"}
        assert case.mtasts_fails in failing, result.stdout

    postfix = world.resolve_with_postfix_client(domain)
    assert postfix.status == case.postfix, postfix.log
    postfix_ok = postfix.status == "VALID"
    if case.postfix_differs:
        assert postfix_ok is not mtasts_ok, case.postfix_differs
    else:
        assert postfix_ok is mtasts_ok

    checkdmarc = world.check_with_checkdmarc(domain)
    assert _checkdmarc_ok(checkdmarc) is case.checkdmarc_ok, checkdmarc
    if case.checkdmarc_differs:
        assert case.checkdmarc_ok is not mtasts_ok, case.checkdmarc_differs
    else:
        assert case.checkdmarc_ok is mtasts_ok


def test_all_three_read_the_same_policy_from_a_good_deployment(
    mta_sts_world: MtaStsWorld,
) -> None:
    world = mta_sts_world
    _good(world, "same.example")
    host, port = world.nameserver
    result = run(
        "check",
        "same.example",
        "--nameserver",
        f"{host}:{port}",
        "--connect-to",
        f"127.0.0.1:{world.https.port}",
        "--ca-bundle",
        world.ca_file,
        "--format",
        "json",
    )
    (report,) = json.loads(result.stdout)["domains"]
    postfix = world.resolve_with_postfix_client("same.example")
    checkdmarc = world.check_with_checkdmarc("same.example")
    assert report["sts_id"] == postfix.policy_id == checkdmarc.policy_id == _sts_id("same.example")
    assert report["policy"]["mode"] == postfix.mode == checkdmarc.policy["mode"] == "enforce"
    assert report["policy"]["max_age"] == postfix.max_age == checkdmarc.policy["max_age"]
    assert tuple(report["policy"]["mx"]) == postfix.mx == tuple(checkdmarc.policy["mx"])
    assert tuple(report["mx_hosts"]) == checkdmarc.mx_hosts


def test_checkdmarc_warns_where_mtasts_fails_on_text_html(mta_sts_world: MtaStsWorld) -> None:
    """The one difference in kind: checkdmarc names the media type, but as a warning."""
    world = mta_sts_world
    _body(_policy, content_type="text/html")(world, "html.example")
    checkdmarc = world.check_with_checkdmarc("html.example")
    assert checkdmarc.valid
    assert any("text/plain" in w for w in checkdmarc.warnings)
