"""Cross-checks against independent parsers: what mtasts renders, others must accept.

The oracles (see /work/shared/RFC-NOTES.md):
- checkdmarc 6 (`checkdmarc.mta_sts`, `checkdmarc.smtp_tls_reporting`): the most RFC-faithful
  checker; its parse functions are pure, no DNS involved.
- postfix-mta-sts-resolver 1.5 (a real sender): its `utils.parse_mta_sts_record` and
  `utils.parse_mta_sts_policy` are plain splitters; the validation lives in
  `STSResolver.resolve()`. So `postfix_resolve()` below runs the real `resolve()` with its DNS
  lookup and HTTPS fetch answered in process (fake aiodns answer and fake aiohttp session),
  and everything after the fetch (record filtering, parsing, validation) is the library's own.
- tlsrpt-reporter 0.6 (the reporter behind Postfix's TLSRPT support):
  `tlsrpt_reporter.utility.parse_tlsrpt_record`, which splits on ";" and "," and needs `rua`
  first; its report delivery only knows destinations starting with "mailto:" or "https:".

Where the oracles and mtasts legitimately disagree, the table rows below say who is right by
the RFC and why; every verdict is asserted, so a changed oracle shows up here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import checkdmarc.utils
import pytest
from checkdmarc.mta_sts import (
    MTASTSError,
    mx_in_mta_sts_patterns,
    parse_mta_sts_policy,
    parse_mta_sts_record,
)
from checkdmarc.smtp_tls_reporting import (
    SMTPTLSReportingError,
    parse_smtp_tls_reporting_record,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from postfix_mta_sts_resolver import resolver as postfix_resolver
from postfix_mta_sts_resolver import utils as postfix_utils
from postfix_mta_sts_resolver.resolver import STSFetchResult
from strategies import encoded, ldh_labels, mx_patterns, policies, policy_ids, rua_lists
from tlsrpt_reporter.utility import MalformedTlsrptRecordException
from tlsrpt_reporter.utility import parse_tlsrpt_record as reporter_parse_tlsrpt_record

from provisioner.rfc8460 import parse_tlsrpt_record, render_tlsrpt_record
from provisioner.rfc8461 import (
    GrammarError,
    Policy,
    mx_matches,
    parse_policy,
    parse_sts_record,
    policy_id,
    render_policy,
    render_sts_record,
)

ORACLE = settings(max_examples=40, deadline=None)
MINTED = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

GOOD_POLICY = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmax_age: 1209600\r\n"
GOOD_RECORD = "v=STSv1; id=20240101abc"


@pytest.fixture(autouse=True)
def _fresh_checkdmarc_cache() -> Iterator[None]:
    checkdmarc.utils.DNS_CACHE.clear()
    yield
    checkdmarc.utils.DNS_CACHE.clear()


# --- postfix-mta-sts-resolver, run in process --------------------------------------------


@dataclass
class _Txt:
    text: str


class _FakeDns:
    def __init__(self, records: list[str]) -> None:
        self.records = records

    async def query(self, name: str, rtype: str) -> list[_Txt]:
        assert (name, rtype) == ("_mta-sts.example.com", "TXT")
        return [_Txt(r) for r in self.records]


class _Content:
    def __init__(self, body: bytes) -> None:
        self._chunks = [body]

    async def read(self, size: int) -> bytes:
        return self._chunks.pop() if self._chunks else b""


class _Response:
    def __init__(self, body: bytes, content_type: str) -> None:
        self.status = 200
        self.headers = {"Content-Type": content_type}
        # aiohttp's ClientResponse.charset: the Content-Type charset parameter, if any
        _, _, charset = content_type.partition("charset=")
        self.charset = charset or None
        self.content = _Content(body)

    async def __aenter__(self) -> _Response:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


def _session_serving(body: bytes, content_type: str) -> type:
    class _Session:
        def __init__(self, **kwargs: Any) -> None:
            pass

        async def __aenter__(self) -> _Session:
            return self

        async def __aexit__(self, *exc: object) -> None:
            return None

        def get(self, url: str, **kwargs: Any) -> _Response:
            assert url == "https://mta-sts.example.com/.well-known/mta-sts.txt"
            assert kwargs["allow_redirects"] is False
            return _Response(body, content_type)

    return _Session


def postfix_resolve(
    records: list[str],
    policy_text: str,
    last_known_id: str | None = None,
    content_type: str = "text/plain; charset=utf-8",
) -> tuple[STSFetchResult, Any]:
    """postfix-mta-sts-resolver's verdict on `_mta-sts.example.com` TXT and a policy body,
    served with HTTP 200 and `content_type`."""

    async def run() -> tuple[STSFetchResult, Any]:
        resolver = postfix_resolver.STSResolver(loop=asyncio.get_running_loop(), timeout=5)
        resolver._resolver = _FakeDns(records)
        session = _session_serving(policy_text.encode("utf-8"), content_type)
        with mock.patch.object(postfix_resolver.aiohttp, "ClientSession", session):
            return await resolver.resolve("example.com", last_known_id)

    return asyncio.run(run())


def test_postfix_harness_sanity() -> None:
    status, (pid, policy) = postfix_resolve([GOOD_RECORD], GOOD_POLICY)
    assert status is STSFetchResult.VALID
    assert pid == "20240101abc"
    assert policy == {
        "version": "STSv1",
        "mode": "enforce",
        "mx": ["mail.example.com"],
        "max_age": 1209600,
    }
    # the id is what makes a sender refetch: same id, no fetch
    assert postfix_resolve([GOOD_RECORD], "garbage", "20240101abc") == (
        STSFetchResult.NOT_CHANGED,
        None,
    )
    # two STS records switch MTA-STS off (RFC 8461 section 3.1); unrelated TXT is harmless
    assert postfix_resolve([GOOD_RECORD, "v=STSv1; id=other"], GOOD_POLICY) == (
        STSFetchResult.NONE,
        None,
    )
    assert postfix_resolve([GOOD_RECORD, "v=spf1 -all"], GOOD_POLICY)[0] is STSFetchResult.VALID


# --- what we render, every oracle accepts --------------------------------------------------


def _expected_checkdmarc_policy(policy: Policy) -> dict[str, Any]:
    return {
        "version": "STSv1",
        "mode": policy.mode.value,
        "max_age": policy.max_age,
        "mx": list(policy.mx),
    }


@ORACLE
@given(policies())
def test_rendered_policy_accepted_by_checkdmarc(policy: Policy) -> None:
    result = parse_mta_sts_policy(render_policy(policy))
    assert result == {"policy": _expected_checkdmarc_policy(policy), "warnings": []}


@ORACLE
@given(policies())
def test_rendered_policy_accepted_by_postfix_parser(policy: Policy) -> None:
    parsed = postfix_utils.parse_mta_sts_policy(render_policy(policy))
    assert parsed == {
        "version": "STSv1",
        "mode": policy.mode.value,
        "max_age": str(policy.max_age),
        "mx": list(policy.mx),
    }


@ORACLE
@given(policies())
def test_rendered_policy_and_record_accepted_by_postfix_resolver(policy: Policy) -> None:
    pid = policy_id(policy.render(), MINTED)
    record = render_sts_record(pid)
    # served as bare `text/plain`: postfix then reads the body as ASCII (see below)
    status, result = postfix_resolve(
        [record, "v=spf1 -all"], render_policy(policy), content_type="text/plain"
    )
    assert status is STSFetchResult.VALID
    assert result == (pid, _expected_checkdmarc_policy(policy))


@ORACLE
@given(policy_ids)
def test_rendered_record_accepted_by_checkdmarc_and_postfix(pid: str) -> None:
    record = render_sts_record(pid)
    assert parse_mta_sts_record(record) == {"tags": {"v": "STSv1", "id": pid}, "warnings": []}
    assert postfix_utils.parse_mta_sts_record(record) == {"v": "STSv1", "id": pid}
    assert record.startswith("v=STSv1;")  # postfix and the RFC's discard rule


@ORACLE
@given(policies())
def test_policy_id_record_accepted_by_checkdmarc(policy: Policy) -> None:
    pid = policy_id(policy.render(), MINTED)
    tags = parse_mta_sts_record(render_sts_record(pid))["tags"]
    assert tags == {"v": "STSv1", "id": pid}


@ORACLE
@given(rua_lists)
def test_rendered_tlsrpt_accepted_by_checkdmarc(rua: list[str]) -> None:
    record = render_tlsrpt_record(rua)
    result = parse_smtp_tls_reporting_record(record)
    assert result == {
        "tags": {"v": {"value": "TLSRPTv1"}, "rua": {"value": [encoded(u) for u in rua]}},
        "warnings": [],
    }


@ORACLE
@given(rua_lists)
def test_rendered_tlsrpt_accepted_by_tlsrpt_reporter(rua: list[str]) -> None:
    destinations = reporter_parse_tlsrpt_record(render_tlsrpt_record(rua))
    assert destinations == [encoded(u) for u in rua]
    assert all(d.startswith(("mailto:", "https:")) for d in destinations)


# --- mx matching: RFC 8461 section 4.1 -----------------------------------------------------


@st.composite
def _hosts_near(draw: st.DrawFn, pattern: str) -> str:
    """A host that may or may not match `pattern`: one label more, none, two more, or other."""
    base = pattern.removeprefix("*.")
    label, extra = draw(ldh_labels), draw(ldh_labels)
    host = draw(
        st.sampled_from(
            [base, f"{label}.{base}", f"{extra}.{label}.{base}", f"{label}.example.org"]
        )
    )
    return draw(st.sampled_from([host, host.upper()]))


@ORACLE
@given(st.data())
def test_mx_matching_agrees_with_checkdmarc(data: st.DataObject) -> None:
    patterns = data.draw(st.lists(mx_patterns(), min_size=1, max_size=3))
    host = data.draw(_hosts_near(data.draw(st.sampled_from(patterns))))
    ours = any(mx_matches(host, p) for p in patterns)
    assert mx_in_mta_sts_patterns(host, patterns) is ours


@pytest.mark.parametrize(
    ("host", "pattern", "ours", "theirs"),
    [
        ("mail.example.com", "*.example.com", True, True),
        ("example.com", "*.example.com", False, False),
        ("a.b.example.com", "*.example.com", False, False),
        ("MAIL.EXAMPLE.COM", "*.example.com", True, True),
        ("mail.example.com.evil.net", "*.example.com", False, False),
        ("bad-example.com", "example.com", False, False),
        # Differences. An MX target from DNS is an absolute name; the trailing dot is how
        # zone files and `dig` print it, not part of the name. RFC 8461 section 4.1 matches
        # names, so `mail.example.com.` is `mail.example.com`. checkdmarc compares strings.
        ("mail.example.com.", "mail.example.com", True, False),
        ("mail.example.com.", "*.example.com", True, False),
        # Section 4.1: the wildcard matches "only the left-most label", whatever it holds;
        # checkdmarc only lets letters, digits and hyphens stand for it. Such MX names are
        # odd but do occur (e.g. `_` from provisioning tools), and the RFC has no such limit.
        ("mx_1.example.com", "*.example.com", True, False),
    ],
)
def test_mx_matching_against_checkdmarc_cases(
    host: str, pattern: str, ours: bool, theirs: bool
) -> None:
    assert mx_matches(host, pattern) is ours
    assert mx_in_mta_sts_patterns(host, [pattern]) is theirs


# --- known-bad policies: who rejects what ------------------------------------------------


def _ours_accepts_policy(text: str) -> bool:
    try:
        parse_policy(text)
    except GrammarError:
        return False
    return True


def _checkdmarc_accepts_policy(text: str) -> bool:
    try:
        parse_mta_sts_policy(text)
    except MTASTSError:
        return False
    return True


def _postfix_accepts_policy(text: str) -> bool:
    return postfix_resolve([GOOD_RECORD], text)[0] is STSFetchResult.VALID


def _policy(*lines: str) -> str:
    return "".join(f"{line}\r\n" for line in lines)


@pytest.mark.parametrize(
    ("text", "ours", "checkdmarc", "postfix"),
    [
        pytest.param(GOOD_POLICY, True, True, True, id="good"),
        pytest.param(GOOD_POLICY.replace("\r\n", "\n"), True, True, True, id="lf-only"),
        pytest.param(
            "version: STSv1\r\nmode: enforce\nmx: mail.example.com\r\nmax_age: 1\n",
            True,
            True,
            True,
            id="mixed-line-ends-allowed-with-a-warning",
        ),
        pytest.param(
            _policy("mode: enforce", "version: STSv1", "mx: a.example.com", "max_age: 1"),
            True,
            True,
            True,
            id="version-not-first-allowed-with-a-warning",
        ),
        # RFC 8461 section 3.2 rejects all of these, and so do all three of us
        pytest.param("\ufeff" + GOOD_POLICY, False, False, False, id="bom"),
        pytest.param(
            GOOD_POLICY.replace("mode: enforce", "mode: Enforce"), False, False, False, id="Enforce"
        ),
        pytest.param(
            GOOD_POLICY.replace("1209600", "31557601"), False, False, False, id="max-age-too-big"
        ),
        pytest.param(GOOD_POLICY.replace("1209600", "2w"), False, False, False, id="max-age-2w"),
        pytest.param(
            _policy("version: STSv1", "mode: enforce", "mx: a.example.com"),
            False,
            False,
            False,
            id="no-max-age",
        ),
        pytest.param(
            _policy("version: STSv1", "mx: a.example.com", "max_age: 1"),
            False,
            False,
            False,
            id="no-mode",
        ),
        pytest.param(_policy("mode: none", "max_age: 1"), False, False, False, id="no-version"),
        pytest.param(
            GOOD_POLICY.replace("mx:", "nmx:"), False, False, False, id="nmx-typo-leaves-no-mx"
        ),
        pytest.param(
            GOOD_POLICY.replace("mode:", " mode:"), False, False, False, id="leading-space"
        ),
        # Stricter than some oracle, and the RFC is with us:
        # - blank lines: the section 3.2 ABNF has no empty lines between fields; checkdmarc
        #   and postfix skip them.
        pytest.param(
            GOOD_POLICY.replace("mode: enforce\r\n", "mode: enforce\r\n\r\n"),
            False,
            True,
            True,
            id="blank-line",
        ),
        # - an IP address is not a domain name (section 3.2 `mx` is a Domain); a certificate
        #   check against it can never pass, so it is a broken policy that nobody flags.
        pytest.param(
            GOOD_POLICY.replace("mail.example.com", "192.0.2.25"),
            False,
            True,
            True,
            id="ip-in-mx",
        ),
        # - a trailing dot is not in the mx grammar; postfix does not validate mx at all.
        pytest.param(
            GOOD_POLICY.replace("mail.example.com", "mail.example.com."),
            False,
            False,
            True,
            id="trailing-dot-mx",
        ),
        # - mx patterns are A-labels (section 3.2); a U-label never equals an MX name.
        pytest.param(
            GOOD_POLICY.replace("mail.example.com", "mail.bücher.example"),
            False,
            False,
            True,
            id="u-label-mx",
        ),
        # - comments do not exist in the grammar; postfix treats the line as an unknown key.
        pytest.param(GOOD_POLICY + "# comment\r\n", False, False, True, id="comment"),
        # - a lone CR is not a line end; postfix's splitlines() treats it as one.
        pytest.param(
            GOOD_POLICY.replace("mode: enforce\r\n", "mode: enforce\r"),
            False,
            False,
            True,
            id="stray-cr",
        ),
        # - max_age is 1*10DIGIT; postfix's int() also takes a sign.
        pytest.param(GOOD_POLICY.replace("1209600", "+5"), False, False, True, id="max-age-+5"),
        # Stricter by our choice, not the RFC's: `*.com` fits the grammar but would cover
        # every .com host; mtasts refuses to publish or bless it. The oracles accept it.
        pytest.param(
            GOOD_POLICY.replace("mail.example.com", "*.com"), False, True, True, id="wildcard-tld"
        ),
        # Extension values may hold UTF-8 (section 3.2 sts-policy-vchar).
        pytest.param(GOOD_POLICY + "note: café\r\n", True, True, True, id="utf8-extension"),
    ],
)
def test_known_bad_policies(text: str, ours: bool, checkdmarc: bool, postfix: bool) -> None:
    assert _ours_accepts_policy(text) is ours
    assert _checkdmarc_accepts_policy(text) is checkdmarc
    assert _postfix_accepts_policy(text) is postfix


def test_postfix_reads_a_policy_without_charset_as_ascii() -> None:
    # Served as plain `text/plain`, postfix decodes the body as ASCII: a policy with any
    # UTF-8 in it (legal in extension values) is a fetch error for this sender. mtasts never
    # renders non-ASCII, so its policies are safe either way.
    text = GOOD_POLICY + "note: café\r\n"
    assert postfix_resolve([GOOD_RECORD], text, content_type="text/plain")[0] is (
        STSFetchResult.FETCH_ERROR
    )
    assert postfix_resolve([GOOD_RECORD], GOOD_POLICY, content_type="text/plain")[0] is (
        STSFetchResult.VALID
    )
    assert postfix_resolve([GOOD_RECORD], GOOD_POLICY, content_type="text/html")[0] is (
        STSFetchResult.FETCH_ERROR
    )


def test_repeated_key_first_wins_unlike_postfix() -> None:
    # RFC 8461 section 3.2: a repeated field other than mx: the first one wins. checkdmarc
    # agrees; postfix-mta-sts-resolver keeps the last one (its dict is overwritten).
    text = GOOD_POLICY + "mode: testing\r\n"
    assert parse_policy(text).policy.mode.value == "enforce"
    assert parse_mta_sts_policy(text)["policy"]["mode"] == "enforce"
    status, (_, policy) = postfix_resolve([GOOD_RECORD], text)
    assert status is STSFetchResult.VALID
    assert policy["mode"] == "testing"


# --- known-bad _mta-sts records -----------------------------------------------------------


def _ours_accepts_record(value: str) -> bool:
    try:
        parse_sts_record(value)
    except GrammarError:
        return False
    return True


def _checkdmarc_accepts_record(value: str) -> bool:
    try:
        parse_mta_sts_record(value)
    except MTASTSError:
        return False
    return True


def _postfix_accepts_record(value: str) -> bool:
    return postfix_resolve([value], GOOD_POLICY)[0] is STSFetchResult.VALID


@pytest.mark.parametrize(
    ("value", "ours", "checkdmarc", "postfix"),
    [
        pytest.param("v=STSv1; id=abc", True, True, True, id="good"),
        pytest.param("v=STSv1;id=abc", True, True, True, id="no-space"),
        pytest.param("v=STSv1; id=abc;", True, True, True, id="trailing-semicolon"),
        pytest.param("v=STSv1; id=abc; ext=1", True, True, True, id="extension"),
        pytest.param("v=STSv2; id=abc", False, False, False, id="STSv2"),
        pytest.param("v=STSv1;", False, False, False, id="no-id"),
        pytest.param("v=STSv1; ID=abc", False, False, False, id="ID-upper-case"),
        # Section 3.1: id is 1*32(ALPHA / DIGIT). postfix never checks the id's characters,
        # so for it these work; a stricter sender drops them. We reject, like checkdmarc.
        pytest.param("v=STSv1; id=a+b", False, False, True, id="id-plus"),
        pytest.param("v=STSv1; id=a-b", False, False, True, id="id-dash"),
        pytest.param("v=STSv1; id=a.b", False, False, True, id="id-dot"),
        pytest.param("v=STSv1; id=2024:01", False, False, True, id="id-colon"),
        pytest.param("v=STSv1; id=" + "a" * 33, False, False, True, id="id-33-chars"),
        # Section 3.1: records that do not begin with "v=STSv1;" are discarded. checkdmarc's
        # grammar skips leading whitespace; senders (postfix: startswith) do not.
        pytest.param(" v=STSv1; id=abc", False, True, False, id="leading-space"),
        # The ABNF allows WSP before ";" but the discard rule is literal; checkdmarc accepts
        # with a warning and postfix's startswith("v=STSv1") lets it through. Senders that
        # apply the rule literally drop it, so we reject it rather than call it fine.
        pytest.param("v=STSv1 ; id=abc", False, True, True, id="space-before-semicolon"),
    ],
)
def test_known_bad_records(value: str, ours: bool, checkdmarc: bool, postfix: bool) -> None:
    assert _ours_accepts_record(value) is ours
    assert _checkdmarc_accepts_record(value) is checkdmarc
    assert _postfix_accepts_record(value) is postfix


# --- known-bad _smtp._tls records ---------------------------------------------------------


def _ours_accepts_tlsrpt(value: str) -> bool:
    try:
        parse_tlsrpt_record(value)
    except GrammarError:
        return False
    return True


def _checkdmarc_accepts_tlsrpt(value: str) -> bool:
    try:
        parse_smtp_tls_reporting_record(value)
    except SMTPTLSReportingError:
        return False
    return True


def _reporter_accepts_tlsrpt(value: str) -> bool:
    """The reporter parses it and can deliver to every destination it extracted."""
    try:
        destinations = reporter_parse_tlsrpt_record(value)
    except MalformedTlsrptRecordException:
        return False
    return all(d.startswith(("mailto:", "https:")) for d in destinations)


@pytest.mark.parametrize(
    ("value", "ours", "checkdmarc", "reporter"),
    [
        pytest.param("v=TLSRPTv1; rua=mailto:a@example.com", True, True, True, id="good"),
        pytest.param(
            "v=TLSRPTv1; rua=mailto:a@example.com,https://r.example.net/v1",
            True,
            True,
            True,
            id="two-uris",
        ),
        pytest.param("v=TLSRPTv2; rua=mailto:a@example.com", False, False, False, id="v2"),
        pytest.param("v=TLSRPTv1; ruf=mailto:a@example.com", False, False, False, id="no-rua"),
        pytest.param(
            "v=TLSRPTv1; rua=http://r.example.net/", False, False, False, id="http-scheme"
        ),
        # Section 3: "," "!" ";" must be percent-encoded in a URI; the reporter does not check.
        pytest.param("v=TLSRPTv1; rua=mailto:a!b@example.com", False, False, True, id="raw-bang"),
        # Not a URI at all (RFC 3986 has no raw "{"); the reporter does not check.
        pytest.param("v=TLSRPTv1; rua=mailto:a{b@example.com", False, False, True, id="brace"),
        # Section 3 grammar allows WSP around "," and `rua` after other fields, and mtasts
        # accepts both when reading; the reporter keeps " https://..." (which it cannot
        # deliver to) and needs rua first. mtasts never writes either form.
        pytest.param(
            "v=TLSRPTv1; rua=mailto:a@example.com, https://r.example.net/v1",
            True,
            True,
            False,
            id="space-after-comma",
        ),
        pytest.param(
            "v=TLSRPTv1; ext=1; rua=mailto:a@example.com", True, True, False, id="rua-not-first"
        ),
        # The literal "v=TLSRPTv1;" prefix, as for STS: checkdmarc warns, the reporter drops it.
        pytest.param(
            "v=TLSRPTv1 ; rua=mailto:a@example.com", False, True, False, id="space-before-semi"
        ),
        # Schemes are case-insensitive in RFC 3986, but the reporter only delivers to
        # "mailto:"/"https:" spelled in lower case; mtasts asks for the lower-case form.
        pytest.param("v=TLSRPTv1; rua=MAILTO:a@example.com", False, True, False, id="MAILTO"),
        # RFC 8460 takes any mailto: URI (RFC 6068), header fields included; checkdmarc's
        # mailto pattern has no "?". We accept it: it is a valid report destination.
        pytest.param(
            "v=TLSRPTv1; rua=mailto:a@example.com?subject=tlsrpt",
            True,
            False,
            True,
            id="mailto-hfields",
        ),
    ],
)
def test_known_bad_tlsrpt(value: str, ours: bool, checkdmarc: bool, reporter: bool) -> None:
    assert _ours_accepts_tlsrpt(value) is ours
    assert _checkdmarc_accepts_tlsrpt(value) is checkdmarc
    assert _reporter_accepts_tlsrpt(value) is reporter
