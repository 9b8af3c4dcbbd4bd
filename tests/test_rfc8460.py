"""RFC 8460 (TLS-RPT): the `_smtp._tls` record, rendered and parsed."""

from __future__ import annotations

import pytest
from hypothesis import given
from strategies import PROPERTY, encoded, rua_lists

from provisioner.rfc8460 import (
    TLSRPT_RECORD_MAX_BYTES,
    TlsRptRecord,
    is_tlsrpt_record,
    normalize_rua,
    parse_tlsrpt_record,
    render_tlsrpt_record,
)
from provisioner.rfc8461 import GrammarError


def test_render_exact() -> None:
    rua = ["mailto:tlsrpt@example.com", "https://reports.example.net/v1/tlsrpt"]
    assert render_tlsrpt_record(rua) == (
        "v=TLSRPTv1; rua=mailto:tlsrpt@example.com,https://reports.example.net/v1/tlsrpt"
    )
    assert TlsRptRecord(("mailto:a@example.com",)).render() == (
        "v=TLSRPTv1; rua=mailto:a@example.com"
    )


def test_render_needs_a_uri() -> None:
    with pytest.raises(GrammarError, match=r"^rua needs at least one report URI$"):
        render_tlsrpt_record([])


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("mailto:tlsrpt@example.com", "mailto:tlsrpt@example.com"),
        ("MAILTO:tlsrpt@example.com", "mailto:tlsrpt@example.com"),
        ("HTTPS://reports.example.net/", "https://reports.example.net/"),
        ("  mailto:tlsrpt@example.com ", "mailto:tlsrpt@example.com"),
        ("mailto:tls,rpt@example.com", "mailto:tls%2Crpt@example.com"),
        ("mailto:tls!rpt;x@example.com", "mailto:tls%21rpt%3Bx@example.com"),
        ("mailto:tls%2Crpt@example.com", "mailto:tls%2Crpt@example.com"),
        ("mailto:tlsrpt@example.com?subject=tls", "mailto:tlsrpt@example.com?subject=tls"),
        ("https://r.example.net/a,b;c!d?e=f", "https://r.example.net/a%2Cb%3Bc%21d?e=f"),
        ("https://r.example.net:8443/x", "https://r.example.net:8443/x"),
        ("mailto:tlsrpt@xn--bcher-kva.example", "mailto:tlsrpt@xn--bcher-kva.example"),
    ],
)
def test_normalize_rua(uri: str, expected: str) -> None:
    assert normalize_rua(uri) == expected


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("", "empty report URI"),
        ("http://reports.example.net/", "must start with 'mailto:' or 'https:'"),
        ("ftp://reports.example.net/", "must start with 'mailto:' or 'https:'"),
        ("tlsrpt@example.com", "must start with 'mailto:' or 'https:'"),
        ("mailto:tlsrpt", "needs an address, as mailto:tlsrpt@example.net"),
        ("mailto:@example.com", "needs an address, as mailto:tlsrpt@example.net"),
        ("https:reports.example.net", "needs a host, as https://reports.example.net/"),
        ("https:///x", "needs a host, as https://reports.example.net/"),
        ("mailto:a b@example.com", "contains spaces or non-ASCII characters"),
        ("mailto:tlsrpt@bücher.example", "contains spaces or non-ASCII characters"),
        ("mailto:a{b}@example.com", "contains '{', which a URI cannot hold"),
        ("https://r.example.net/<x>", "contains '<', which a URI cannot hold"),
        ('https://r.example.net/"x"', "contains '\"', which a URI cannot hold"),
        ("https://r.example.net/100%", "contains '%', which a URI cannot hold"),
        ("mailto:a%zz@example.com", "contains '%', which a URI cannot hold"),
    ],
)
def test_normalize_rua_rejects(uri: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        normalize_rua(uri)
    assert message in str(info.value)


def test_normalize_rua_exact_messages() -> None:
    with pytest.raises(ValueError) as info:
        normalize_rua("http://reports.example.net/")
    assert str(info.value) == (
        "report URI 'http://reports.example.net/' must start with 'mailto:' or 'https:'"
    )
    with pytest.raises(ValueError) as info:
        normalize_rua("mailto:tlsrpt@192.0.2.1")
    assert str(info.value) == (
        "report URI 'mailto:tlsrpt@192.0.2.1': host '192.0.2.1' is an IP address; "
        "MTA-STS needs a host name"
    )
    with pytest.raises(ValueError) as info:
        normalize_rua("mailto:tlsrpt@")
    assert str(info.value) == "report URI 'mailto:tlsrpt@': host '' is empty"


# --- parsing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("v=TLSRPTv1; rua=mailto:a@example.com", TlsRptRecord(("mailto:a@example.com",))),
        ("v=TLSRPTv1;rua=mailto:a@example.com", TlsRptRecord(("mailto:a@example.com",))),
        ("v=TLSRPTv1; rua=mailto:a@example.com;", TlsRptRecord(("mailto:a@example.com",))),
        (
            "v=TLSRPTv1; rua=mailto:a@example.com,https://r.example.net/x",
            TlsRptRecord(("mailto:a@example.com", "https://r.example.net/x")),
        ),
        # the grammar allows spaces around the comma; mtasts never writes them
        (
            "v=TLSRPTv1; rua=mailto:a@example.com , https://r.example.net/x",
            TlsRptRecord(("mailto:a@example.com", "https://r.example.net/x")),
        ),
        (
            "v=TLSRPTv1; ext=1; rua=mailto:a@example.com",
            TlsRptRecord(("mailto:a@example.com",), (("ext", "1"),)),
        ),
        (
            "v=TLSRPTv1; rua=mailto:a@example.com; rua=mailto:b@example.com",
            TlsRptRecord(("mailto:a@example.com",)),
        ),
        ("v=TLSRPTv1; rua=mailto:a%2Cb@example.com", TlsRptRecord(("mailto:a%2Cb@example.com",))),
    ],
)
def test_parse_accepts(value: str, expected: TlsRptRecord) -> None:
    assert parse_tlsrpt_record(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("v=TLSRPTv2; rua=mailto:a@example.com", "must start with 'v=TLSRPTv1;', got "),
        (" v=TLSRPTv1; rua=mailto:a@example.com", "must start with 'v=TLSRPTv1;', got "),
        ("v=TLSRPTv1 ; rua=mailto:a@example.com", "must start with 'v=TLSRPTv1;', got "),
        ("v=TLSRPTv1x; rua=mailto:a@example.com", "must start with 'v=TLSRPTv1;', got "),
        ("v=TLSRPTv1", "must start with 'v=TLSRPTv1;', got "),
        ("v=TLSRPTv1;", "no rua in 'v=TLSRPTv1;'"),
        ("v=TLSRPTv1; ruf=mailto:a@example.com", "no rua in "),
        ("v=TLSRPTv1; RUA=mailto:a@example.com", "no rua in "),
        ("v=TLSRPTv1; rua=", "empty report URI"),
        ("v=TLSRPTv1; rua=mailto:a@example.com,", "empty report URI"),
        ("v=TLSRPTv1; rua=mailto:a@example.com,,https://r.example.net/", "empty report URI"),
        ("v=TLSRPTv1; rua=http://r.example.net/", "must start with 'mailto:' or 'https:'"),
        ("v=TLSRPTv1;; rua=mailto:a@example.com", "malformed field ''"),
        ("v=TLSRPTv1; rua mailto:a@example.com", "malformed field 'rua mailto:a@example.com'"),
        ("v=TLSRPTv1; rua=mailto:a@example.com; x=a b", "malformed field 'x=a b'"),
    ],
)
def test_parse_rejects(value: str, message: str) -> None:
    with pytest.raises(GrammarError) as info:
        parse_tlsrpt_record(value)
    assert message in str(info.value)


