"""`mtasts promote --demote` and the spec edit underneath every promotion, offline.

Demote needs no network (no gates), so it drives the edit through the real CLI: anchors
and merges shared between domains, odd layouts, links, file modes, a file changed or a
process killed mid-write; and the plan's safety threshold it explains is checked against
what `apply` really does. The gates are judged here on summaries built by hand.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest
from clihelpers import run, write_spec

from provisioner.checks.verdict import DomainReport, Finding, Status
from provisioner.cli import _percent_option
from provisioner.errors import MtastsError
from provisioner.lifecycle.gates import GateStatus, check_gate, reports_gate
from provisioner.lifecycle.ladder import Step, next_step, parse_steps
from provisioner.lifecycle.specedit import read_spec_text, replace_file, set_domain_fields
from provisioner.rfc8461 import Mode
from provisioner.spec import load_spec

FIXTURES = Path(__file__).parent / "fixtures" / "promote"


def demote(spec: Path, *domains: str, fmt: str = "text") -> object:
    return run("promote", "--demote", *domains, "-c", spec, "--format", fmt)


def enforced(names: list[str]) -> dict[str, dict[str, object]]:
    return {n: {"mx": [f"mx.{n}"], "mode": "enforce", "max_age": 1209600} for n in names}


# --- demote and the plan's safety threshold -------------------------------------------


def test_demoting_many_at_once_is_explained_and_apply_then_needs_allow_destroy(tmp_path: Path):
    names = [f"d{i}.example" for i in range(5)]
    spec = write_spec(tmp_path, enforced(names))
    assert run("apply", "-c", spec, "--auto-approve").exit_code == 0

    result = demote(spec, "d0.example", "d1.example", "d2.example")

    assert result.exit_code == 0, result.stderr
    assert "d0.example: demoted: enforce (max_age 1209600) -> testing (max_age 1209600)" in (
        result.stdout
    )
    assert "3 of 3 domains demoted." in result.stdout
    assert (
        "safety: the next plan downgrades 3 of the spec's 5 domains at once; the plan's safety "
        "threshold is more than 30% of the managed domains and at least 2, so apply needs "
        "--allow-destroy"
    ) in result.stdout
    modes = {n: d.mode for n, d in load_spec(spec).domains.items()}
    assert modes == {**dict.fromkeys(names[:3], "testing"), **dict.fromkeys(names[3:], "enforce")}

    refused = run("apply", "-c", spec, "--auto-approve")
    assert refused.exit_code == 1
    assert "--allow-destroy" in refused.stderr
    assert run("apply", "-c", spec, "--auto-approve", "--allow-destroy").exit_code == 0


def test_demoting_one_of_many_needs_no_flag(tmp_path: Path):
    spec = write_spec(tmp_path, enforced([f"d{i}.example" for i in range(5)]))
    result = demote(spec, "d4.example")
    assert result.exit_code == 0
    assert "downgrades 1 of the spec's 5 domains;" in result.stdout
    assert "so apply needs no --allow-destroy" in result.stdout


def test_demote_names_what_it_cannot_demote_and_exits_1(tmp_path: Path):
    spec = write_spec(
        tmp_path, {**enforced(["on.example"]), "test.example": {"mx": ["mx.test.example"]}}
    )
    result = demote(spec, "on.example", "test.example", "absent.example", fmt="json")
    assert result.exit_code == 1
    assert '"evidence": "mode testing: nothing to demote"' in result.stdout
    assert f'"evidence": "not in the spec {spec}"' in result.stdout
    assert load_spec(spec).domains["on.example"].mode == "testing"


# --- the edit's reach -----------------------------------------------------------------


def test_a_mapping_shared_through_a_merge_is_refused_and_left_untouched(tmp_path: Path):
    spec = tmp_path / "shared.yaml"
    shutil.copy(FIXTURES / "shared.yaml", spec)
    before = spec.read_bytes()
    result = demote(spec, "eps.example")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"error: refusing to edit {spec}: editing eps.example would also change zeta.example "
        "(their settings are shared through a YAML anchor or merge); give each its own "
        "settings first"
    ]
    assert spec.read_bytes() == before
    # The domain that merges the shared mapping can be demoted on its own.
    assert demote(spec, "zeta.example").exit_code == 0
    after = load_spec(spec).domains
    assert (after["eps.example"].mode, after["zeta.example"].mode) == ("enforce", "testing")
    assert spec.read_text().endswith(
        "  zeta.example:\n    <<: *shared\n    mx: [mx.zeta.example]\n    mode: testing\n"
        "    max_age: 1209600\n"
    )


def test_a_domain_written_as_an_alias_gets_its_own_mapping(tmp_path: Path):
    spec = tmp_path / "alias.yaml"
    spec.write_text(
        "version: 1\n"
        "defaults: {tlsrpt: {rua: ['mailto:tlsrpt@example.net']}}\n"
        "domains:\n"
        "  a.example: &same {mx: [mx.shared.example], mode: enforce, max_age: 1209600}\n"
        "  b.example: *same   # b follows a\n"
    )
    assert demote(spec, "b.example").exit_code == 0
    assert spec.read_text().endswith(
        "  b.example: {<<: *same, mode: testing, max_age: 1209600}   # b follows a\n"
    )
    assert load_spec(spec).domains["a.example"].mode == "enforce"


def test_an_empty_domain_entry_and_an_unnormalised_name(tmp_path: Path):
    spec = tmp_path / "empty.yaml"
    spec.write_text(
        "version: 1\n"
        "defaults: {mode: enforce, mx: [mx.example.net], tlsrpt: {rua: ['mailto:r@example.net']}}\n"
        "domains:\n"
        "  Empty.EXAMPLE.:\n"
        "  other.example:\n"
    )
    assert demote(spec, "empty.example").exit_code == 0
    assert "  Empty.EXAMPLE.: {mode: testing, max_age: 1209600}\n  other.example:\n" in (
        spec.read_text()
    )
    assert load_spec(spec).domains["other.example"].mode == "enforce"


def test_a_linked_spec_is_edited_through_the_link(tmp_path: Path):
    real = write_spec(tmp_path / "real", enforced(["l.example"]))
    link = tmp_path / "mtasts.yaml"
    link.symlink_to(real)
    assert demote(link, "l.example").exit_code == 0
    assert link.is_symlink()
    assert load_spec(real).domains["l.example"].mode == "testing"


def test_a_spec_that_does_not_load_is_reported_not_edited(tmp_path: Path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("version: 1\ndomains:\n  x.example: {mode: sometimes}\n")
    result = demote(spec, "x.example")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {spec}:3: domains.x.example.mode:")
    assert "Traceback" not in result.stderr


def test_a_bad_domain_name_is_one_line(tmp_path: Path):
    spec = write_spec(tmp_path, enforced(["ok.example"]))
    result = demote(spec, "bad..example")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: DOMAIN: ")
    assert len(result.stderr.splitlines()) == 1


def test_an_unwritable_directory_is_one_line_and_nothing_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    spec = write_spec(tmp_path, enforced(["ro.example"]))
    before = spec.read_bytes()

    def refused(*args: object, **kwargs: object) -> tuple[int, str]:
        raise PermissionError(13, "Permission denied")  # as a read-only directory answers

    monkeypatch.setattr(tempfile, "mkstemp", refused)
    result = demote(spec, "ro.example")
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: cannot write {spec}: Permission denied"
    assert spec.read_bytes() == before


def test_a_file_changed_meanwhile_is_not_overwritten(tmp_path: Path):
    spec = write_spec(tmp_path, enforced(["c.example"]))
    read = read_spec_text(spec)
    spec.write_text(spec.read_text() + "# edited by someone else\n")
    with pytest.raises(MtastsError, match="changed while mtasts was editing it"):
        replace_file(
            spec, set_domain_fields(read.text, "c.example", {"mode": "testing"}), read.data
        )
    assert spec.read_text().endswith("# edited by someone else\n")
    assert [p.name for p in tmp_path.iterdir()] == ["mtasts.yaml"]


def test_a_write_killed_before_the_rename_leaves_the_old_spec(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    spec = write_spec(tmp_path, enforced(["k.example"]))
    before = spec.read_bytes()

    def killed(self: Path, target: Path) -> Path:
        raise KeyboardInterrupt

    monkeypatch.setattr(Path, "replace", killed)
    result = demote(spec, "k.example")
    assert result.exit_code == 1
    assert "interrupted" in result.stderr
    assert spec.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["mtasts.yaml"]


# --- ladder, options and gates --------------------------------------------------------


def test_ladder_steps():
    assert next_step(Step(Mode.TESTING, 31557600)) == Step(Mode.ENFORCE, 604800)
    assert next_step(Step(Mode.ENFORCE, 86400)) == Step(Mode.ENFORCE, 604800)
    assert next_step(Step(Mode.ENFORCE, 700000)) == Step(Mode.ENFORCE, 1209600)
    assert next_step(Step(Mode.ENFORCE, 31557600)) is None
    assert next_step(Step(Mode.NONE, 86400)) is None
    assert parse_steps("60, 120") == (60, 120)
    for bad, message in [
        ("", "is not a whole number"),
        ("1e6", "is not a whole number"),
        ("99999999999999999999", "is not a whole number"),
        ("31557601", "--steps:"),
        ("5,5", "not above"),
    ]:
        with pytest.raises(MtastsError, match=message):
            parse_steps(bad)


def test_max_failure_rate_option():
    assert _percent_option("--x", "0.1%") == pytest.approx(0.001)
    assert _percent_option("--x", "2 %") == pytest.approx(0.02)
    for bad in ("abc%", "150%", "-1%", "nan%", "inf%", "1e400%", ""):
        with pytest.raises(MtastsError, match="is not a rate"):
            _percent_option("--x", bad)


def test_a_bare_max_failure_rate_is_refused_not_read_as_a_fraction(tmp_path: Path):
    """`--max-failure-rate 0.1` meant as 0.1 % would have let 10 % of sessions fail: a
    number without `%` is refused before anything is measured or edited."""
    spec = write_spec(tmp_path, {"t.example": {"mx": ["mx.t.example"]}})
    before = spec.read_bytes()
    result = run(
        "promote", "t.example", "-c", spec, "--reports", tmp_path, "--max-failure-rate", "0.1"
    )
    assert result.exit_code == 1
    assert result.stderr == (
        "error: --max-failure-rate: '0.1' needs a % sign (write 0.1% for that percent): "
        "a bare number could be a percent or a fraction\n"
    )
    assert spec.read_bytes() == before


@dataclass
class Summary:
    failure_types: dict[str, int] = field(default_factory=dict)
    failures_by_mx: dict[str, int] = field(default_factory=dict)
    modes: dict[str, tuple[date, ...]] = field(default_factory=dict)
    sessions_by_mode: dict[str, tuple[int, int]] = field(default_factory=dict)


DAYS = tuple(date(2026, 11, d) for d in range(1, 15))


def judge(summary: Summary | None, **kwargs: object) -> tuple[GateStatus, str]:
    options = {"asked": True, "min_days": 14, "max_failure_rate": 0.001, **kwargs}
    result = reports_gate(summary, Mode.TESTING, **options)  # type: ignore[arg-type]
    return result.status, result.evidence


def test_reports_gate_on_built_summaries():
    assert judge(None, asked=False) == (GateStatus.SKIPPED, "not asked (add --reports PATH)")
    assert judge(None) == (GateStatus.FAIL, "no TLS report names this domain")
    quiet = Summary(modes={"testing": DAYS}, sessions_by_mode={"testing": (0, 0)})
    assert judge(quiet) == (GateStatus.FAIL, "no session reported in mode testing")
    at_limit = Summary(modes={"testing": DAYS}, sessions_by_mode={"testing": (999, 1)})
    assert judge(at_limit)[0] is GateStatus.PASS  # exactly 0.1 % is allowed
    over = Summary(
        failure_types={"a": 1, "b": 5, "c": 2, "d": 1},
        failures_by_mx={"mx1": 9},
        modes={"testing": DAYS},
        sessions_by_mode={"testing": (998, 9)},
    )
    status, text = judge(over)
    assert status is GateStatus.FAIL
    assert "by MX: mx1 9; by result: b 5, c 2, a 1 and 1 more" in text
    other_mode = Summary(modes={"enforce": DAYS}, sessions_by_mode={"enforce": (10, 0)})
    assert judge(other_mode)[1] == "reports cover 0 days in mode testing, 14 needed"


def test_check_gate_requires_a_valid_tlsrpt_record():
    report = DomainReport("x.example", sts_id="abc")
    report.findings.append(Finding("sts_id", Status.PASS, "ok"))
    report.findings.append(Finding("tlsrpt", Status.WARN, "no v=TLSRPTv1 record at _smtp._tls"))
    result = check_gate(report)
    assert result.status is GateStatus.FAIL
    assert result.evidence.startswith("tlsrpt: no v=TLSRPTv1 record")
    report.findings[-1] = Finding("tlsrpt", Status.PASS, "v=TLSRPTv1; rua=mailto:a@b.example")
    report.findings.append(Finding("smtp_starttls", Status.FAIL, "mx: no STARTTLS"))
    assert check_gate(report).status is GateStatus.PASS


RUA_DEFAULTS = "defaults: {tlsrpt: {rua: ['mailto:r@example.net']}}\n"


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param(
            "\ufeffversion: 1\ndomains:\n  a.example: {mx: [mx.a.example], mode: enforce}\n",
            "\ufeffversion: 1\ndomains:\n  a.example: {mx: [mx.a.example], mode: testing, "
            "max_age: 1209600}\n",
            id="byte-order-mark",
        ),
        pytest.param(
            "version: 1\ndomains: {\n  a.example: {mx: [mx.a.example], mode: enforce},\n"
            "  b.example: {mx: [mx.b.example], mode: enforce}\n}\n",
            "version: 1\ndomains: {\n  a.example: {mx: [mx.a.example], mode: testing, "
            "max_age: 1209600},\n  b.example: {mx: [mx.b.example], mode: enforce}\n}\n",
            id="flow-domains",
        ),
        pytest.param(
            "version: 1\ndomains:\n  a.example:\n    mx: [mx.a.example]\n    mode: enforce # x",
            "version: 1\ndomains:\n  a.example:\n    mx: [mx.a.example]\n    mode: testing # x"
            "\n    max_age: 1209600",
            id="no-final-newline",
        ),
        pytest.param(
            "version: 1\ndomains:\n  ? a.example\n  : mx: [mx.a.example]\n    mode: enforce\n",
            "version: 1\ndomains:\n  ? a.example\n  : mx: [mx.a.example]\n    mode: testing\n"
            "    max_age: 1209600\n",
            id="explicit-key",
        ),
        pytest.param(
            "---\nversion: 1\ndomains:\n  bücher.example:\n    mode:\n      enforce\n"
            "    mx: [mx.bücher.example]\n...\n",
            "---\nversion: 1\ndomains:\n  bücher.example:\n    mode:\n      testing\n"
            "    max_age: 1209600\n    mx: [mx.bücher.example]\n...\n",
            id="idn-multiline-plain-document-markers",
        ),
        pytest.param(
            "version: 1\ndomains:\n  a.example:\n    mode: >-\n      enforce\n\n"
            "    mx: [mx.a.example]\n",
            "version: 1\ndomains:\n  a.example:\n    mode: testing\n    max_age: 1209600\n"
            "\n    mx: [mx.a.example]\n",
            id="folded-block-scalar",
        ),
        pytest.param(
            "version: 1\ndomains:\n  a.example:\n    mx: [mx.a.example]\n    ? mode\n"
            "    : |-\n      enforce\n",
            "version: 1\ndomains:\n  a.example:\n    mx: [mx.a.example]\n    ? mode\n"
            "    : testing\n    max_age: 1209600\n",
            id="explicit-field-key-literal-block",
        ),
    ],
)
def test_odd_layouts_are_edited_in_place(tmp_path: Path, before: str, after: str):
    spec = tmp_path / "odd.yaml"
    lines = before.split("\n", 1)
    spec.write_text(lines[0] + "\n" + RUA_DEFAULTS + lines[1])
    domain = "bücher.example" if "bücher" in before else "a.example"
    assert demote(spec, domain).exit_code == 0
    lines = after.split("\n", 1)
    assert spec.read_text() == lines[0] + "\n" + RUA_DEFAULTS + lines[1]
