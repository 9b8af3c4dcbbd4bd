"""RFC 8461 (MTA-STS): the policy body and the `_mta-sts` record, as senders read them.

Error messages are asserted whole: `mtasts check` prints them to the user as they are.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import PROPERTY, hostnames, ldh_labels, mx_patterns, policies, policy_ids

from provisioner.rfc8461 import (
    MAX_AGE_LIMIT,
    GrammarError,
    Mode,
    ParsedPolicy,
    Policy,
    StsRecord,
    id_minted_at,
    id_names_body,
    is_sts_record,
    max_age_advice,
    mx_matches,
    normalize_hostname,
    normalize_mx_pattern,
    parse_policy,
    parse_sts_record,
    policy_id,
    render_policy,
    render_sts_record,
    uncovered_mx_hosts,
)

GOOD = (
    "version: STSv1\r\n"
    "mode: enforce\r\n"
    "mx: mail.example.com\r\n"
    "mx: *.mx.example.net\r\n"
    "max_age: 1209600\r\n"
)
GOOD_POLICY = Policy(Mode.ENFORCE, 1_209_600, ("mail.example.com", "*.mx.example.net"))


def body(*lines: str, end: str = "\r\n") -> str:
    return "".join(line + end for line in lines)


def grammar_error(text: str) -> str:
    with pytest.raises(GrammarError) as info:
        parse_policy(text)
    return str(info.value)


# --- render_policy ---------------------------------------------------------------------


def test_render_policy_exact_bytes() -> None:
    assert render_policy(GOOD_POLICY) == GOOD
    assert GOOD_POLICY.render().encode("ascii") == (
        b"version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\n"
        b"mx: *.mx.example.net\r\nmax_age: 1209600\r\n"
    )


def test_render_policy_none_without_mx() -> None:
    assert render_policy(Policy(Mode.NONE, 86_400)) == body(
        "version: STSv1", "mode: none", "max_age: 86400"
    )


def test_render_policy_one_mx_line_per_pattern_in_order() -> None:
    mx = ("c.example.com", "a.example.com", "*.b.example.com")
    text = render_policy(Policy(Mode.TESTING, 86_400, mx))
    lines = text.split("\r\n")
    assert lines[0] == "version: STSv1"
    assert lines[1] == "mode: testing"
    assert lines[2:5] == [f"mx: {p}" for p in mx]
    assert lines[5:] == ["max_age: 86400", ""]
    assert "\n" not in text.replace("\r\n", "")


def test_render_policy_refuses_unnormalised_patterns() -> None:
    with pytest.raises(GrammarError, match=re.escape("mx pattern 'MAIL.example.com' is not")):
        render_policy(Policy(Mode.ENFORCE, 86_400, ("MAIL.example.com",)))


def test_policy_needs_mx_unless_none() -> None:
    with pytest.raises(GrammarError, match=r"^mode testing needs at least one mx pattern$"):
        Policy(Mode.TESTING, 86_400)


@pytest.mark.parametrize("max_age", [-1, MAX_AGE_LIMIT + 1])
def test_policy_max_age_range(max_age: int) -> None:
    with pytest.raises(ValueError, match=r"^must be between 0 and 31557600$"):
        Policy(Mode.NONE, max_age)


@pytest.mark.parametrize("max_age", [True, 86400.0, "86400"])
def test_policy_max_age_type(max_age: object) -> None:
    with pytest.raises(ValueError, match=r"^max_age must be a whole number of seconds$"):
        Policy(Mode.NONE, max_age)  # type: ignore[arg-type]


# --- policy id -------------------------------------------------------------------------


AT = datetime(2026, 11, 30, 12, 34, 56, tzinfo=UTC)


def test_policy_id_is_the_body_hash_prefix_then_the_utc_second_it_was_minted() -> None:
    pid = policy_id(GOOD, AT)
    assert re.fullmatch(r"[A-Za-z0-9]{1,32}", pid)
    assert pid == hashlib.sha256(GOOD.encode()).hexdigest()[:12] + "20261130123456"
    assert id_minted_at(pid) == AT
    other_zone = AT.astimezone(timezone(timedelta(hours=5)))
    assert policy_id(GOOD, other_zone) == pid


def test_policy_id_needs_an_aware_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        policy_id(GOOD, datetime(2026, 1, 1))


def test_an_id_names_its_body_at_any_minting_time_and_no_other_body() -> None:
    later = policy_id(GOOD, AT + timedelta(days=400))
    assert id_names_body(policy_id(GOOD, AT), GOOD)
    assert id_names_body(later, GOOD)
    assert later != policy_id(GOOD, AT), "a re-publication never reuses an id"
    assert not id_names_body(policy_id(GOOD, AT), GOOD.replace("enforce", "testing"))


def test_ids_of_earlier_releases_still_name_their_body() -> None:
    legacy = hashlib.sha256(GOOD.encode()).hexdigest()[:20]
    assert id_names_body(legacy, GOOD)
    assert not id_names_body(legacy, GOOD.replace("enforce", "testing"))
    assert id_minted_at(legacy) is None


@pytest.mark.parametrize("foreign", ["20240101", "handmade1", "A" * 26, "", "x" * 32])
def test_foreign_ids_name_no_body(foreign: str) -> None:
    assert not id_names_body(foreign, GOOD)


@pytest.mark.parametrize(
    "changed",
    [
        Policy(Mode.TESTING, 1_209_600, ("mail.example.com", "*.mx.example.net")),
        Policy(Mode.ENFORCE, 1_209_601, ("mail.example.com", "*.mx.example.net")),
        Policy(Mode.ENFORCE, 1_209_600, ("mail.example.com",)),
        Policy(Mode.ENFORCE, 1_209_600, ("*.mx.example.net", "mail.example.com")),
    ],
)
def test_policy_id_changes_with_body(changed: Policy) -> None:
    assert policy_id(changed.render(), AT) != policy_id(GOOD, AT)
    assert not id_names_body(policy_id(GOOD, AT), changed.render())


@PROPERTY
@given(policies(), policies())
def test_policy_id_differs_for_different_policies(a: Policy, b: Policy) -> None:
    a_id, b_id = policy_id(a.render(), AT), policy_id(b.render(), AT)
    assert re.fullmatch(r"[A-Za-z0-9]{1,32}", a_id)
    assert (a_id == b_id) == (a.render() == b.render())
    assert id_names_body(a_id, b.render()) == (a.render() == b.render())


# --- _mta-sts record -------------------------------------------------------------------


def test_render_sts_record_exact() -> None:
    assert render_sts_record("abc123XYZ") == "v=STSv1; id=abc123XYZ"
    assert StsRecord("abc").render() == "v=STSv1; id=abc"
    pid = policy_id(GOOD, AT)
    assert render_sts_record(pid) == f"v=STSv1; id={pid}"


@pytest.mark.parametrize("bad", ["", "a+b", "a-b", "a.b", "a:b", "a/b", "a=", "x" * 33, "é"])
def test_render_sts_record_refuses_bad_ids(bad: str) -> None:
    with pytest.raises(GrammarError) as info:
        render_sts_record(bad)
    assert str(info.value) == f"id {bad!r} must be 1-32 letters and digits"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("v=STSv1; id=20240101T000000", StsRecord("20240101T000000")),
        ("v=STSv1;id=abc", StsRecord("abc")),
        ("v=STSv1; id=abc;", StsRecord("abc")),
        ("v=STSv1; id=abc; ", StsRecord("abc")),
        ("v=STSv1;\tid=abc", StsRecord("abc")),
        ("v=STSv1; id=" + "x" * 32, StsRecord("x" * 32)),
        ("v=STSv1; id=abc; ext=some:value", StsRecord("abc", (("ext", "some:value"),))),
        ("v=STSv1; foo.bar=1; id=abc", StsRecord("abc", (("foo.bar", "1"),))),
        # a repeated id: the first one counts
        ("v=STSv1; id=first; id=second", StsRecord("first")),
    ],
)
def test_parse_sts_record_accepts(value: str, expected: StsRecord) -> None:
    assert parse_sts_record(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("v=STSv1; id=a+b", "id 'a+b' must be 1-32 letters and digits"),
        ("v=STSv1; id=a-b", "id 'a-b' must be 1-32 letters and digits"),
        ("v=STSv1; id=a.b", "id 'a.b' must be 1-32 letters and digits"),
        ("v=STSv1; id=a:b", "id 'a:b' must be 1-32 letters and digits"),
        ("v=STSv1; id=YWJj/w==", "id 'YWJj/w==' must be 1-32 letters and digits"),
        ("v=STSv1; id=" + "x" * 33, f"id {'x' * 33!r} must be 1-32 letters and digits"),
        ("v=STSv1; id=", "id '' must be 1-32 letters and digits"),
        ("v=STSv1;", "no id in 'v=STSv1;'"),
        ("v=STSv1", "no id in 'v=STSv1'"),
        ("v=STSv1; ID=abc", "no id in 'v=STSv1; ID=abc'"),
        ("v=STSv2; id=abc", "must start with 'v=STSv1;', got 'v=STSv2; id=abc'"),
        (" v=STSv1; id=abc", "must start with 'v=STSv1;', got ' v=STSv1; id=abc'"),
        ("v=STSv1 ; id=abc", "must start with 'v=STSv1;', got 'v=STSv1 ; id=abc'"),
        ("V=STSv1; id=abc", "must start with 'v=STSv1;', got 'V=STSv1; id=abc'"),
        ("v=stsv1; id=abc", "must start with 'v=STSv1;', got 'v=stsv1; id=abc'"),
        ("v=STSv1;; id=abc", "malformed field '' in 'v=STSv1;; id=abc'"),
        ("v=STSv1; id abc", "malformed field 'id abc' in 'v=STSv1; id abc'"),
        ("v=STSv1; id=abc; x=a b", "malformed field 'x=a b' in 'v=STSv1; id=abc; x=a b'"),
    ],
)
def test_parse_sts_record_rejects(value: str, message: str) -> None:
    with pytest.raises(GrammarError) as info:
        parse_sts_record(value)
    assert str(info.value) == message


@PROPERTY
@given(policy_ids)
def test_sts_record_round_trip(pid: str) -> None:
    assert parse_sts_record(render_sts_record(pid)) == StsRecord(pid)


def test_is_sts_record() -> None:
    assert is_sts_record("v=STSv1; id=abc")
    assert is_sts_record("v=STSv1 ; id=abc")  # mtasts owns it (and replaces it)
    assert not is_sts_record("v=spf1 -all")
    assert not is_sts_record("google-site-verification=abc")


# --- parse_policy: accepted ------------------------------------------------------------


def test_parse_policy_good() -> None:
    assert parse_policy(GOOD) == ParsedPolicy(GOOD_POLICY)


def test_parse_policy_lf_only() -> None:
    assert parse_policy(GOOD.replace("\r\n", "\n")) == ParsedPolicy(GOOD_POLICY)


@pytest.mark.parametrize("end", ["\r\n", "\n"])
def test_parse_policy_without_final_line_end(end: str) -> None:
    text = GOOD.replace("\r\n", end).removesuffix(end)
    assert parse_policy(text) == ParsedPolicy(GOOD_POLICY)


def test_parse_policy_value_spacing_and_extensions() -> None:
    text = body(
        "version:STSv1",
        "mode:\tenforce  ",
        "mx: MAIL.Example.COM",
        "max_age: 0086400",
        "ext_1: some value: with spaces",
        "note: café",
    )
    parsed = parse_policy(text)
    assert parsed.policy == Policy(Mode.ENFORCE, 86_400, ("mail.example.com",))
    assert parsed.extensions == (("ext_1", "some value: with spaces"), ("note", "café"))
    assert parsed.warnings == ()


def test_parse_policy_none_without_mx() -> None:
    parsed = parse_policy(body("version: STSv1", "mode: none", "max_age: 0"))
    assert parsed.policy == Policy(Mode.NONE, 0)


def test_parse_policy_max_age_limits() -> None:
    top = body("version: STSv1", "mode: none", f"max_age: {MAX_AGE_LIMIT}")
    assert parse_policy(top).policy.max_age == MAX_AGE_LIMIT


# --- parse_policy: rejected ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("\ufeff" + GOOD, "line 1: starts with a byte order mark"),
        ("", "is empty"),
        ("\r\n", "line 1: blank line"),
        (body("version: STSv1", "mode: enforce", "", "mx: a.example.com"), "line 3: blank line"),
        (body("version: STSv1", "mode: enforce", "   ", "max_age: 1"), "line 3: blank line"),
        (body(" version: STSv1", "mode: none", "max_age: 1"), "line 1: leading whitespace"),
        (body("version: STSv1", "\tmode: none", "max_age: 1"), "line 2: leading whitespace"),
        (
            body("version: STSv1", "mode: Enforce", "mx: a.example.com", "max_age: 1"),
            "line 2: mode must be enforce, testing or none, got 'Enforce'",
        ),
        (
            body("version: STSv1", "mode: enforcing", "mx: a.example.com", "max_age: 1"),
            "line 2: mode must be enforce, testing or none, got 'enforcing'",
        ),
        (
            body("version: STSv2", "mode: none", "max_age: 1"),
            "line 1: version must be 'STSv1', got 'STSv2'",
        ),
        (
            body("version: stsv1", "mode: none", "max_age: 1"),
            "line 1: version must be 'STSv1', got 'stsv1'",
        ),
        (
            body("version: STSv1", "mode: none", "max_age: 31557601"),
            "line 3: max_age must be between 0 and 31557600",
        ),
        (
            body("version: STSv1", "mode: none", "max_age: 99999999999"),
            "line 3: max_age must be digits, got '99999999999'",
        ),
        (
            body("version: STSv1", "mode: none", "max_age: 1d"),
            "line 3: max_age must be digits, got '1d'",
        ),
        (
            body("version: STSv1", "mode: none", "max_age: -1"),
            "line 3: max_age must be digits, got '-1'",
        ),
        (
            body("version: STSv1", "mode: none", "max_age: +5"),
            "line 3: max_age must be digits, got '+5'",
        ),
        (
            body("version: STSv1", "mode: none", "max_age: 1_000"),
            "line 3: max_age must be digits, got '1_000'",
        ),
        (
            body("version: STSv1", "mode: none", "max_age: ８６４００"),
            "line 3: max_age must be digits, got '８６４００'",
        ),
        (body("version: STSv1", "mode: none"), "missing 'max_age'"),
        (body("version: STSv1", "max_age: 1"), "missing 'mode'"),
        (body("mode: none", "max_age: 1"), "missing 'version'"),
        (
            body("version: STSv1", "mode: enforce", "max_age: 1"),
            "mode enforce needs at least one mx pattern",
        ),
        (
            body("version: STSv1", "mode: testing", "mx: 192.0.2.1", "max_age: 1"),
            "line 3: mx pattern '192.0.2.1' is an IP address; MTA-STS needs a host name",
        ),
        (
            body("version: STSv1", "mode: testing", "mx: 2001:db8::25", "max_age: 1"),
            "line 3: mx pattern '2001:db8::25' is an IP address; MTA-STS needs a host name",
        ),
        (
            body("version: STSv1", "mode: testing", "mx: [192.0.2.1]", "max_age: 1"),
            "line 3: mx pattern '[192.0.2.1]' is an IP address; MTA-STS needs a host name",
        ),
        (
            body("version: STSv1", "mode: testing", "mx: mail.example.com.", "max_age: 1"),
            "line 3: mx pattern 'mail.example.com.' has a trailing dot",
        ),
        (
            body("version: STSv1", "mode: testing", "mx: mail.*.example.com", "max_age: 1"),
            "line 3: mx pattern 'mail.*.example.com': a wildcard must be the whole left-most "
            "label, as in '*.example.com'",
        ),
        (
            body("version: STSv1", "mode: testing", "mx: *.com", "max_age: 1"),
            "line 3: mx pattern '*.com' needs at least two labels",
        ),
        (
            body("version: STSv1", "mode: testing", "mx: bücher.example", "max_age: 1"),
            "line 3: mx pattern 'bücher.example' is not in A-labels (write an IDN as 'xn--...')",
        ),
        (
            body("version: STSv1", "mode: testing", "mx: mail.example.com\x0c", "max_age: 1"),
            "line 3: mx pattern 'mail.example.com\\x0c' holds spaces or control characters",
        ),
        (
            body("version: STSv1", "mode: testing", "mx: mail example.com", "max_age: 1"),
            "line 3: mx pattern 'mail example.com' holds spaces or control characters",
        ),
        (
            body("version: STSv1", "mode: testing", "mx:", "max_age: 1"),
            "line 3: mx pattern '' is empty",
        ),
        (
            GOOD + "# managed by mtasts\r\n",
            "line 6: expected 'key: value', got '# managed by mtasts'",
        ),
        (GOOD + "# note: x\r\n", "line 6: malformed field '# note: x'"),
        (
            GOOD.replace("mode: enforce", "mode : enforce"),
            "line 2: malformed field 'mode : enforce'",
        ),
        (GOOD + "ext:\r\n", "line 6: malformed field 'ext:'"),
        ("version: STSv1\r\r\nmode: none\r\nmax_age: 1\r\n", "line 1: stray carriage return"),
        ("version: STSv1\rmode: none\r\nmax_age: 1\r\n", "line 1: stray carriage return"),
        ("version: STSv1\r\nmode: none\r\nmax_age: 1\r", "line 3: stray carriage return"),
    ],
)
def test_parse_policy_rejects(text: str, message: str) -> None:
    assert grammar_error(text) == message


def test_parse_policy_error_carries_line() -> None:
    with pytest.raises(GrammarError) as info:
        parse_policy(body("version: STSv1", "mode: nope", "max_age: 1"))
    assert info.value.line == 2
    with pytest.raises(GrammarError) as info:
        parse_policy(body("version: STSv1", "mode: none"))
    assert info.value.line is None


def test_parse_policy_rejects_over_64k() -> None:
    text = GOOD + "".join(f"x{i}: {'y' * 60}\r\n" for i in range(1100))
    assert len(text.encode()) > 64 * 1024
    assert grammar_error(text) == "is over 65536 bytes"


# --- parse_policy: warnings ------------------------------------------------------------


def test_parse_policy_warns_on_typo_keys() -> None:
    text = body(
        "version: STSv1",
        "mode: enforce",
        "mx: mail.example.com",
        "nmx: backup.example.com",
        "max-age: 5",
        "max_age: 86400",
    )
    parsed = parse_policy(text)
    assert parsed.policy == Policy(Mode.ENFORCE, 86_400, ("mail.example.com",))
    assert parsed.extensions == (("nmx", "backup.example.com"), ("max-age", "5"))
    assert parsed.warnings == (
        "line 4: unknown key 'nmx' (did you mean 'mx'?)",
        "line 5: unknown key 'max-age' (did you mean 'max_age'?)",
    )


def test_parse_policy_only_typo_mx_is_an_error_in_enforce() -> None:
    text = body("version: STSv1", "mode: enforce", "nmx: mail.example.com", "max_age: 1")
    assert grammar_error(text) == (
        "mode enforce needs at least one mx pattern; line 3: unknown key 'nmx' (did you mean 'mx'?)"
    )


def test_parse_policy_repeated_keys_first_wins() -> None:
    text = body(
        "version: STSv1",
        "mode: testing",
        "mx: a.example.com",
        "max_age: 86400",
        "mode: enforce",
        "max_age: 5",
        "version: STSv2",
        "mx: b.example.com",
    )
    parsed = parse_policy(text)
    assert parsed.policy == Policy(Mode.TESTING, 86_400, ("a.example.com", "b.example.com"))
    assert parsed.warnings == (
        "line 5: mode repeats; the first one wins",
        "line 6: max_age repeats; the first one wins",
        "line 7: version repeats; the first one wins",
    )


def test_parse_policy_warns_when_version_not_first() -> None:
    text = body("mode: none", "version: STSv1", "max_age: 1")
    parsed = parse_policy(text)
    assert parsed.policy == Policy(Mode.NONE, 1)
    assert parsed.warnings == ("'version' is not the first field",)


def test_parse_policy_warns_on_mixed_line_ends() -> None:
    text = "version: STSv1\r\nmode: none\nmax_age: 1\r\n"
    assert parse_policy(text).warnings == ("mixes LF and CRLF line ends",)


def test_parse_policy_last_line_without_end_is_not_mixed() -> None:
    # A CRLF body without a final CRLF is consistent: the last line has no line end at all.
    assert parse_policy(GOOD.removesuffix("\r\n")).warnings == ()
    assert parse_policy(GOOD.replace("\r\n", "\n").removesuffix("\n")).warnings == ()


# --- round trip ------------------------------------------------------------------------


@PROPERTY
@given(policies())
def test_policy_round_trip(policy: Policy) -> None:
    text = render_policy(policy)
    parsed = parse_policy(text)
    assert parsed.policy == policy
    assert parsed.warnings == ()
    assert parsed.extensions == ()
    assert text.startswith("version: STSv1\r\n")
    assert text.endswith(f"max_age: {policy.max_age}\r\n")
    assert text.count("\n") == text.count("\r\n") == 3 + len(policy.mx)


@PROPERTY
@given(policies())
def test_policy_round_trip_lf(policy: Policy) -> None:
    assert parse_policy(render_policy(policy).replace("\r\n", "\n")).policy == policy


# --- mx matching (section 4.1) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "pattern", "expected"),
    [
        ("mail.example.com", "*.example.com", True),
        ("example.com", "*.example.com", False),
        ("a.b.example.com", "*.example.com", False),
        (".example.com", "*.example.com", False),
        ("mailexample.com", "*.example.com", False),
        ("mail.example.com.evil.net", "*.example.com", False),
        ("MAIL.Example.COM", "*.example.com", True),
        ("mail.example.com", "*.EXAMPLE.com", True),
        ("mail.example.com.", "*.example.com", True),
        ("mail.example.com.", "mail.example.com", True),
        ("MAIL.EXAMPLE.COM.", "mail.example.com", True),
        ("mail.example.com", "mail.example.com", True),
        ("mail2.example.com", "mail.example.com", False),
        ("bad-example.com", "example.com", False),
        ("sub.mail.example.com", "mail.example.com", False),
    ],
)
def test_mx_matches(host: str, pattern: str, expected: bool) -> None:
    assert mx_matches(host, pattern) is expected


@PROPERTY
@given(ldh_labels, hostnames(), ldh_labels)
def test_wildcard_covers_exactly_one_label(label: str, base: str, extra: str) -> None:
    assert mx_matches(f"{label}.{base}", f"*.{base}")
    assert mx_matches(f"{label}.{base}".upper() + ".", f"*.{base}")
    assert not mx_matches(base, f"*.{base}")
    assert not mx_matches(f"{extra}.{label}.{base}", f"*.{base}")


def test_uncovered_mx_hosts() -> None:
    hosts = ["mail.example.com", "mx1.other.net", "a.b.example.com", "MX2.OTHER.NET."]
    patterns = ("*.example.com", "mx2.other.net")
    assert uncovered_mx_hosts(hosts, patterns) == ["mx1.other.net", "a.b.example.com"]
    assert uncovered_mx_hosts(hosts, ()) == hosts
    assert uncovered_mx_hosts((), patterns) == []


# --- normalising what a spec writes ----------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("mail.example.com", "mail.example.com"),
        ("MAIL.Example.COM", "mail.example.com"),
        ("mail.example.com.", "mail.example.com"),
        ("  mail.example.com  ", "mail.example.com"),
        ("*.Example.COM.", "*.example.com"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("*.Bücher.example", "*.xn--bcher-kva.example"),
        ("mx.例え.jp", "mx.xn--r8jz45g.jp"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
    ],
)
def test_normalize_mx_pattern(pattern: str, expected: str) -> None:
    assert normalize_mx_pattern(pattern) == expected


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("*.com", "mx pattern '*.com' needs at least two labels"),
        ("localhost", "mx pattern 'localhost' needs at least two labels"),
        (
            "mail.*.example.com",
            "mx pattern 'mail.*.example.com': a wildcard must be the whole left-most label, as "
            "in '*.example.com'",
        ),
        (
            "*example.com",
            "mx pattern '*example.com': a wildcard must be the whole left-most label, as in "
            "'*.example.com'",
        ),
        (
            "*.*.example.com",
            "mx pattern '*.*.example.com': a wildcard must be the whole left-most label, as in "
            "'*.example.com'",
        ),
        (
            "mail*.example.com",
            "mx pattern 'mail*.example.com': a wildcard must be the whole left-most label, as in "
            "'*.example.com'",
        ),
        (
            "*",
            "mx pattern '*': a wildcard must be the whole left-most label, as in '*.example.com'",
        ),
        ("*.", "mx pattern '*.' is empty"),
        ("", "mx pattern '' is empty"),
        ("192.0.2.25", "mx pattern '192.0.2.25' is an IP address; MTA-STS needs a host name"),
        ("[::1]", "mx pattern '[::1]' is an IP address; MTA-STS needs a host name"),
        ("1.2.3", "mx pattern '1.2.3' is not a valid host name (numeric top-level label)"),
        (
            "mail.example.com..",
            "mx pattern 'mail.example.com..' is not a valid host name (label '')",
        ),
        ("*.example.com..", "mx pattern '*.example.com..' is not a valid host name (label '')"),
    ],
)
def test_normalize_mx_pattern_rejects(pattern: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        normalize_mx_pattern(pattern)
    assert str(info.value) == message


@pytest.mark.parametrize(
    "pattern", ["mail_1.example.com", "-mail.example.com", "xn--zz.example", "a..example.com"]
)
def test_normalize_mx_pattern_rejects_bad_labels(pattern: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"mx pattern {pattern!r} is not a valid host")):
        normalize_mx_pattern(pattern)


@PROPERTY
@given(mx_patterns())
def test_normalize_mx_pattern_is_idempotent(pattern: str) -> None:
    assert normalize_mx_pattern(pattern) == pattern
    assert normalize_mx_pattern(pattern.upper() + ".") == pattern


def test_normalize_hostname() -> None:
    assert normalize_hostname("Example.COM.") == "example.com"
    assert normalize_hostname("Bücher.Example") == "xn--bcher-kva.example"
    with pytest.raises(ValueError) as info:
        normalize_hostname("192.0.2.1")
    assert str(info.value) == "'192.0.2.1' is an IP address; MTA-STS needs a host name"
    with pytest.raises(ValueError) as info:
        normalize_hostname("not a host")
    assert str(info.value) == "'not a host' is not a valid host name (' ' is not allowed)"
    with pytest.raises(ValueError, match=r"is not a valid host name \(longer than 253"):
        normalize_hostname(".".join(["a" * 60] * 5))


# --- max_age advice --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "max_age", "advice"),
    [
        (
            Mode.ENFORCE,
            1_209_599,
            "max_age 1209599 is short for mode enforce (advised: at least 1209600, two weeks)",
        ),
        (Mode.ENFORCE, 1_209_600, None),
        (Mode.ENFORCE, MAX_AGE_LIMIT, None),
        (
            Mode.TESTING,
            86_399,
            "max_age 86399 is short for mode testing (advised: at least 86400, one day)",
        ),
        (Mode.TESTING, 86_400, None),
        (Mode.NONE, 0, None),
        (Mode.NONE, 300, None),
    ],
)
def test_max_age_advice(mode: Mode, max_age: int, advice: str | None) -> None:
    assert max_age_advice(mode, max_age) == advice


@PROPERTY
@given(st.integers(0, MAX_AGE_LIMIT))
def test_max_age_advice_threshold(max_age: int) -> None:
    assert (max_age_advice(Mode.ENFORCE, max_age) is None) == (max_age >= 1_209_600)
    assert (max_age_advice(Mode.TESTING, max_age) is None) == (max_age >= 86_400)
    assert max_age_advice(Mode.NONE, max_age) is None
