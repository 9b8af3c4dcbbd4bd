"""TXT character-strings: split at 255 bytes for publishing, joined with no separator."""

from __future__ import annotations

import pytest
from hypothesis import given
from strategies import PROPERTY, txt_values

from provisioner.txtstrings import MAX_STRING_BYTES, join_strings, split_strings, zone_quoted


def test_short_value_is_one_string() -> None:
    assert split_strings("v=STSv1; id=abc") == ["v=STSv1; id=abc"]


def test_empty_value_is_one_empty_string() -> None:
    assert split_strings("") == [""]
    assert join_strings([""]) == ""


@pytest.mark.parametrize(
    ("length", "sizes"),
    [(254, [254]), (255, [255]), (256, [255, 1]), (510, [255, 255]), (511, [255, 255, 1])],
)
def test_split_at_255_bytes(length: int, sizes: list[int]) -> None:
    value = "".join(chr(ord("a") + i % 26) for i in range(length))
    parts = split_strings(value)
    assert [len(p) for p in parts] == sizes
    assert "".join(parts) == value


def test_join_has_no_separator() -> None:
    # dnspython's to_text() would give '"v=TLSRPTv1; rua=mailto:a@ex" "ample.com"'
    assert join_strings(["v=TLSRPTv1; rua=mailto:a@ex", "ample.com"]) == (
        "v=TLSRPTv1; rua=mailto:a@example.com"
    )
    assert join_strings([b"v=STSv1; ", b"id=abc"]) == "v=STSv1; id=abc"
    assert join_strings([b"v=STSv1; ", "id=abc"]) == "v=STSv1; id=abc"


def test_join_does_not_fail_on_non_ascii_bytes() -> None:
    assert join_strings([b"id=\xff"]) == "id=\ufffd"


def test_split_refuses_non_ascii() -> None:
    with pytest.raises(UnicodeEncodeError):
        split_strings("rua=mailto:a@bücher.example")


def test_zone_quoted() -> None:
    assert zone_quoted("v=STSv1; id=abc") == '"v=STSv1; id=abc"'
    assert zone_quoted('a"b\\c') == '"a\\"b\\\\c"'
    assert zone_quoted("x" * 256) == '"' + "x" * 255 + '" "x"'


@PROPERTY
@given(txt_values)
def test_split_join_round_trip(value: str) -> None:
    parts = split_strings(value)
    assert join_strings(parts) == value
    assert join_strings(p.encode("ascii") for p in parts) == value
    assert all(len(p.encode("ascii")) <= MAX_STRING_BYTES for p in parts)
    assert all(parts[:-1]) and all(len(p) == MAX_STRING_BYTES for p in parts[:-1])
    assert len(parts) == max(1, -(-len(value) // MAX_STRING_BYTES))


@PROPERTY
@given(txt_values)
def test_zone_quoted_unquotes_to_the_value(value: str) -> None:
    quoted = zone_quoted(value)
    # read it back the way a zone-file parser does: strings in quotes, \\ and \" escapes
    strings: list[str] = []
    i = 0
    while i < len(quoted):
        assert quoted[i] == '"'
        i += 1
        current = []
        while quoted[i] != '"':
            if quoted[i] == "\\":
                i += 1
            current.append(quoted[i])
            i += 1
        strings.append("".join(current))
        i += 1
        if i < len(quoted):
            assert quoted[i] == " "
            i += 1
    assert strings == split_strings(value)
    assert all(len(s) <= MAX_STRING_BYTES for s in strings)
