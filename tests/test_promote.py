"""`mtasts promote` against deployments served on 127.0.0.1 (issue 12).

Each test writes a spec, publishes what the spec renders through the local DNS and HTTPS
servers (tests/harness), runs `mtasts promote` in-process aimed at them as `check` is, and
asserts what a user sees: the exit code, the gates and their evidence, and the spec file
afterwards (byte for byte outside the promoted lines).
"""

from __future__ import annotations

import difflib
import json
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from clihelpers import run, write_spec
from harness import MtaStsWorld
from harness.smtp_server import LocalSmtpServer

from provisioner.render import render_spec
from provisioner.rfc8461 import policy_id
from provisioner.spec import load_spec

FIXTURES = Path(__file__).parent / "fixtures" / "promote"
RUA = "mailto:tlsrpt@example.net"


@pytest.fixture
def world(mta_sts_world: MtaStsWorld) -> MtaStsWorld:
    return mta_sts_world


def publish(
    world: MtaStsWorld, spec: Path, *, extra_mx: dict[str, list[str]] | None = None
) -> None:
    """Publish what the spec renders for every domain, as a correct apply leaves it."""
    for name, want in render_spec(load_spec(spec)).items():
        sts_id = policy_id(want.policy_text, datetime(2026, 11, 1, tzinfo=UTC))
        hosts = [*want.policy.mx, *(extra_mx or {}).get(name, [])]
        world.deploy(name, want.policy_text, sts_id, tlsrpt_rua=RUA, mx=hosts)


def promote(world: MtaStsWorld, spec: Path, *args: str | Path) -> Any:
    host, port = world.nameserver
    return run(
        "promote",
        *args,
        "-c",
        spec,
        "--nameserver",
        f"{host}:{port}",
        "--connect-to",
        f"127.0.0.1:{world.https.port}",
        "--ca-bundle",
        world.ca_file,
        "--timeout",
        "5",
    )


def promote_json(world: MtaStsWorld, spec: Path, *args: str | Path) -> tuple[int, dict[str, Any]]:
    result = promote(world, spec, *args, "--format", "json")
    return result.exit_code, json.loads(result.stdout)


def by_domain(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["domain"]: d for d in data["domains"]}


def gates(entry: dict[str, Any]) -> dict[str, str]:
    return {g["gate"]: g["status"] for g in entry["gates"]}


def evidence(entry: dict[str, Any], gate: str) -> str:
    (found,) = [g["evidence"] for g in entry["gates"] if g["gate"] == gate]
    return str(found)


def changed_lines(before: str, after: str) -> list[str]:
    """The lines a diff removes (-) and adds (+): everything else is byte for byte equal."""
    return [
        line
        for line in difflib.ndiff(before.splitlines(keepends=True), after.splitlines(keepends=True))
        if line[:1] in "+-"
    ]


# --- one domain ------------------------------------------------------------------------


def test_a_clean_testing_domain_goes_to_enforce_for_a_week(world: MtaStsWorld, tmp_path: Path):
    spec = write_spec(tmp_path, {"good.example": {"mx": ["mx1.good.example", "mx2.good.example"]}})
    publish(world, spec)
    before = spec.read_text()

    code, data = promote_json(world, spec, "good.example")

    assert code == 0, data
    entry = by_domain(data)["good.example"]
    assert entry["promoted"] is True
    assert entry["from"] == {"mode": "testing", "max_age": 86400}
    assert entry["to"] == {"mode": "enforce", "max_age": 604800}
    assert gates(entry) == {
        "in_spec": "pass",
        "check": "pass",
        "mx_coverage": "pass",
        "smtp": "skipped",
        "reports": "skipped",
    }
    assert "mx1.good.example, mx2.good.example" in evidence(entry, "mx_coverage")
    assert data["written"] is True and data["ok"] is True
    # Only that domain's line changed: mode and max_age added inside its flow mapping.
    domain = load_spec(spec).domains["good.example"]
    assert (domain.mode, domain.max_age) == ("enforce", 604800)
    assert changed_lines(before, spec.read_text()) == [
        '-   good.example: {"mx": ["mx1.good.example", "mx2.good.example"]}\n',
        '+   good.example: {"mx": ["mx1.good.example", "mx2.good.example"], "mode": "enforce", '
        '"max_age": 604800}\n',
    ]


