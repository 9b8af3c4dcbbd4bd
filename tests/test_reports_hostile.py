"""`mtasts reports` against hostile and careless input: bombs, huge and deep files, loops,
FIFOs, bytes that are not UTF-8, escape sequences and markup in what senders write. Each
bad input is one `unreadable` line with a reason; nothing hangs, nothing is a traceback."""

from __future__ import annotations

import gzip
import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import pytest
from clihelpers import run, run_console_script

from provisioner.reports import read_reports, sources

MIB = 1024 * 1024


def report(
    report_id: str = "r-1", org: Any = "Org", domain: Any = "example.com", **over: Any
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "organization-name": org,
        "date-range": {
            "start-datetime": "2026-11-10T00:00:00Z",
            "end-datetime": "2026-11-10T23:59:59Z",
        },
        "contact-info": None,
        "report-id": report_id,
        "policies": [
            {
                "policy": {
                    "policy-type": "sts",
                    "policy-string": ["mode: testing"],
                    "policy-domain": domain,
                },
                "summary": {"total-successful-session-count": 9, "total-failure-session-count": 1},
                "failure-details": [
                    {
                        "result-type": "starttls-not-supported",
                        "receiving-mx-hostname": "mx.example.com",
                        "failed-session-count": 1,
                    }
                ],
            }
        ],
    }
    doc.update(over)
    return doc


