"""`mtasts reports`: the fixtures of tests/fixtures/tlsrpt (one file per sender shape seen in
the field, in JSON and mail forms, with duplicates and corrupt files) add up to exactly these
numbers, and the user sees them as text, Markdown and JSON."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from clihelpers import run
from hypothesis import given
from hypothesis import strategies as st

from provisioner.reports import DomainSummary, read_reports
from provisioner.reports.parse import parse_report
from provisioner.reports.reader import share

FIXTURES = Path(__file__).parent / "fixtures" / "tlsrpt" / "reports"
D10, D11, D12, D13 = (date(2026, 11, day) for day in (10, 11, 12, 13))

CORRUPT = {
    "corrupt/deeply-nested.json": "JSON nested too deeply",
    "corrupt/empty.json": "not a TLS-RPT report (neither JSON, gzip, zip nor mail)",
    "corrupt/end-before-start.json": "date-range: ends ('2026-11-12T00:00:00Z') before it starts",
    "corrupt/garbage.bin": "not a TLS-RPT report (neither JSON, gzip, zip nor mail)",
    "corrupt/negative-count.json": (
        "policies[0].summary.total-successful-session-count: -5 is not a session count"
    ),
    "corrupt/no-report.eml": "no TLS-RPT report in this mail",
    "corrupt/not-a-report.json": "not a TLS-RPT report: no organization-name, date-range, policies",
    "corrupt/truncated.json.gz": (
        "corrupt gzip: Compressed file ended before the end-of-stream marker was reached"
    ),
}


@pytest.fixture(scope="module")
def everything() -> dict[str, DomainSummary]:
    return read_reports([FIXTURES]).summary()


def test_counts_reports_once_and_names_every_unreadable_file() -> None:
    result = read_reports([FIXTURES])
    # 16 JSON/mail/archive shapes + 2 in the Maildir + the mbox's new one; the Maildir's
    # tmp/ (a mail being delivered) and its dovecot-uidlist are not read.
    assert result.reports == 19
    assert result.duplicates == 2  # the .json.gz copy, and the mbox's second message
    assert {u.path: u.error for u in result.unreadable} == {
        str(FIXTURES / name): error for name, error in CORRUPT.items()
    }


def test_enforce_domain_summary(everything: dict[str, DomainSummary]) -> None:
    s = everything["example.com"]
    assert (s.successful_sessions, s.failed_sessions) == (3752, 14)
    assert s.failure_rate == pytest.approx(14 / 3766)
    # Proofpoint's details add up to 8 of its 10 failures, Yahoo's to 0 of 3: kept as sent.
    assert s.failure_detail_sessions == 9
    assert s.failure_types == {
        "sts-policy-fetch-error": 4,
        "starttls-not-supported": 3,
        "certificate-not-trusted": 1,
        "some-future-type": 1,
    }
    assert s.failures_by_mx == {"mx1.example.com": 5, "mx2.example.com": 4}
    assert s.reporters == {
        "Google Inc.": 3001,
        "Zoho": 400,
        "GMX": 150,
        "Proofpoint": 100,
        "Yahoo": 100,
        "Batch": 10,
        "Caf\ufffd Mail": 5,
    }
    assert s.days == (D10, D11, D12, D13)
    assert s.modes == {"enforce": (D10, D11, D12, D13), "unknown": (D11,)}
    assert s.sessions_by_mode == {"enforce": (3655, 11), "unknown": (97, 3)}
    # The +02:00 report is its sender's 12th, not a sliver of the 11th in UTC.
    assert s.daily == {D10: (1000, 0), D11: (2097, 4), D12: (490, 10), D13: (165, 0)}


def test_testing_domain_summary_splits_a_two_day_report(
    everything: dict[str, DomainSummary],
) -> None:
    s = everything["example.org"]
    assert (s.successful_sessions, s.failed_sessions) == (1251, 11)
    assert s.failure_types == {
        "certificate-expired": 5,
        "certificate-host-mismatch": 3,
        "validation-failure": 2,
        "starttls-not-supported": 1,
    }
    assert s.failures_by_mx == {"mx.example.org": 11}  # "MX.Example.org." folded
    assert s.modes == {"testing": (D10, D11, D12, D13)}
    # Tiny ISP's 101/3 over the 12th and 13th: 51/2 and 50/1 (largest remainder).
    assert s.daily == {D10: (500, 5), D11: (500, 2), D12: (51, 2), D13: (200, 2)}
    assert s.reporters["Mail.Ru"] == 202  # counts written as strings
    assert s.reporters["Microsoft Corporation"] == 505  # the mbox copy did not count


def test_no_policy_found_and_tlsa(everything: dict[str, DomainSummary]) -> None:
    net = everything["example.net"]  # policy-domain from the file name, then the Subject
    assert (net.successful_sessions, net.failed_sessions, net.days) == (60, 0, (D11, D12))
    assert net.modes == {"no-policy-found": (D11, D12)}
    assert net.reporters == {"Sender Example": 50, "SmallMTA": 10}
    dane = everything["dane.example"]
    assert (dane.successful_sessions, dane.failed_sessions) == (400, 2)
    assert dane.failures_by_mx == {"192.0.2.1": 2}  # receiving-ip when no hostname
    assert dane.modes == {"tlsa": (D10, D11)}
    assert set(everything) == {"dane.example", "example.com", "example.net", "example.org"}


def test_summary_filters_by_domain_and_days() -> None:
    result = read_reports([FIXTURES])
    window = result.summary(domains=["Example.COM."], since=D12, until=D13)
    assert list(window) == ["example.com"]
    s = window["example.com"]
    assert (s.successful_sessions, s.failed_sessions, s.days) == (655, 10, (D12, D13))
    assert s.failure_types == {
        "sts-policy-fetch-error": 4,
        "starttls-not-supported": 3,
        "some-future-type": 1,
    }
    assert result.summary(domains=["nothing.example"]) == {}


def test_each_form_alone(tmp_path: Path) -> None:
    def sessions(relative: str) -> dict[str, tuple[int, int]]:
        summary = read_reports([FIXTURES / relative]).summary()
        return {d: (s.successful_sessions, s.failed_sessions) for d, s in summary.items()}

    assert sessions("mail/google-tlsrpt-gzip.eml") == {"example.com": (2000, 1)}
    assert sessions("mail/octet-stream-gzip.eml") == {"example.org": (300, 0)}
    assert sessions("mail/zip-as-octet-stream.eml") == {"example.com": (400, 0)}
    assert sessions("mail/tlsrpt-json-no-policy-domain.eml") == {"example.net": (10, 0)}
    assert sessions("mail/reports.mbox") == {"example.org": (580, 5)}
    assert sessions("mail/Maildir") == {"example.com": (150, 0), "example.org": (60, 1)}
    assert sessions("archive/batch.zip") == {"example.com": (10, 0), "example.org": (10, 0)}
    assert sessions("archive/single.gz") == {"dane.example": (100, 2)}
    copy = read_reports([FIXTURES / "json/sts-enforce-mx-host-array.json", FIXTURES / "duplicates"])
    assert (copy.reports, copy.duplicates) == (1, 1)


def test_cli_text_shows_failing_domains_first() -> None:
    result = run("reports", FIXTURES)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    headers = [
        line.split(":")[0]
        for line in lines
        if line and not line.startswith(" ") and not line.startswith("unreadable")
    ]
    assert headers[:4] == ["example.org", "dane.example", "example.com", "example.net"]
    assert (
        lines[0]
        == "example.org: 11 of 1,262 sessions failed (0.87 %), 4 days (2026-11-10 to 2026-11-13)"
    )
    assert "  mode       testing: 4 days, 1,251 ok, 11 failed" in lines
    assert "  by MX      mx1.example.com 5, mx2.example.com 4" in lines
    worst = "  worst days 2026-11-12 2/53, 2026-11-10 5/505, 2026-11-13 2/202, 2026-11-11 2/502"
    assert lines[5] == worst
    assert "  note       failure details add up to 9 of 14 failed sessions (as reported)" in lines
    assert (
        f"unreadable: {FIXTURES / 'corrupt/empty.json'}: "
        "not a TLS-RPT report (neither JSON, gzip, zip nor mail)" in lines
    )
    assert lines[-1] == "19 reports, 2 duplicates skipped, 4 domains, 8 unreadable."


def test_cli_json() -> None:
    result = run(
        "reports", FIXTURES, "--format", "json", "--domain", "example.org", "--since", "2026-11-11"
    )
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["format_version"] == 1
    assert (data["reports"], data["duplicates"]) == (19, 2)
    assert len(data["unreadable"]) == 8
    assert data["unreadable"][0] == {
        "path": str(FIXTURES / "corrupt/deeply-nested.json"),
        "error": "JSON nested too deeply",
    }
    assert list(data["domains"]) == ["example.org"]
    org = data["domains"]["example.org"]
    assert org["successful_sessions"] == 751 and org["failed_sessions"] == 6
    assert org["failure_types"] == {
        "certificate-host-mismatch": 3,
        "validation-failure": 2,
        "starttls-not-supported": 1,
    }
    assert org["failures_by_mx"] == {"mx.example.org": 6}
    assert org["reporters"] == {
        "Mimecast": 300,
        "Mail.Ru": 202,
        "Tiny ISP": 104,
        "Fastmail": 80,
        "Web.de": 61,
        "Batch": 10,
    }
    assert org["days"] == ["2026-11-11", "2026-11-12", "2026-11-13"]
    assert org["modes"] == {"testing": ["2026-11-11", "2026-11-12", "2026-11-13"]}
    assert org["sessions_by_mode"] == {
        "testing": {"successful_sessions": 751, "failed_sessions": 6}
    }


def test_cli_markdown() -> None:
    result = run("reports", FIXTURES, "--format", "markdown")
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    assert text.startswith("### mtasts reports: 3 of 4 domains with failures\n")
    assert "19 reports, 2 duplicates skipped, 4 domains, 8 unreadable." in text
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert rows[1].startswith(
        "| example.org | 1,262 | **11** | 0.87 % | 4 (2026-11-10 to 2026-11-13) | testing 4d |"
    )
    assert rows[-1].startswith("| example.net | 60 | 0 | 0.00 % |")
    assert "**Unreadable (8):**" in text


def test_cli_exit_codes_and_usage_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.json"
    junk.write_text("{not json")
    result = run("reports", junk)
    assert result.exit_code == 1  # nothing could be read
    assert "unreadable: " in result.stdout and "not JSON" in result.stdout
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run("reports", empty).exit_code == 0  # nothing to read is not an error
    for args, message in (
        ((tmp_path / "missing",), "no such file or directory"),
        ((empty, "--since", "11/12/2026"), "--since: '11/12/2026' is not a date (YYYY-MM-DD)"),
        ((empty, "--since", "2026-11-13", "--until", "2026-11-12"), "is after --until"),
        ((empty, "--domain", "bad domain!"), "--domain"),
        ((empty, "--plot", tmp_path / "x.pdf"), "must end in .png or .svg"),
    ):
        result = run("reports", *args)
        assert result.exit_code == 1, args
        assert result.stderr.startswith("error: ") and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_cli_plot(tmp_path: Path, suffix: str) -> None:
    pytest.importorskip("matplotlib")
    target = tmp_path / f"rates{suffix}"
    result = run("reports", FIXTURES, "--plot", target, "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert "Plot of 4 domains written to" in result.stderr
    head = target.read_bytes()[:200]
    assert head.startswith(b"\x89PNG") if suffix == ".png" else b"<svg" in target.read_bytes()
    json.loads(result.stdout)  # the plot message stays off stdout


def test_plot_without_matplotlib_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    result = run("reports", FIXTURES, "--plot", tmp_path / "x.png")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "error: --plot needs matplotlib, the optional extra 'plot': "
        "pip install 'mta-sts-provisioner[plot]'"
    )
    assert result.stdout == ""


@given(
    st.integers(min_value=0, max_value=10**12),
    st.lists(st.integers(min_value=1, max_value=86_400 * 10**6), min_size=1, max_size=32),
)
def test_sharing_out_keeps_every_session(count: int, weights: list[int]) -> None:
    parts = [share(count, weights, index) for index in range(len(weights))]
    assert sum(parts) == count
    assert all(part >= 0 for part in parts)


@pytest.mark.parametrize(
    ("start", "end", "days"),
    [
        ("2026-11-10T00:00:00Z", "2026-11-10T23:59:59Z", [D10]),  # inclusive end
        ("2026-11-10T00:00:00Z", "2026-11-10T23:59:59.999Z", [D10]),
        ("2026-11-10T00:00:00Z", "2026-11-11T00:00:00Z", [D10]),  # exclusive next midnight
        ("2026-11-10T00:00:00", "2026-11-11T00:00:00", [D10]),  # no timezone: UTC
        ("2026-11-10T12:00:00Z", "2026-11-11T12:00:00Z", [D10, D11]),
        ("2026-11-10T00:00:00Z", "2026-11-10T00:00:00Z", [D10]),  # no length: its start day
        ("2026-11-10T00:00:00-05:00", "2026-11-11T00:00:00-05:00", [D10]),  # the sender's day
        ("2026-11-10T00:00:00Z", "2026-11-12T23:59:59Z", [D10, D11, D12]),
    ],
)
def test_days_a_report_covers(start: str, end: str, days: list[date]) -> None:
    doc = {
        "organization-name": "o",
        "report-id": "1",
        "date-range": {"start-datetime": start, "end-datetime": end},
        "policies": [],
    }
    assert [day for day, _ in parse_report(json.dumps(doc).encode()).days] == days


def test_cli_needs_a_path_and_documents_itself() -> None:
    result = run("reports")
    assert result.exit_code == 1  # usage errors exit 1 across mtasts (2 means "changes")
    assert "Missing argument 'PATH...'" in result.stderr
    shown = run("reports", "--help")
    assert shown.exit_code == 0
    assert "mtasts reports ~/Maildir/.tlsrpt" in shown.stdout