def test_each_run_is_one_step_up_the_ladder_until_the_top(world: MtaStsWorld, tmp_path: Path):
    spec = write_spec(tmp_path, {"up.example": {"mx": ["mx.up.example"]}})
    seen = []
    for _ in range(4):
        publish(world, spec)
        code, data = promote_json(world, spec, "up.example")
        entry = by_domain(data)["up.example"]
        seen.append((code, entry["to"]))
    assert seen == [
        (0, {"mode": "enforce", "max_age": 604800}),
        (0, {"mode": "enforce", "max_age": 1209600}),
        (0, {"mode": "enforce", "max_age": 31557600}),
        (1, None),
    ]
    assert "already at the top step: enforce (max_age 31557600)" in evidence(entry, "in_spec")


def test_steps_are_configurable(world: MtaStsWorld, tmp_path: Path):
    spec = write_spec(tmp_path, {"s.example": {"mx": ["mx.s.example"], "mode": "enforce"}})
    publish(world, spec)  # enforce with max_age from defaults: 86400
    code, data = promote_json(world, spec, "s.example", "--steps", "172800,2592000")
    assert code == 0
    assert by_domain(data)["s.example"]["to"] == {"mode": "enforce", "max_age": 172800}

    bad = promote(world, spec, "s.example", "--steps", "2592000,172800")
    assert bad.exit_code == 1
    assert "--steps: 172800 is not above the step before it (2592000)" in bad.stderr


def test_dry_run_prints_the_diff_and_changes_nothing(world: MtaStsWorld, tmp_path: Path):
    spec = write_spec(tmp_path, {"dry.example": {"mx": ["mx.dry.example"]}})
    publish(world, spec)
    before = spec.read_bytes()
    result = promote(world, spec, "dry.example", "--dry-run")
    assert result.exit_code == 0, result.stdout
    assert spec.read_bytes() == before
    assert "dry.example: promoted: testing (max_age 86400) -> enforce (max_age 604800)" in (
        result.stdout
    )
    assert f"--- a/{spec}" in result.stdout
    assert '+  dry.example: {"mx": ["mx.dry.example"], "mode": "enforce", "max_age": 604800}' in (
        result.stdout
    )


# --- failing gates and waves -----------------------------------------------------------


def test_a_wave_promotes_the_clean_and_names_what_blocks_the_rest(
    world: MtaStsWorld, tmp_path: Path
):
    names = ["good.example", "uncovered.example", "stale.example", "notls.example"]
    spec = write_spec(tmp_path, {n: {"mx": [f"mx.{n}"]} for n in names})
    publish(world, spec, extra_mx={"uncovered.example": ["backup.mx.example.net"]})
    # stale: the served policy is not the spec's (apply has not run since an edit)
    world.serve(
        "mta-sts.stale.example",
        "/.well-known/mta-sts.txt",
        "version: STSv1\r\nmode: testing\r\nmx: mx.stale.example\r\nmax_age: 3600\r\n",
    )
    world.unpublish("_smtp._tls.notls.example")
    before = spec.read_text()

    code, data = promote_json(world, spec, *names, "gone.example")

    assert code == 1
    found = by_domain(data)
    assert [n for n, e in found.items() if e["promoted"]] == ["good.example"]
    assert gates(found["uncovered.example"])["mx_coverage"] == "fail"
    assert "backup.mx.example.net" in evidence(found["uncovered.example"], "mx_coverage")
    assert gates(found["stale.example"])["check"] == "fail"
    assert "another policy is served" in evidence(found["stale.example"], "check")
    assert gates(found["notls.example"])["check"] == "fail"
    assert "no v=TLSRPTv1 record" in evidence(found["notls.example"], "check")
    assert gates(found["gone.example"])["in_spec"] == "fail"
    assert "not in the spec" in evidence(found["gone.example"], "in_spec")
    # Only good.example's line changed.
    (removed, added) = changed_lines(before, spec.read_text())
    assert removed.startswith("-   good.example:") and added.startswith("+   good.example:")

    text = promote(world, spec, *names[1:])
    assert text.exit_code == 1
    assert "uncovered.example: blocked by mx_coverage" in text.stdout
    assert "stale.example: blocked by check" in text.stdout
    assert "fail    mx_coverage: not covered by the mx patterns: backup.mx.example.net" in (
        text.stdout
    )
    assert "0 of 3 domains promoted." in text.stdout
    assert f"{spec} is unchanged." in text.stdout