def dumps(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def errors(*paths: Path) -> dict[str, str]:
    return {u.path: u.error for u in read_reports(list(paths)).unreadable}


def test_gzip_bomb_stops_at_the_cap(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.json.gz"
    bomb.write_bytes(gzip.compress(b"{" + b" " * (sources.MAX_REPORT_BYTES + 10), compresslevel=1))
    assert bomb.stat().st_size < MIB
    assert errors(bomb) == {str(bomb): "decompressed report over 16 MiB (the cap per report)"}


def test_zip_bomb_member_and_archive_limits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("big.json", b"{" + b" " * (sources.MAX_REPORT_BYTES + 10))
        z.writestr("good.json", dumps(report()))
    assert errors(archive) == {
        f"{archive}!big.json": "decompressed member over 16 MiB (the cap per report)"
    }
    many = tmp_path / "many.zip"
    with zipfile.ZipFile(many, "w") as z:
        for number in range(5):
            z.writestr(f"{number}.json", dumps(report(f"r-{number}")))
    monkeypatch.setattr(sources, "MAX_ARCHIVE_MEMBERS", 3)
    result = read_reports([many])
    assert result.reports == 3
    assert [(u.path, u.error) for u in result.unreadable] == [
        (str(many), "more than 3 members; the rest are not read")
    ]
    monkeypatch.setattr(sources, "MAX_ARCHIVE_MEMBERS", 10_000)
    monkeypatch.setattr(sources, "MAX_ARCHIVE_BYTES", 1)
    result = read_reports([many])
    assert result.reports == 1
    assert result.unreadable[0].error == "over 1 bytes decompressed; the rest are not read"


def test_containers_nested_too_deep(tmp_path: Path) -> None:
    data = dumps(report())
    for _ in range(sources.MAX_NESTING):
        data = gzip.compress(data)
    ok = tmp_path / "ok.gz"
    ok.write_bytes(data)
    deep = tmp_path / "deep.gz"
    deep.write_bytes(gzip.compress(data))
    result = read_reports([ok, deep])
    assert result.reports == 1
    assert errors(deep) == {str(deep): "containers nested more than 4 deep"}


def test_huge_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    huge = tmp_path / "huge.json"
    with huge.open("wb") as handle:
        handle.write(b"{")
        handle.truncate(sources.MAX_MAIL_BYTES + 1)  # sparse: costs no disk
    assert errors(huge) == {str(huge): "file over 32 MiB"}


def test_big_json_under_the_file_cap_but_over_the_report_cap(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    big.write_bytes(b"{" + b" " * (sources.MAX_REPORT_BYTES + 1) + b"}")
    assert errors(big) == {str(big): "report over 16 MiB"}


@pytest.mark.parametrize(
    ("doc", "error"),
    [
        (
            report(
                policies=[
                    {
                        "policy": {"policy-type": "sts"},
                        "summary": {"total-successful-session-count": 10**13},
                    }
                ]
            ),
            "policies[0].summary.total-successful-session-count: 10000000000000 "
            "is over 1,000,000,000,000",
        ),
        (
            report(
                policies=[
                    {
                        "policy": {"policy-type": "sts"},
                        "summary": {"total-failure-session-count": "1e5"},
                    }
                ]
            ),
            "policies[0].summary.total-failure-session-count: '1e5' is not a session count",
        ),
        (
            report(
                policies=[
                    {
                        "policy": {"policy-type": "sts"},
                        "summary": {"total-failure-session-count": True},
                    }
                ]
            ),
            "policies[0].summary.total-failure-session-count: true is not a session count",
        ),
        (
            report(
                **{
                    "date-range": {
                        "start-datetime": "2000-01-01T00:00:00Z",
                        "end-datetime": "2100-01-01T00:00:00Z",
                    }
                }
            ),
            "date-range: spans more than 31 days",
        ),
        (
            report(**{"date-range": {"start-datetime": "yesterday", "end-datetime": "today"}}),
            "date-range.start-datetime: 'yesterday' is not an ISO 8601 date-time",
        ),
        (report(policies="all of them"), "policies: missing or not a list"),
        (
            report(policies=[{"policy": {}, "summary": {}}]),
            "policies[0].policy.policy-type: missing",
        ),
        (
            report(policies=[{"policy": {"policy-type": "sts"}}]),
            "policies[0].summary: missing or not an object",
        ),
        (
            report(
                policies=[{"policy": {"policy-type": "sts"}, "summary": {}, "failure-details": [7]}]
            ),
            "policies[0].failure-details[0]: not an object",
        ),
        ([1, 2, 3], "not a TLS-RPT report: JSON array, not an object"),
    ],
)
def test_malformed_fields_are_named(tmp_path: Path, doc: Any, error: str) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(dumps(doc))
    assert errors(path) == {str(path): error}


def test_giant_integer_and_deep_nesting(tmp_path: Path) -> None:
    giant = tmp_path / "giant.json"
    giant.write_bytes(b'{"report-id": ' + b"9" * 50_000 + b"}")
    deep = tmp_path / "deep.json"
    deep.write_bytes(b"{" + b'"a":{' * 200_000 + b"}" * 200_001)
    found = errors(giant, deep)
    assert found[str(giant)].startswith("not JSON: Exceeds the limit")
    assert found[str(deep)] == "JSON nested too deeply"


def test_symlink_loops_and_fifos_do_not_hang(tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "r.json").write_bytes(dumps(report()))
    (folder / "again").symlink_to(folder)  # a loop
    (folder / "up").symlink_to(tmp_path)  # another way back in
    (folder / "self").symlink_to(folder / "self")  # a link to itself
    os.mkfifo(folder / "pipe")
    result = read_reports([folder, folder / "r.json"])
    assert (result.reports, result.duplicates) == (1, 1)
    assert {(Path(u.path).name, u.error) for u in result.unreadable} == {
        ("pipe", "not a regular file (a FIFO, socket or device); skipped"),
        ("self", "Too many levels of symbolic links"),
    }


def test_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    name = tmp_path / os.fsdecode(b"caf\xe9!example.com!1!2.json")
    name.write_bytes(dumps(report(org="x", domain=None)).replace(b'"x"', b'"Caf\xe9 \xff"'))
    mail = tmp_path / "latin1.eml"
    mail.write_bytes(
        b"Subject: Rapport \xe9t\xe9\r\nContent-Type: application/tlsrpt+json\r\n\r\n"
        + dumps(report("r-2", domain="\u00e9xample.com"))
    )
    result = read_reports([tmp_path])
    assert result.unreadable == ()
    summary = result.summary()
    assert set(summary) == {"example.com", "xn--xample-9ua.com"}  # U-label to A-label
    assert summary["example.com"].reporters == {"Caf\ufffd \ufffd": 10}
    shown = run("reports", tmp_path, "--format", "json")
    assert shown.exit_code == 0
    assert json.loads(shown.stdout)["domains"]["example.com"]["reporters"] == {
        "Caf\ufffd \ufffd": 10
    }
    bad = tmp_path / os.fsdecode(b"\xff.json")
    bad.write_bytes(b"nope")
    for output in ("text", "markdown", "json"):
        shown = run("reports", tmp_path, "--format", output)
        assert shown.exit_code == 0, shown.stderr
        assert "\\udcff" in shown.stdout or "\\\\udcff" in shown.stdout


def test_escape_sequences_and_markup_are_shown_not_obeyed(tmp_path: Path) -> None:
    evil = "\x1b[2J| **pwned** <img src=x>\nPASS"
    path = tmp_path / "evil.json"
    doc = report(org=evil)
    doc["policies"][0]["failure-details"][0]["receiving-mx-hostname"] = evil
    doc["policies"][0]["failure-details"][0]["result-type"] = evil
    path.write_bytes(dumps(doc))
    text = run("reports", path).stdout
    assert "\x1b" not in text and "\\x1b[2J" in text
    assert "\\nPASS" in text
    markdown = run("reports", path, "--format", "markdown").stdout
    row = next(line for line in markdown.splitlines() if line.startswith("| example.com"))
    assert row.count(" | ") == 8  # no cell was split by the `|` in the name
    assert "**pwned**" not in markdown and "<img" not in markdown
    assert json.loads(run("reports", path, "--format", "json").stdout)["domains"]["example.com"][
        "reporters"
    ] == {evil: 10}


def test_mail_bombs_and_broken_mail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nested = tmp_path / "nested.eml"
    nested.write_bytes(
        b"".join(
            b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
            for i in range(3000)
        )
    )
    garbage = tmp_path / "garbage.eml"
    garbage.write_bytes(
        b"Content-Type: application/tlsrpt+gzip\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n!!!@@@\r\n"
    )
    mbox = tmp_path / "big.mbox"
    one = b"Content-Type: application/tlsrpt+json\n\n" + dumps(report()) + b"\n"
    mbox.write_bytes(b"From a\n" + one + b"\nFrom b\n" + b"Subject: x\n\n" + b"y" * 5000 + b"\n")
    monkeypatch.setattr(sources, "MAX_MAIL_BYTES", 4096)
    result = read_reports([nested, garbage, mbox])
    assert result.reports == 1
    found = {u.path: u.error for u in result.unreadable}
    assert found[f"{mbox}!message 2"] == "mail over 4,096 bytes"
    assert found[f"{garbage}!part 0"] == "not a TLS-RPT report (neither JSON, gzip, zip nor mail)"
    assert str(nested) in found  # parsed or refused, one line either way
    assert all("\n" not in error for error in found.values())


def test_corrupt_zip_and_truncated_archive(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("r.json", dumps(report()) * 50)
    broken = tmp_path / "broken.zip"
    broken.write_bytes(buffer.getvalue()[:-30])
    flipped = bytearray(buffer.getvalue())
    flipped[60] ^= 0xFF  # inside the compressed data: a CRC or inflate error
    bad_crc = tmp_path / "badcrc.zip"
    bad_crc.write_bytes(bytes(flipped))
    found = errors(broken, bad_crc)
    assert found[str(broken)].startswith("corrupt zip: ")
    assert f"{bad_crc}!r.json" in found
    assert all("\n" not in error for error in found.values())


def test_nothing_readable_exits_1_with_no_traceback(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_bytes(b"\x00\x01")
    result = run("reports", tmp_path)
    assert result.exit_code == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert (
        result.stdout.splitlines()[-1]
        == "0 reports, 0 duplicates skipped, 0 domains, 1 unreadable."
    )


@pytest.mark.parametrize(
    ("start", "end", "error"),
    [
        (
            "9999-12-31T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "date-range.start-datetime: '9999-12-31T00:00:00Z' is not between 1970 and 9000",
        ),
        (
            "0001-01-01T00:00:00+14:00",
            "0001-01-02T00:00:00+14:00",
            "date-range.start-datetime: '0001-01-01T00:00:00+14:00' is not between 1970 and 9000",
        ),
    ],
)
def test_dates_at_the_ends_of_time(tmp_path: Path, start: str, end: str, error: str) -> None:
    path = tmp_path / "r.json"
    path.write_bytes(
        dumps(report(**{"date-range": {"start-datetime": start, "end-datetime": end}}))
    )
    assert errors(path) == {str(path): error}


def test_a_report_with_twenty_thousand_policies(tmp_path: Path) -> None:
    doc = report()
    doc["policies"] = doc["policies"] * 20_000
    path = tmp_path / "r.json"
    path.write_bytes(dumps(doc))
    assert errors(path) == {str(path): "policies: 20,000 of them, over 1,000"}


def test_plot_of_hostile_names_and_into_a_folder(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    path = tmp_path / "r.json"
    path.write_bytes(dumps(report(domain="$\\frac{$ bad {")))
    target = tmp_path / "out.png"
    result = run("reports", path, "--plot", target)
    assert result.exit_code == 0, result.stderr
    assert target.read_bytes().startswith(b"\x89PNG")
    folder = tmp_path / "folder.svg"
    folder.mkdir()
    result = run("reports", path, "--plot", folder)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: --plot {folder}: ")
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []


def test_real_process_over_the_corrupt_fixtures(tmp_path: Path) -> None:
    corrupt = Path(__file__).parent / "fixtures" / "tlsrpt" / "reports" / "corrupt"
    result = run_console_script("reports", corrupt, "--format", "json", cwd=tmp_path)
    assert result.returncode == 1  # nothing readable
    assert result.stderr == ""
    data = json.loads(result.stdout)
    assert (data["reports"], len(data["unreadable"])) == (0, 8)


def test_gzip_members_padding_and_trailing_garbage(tmp_path: Path) -> None:
    data = dumps(report())
    members = tmp_path / "members.gz"
    members.write_bytes(gzip.compress(data[:20]) + gzip.compress(data[20:]) + b"\0\0\0")
    trailing = tmp_path / "trailing.gz"
    trailing.write_bytes(gzip.compress(dumps(report("r-2"))) + b"junk")
    result = read_reports([members, trailing])
    assert result.reports == 1
    assert errors(trailing) == {str(trailing): "corrupt gzip: data after the compressed stream"}


def test_report_ids_that_differ_only_after_255_characters_are_two_reports(
    tmp_path: Path,
) -> None:
    """De-duplication hashes the whole report-id: a long id shared in its first 255
    characters is not the same report (only a repeated id is)."""
    prefix = "x" * 300
    for name, report_id in (("a", prefix + "1"), ("b", prefix + "2"), ("c", prefix + "2")):
        (tmp_path / f"{name}.json").write_bytes(dumps(report(report_id)))

    result = run("reports", tmp_path)

    assert result.exit_code == 0
    assert "2 reports, 1 duplicate skipped, 1 domain." in result.stdout
    assert "2 of 20 sessions failed" in result.stdout


def test_a_yaml_file_beside_the_reports_is_not_called_a_mail(tmp_path: Path) -> None:
    """`name: value` lines without a mail header (From, Date, Subject...) are not a mail."""
    (tmp_path / "mtasts.yaml").write_text("version: 1\ndomains:\n  a.example: {}\n")
    (tmp_path / "note.eml").write_text("From: a@example.com\nSubject: hello\n\nno report\n")
    (tmp_path / "r.json").write_bytes(dumps(report()))

    result = run("reports", tmp_path, "--format", "json")

    assert result.exit_code == 0
    assert json.loads(result.stdout)["unreadable"] == [
        {
            "path": str(tmp_path / "mtasts.yaml"),
            "error": "not a TLS-RPT report (neither JSON, gzip, zip nor mail)",
        },
        {"path": str(tmp_path / "note.eml"), "error": "no TLS-RPT report in this mail"},
    ]
