"""DNS text through dnspython: every provider reads the same value from the same text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provisioner.dnstext import (
    DnsTextError,
    normalize_pins,
    parse_txt,
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