def test_a_domain_in_mode_none_is_not_on_the_ladder(world: MtaStsWorld, tmp_path: Path):
    spec = write_spec(tmp_path, {"none.example": {"mx": ["mx.none.example"], "mode": "none"}})
    code, data = promote_json(world, spec, "none.example")
    assert code == 1
    assert "mode none" in evidence(by_domain(data)["none.example"], "in_spec")
    assert gates(by_domain(data)["none.example"])["gates"] == "skipped"


def test_smtp_gate_needs_starttls_with_a_valid_certificate(
    world: MtaStsWorld, smtp_server: LocalSmtpServer, tmp_path: Path
):
    spec = write_spec(tmp_path, {"smtp.example": {"mx": ["mx1.smtp.example"]}})
    publish(world, spec)
    smtp = ("--smtp", "--smtp-connect-to", smtp_server.address, "--dry-run")
    code, data = promote_json(world, spec, "smtp.example", *smtp)
    assert code == 0
    entry = by_domain(data)["smtp.example"]
    assert gates(entry)["smtp"] == "pass"
    assert gates(entry)["check"] == "pass"

    smtp_server.mode = "wrong-name"
    code, data = promote_json(world, spec, "smtp.example", *smtp)
    assert code == 1
    entry = by_domain(data)["smtp.example"]
    assert gates(entry)["smtp"] == "fail"
    assert "mx1.smtp.example: certificate:" in evidence(entry, "smtp")
    assert gates(entry)["check"] == "pass"  # STARTTLS is judged by its own gate only


# --- TLS-RPT reports -------------------------------------------------------------------


def write_reports(
    folder: Path,
    domain: str,
    days: int,
    *,
    mode: str = "testing",
    ok: int = 1000,
    failed: int = 0,
    start: date = date(2026, 11, 1),
) -> Path:
    """One RFC 8460 report per day, as a sender mails them (the JSON part)."""
    folder.mkdir(parents=True, exist_ok=True)
    for day in range(days):
        first = datetime.combine(start + timedelta(days=day), datetime.min.time(), UTC)
        details = (
            [
                {
                    "result-type": "certificate-host-mismatch",
                    "receiving-mx-hostname": f"mx.{domain}",
                    "failed-session-count": failed,
                }
            ]
            if failed
            else []
        )
        report = {
            "organization-name": "Example Sender",
            "date-range": {
                "start-datetime": first.isoformat().replace("+00:00", "Z"),
                "end-datetime": (first + timedelta(days=1) - timedelta(seconds=1))
                .isoformat()
                .replace("+00:00", "Z"),
            },
            "contact-info": "tlsrpt@sender.example",
            "report-id": f"{domain}-{day}",
            "policies": [
                {
                    "policy": {
                        "policy-type": "sts",
                        "policy-string": [
                            "version: STSv1",
                            f"mode: {mode}",
                            f"mx: mx.{domain}",
                            "max_age: 86400",
                        ],
                        "policy-domain": domain,
                        "mx-host": [f"mx.{domain}"],
                    },
                    "summary": {
                        "total-successful-session-count": ok,
                        "total-failure-session-count": failed,
                    },
                    "failure-details": details,
                }
            ],
        }
        (folder / f"{domain}-{day}.json").write_text(json.dumps(report))
    return folder


