"""A saved plan is data from outside: an edited value is refused in one line, nothing applied.

Each test makes a real plan with `mtasts plan --out`, edits one value the way an attacker
with write access to the artifact would, and applies it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from clihelpers import run, simple_domains, snapshot, write_spec

from provisioner import __version__
from provisioner.rfc8461 import render_sts_record


def _saved(tmp_path: Path, domains: dict[str, Any] | None = None) -> tuple[Path, Path]:
    spec = write_spec(tmp_path, domains or {"example.com": {"mx": ["mx.example.com"]}})
    plan_path = tmp_path / "p.json"
    result = run("plan", "-c", spec, "--out", plan_path)
    assert result.exit_code == 0, result.stderr
    return spec, plan_path


def _edit(plan_path: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    data = json.loads(plan_path.read_text(encoding="utf-8"))
    edit(data)
    plan_path.write_text(json.dumps(data), encoding="utf-8")


def _change(data: dict[str, Any], resource: str) -> dict[str, Any]:
    return next(c for c in data["changes"] if c["resource"] == resource)


def _refused(tmp_path: Path, plan_path: Path, *extra: str) -> str:
    before = snapshot(tmp_path)
    result = run("apply", "--auto-approve", plan_path, *extra)
    assert result.exit_code == 1, result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "internal error" not in lines[0] and "Traceback" not in result.stderr
    assert snapshot(tmp_path) == before, "nothing was written"
    return lines[0]


def _set_domain(data: dict[str, Any], name: str) -> None:
    for change in data["changes"]:
        change["domain"] = name
    data["scope"] = {p: [name] for p in data["scope"]}


def test_a_domain_that_climbs_out_of_the_tree_is_refused(tmp_path):
    _, plan_path = _saved(tmp_path / "w")
    _edit(plan_path, lambda d: _set_domain(d, "x/../../../escaped"))
    line = _refused(tmp_path, plan_path)
    assert "scope.local: 'x/../../../escaped' " in line
    assert not (tmp_path / "escaped").exists()


def test_a_single_label_domain_is_refused(tmp_path):
    _, plan_path = _saved(tmp_path / "w")
    _edit(plan_path, lambda d: _set_domain(d, "com"))
    assert "is not a normalised domain name" in _refused(tmp_path, plan_path)


def test_a_domain_outside_the_scope_read_is_refused(tmp_path):
    _, plan_path = _saved(tmp_path / "w")
    _edit(plan_path, lambda d: [c.update(domain="other.example") for c in d["changes"]])
    assert "was not read from provider 'local'" in _refused(tmp_path, plan_path)


def test_a_policy_body_of_any_text_is_refused(tmp_path):
    _, plan_path = _saved(tmp_path / "w")
    _edit(plan_path, lambda d: _change(d, "policy").update(after="<script>hi</script>\r\n"))
    line = _refused(tmp_path, plan_path)
    assert "(example.com policy).after: not a valid policy" in line


def test_a_policy_not_as_mtasts_renders_it_is_refused(tmp_path):
    _, plan_path = _saved(tmp_path / "w")
    body = "version: STSv1\nmode: testing\nmx: mx.example.com\nmax_age: 86400\n"
    _edit(plan_path, lambda d: _change(d, "policy").update(after=body))
    assert "not a policy as mtasts renders it" in _refused(tmp_path, plan_path)


def test_a_txt_value_with_a_newline_is_refused(tmp_path):
    _, plan_path = _saved(tmp_path / "w")

    def edit(data: dict[str, Any]) -> None:
        change = _change(data, "tlsrpt_record")
        change["after"] = "v=TLSRPTv1; rua=mailto:a@example.com\n$GENERATE 1-9 x TXT y"
        change["rrset_after"] = [change["after"]]

    _edit(plan_path, edit)
    assert "(example.com tlsrpt_record).after:" in _refused(tmp_path, plan_path)


def test_an_id_that_is_not_the_bodys_is_refused(tmp_path):
    _, plan_path = _saved(tmp_path / "w")

    def edit(data: dict[str, Any]) -> None:
        change = _change(data, "sts_record")
        change["after"] = render_sts_record("abcdef12345620261130120000")
        change["rrset_after"] = [change["after"]]

    _edit(plan_path, edit)
    assert "does not announce the policy it would publish" in _refused(tmp_path, plan_path)


def test_an_rrset_that_drops_a_foreign_value_is_refused(tmp_path):
    spec, plan_path = _saved(tmp_path / "w")
    assert run("apply", "-c", spec, "--auto-approve").exit_code == 0
    zone = tmp_path / "w" / "out" / "zones" / "example.com.zone"
    zone.write_text(
        zone.read_text() + '_mta-sts.example.com. 300 IN TXT "vendor-verification=keep"\n'
    )
    write_spec(tmp_path / "w", {"example.com": {"mx": ["mx.example.com"], "mode": "enforce"}})
    assert run("plan", "-c", spec, "--out", plan_path).exit_code == 0

    def edit(data: dict[str, Any]) -> None:
        change = _change(data, "sts_record")
        change["rrset_after"] = [change["after"]]

    _edit(plan_path, edit)
    line = _refused(tmp_path, plan_path)
    assert "rrset_after: must keep every other value at the name" in line


def test_a_delete_before_the_removal_wait_is_refused(tmp_path):
    spec, plan_path = _saved(tmp_path / "w")
    assert run("apply", "-c", spec, "--auto-approve").exit_code == 0
    write_spec(tmp_path / "w", {"other.example": {"mx": ["mx.other.example"]}})
    assert run("plan", "-c", spec, "--out", plan_path).exit_code == 0

    def edit(data: dict[str, Any]) -> None:
        for change in data["changes"]:
            if change["domain"] == "example.com" and change["resource"] == "policy":
                change["action"] = "delete"
                change["after"] = None

    _edit(plan_path, edit)
    assert "(RFC 8461 section 8.3)" in _refused(tmp_path, plan_path)


def test_destructive_flags_are_recomputed_not_trusted(tmp_path):
    names = [f"d{i}.example" for i in range(10)]
    spec = write_spec(tmp_path / "w", simple_domains(names))
    assert run("apply", "-c", spec, "--auto-approve").exit_code == 0
    write_spec(tmp_path / "w", simple_domains(names[5:]))
    plan_path = tmp_path / "p.json"
    assert run("plan", "-c", spec, "--out", plan_path).exit_code == 0

    def edit(data: dict[str, Any]) -> None:
        data["unsafe"] = False
        data["managed_domains"] = 1000
        for domain in data["domains"]:
            domain["destructive"] = False

    _edit(plan_path, edit)
    assert "--allow-destroy" in _refused(tmp_path, plan_path)


@pytest.mark.parametrize("version", ["0.0.1", None])
def test_a_plan_from_another_release_is_refused(tmp_path, version):
    _, plan_path = _saved(tmp_path / "w")
    _edit(plan_path, lambda d: d.update(mtasts_version=version))
    line = _refused(tmp_path, plan_path)
    assert f"this is mtasts {__version__}" in line


def test_an_untouched_plan_still_applies(tmp_path):
    _, plan_path = _saved(tmp_path / "w")
    result = run("apply", "--auto-approve", plan_path)
    assert result.exit_code == 0, result.stderr


def test_a_policy_change_without_its_id_change_is_refused(tmp_path):
    """Cutting the `_mta-sts` change out would leave the old id announcing the new body."""
    spec, plan_path = _saved(tmp_path / "w")
    assert run("apply", "-c", spec, "--auto-approve").exit_code == 0
    write_spec(tmp_path / "w", {"example.com": {"mx": ["mx.example.com"], "mode": "enforce"}})
    assert run("plan", "-c", spec, "--out", plan_path).exit_code == 0
    _edit(
        plan_path,
        lambda d: d.update(changes=[c for c in d["changes"] if c["resource"] != "sts_record"]),
    )
    assert "the policy changes but the _mta-sts id does not" in _refused(tmp_path, plan_path)


def test_a_removal_that_keeps_the_record_is_refused(tmp_path):
    spec, plan_path = _saved(
        tmp_path / "w",
        {"example.com": {"mx": ["mx.example.com"]}, "keep.example": {"mx": ["mx.keep.example"]}},
    )
    assert run("apply", "-c", spec, "--auto-approve").exit_code == 0
    write_spec(tmp_path / "w", {"keep.example": {"mx": ["mx.keep.example"]}})
    assert run("apply", "-c", spec, "--auto-approve").exit_code == 0
    later = {"MTASTS_NOW": "2030-01-01T00:00:00Z"}
    assert run("plan", "-c", spec, "--out", plan_path, env=later).exit_code == 0

    def edit(data):
        data["changes"] = [c for c in data["changes"] if c["resource"] != "sts_record"]

    _edit(plan_path, edit)
    result = run("apply", "--auto-approve", plan_path, env=later)
    assert result.exit_code == 1
    assert "the policy is deleted but its _mta-sts record stays" in result.stderr


def test_a_plan_file_with_a_giant_number_is_one_line(tmp_path):
    plan_path = tmp_path / "p.json"
    plan_path.write_text('{"format_version": ' + "1" * 5000 + "}", encoding="utf-8")
    assert "not a saved mtasts plan" in _refused(tmp_path, plan_path)


def test_format_version_true_is_not_one(tmp_path):
    _, plan_path = _saved(tmp_path / "w")
    _edit(plan_path, lambda d: d.update(format_version=True))
    assert "format_version 'True' is not supported" in _refused(tmp_path, plan_path)
