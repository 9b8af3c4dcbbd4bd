"""DNS text through dnspython: every provider reads the same value from the same text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import PROPERTY, txt_values

from provisioner.dnstext import (
    MAX_STRING_BYTES,
    DnsTextError,
    join_strings,
    normalize_pins,
    parse_txt,
    readable_value,
    split_value,
    txt_text,
    txt_value,
    zone_for,
)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('"a\\059b"', "a;b"),
        ("a059b", "a059b"),
        ('"a;b"', "a;b"),
        ('"v=STSv1; " "id=abc"', "v=STSv1; id=abc"),
        ('"x\\\\\\"y"', 'x\\"y'),
        ('"caf\\195\\169"', "café"),
        ('"café"', "café"),
    ],
)
def test_zone_text_reads_as_senders_join_it(text, value):
    assert txt_value(text) == value


def test_a_value_over_255_bytes_is_split_and_joins_back():
    value = "v=TLSRPTv1; rua=" + ",".join(f"mailto:r{i}@example.net" for i in range(30))
    record = split_value(value)
    assert [len(s) for s in record.strings][:-1] == [255] * (len(record.strings) - 1)
    assert txt_value(record.text) == value


def test_non_ascii_and_invalid_utf8_bytes_round_trip_exactly():
    raw = parse_txt('"\\255\\000ok"')
    assert raw.strings == (b"\xff\x00ok",)
    assert parse_txt(txt_text(raw.value)).strings == raw.strings


def test_unbalanced_quotes_are_an_error_not_a_guess():
    with pytest.raises(DnsTextError, match="not TXT record data"):
        parse_txt('"open')


@given(st.binary(max_size=700))
def test_any_bytes_survive_value_and_text(data):
    value = data.decode("utf-8", "surrogateescape")
    assert txt_value(txt_text(value)).encode("utf-8", "surrogateescape") == data


def test_zone_for_takes_the_pin_then_the_longest_suffix():
    zones = ["example.com.", "mail.example.com.", "other.net."]
    assert zone_for("a.mail.example.com", zones) == "mail.example.com."
    assert zone_for("example.com", zones) == "example.com."
    assert zone_for("xexample.com", zones) is None
    assert zone_for("a.mail.example.com", zones, {"a.mail.example.com": "Z1"}) == "Z1"


def test_idn_pins_are_keyed_like_spec_domains():
    assert normalize_pins({"Bücher.Example": "Z1"}, "zone_ids") == {"xn--bcher-kva.example": "Z1"}
    with pytest.raises(ValueError, match="zone_ids: 'bad name!'"):
        normalize_pins({"bad name!": "Z"}, "zone_ids")


# Character-strings: split at 255 bytes for publishing, joined with no separator.


def test_short_and_empty_values_are_one_string():
    assert split_value("v=STSv1; id=abc").strings == (b"v=STSv1; id=abc",)
    assert split_value("").strings == (b"",)
    assert txt_text("") == '""'
    assert join_strings([b""]) == ""


@pytest.mark.parametrize(
    ("length", "sizes"),
    [(254, [254]), (255, [255]), (256, [255, 1]), (510, [255, 255]), (511, [255, 255, 1])],
)
def test_split_at_255_bytes(length, sizes):
    value = "".join(chr(ord("a") + i % 26) for i in range(length))
    strings = split_value(value).strings
    assert [len(s) for s in strings] == sizes
    assert join_strings(strings) == value


def test_join_has_no_separator():
    # dnspython's to_text() would give '"v=TLSRPTv1; rua=mailto:a@ex" "ample.com"'
    assert join_strings(["v=TLSRPTv1; rua=mailto:a@ex", "ample.com"]) == (
        "v=TLSRPTv1; rua=mailto:a@example.com"
    )
    assert join_strings([b"v=STSv1; ", "id=abc"]) == "v=STSv1; id=abc"
    assert readable_value([b"v=STSv1; ", b"id=abc"]) == "v=STSv1; id=abc"


def test_quotes_and_backslashes_are_escaped_in_zone_text():
    assert txt_text("v=STSv1; id=abc") == '"v=STSv1; id=abc"'
    assert txt_text('a"b\\c') == '"a\\"b\\\\c"'
    assert txt_text("x" * 256) == '"' + "x" * 255 + '" "x"'
    assert txt_text("a;b") == '"a;b"'


def test_a_value_is_never_split_inside_a_utf8_character():
    value = "rua=mailto:a@b" + "ü" * 200  # byte 255 is the first byte of a "ü"
    strings = split_value(value).strings
    assert [len(s) for s in strings] == [254, 160]
    assert [s.decode("utf-8") for s in strings] == [value[:134], value[134:]]
    assert join_strings(strings) == value == readable_value(strings)
    assert txt_value(txt_text(value)) == value


@pytest.mark.parametrize("char", ["é", "€", "𝄞"])
def test_every_cut_of_a_multibyte_value_falls_between_characters(char):
    for prefix in range(4):
        value = "x" * prefix + char * 300
        strings = split_value(value).strings
        assert all(len(s) <= MAX_STRING_BYTES for s in strings)
        assert "".join(s.decode("utf-8") for s in strings) == value


@pytest.mark.parametrize(
    ("strings", "readable"),
    [
        ((b"id=\xff",), "id=\\255"),
        ((b"caf\xc3", b"\xa9"), "café"),
        ((b"\x00\x80ok",), "\x00\\128ok"),
        ((b"a\\b",), "a\\b"),
    ],
)
def test_readable_value_escapes_only_bytes_that_are_not_utf8(strings, readable):
    assert readable_value(strings) == readable
    readable.encode("utf-8")  # never a lone surrogate


@PROPERTY
@given(txt_values)
def test_split_join_round_trip(value):
    strings = split_value(value).strings
    assert join_strings(strings) == value == txt_value(txt_text(value))
    assert all(len(s) <= MAX_STRING_BYTES for s in strings)
    assert all(len(s) == MAX_STRING_BYTES for s in strings[:-1])
    assert len(strings) == max(1, -(-len(value) // MAX_STRING_BYTES))


@given(st.binary(max_size=600))
def test_readable_value_always_encodes(data):
    text = readable_value([data])
    text.encode("utf-8")
    if b"\\" not in data:
        try:
            assert text == data.decode("utf-8")
        except UnicodeDecodeError:
            assert "\\" in text