def test_reports_gate_needs_enough_days_in_the_current_mode(world: MtaStsWorld, tmp_path: Path):
    names = ["clean.example", "young.example", "flaky.example", "wasenforce.example"]
    spec = write_spec(tmp_path / "spec", {n: {"mx": [f"mx.{n}"]} for n in names})
    publish(world, spec)
    reports = tmp_path / "reports"
    write_reports(reports, "clean.example", 14)
    write_reports(reports, "young.example", 13)
    write_reports(reports, "flaky.example", 14, failed=2)  # 2 of 1002: 0.2 %
    write_reports(reports, "wasenforce.example", 14, mode="enforce")
    (reports / "notes.txt").write_text("not a report")

    code, data = promote_json(world, spec, *names, "--reports", reports)

    assert code == 1
    found = by_domain(data)
    assert found["clean.example"]["promoted"] is True
    assert evidence(found["clean.example"], "reports") == (
        "0 of 14,000 sessions failed (0 %) over 14 days in mode testing"
    )
    assert "reports cover 13 days in mode testing, 14 needed" in evidence(
        found["young.example"], "reports"
    )
    flaky = evidence(found["flaky.example"], "reports")
    assert "28 of 14,028 sessions failed (0.2 %)" in flaky
    assert "by MX: mx.flaky.example 28" in flaky
    assert "by result: certificate-host-mismatch 28" in flaky
    assert "reports cover 0 days in mode testing" in evidence(
        found["wasenforce.example"], "reports"
    )
    (note,) = data["notes"]
    assert note.startswith("--reports: 1 input held no readable report (first: ")
    assert not (spec.parent / "out").exists()  # no provider is touched

    code, data = promote_json(
        world,
        spec,
        "young.example",
        "flaky.example",
        "--reports",
        reports,
        "--min-days",
        "13",
        "--max-failure-rate",
        "0.5%",
        "--dry-run",
    )
    assert code == 0, data


def test_reports_gate_names_the_failing_mx_of_the_current_mode_only(
    world: MtaStsWorld, tmp_path: Path
):
    """A DANE (tlsa) policy's failures and an earlier mode's are not the evidence that
    blocks the step: the gate names the current mode's failing MX and result types."""
    spec = write_spec(tmp_path / "spec", {"mixed.example": {"mx": ["mx.mixed.example"]}})
    publish(world, spec)
    reports = write_reports(tmp_path / "reports", "mixed.example", 14, failed=2)
    for day in range(3):
        other = json.loads((reports / f"mixed.example-{day}.json").read_text())
        other["report-id"] = f"other-{day}"
        policy = other["policies"][0]
        policy["policy"] = {"policy-type": "tlsa", "policy-domain": "mixed.example"}
        policy["failure-details"] = [
            {
                "result-type": "dane-required",
                "receiving-mx-hostname": "dane.mixed.example",
                "failed-session-count": 900,
            }
        ]
        policy["summary"]["total-failure-session-count"] = 900
        (reports / f"tlsa-{day}.json").write_text(json.dumps(other))

    code, data = promote_json(world, spec, "mixed.example", "--reports", reports)

    assert code == 1
    found = evidence(by_domain(data)["mixed.example"], "reports")
    assert "28 of 14,028 sessions failed (0.2 %) over 14 days in mode testing" in found
    assert "by MX: mx.mixed.example 28; by result: certificate-host-mismatch 28" in found
    assert "dane" not in found


