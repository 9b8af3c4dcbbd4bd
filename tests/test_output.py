"""The plan as people and machines read it: `plan --format text|markdown|json`.

JSON is the contract of DESIGN section 5 (also the saved plan's core); Markdown is a pull
request comment that must fit GitHub's 65,536 characters; text is the terminal's view.
"""

from __future__ import annotations

import json
import re

import pytest
from clihelpers import (
    DEFAULTS,
    append_zone,
    plan_json,
    policy_file,
    run,
    simple_domains,
    sts_values,
    write_spec,
)

CHANGE_KEYS = {"domain", "provider", "resource", "action", "before", "after", "reason"}
TXT_KEYS = CHANGE_KEYS | {"rrset_before", "rrset_after"}
GITHUB_COMMENT_LIMIT = 65_536
TABLE_HEADER = "| Domain | Resource | Action | Change |"
DOMAIN_HEADER = "| Domain | Risk | Provider | MTA-STS |"


def _cells(row):
    """The cells of a Markdown table row, splitting only on unescaped pipes."""
    assert row.startswith("|") and row.endswith("|"), row
    return re.split(r"(?<!\\)\|", row)[1:-1]


def _table_rows(markdown):
    """Rows of the record-level tables (one per change)."""
    rows = []
    for table in markdown.split(TABLE_HEADER)[1:]:
        rows += [line for line in table.split("\n\n")[0].splitlines()[2:] if line]
    return rows


def _domain_rows(markdown):
    """Rows of the per-domain table (one per domain)."""
    if DOMAIN_HEADER not in markdown:
        return []
    table = markdown.split(DOMAIN_HEADER)[1].split("\n\n")[0]
    return [line for line in table.splitlines()[1:] if line.startswith("| ")]


# --- JSON ------------------------------------------------------------------------------


def test_json_plan_has_format_version_and_exactly_the_design_keys(quickstart):
    result = run("plan", "-c", quickstart, "--format", "json")

    assert result.exit_code == 0
    assert result.stderr == ""
    data = json.loads(result.stdout)
    assert data["format_version"] == 1
    assert len(data["changes"]) == 9
    for change in data["changes"]:
        expected = CHANGE_KEYS if change["resource"] == "policy" else TXT_KEYS
        assert set(change) == expected, change
        assert change["resource"] in {"policy", "sts_record", "tlsrpt_record", "endpoint"}
        assert change["action"] == "create"
        assert change["before"] is None
        assert change["provider"] == "local"
    counts = {k: data["summary"][k] for k in ("create", "update", "delete", "unchanged_domains")}
    assert counts == {"create": 9, "update": 0, "delete": 0, "unchanged_domains": 0}
    assert data["summary"]["risk"] == {
        "blocks-mail": 0,
        "downgrade": 0,
        "retire": 0,
        "enforce": 1,
        "routine": 2,
    }
    assert data["summary"]["text"] == (
        "Plan: 9 to add, 0 to change, 0 to destroy. 1 domain to enforce, 2 routine; 0 blocking mail"
    )
    assert data["warnings"] == []


def test_json_after_is_exactly_what_apply_publishes(quickstart, tmp_path):
    """The saved plan is applied: ids carry the time they were minted, so a second plan
    (apply -c) made a second later would publish other ids than the ones shown."""
    saved = tmp_path / "plan.json"
    data = plan_json("-c", quickstart, "--out", saved)

    assert run("apply", "--auto-approve", saved).exit_code == 0

    root = tmp_path / "build" / "mta-sts"
    for change in data["changes"]:
        if change["resource"] == "policy":
            assert policy_file(root, change["domain"]).read_bytes() == change["after"].encode()
        elif change["resource"] == "sts_record":
            assert sts_values(root, change["domain"]) == [change["after"]]
            assert change["rrset_before"] == []
            assert change["rrset_after"] == [change["after"]]


def test_json_summary_counts_changes_and_unchanged_domains(quickstart):
    assert run("apply", "-c", quickstart, "--auto-approve").exit_code == 0
    text = quickstart.read_text(encoding="utf-8")
    edited = 'mx: ["*.mail.example.net"]\n    mode: enforce\n    max_age: 1209600'
    quickstart.write_text(text.replace('mx: ["*.mail.example.net"]', edited), encoding="utf-8")

    data = plan_json("-c", quickstart)

    counts = {k: data["summary"][k] for k in ("create", "update", "delete", "unchanged_domains")}
    assert counts == {"create": 0, "update": 2, "delete": 0, "unchanged_domains": 2}
    assert {c["domain"] for c in data["changes"]} == {"example.net"}
    counted = {a: sum(c["action"] == a for c in data["changes"]) for a in ("create", "update")}
    assert counted == {"create": 0, "update": 2}


def test_json_txt_rrsets_carry_foreign_values(tmp_path):
    spec = write_spec(tmp_path, simple_domains(["a.example"]))
    append_zone(tmp_path / "out", "a.example", '_mta-sts.a.example. 300 IN TXT "foreign=1"')

    data = plan_json("-c", spec)

    [sts] = [c for c in data["changes"] if c["resource"] == "sts_record"]
    assert sts["before"] is None
    assert sts["rrset_before"] == ["foreign=1"]
    assert sts["rrset_after"] == ["foreign=1", sts["after"]]