def test_parse_rejects_non_canonical_uris() -> None:
    with pytest.raises(GrammarError) as info:
        parse_tlsrpt_record("v=TLSRPTv1; rua=mailto:a!b@example.com")
    assert str(info.value) == (
        "report URI 'mailto:a!b@example.com' must be written 'mailto:a%21b@example.com' "
        "(lower-case scheme; ',' '!' ';' percent-encoded)"
    )
    with pytest.raises(GrammarError) as info:
        parse_tlsrpt_record("v=TLSRPTv1; rua=MAILTO:a@example.com")
    assert str(info.value) == (
        "report URI 'MAILTO:a@example.com' must be written 'mailto:a@example.com' "
        "(lower-case scheme; ',' '!' ';' percent-encoded)"
    )


def test_is_tlsrpt_record() -> None:
    assert is_tlsrpt_record("v=TLSRPTv1; rua=mailto:a@example.com")
    assert is_tlsrpt_record("v=TLSRPTv1 ; rua=mailto:a@example.com")
    assert not is_tlsrpt_record("v=STSv1; id=abc")
    assert not is_tlsrpt_record("v=spf1 -all")


# --- properties ------------------------------------------------------------------------


@PROPERTY
@given(rua_lists)
def test_round_trip(rua: list[str]) -> None:
    record = render_tlsrpt_record(rua)
    expected = tuple(encoded(u) for u in rua)
    assert record == "v=TLSRPTv1; rua=" + ",".join(expected)
    assert parse_tlsrpt_record(record) == TlsRptRecord(expected)


@PROPERTY
@given(rua_lists)
def test_splitting_on_comma_never_cuts_a_uri(rua: list[str]) -> None:
    record = render_tlsrpt_record(rua)
    assert record.count(";") == 1
    assert " " not in record.removeprefix("v=TLSRPTv1; ")
    pieces = record.removeprefix("v=TLSRPTv1; rua=").split(",")
    assert len(pieces) == len(rua)
    assert pieces == [encoded(u) for u in rua]
    assert not any(ch in piece for piece in pieces for ch in ",;!")


