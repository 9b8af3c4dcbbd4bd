"""`mtasts check` of TXT records holding bytes that are not UTF-8 (issue 9.4): dnspython
hands them over raw; the report shows them as `\\DDD` escapes, in valid JSON and in text,
never a crash or a lone surrogate."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from clihelpers import run
from harness import MtaStsWorld
from harness.dns_server import Record


class RawString(str):
    """A harness TXT string whose wire bytes are `raw` (the harness encodes each string)."""

    raw: bytes

    def __new__(cls, raw: bytes) -> RawString:
        made = super().__new__(cls, raw.decode("latin-1"))
        made.raw = raw
        return made

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return self.raw


def publish_raw_txt(world: MtaStsWorld, name: str, *values: tuple[bytes, ...]) -> None:
    world.dns.data.set(
        name, "TXT", [Record("TXT", tuple(RawString(s) for s in strings)) for strings in values]
    )


def check(world: MtaStsWorld, domain: str, fmt: str) -> Any:
    host, port = world.nameserver
    return run(
        "check",
        domain,
        "--nameserver",
        f"{host}:{port}",
        "--connect-to",
        f"127.0.0.1:{world.https.port}",
        "--ca-bundle",
        world.ca_file,
        "--timeout",
        "2",
        "--format",
        fmt,
    )


@pytest.fixture
def world(mta_sts_world: MtaStsWorld) -> MtaStsWorld:
    return mta_sts_world


def test_non_utf8_sts_record_is_valid_json_with_a_decimal_escape(world: MtaStsWorld) -> None:
    publish_raw_txt(
        world,
        "_mta-sts.example.com",
        (b"v=STSv1; id=20261128\xff",),
        (b"site-verification=caf\xc3", b"\xa9 \xfe"),
    )
    publish_raw_txt(world, "_smtp._tls.example.com", (b"v=TLSRPTv1; rua=mailto:\x80@x.example",))
    result = check(world, "example.com", "json")
    assert result.exit_code == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    result.stdout.encode("utf-8")  # no lone surrogate anywhere
    data = json.loads(result.stdout)
    text = json.dumps(data, ensure_ascii=False)
    # the messages quote values with repr(), which doubles the backslash of the escape
    assert re.search(r"20261128(\\\\)+255", text), "the 0xff byte, as a zone file writes it"
    assert re.search(r"mailto:(\\\\)+128@x\.example", text)
    assert "\ufffd" not in text and "\\udc" not in result.stdout


def test_non_utf8_sts_record_prints_in_text(world: MtaStsWorld) -> None:
    publish_raw_txt(world, "_mta-sts.example.com", (b"v=STSv1; id=a\xffb",))
    result = check(world, "example.com", "text")
    assert result.exit_code == 1
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert "\\255" in result.stdout
