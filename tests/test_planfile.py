"""Saved plans: `mtasts plan --out FILE`, then `mtasts apply FILE`.

The file applies exactly what was planned, refuses (naming the domains, nothing applied)
when the live state moved since, and never holds a secret from the environment.
"""

from __future__ import annotations

import json

import pytest
from clihelpers import (
    QUICKSTART_DOMAINS,
    append_zone,
    policy_fields,
    policy_file,
    run,
    simple_domains,
    snapshot,
    write_spec,
    zone_file,
)


def _save(spec, plan_path, *extra):
    result = run("plan", "-c", spec, "--out", plan_path, *extra)
    assert result.exit_code == 0, result.stderr
    return result


def test_plan_out_then_apply_file_applies_the_plan(quickstart, tmp_path):
    plan_path = tmp_path / "p.json"
    root = tmp_path / "build" / "mta-sts"

    saved = _save(quickstart, plan_path)

    assert "Plan: 9 to add" in saved.stdout
    assert f"mtasts apply {plan_path}" in saved.stderr
    assert not root.exists(), "plan --out writes only the plan file"

    result = run("apply", "--auto-approve", plan_path)

    assert result.exit_code == 0, result.stderr
    assert "Apply complete: 9 changes (9 added, 0 changed, 0 destroyed)." in result.stdout
    for domain in QUICKSTART_DOMAINS:
        assert policy_file(root, domain).is_file()
        assert zone_file(root, domain).is_file()
    assert run("plan", "-c", quickstart, "--detailed-exitcode").exit_code == 0


def test_saved_plan_is_the_json_plan_plus_what_it_was_made_from(quickstart, tmp_path):
    plan_path = tmp_path / "p.json"
    same_clock = {"MTASTS_NOW": "2026-11-30T12:00:00Z"}  # new ids carry their minting time
    assert run("plan", "-c", quickstart, "--out", plan_path, env=same_clock).exit_code == 0
    shown = json.loads(run("plan", "-c", quickstart, "--format", "json", env=same_clock).stdout)

    data = json.loads(plan_path.read_text(encoding="utf-8"))

    assert data["format_version"] == 1
    assert data["changes"] == shown["changes"]
    assert data["summary"] == shown["summary"]


def test_plan_out_with_json_format_keeps_stdout_pure_json(quickstart, tmp_path):
    plan_path = tmp_path / "p.json"

    result = _save(quickstart, plan_path, "--format", "json")

    assert json.loads(result.stdout)["format_version"] == 1
    assert plan_path.is_file()