@PROPERTY
@given(rua_lists)
def test_normalize_rua_is_idempotent(rua: list[str]) -> None:
    for uri in rua:
        once = normalize_rua(uri)
        assert normalize_rua(once) == once


# --- what a record can carry: one URI per item, a usable URI, a publishable length ------


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        (
            "mailto:a@example.com,mailto:b@example.net",
            "report URI 'mailto:a@example.com,mailto:b@example.net' holds 2 URIs: write each "
            'URI as its own list item: rua: ["mailto:a@example.com", "mailto:b@example.net"]',
        ),
        (
            "https://a.example.net/x,HTTPS://b.example.net/",
            "report URI 'https://a.example.net/x,HTTPS://b.example.net/' holds 2 URIs: write "
            'each URI as its own list item: rua: ["https://a.example.net/x", '
            '"HTTPS://b.example.net/"]',
        ),
        (
            "mailto:a@example.com,b@example.net,c@example.org",
            "report URI 'mailto:a@example.com,b@example.net,c@example.org' holds 3 addresses: "
            'write each URI as its own list item: rua: ["mailto:a@example.com", '
            '"mailto:b@example.net", "mailto:c@example.org"]',
        ),
        (
            "mailto:a@b@example.net",
            "report URI 'mailto:a@b@example.net' holds more than one '@': one address per URI, "
            "as mailto:tlsrpt@example.net",
        ),
        (
            "https://r.example.net:99999/",
            "report URI 'https://r.example.net:99999/' has port '99999': a port is a number "
            "from 1 to 65535",
        ),
        (
            "https://r.example.net:0/",
            "report URI 'https://r.example.net:0/' has port '0': a port is a number from 1 to "
            "65535",
        ),
        (
            "https://r.example.net:https/",
            "report URI 'https://r.example.net:https/' has port 'https': a port is a number "
            "from 1 to 65535",
        ),
        (
            "https://user:pw@r.example.net/",
            "report URI 'https://user:pw@r.example.net/' holds a user name or password before "
            "'@': an https report URI carries none (it would be published in DNS); authorise "
            "by the path instead",
        ),
        (
            "https://token@r.example.net/",
            "report URI 'https://token@r.example.net/' holds a user name or password before "
            "'@': an https report URI carries none (it would be published in DNS); authorise "
            "by the path instead",
        ),
    ],
)
def test_normalize_rua_refuses_what_no_reporter_can_use(uri: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        normalize_rua(uri)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("mailto:a,b@example.com", "mailto:a%2Cb@example.com"),
        ("https://r.example.net/a,b@c", "https://r.example.net/a%2Cb@c"),
        ("https://r.example.net:65535/", "https://r.example.net:65535/"),
        ("https://r.example.net/?to=mailto:x", "https://r.example.net/?to=mailto:x"),
    ],
)
def test_normalize_rua_keeps_commas_and_at_signs_that_belong_to_one_uri(
    uri: str, expected: str
) -> None:
    assert normalize_rua(uri) == expected


def test_render_refuses_a_record_over_the_publishable_size() -> None:
    rua = [f"mailto:tlsrpt{i}@example.com" for i in range(20000)]
    with pytest.raises(GrammarError) as info:
        render_tlsrpt_record(rua)
    assert str(info.value) == (
        "the _smtp._tls record would be 608,905 bytes (20,000 report URIs), over the 2,048 "
        "bytes mtasts publishes: list fewer report URIs (one mailbox or endpoint that "
        "collects every report is the usual setup)"
    )
    fits = [f"mailto:t{i:04}@example.com" for i in range(81)]
    fits[-1] = fits[-1].replace("@", "x" * 8 + "@")
    assert len(render_tlsrpt_record(fits)) == TLSRPT_RECORD_MAX_BYTES == 2048


def test_render_reports_a_bad_uri_as_a_grammar_error() -> None:
    with pytest.raises(GrammarError, match=r"^report URI 'mailto:a@b@example.net' holds more"):
        render_tlsrpt_record(["mailto:a@b@example.net"])


def test_the_broken_record_a_pasted_list_made_is_refused_when_read() -> None:
    """What mtasts published for a pasted list: `check` must not pass it."""
    with pytest.raises(GrammarError) as info:
        parse_tlsrpt_record("v=TLSRPTv1; rua=mailto:a@example.com%2Cmailto:b@example.net")
    assert str(info.value) == (
        "report URI 'mailto:a@example.com%2Cmailto:b@example.net' holds 2 URIs: write each "
        'URI as its own list item: rua: ["mailto:a@example.com", "mailto:b@example.net"]'
    )


def test_a_live_record_over_the_limit_can_still_be_shown_canonically() -> None:
    """`check` suggests how a published record should be written, whatever its length."""
    rua = [f"mailto:tlsrpt{i}@example.com" for i in range(100)]
    record = render_tlsrpt_record(rua, max_bytes=None)
    assert len(record) > TLSRPT_RECORD_MAX_BYTES
    assert parse_tlsrpt_record(record) == TlsRptRecord(tuple(rua))