def test_json_with_detailed_exitcode_still_parses(quickstart):
    result = run("plan", "-c", quickstart, "--format", "json", "--detailed-exitcode")

    assert result.exit_code == 2
    assert json.loads(result.stdout)["format_version"] == 1


def test_json_carries_spec_warnings(tmp_path):
    spec = write_spec(
        tmp_path,
        {"a.example": {"mx": ["mx.a.example"], "mode": "enforce", "max_age": 86400}},
    )

    data = plan_json("-c", spec)

    assert any(w.startswith("a.example: max_age 86400") for w in data["warnings"])


# --- 4. a mode change ------------------------------------------------------------------


def _testing_then_enforce(tmp_path):
    spec = write_spec(tmp_path, simple_domains(["a.example", "b.example"]))
    assert run("apply", "-c", spec, "--auto-approve").exit_code == 0
    [old] = sts_values(tmp_path / "out", "a.example")
    domains = simple_domains(["a.example", "b.example"])
    domains["a.example"].update(mode="enforce", max_age=1209600)
    write_spec(tmp_path, domains)
    return spec, old.removeprefix("v=STSv1; id=")


def test_mode_change_text_speaks_mta_sts(tmp_path):
    spec, old_id = _testing_then_enforce(tmp_path)

    same_clock = {"MTASTS_NOW": "2030-01-01T00:00:00Z"}  # a new id carries its minting time
    result = run("plan", "-c", spec, "--detailed-exitcode", env=same_clock)

    assert result.exit_code == 2
    assert "mode testing -> enforce" in result.stdout
    assert "max_age 86400 -> 1209600" in result.stdout
    match = re.search(rf"id {old_id} -> ([A-Za-z0-9]+)", result.stdout)
    assert match, result.stdout
    assert match[1] != old_id
    assert "Plan: 0 to add, 2 to change, 0 to destroy." in result.stdout
    assert "b.example" not in result.stdout

    assert run("apply", "-c", spec, "--auto-approve", env=same_clock).exit_code == 0
    assert sts_values(tmp_path / "out", "a.example") == [f"v=STSv1; id={match[1]}"]


def test_mode_change_json_orders_policy_before_sts_record(tmp_path):
    spec, old_id = _testing_then_enforce(tmp_path)

    data = plan_json("-c", spec)

    kinds = [(c["domain"], c["resource"], c["action"]) for c in data["changes"]]
    assert kinds == [
        ("a.example", "policy", "update"),
        ("a.example", "sts_record", "update"),
    ]
    policy, sts = data["changes"]
    assert "mode testing -> enforce" in policy["reason"]
    assert "mode: enforce\r\n" in policy["after"]
    assert sts["before"] == f"v=STSv1; id={old_id}"
    assert sts["reason"].startswith(f"id {old_id} -> ")


def test_phases_put_every_policy_before_any_sts_record(tmp_path):
    names = [f"d{i}.example" for i in range(4)]
    spec = write_spec(tmp_path, simple_domains(names))
    assert run("apply", "-c", spec, "--auto-approve").exit_code == 0
    write_spec(tmp_path, simple_domains(names, mode="enforce", max_age=1209600))

    data = plan_json("-c", spec)

    resources = [c["resource"] for c in data["changes"]]
    assert resources == ["policy"] * 4 + ["sts_record"] * 4


# --- text ------------------------------------------------------------------------------


def test_text_shows_warnings_and_escapes_markup_in_values(tmp_path):
    spec = write_spec(
        tmp_path,
        {"a.example": {"mx": ["mx.a.example"], "mode": "enforce", "max_age": 86400}},
    )
    append_zone(
        tmp_path / "out", "a.example", '_mta-sts.a.example. 300 IN TXT "v=STSv1; id=[red]x"'
    )

    result = run("plan", "-c", spec)

    assert result.exit_code == 0
    assert '"v=STSv1; id=[red]x"' in result.stdout
    assert "warning: a.example: max_age 86400" in result.stdout


# --- Markdown --------------------------------------------------------------------------


def _two_providers(tmp_path, count):
    names = [f"d{i:04d}.example" for i in range(count)]
    domains = {
        name: {"mx": [f"*.mx{i}.example"], "provider": "a" if i % 2 == 0 else "b"}
        for i, name in enumerate(names)
    }
    return write_spec(
        tmp_path,
        domains,
        defaults={k: v for k, v in DEFAULTS.items() if k != "provider"},
        providers={"a": {"type": "local", "path": "./a"}, "b": {"type": "local", "path": "./b"}},
    )