def test_saved_plan_applies_from_another_directory(quickstart, tmp_path, monkeypatch):
    plan_path = tmp_path / "p.json"
    _save(quickstart, plan_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    result = run("apply", "--auto-approve", plan_path)

    assert result.exit_code == 0, result.stderr
    assert policy_file(tmp_path / "build" / "mta-sts", "example.com").is_file()
    assert list(elsewhere.iterdir()) == []


def test_stale_plan_is_refused_naming_the_domain_and_nothing_changes(quickstart, tmp_path):
    root = tmp_path / "build" / "mta-sts"
    assert run("apply", "-c", quickstart, "--auto-approve").exit_code == 0
    quickstart.write_text(
        quickstart.read_text(encoding="utf-8").replace("mode: testing ", "mode: enforce "),
        encoding="utf-8",
    )
    plan_path = tmp_path / "p.json"
    _save(quickstart, plan_path)
    append_zone(root, "example.org", '_mta-sts.example.org. 300 IN TXT "someone=else"')
    before = snapshot(root)

    result = run("apply", "--auto-approve", plan_path)

    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("error: saved plan is stale")
    assert "example.org" in line
    assert "example.com" not in line, "only the domain that moved is named"
    assert "mtasts plan" in line
    assert "Apply complete" not in result.stdout
    assert snapshot(root) == before
    assert policy_fields(root, "example.net")["mode"] == "testing"


def test_unrelated_record_added_after_the_plan_is_not_stale_and_survives(quickstart, tmp_path):
    root = tmp_path / "build" / "mta-sts"
    assert run("apply", "-c", quickstart, "--auto-approve").exit_code == 0
    quickstart.write_text(
        quickstart.read_text(encoding="utf-8").replace("mode: testing ", "mode: enforce "),
        encoding="utf-8",
    )
    plan_path = tmp_path / "p.json"
    _save(quickstart, plan_path)
    append_zone(root, "example.org", "www.example.org. 300 IN A 192.0.2.7")

    result = run("apply", "--auto-approve", plan_path)

    assert result.exit_code == 0, result.stderr
    assert policy_fields(root, "example.org")["mode"] == "enforce"
    assert "192.0.2.7" in zone_file(root, "example.org").read_text(encoding="utf-8")


def test_stale_plan_when_a_policy_file_was_edited(tmp_path):
    spec = write_spec(tmp_path, simple_domains(["a.example", "b.example"]))
    root = tmp_path / "out"
    assert run("apply", "-c", spec, "--auto-approve").exit_code == 0
    write_spec(tmp_path, simple_domains(["a.example", "b.example"], max_age=172800))
    plan_path = tmp_path / "p.json"
    _save(spec, plan_path)
    hand_edit = b"version: STSv1\r\nmode: none\r\nmax_age: 60\r\n"
    policy_file(root, "b.example").write_bytes(hand_edit)
    before = snapshot(root)

    result = run("apply", "--auto-approve", plan_path)

    assert result.exit_code == 1
    assert "saved plan is stale" in result.stderr
    assert "b.example" in result.stderr
    assert snapshot(root) == before
    assert policy_file(root, "b.example").read_bytes() == hand_edit


def test_applying_a_saved_plan_twice_is_refused_the_second_time(quickstart, tmp_path):
    plan_path = tmp_path / "p.json"
    _save(quickstart, plan_path)
    assert run("apply", "--auto-approve", plan_path).exit_code == 0

    again = run("apply", "--auto-approve", plan_path)

    assert again.exit_code == 1
    assert "saved plan is stale" in again.stderr


def test_saved_plan_without_changes_says_so(quickstart, tmp_path):
    assert run("apply", "-c", quickstart, "--auto-approve").exit_code == 0
    plan_path = tmp_path / "p.json"
    _save(quickstart, plan_path)

    result = run("apply", "--auto-approve", plan_path)

    assert result.exit_code == 0
    assert "No changes" in result.stdout


def test_saved_plan_cannot_be_narrowed_with_domain(quickstart, tmp_path):
    plan_path = tmp_path / "p.json"
    _save(quickstart, plan_path)

    result = run("apply", "--auto-approve", plan_path, "-d", "example.com")

    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert "--domain" in line
    assert not (tmp_path / "build").exists()


def test_saved_unsafe_plan_still_needs_allow_destroy(tmp_path):
    names = [f"d{i}.example" for i in range(10)]
    spec = write_spec(tmp_path, simple_domains(names))
    assert run("apply", "-c", spec, "--auto-approve").exit_code == 0
    write_spec(tmp_path, simple_domains(names[5:]))
    plan_path = tmp_path / "p.json"
    _save(spec, plan_path)
    before = snapshot(tmp_path / "out")

    refused = run("apply", "--auto-approve", plan_path)
    assert refused.exit_code == 1
    assert "--allow-destroy" in refused.stderr
    assert snapshot(tmp_path / "out") == before

    allowed = run("apply", "--auto-approve", plan_path, "--allow-destroy")
    assert allowed.exit_code == 0, allowed.stderr
    assert policy_fields(tmp_path / "out", "d0.example")["mode"] == "none"


# --- bad plan files: one line each -----------------------------------------------------


def _one_line_error(result):
    assert result.exit_code == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "internal error" not in lines[0]
    return lines[0]


def test_garbage_plan_file_is_a_one_line_error(tmp_path):
    path = tmp_path / "garbage.json"
    path.write_text("this is not a plan\n", encoding="utf-8")

    line = _one_line_error(run("apply", "--auto-approve", path))

    assert str(path) in line


def test_missing_plan_file_is_a_one_line_error(tmp_path):
    path = tmp_path / "nope.json"

    line = _one_line_error(run("apply", "--auto-approve", path))

    assert "no such plan file" in line


def test_binary_plan_file_is_a_one_line_error(tmp_path):
    path = tmp_path / "binary.json"
    path.write_bytes(b"\xff\xfe\x00garbage")

    _one_line_error(run("apply", "--auto-approve", path))


def test_wrong_format_version_is_a_one_line_error(quickstart, tmp_path):
    plan_path = tmp_path / "p.json"
    _save(quickstart, plan_path)
    data = json.loads(plan_path.read_text(encoding="utf-8"))
    data["format_version"] = 2
    plan_path.write_text(json.dumps(data), encoding="utf-8")

    line = _one_line_error(run("apply", "--auto-approve", plan_path))

    assert "format_version" in line
    assert "2" in line
    assert not (tmp_path / "build").exists()


def test_json_output_is_not_a_saved_plan(quickstart, tmp_path):
    path = tmp_path / "shown.json"
    path.write_text(run("plan", "-c", quickstart, "--format", "json").stdout, encoding="utf-8")

    line = _one_line_error(run("apply", "--auto-approve", path))

    assert "plan --out" in line
    assert not (tmp_path / "build").exists()


def test_json_list_is_not_a_saved_plan(tmp_path):
    path = tmp_path / "list.json"
    path.write_text("[1, 2]\n", encoding="utf-8")

    _one_line_error(run("apply", "--auto-approve", path))


@pytest.mark.parametrize(
    "corrupt",
    [
        pytest.param(lambda d: d.update(changes=[{"domain": "x"}]), id="change-without-keys"),
        pytest.param(lambda d: d.update(fingerprints=[]), id="fingerprints-not-a-mapping"),
        pytest.param(lambda d: d["changes"][0].update(resource="mailbox"), id="unknown-resource"),
    ],
)
def test_malformed_plan_file_is_a_one_line_error(quickstart, tmp_path, corrupt):
    plan_path = tmp_path / "p.json"
    _save(quickstart, plan_path)
    data = json.loads(plan_path.read_text(encoding="utf-8"))
    corrupt(data)
    plan_path.write_text(json.dumps(data), encoding="utf-8")

    line = _one_line_error(run("apply", "--auto-approve", plan_path))

    assert str(plan_path) in line
    assert not (tmp_path / "build").exists()


@pytest.mark.parametrize(
    "corrupt",
    [
        pytest.param(
            lambda d: d["providers"]["local"].pop("settings"), id="provider-without-settings"
        ),
        pytest.param(
            lambda d: d["providers"]["local"]["settings"].update(bogus=1),
            id="provider-setting-rejected",
        ),
    ],
)
def test_malformed_provider_entry_in_plan_file_is_a_one_line_error(quickstart, tmp_path, corrupt):
    plan_path = tmp_path / "p.json"
    _save(quickstart, plan_path)
    data = json.loads(plan_path.read_text(encoding="utf-8"))
    corrupt(data)
    plan_path.write_text(json.dumps(data), encoding="utf-8")

    line = _one_line_error(run("apply", "--auto-approve", plan_path))

    assert str(plan_path) in line


def test_plan_out_into_a_missing_directory_is_a_one_line_error(quickstart, tmp_path):
    result = run("plan", "-c", quickstart, "--out", tmp_path / "no" / "such" / "p.json")

    line = _one_line_error(result)
    assert "cannot write the plan" in line


# --- secrets ---------------------------------------------------------------------------


SECRETS = {
    "CLOUDFLARE_API_TOKEN": "cf-token-4f1c2d9e8a7b6c5d",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-Zx9Yw8Vu7Ts6Rq5Po4",
    "AWS_ACCESS_KEY_ID": "AKIAEXAMPLEKEYID0001",
    "GOOGLE_APPLICATION_CREDENTIALS": "/secret/path/service-account-7731.json",
}


def test_saved_plan_never_contains_environment_secrets(quickstart, tmp_path):
    plan_path = tmp_path / "p.json"

    result = run("plan", "-c", quickstart, "--out", plan_path, env=SECRETS)

    assert result.exit_code == 0, result.stderr
    text = plan_path.read_text(encoding="utf-8")
    for name, value in SECRETS.items():
        assert value not in text, f"the value of {name} leaked into the plan file"
        assert value not in result.stdout + result.stderr
    applied = run("apply", "--auto-approve", plan_path, env=SECRETS)
    assert applied.exit_code == 0
    for value in SECRETS.values():
        assert value not in applied.stdout + applied.stderr


def test_a_saved_plan_whose_provider_settings_differ_from_the_spec_is_refused(quickstart, tmp_path):
    """An edited `path` in a plan file would send every write where no spec said."""
    plan_path = tmp_path / "p.json"
    _save(quickstart, plan_path)
    data = json.loads(plan_path.read_text(encoding="utf-8"))
    data["providers"]["local"]["settings"]["path"] = str(tmp_path / "elsewhere")
    plan_path.write_text(json.dumps(data), encoding="utf-8")

    line = _one_line_error(run("apply", "--auto-approve", plan_path, "-c", quickstart))

    assert line.startswith(f"error: {plan_path}: providers.local.path: the plan says ")
    assert "plan again from the spec" in line
    assert not (tmp_path / "elsewhere").exists()


def test_a_saved_plan_with_the_specs_providers_applies_with_c(quickstart, tmp_path):
    plan_path = tmp_path / "p.json"
    _save(quickstart, plan_path)
    result = run("apply", "--auto-approve", plan_path, "-c", quickstart)
    assert result.exit_code == 0, result.stderr