def test_reports_naming_no_mode_are_said_not_counted(world: MtaStsWorld, tmp_path: Path):
    """A sender that omits policy-string says nothing about the mode it evaluated: its days
    do not count toward the current mode, and the gate says why the days fall short."""
    spec = write_spec(tmp_path / "spec", {"quiet.example": {"mx": ["mx.quiet.example"]}})
    publish(world, spec)
    reports = write_reports(tmp_path / "reports", "quiet.example", 14)
    for day in range(4, 14):
        path = reports / f"quiet.example-{day}.json"
        report = json.loads(path.read_text())
        del report["policies"][0]["policy"]["policy-string"]
        path.write_text(json.dumps(report))

    code, data = promote_json(world, spec, "quiet.example", "--reports", reports)

    assert code == 1
    assert evidence(by_domain(data)["quiet.example"], "reports") == (
        "reports cover 4 days in mode testing, 14 needed (10 more days of sts reports name "
        "no mode: their policy-string is missing or unreadable, so they do not count)"
    )


def test_reports_path_that_does_not_exist_is_one_line(world: MtaStsWorld, tmp_path: Path):
    spec = write_spec(tmp_path, {"r.example": {"mx": ["mx.r.example"]}})
    publish(world, spec)
    result = promote(world, spec, "r.example", "--reports", tmp_path / "nope")
    assert result.exit_code == 1
    assert (
        result.stderr.strip() == f"error: --reports {tmp_path / 'nope'}: no such file or directory"
    )


# --- the spec is edited byte for byte ---------------------------------------------------


def test_comments_anchors_and_quoting_survive_byte_for_byte(world: MtaStsWorld, tmp_path: Path):
    spec = tmp_path / "odd.yaml"
    shutil.copy(FIXTURES / "odd.yaml", spec)
    publish(world, spec)
    before = spec.read_text()

    code, data = promote_json(world, spec, "alpha.example", "beta.example", "gamma.example")

    assert code == 0, data
    assert changed_lines(before, spec.read_text()) == [
        "+     mode: enforce\n",
        "+     max_age: 604800\n",
        '-   "beta.example":   {"mx": ["mx.beta.example"], "mode": "testing", tlsrpt: *reports}\n',
        '+   "beta.example":   {"mx": ["mx.beta.example"], "mode": "enforce", tlsrpt: *reports, '
        '"max_age": 604800}\n',
        '-     mode: "testing"   # quoted on purpose\n',
        '+     mode: "enforce"   # quoted on purpose\n',
        "-     max_age: 86400    # one day\n",
        "+     max_age: 604800    # one day\n",
    ]
    after = load_spec(spec)
    for name in ("alpha.example", "beta.example", "gamma.example"):
        assert (after.domains[name].mode, after.domains[name].max_age) == ("enforce", 604800)
    assert after.domains["delta.example"].mode == "testing"
    assert after.domains["delta.example"].mx == ("mx1.alpha.example", "mx2.alpha.example")


def test_the_spec_keeps_its_permissions_and_crlf_line_ends(world: MtaStsWorld, tmp_path: Path):
    spec = tmp_path / "crlf.yaml"
    spec.write_bytes(
        b"version: 1\r\ndefaults: {tlsrpt: {rua: ['mailto:tlsrpt@example.net']}}\r\n"
        b"providers: {local: {type: local, path: ./out}}\r\ndomains:\r\n"
        b"  crlf.example:\r\n    mx: [mx.crlf.example]\r\n    mode: testing\r\n"
    )
    spec.chmod(0o640)
    publish(world, spec)
    assert promote(world, spec, "crlf.example").exit_code == 0
    assert spec.read_bytes().endswith(
        b"  crlf.example:\r\n    mx: [mx.crlf.example]\r\n    mode: enforce\r\n"
        b"    max_age: 604800\r\n"
    )
    assert spec.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["crlf.yaml"]  # no temporary file left