def test_markdown_has_a_row_per_domain_and_record_details_per_provider(tmp_path):
    spec = _two_providers(tmp_path, 4)

    result = run("plan", "-c", spec, "--format", "markdown")

    assert result.exit_code == 0
    markdown = result.stdout
    assert "9 to add" not in markdown
    assert "12 to add, 0 to change, 0 to destroy" in markdown
    assert "**4 routine; 0 blocking mail**" in markdown
    domain_rows = _domain_rows(markdown)
    assert [_cells(r)[0].strip() for r in domain_rows] == [
        "d0000.example",
        "d0002.example",
        "d0001.example",
        "d0003.example",
    ]
    assert markdown.count(TABLE_HEADER) == 2
    assert "<details><summary>Record-level changes on provider a (6 changes)</summary>" in (
        markdown
    )
    section_b = markdown.split("on provider b")[1]
    assert "d0001.example" in section_b
    assert "d0000.example" not in section_b
    rows = _table_rows(markdown)
    assert len(rows) == 12
    assert "not shown here" not in markdown


def test_markdown_escapes_pipe_and_star_in_cells(tmp_path):
    spec = write_spec(tmp_path, {"a.example": {"mx": ["*.mx.a.example"]}})
    append_zone(tmp_path / "out", "a.example", '_mta-sts.a.example. 300 IN TXT "v=STSv1; id=x|y*z"')

    result = run("plan", "-c", spec, "--format", "markdown")

    rows = _table_rows(result.stdout)
    assert len(rows) == 3
    for row in rows + _domain_rows(result.stdout):
        cells = _cells(row)
        assert len(cells) == 4, row
        assert not re.search(r"(?<!\\)\*", row), f"unescaped * in {row!r}"
    [sts_row] = [r for r in rows if "sts_record" in r]
    assert r"id=x\|y\*z" in sts_row
    [policy_row] = [r for r in rows if "| policy |" in r]
    assert r"\*.mx.a.example" in policy_row


def test_markdown_without_changes_says_so(quickstart):
    assert run("apply", "-c", quickstart, "--auto-approve").exit_code == 0

    result = run("plan", "-c", quickstart, "--format", "markdown", "--detailed-exitcode")

    assert result.exit_code == 0
    assert "No changes" in result.stdout
    assert TABLE_HEADER not in result.stdout


def test_markdown_flags_an_unsafe_plan_and_lists_notes(tmp_path):
    names = [f"d{i}.example" for i in range(10)]
    spec = write_spec(tmp_path, simple_domains(names))
    assert run("apply", "-c", spec, "--auto-approve").exit_code == 0
    write_spec(tmp_path, simple_domains(names[4:]))

    unsafe = run("plan", "-c", spec, "--format", "markdown").stdout

    assert "[!CAUTION]" in unsafe
    assert "4 of 10 managed domains" in unsafe
    assert "--allow-destroy" in unsafe
    assert run("apply", "-c", spec, "--auto-approve", "--allow-destroy").exit_code == 0

    waiting = run("plan", "-c", spec, "--format", "markdown").stdout

    assert "No changes" in waiting
    assert "Notes (4)" in waiting
    assert "d0.example: removal waits until" in waiting


@pytest.fixture(scope="module")
def big_markdown(tmp_path_factory):
    """The Markdown plan of 3,000 new domains on two providers (9,000 changes)."""
    spec = _two_providers(tmp_path_factory.mktemp("big"), 3000)
    result = run("plan", "-c", spec, "--format", "markdown")
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_markdown_for_3000_domains_fits_one_github_comment(big_markdown):
    assert len(big_markdown) <= GITHUB_COMMENT_LIMIT
    assert "9000 to add" in big_markdown
    match = re.search(
        r"(\d+) domains \(\d+ routine; (\d+) changes\) not shown here, to fit one comment: see "
        r"the saved plan \(the workflow's plan artifact\), shown in full with "
        r"`mtasts show PLANFILE`",
        big_markdown,
    )
    assert match, "the comment must say what it left out and where to see it"
    shown = len(_domain_rows(big_markdown))
    assert shown > 0
    assert shown + int(match[1]) == 3000
    assert all(len(_cells(row)) == 4 for row in _table_rows(big_markdown))


def test_markdown_truncated_keeps_rows_of_every_provider_before_routine_details(big_markdown):
    providers = [_cells(row)[2].strip() for row in _domain_rows(big_markdown)]
    assert providers.count("`a`") > 0
    assert abs(providers.count("`a`") - providers.count("`b`")) <= 1, "providers take turns"
    assert "Record-level changes on provider" not in big_markdown, "routine details go first"
    assert f"Record-level changes of {len(providers)} domains above are left out" in (big_markdown)


def test_markdown_with_many_warnings_still_fits_one_comment(tmp_path):
    names = [f"d{i:04d}.example" for i in range(3000)]
    spec = write_spec(
        tmp_path,
        {name: {"mx": [f"mx.{name}"]} for name in names},
        defaults={"provider": "local", "mode": "enforce", "max_age": 86400},
    )

    result = run("plan", "-c", spec, "--format", "markdown")

    assert result.exit_code == 0
    assert len(result.stdout) <= GITHUB_COMMENT_LIMIT
    assert DOMAIN_HEADER in result.stdout
