"""mtasts as a library: the CLI's steps driven from Python, with no typer in sight."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from clihelpers import policy_fields, simple_domains, sts_values, write_spec

from provisioner import workflow
from provisioner.errors import MtastsError, StalePlanError


def test_load_plan_apply_then_nothing_left(tmp_path: Path) -> None:
    spec = workflow.load(write_spec(tmp_path, simple_domains(["a.example", "b.example"])))
    providers, result = workflow.plan(spec)
    assert result.plan.summary_line() == "Plan: 6 to add, 0 to change, 0 to destroy."

    assert workflow.apply(result.plan, providers) == 6

    _, again = workflow.plan(spec)
    assert not again.plan.has_changes
    assert policy_fields(tmp_path / "out", "a.example")["mode"] == "testing"


def test_a_saved_plan_applies_in_a_fresh_process(tmp_path: Path) -> None:
    """Nothing an earlier read left in memory is needed: the file and the live state suffice."""
    spec = workflow.load(write_spec(tmp_path, simple_domains(["a.example"])))
    providers, result = workflow.plan(spec)
    plan_path = tmp_path / "plan.json"
    workflow.save(plan_path, result, providers)
    script = (
        "import sys; from pathlib import Path; from provisioner import workflow; "
        "plan, providers = workflow.load_saved(Path(sys.argv[1])); "
        "print(workflow.apply(plan, providers))"
    )

    done = subprocess.run(
        [sys.executable, "-c", script, str(plan_path)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "3"
    assert sts_values(tmp_path / "out", "a.example")
    with pytest.raises(StalePlanError):
        workflow.load_saved(plan_path)


def test_an_unsafe_plan_needs_allow_destroy(tmp_path: Path) -> None:
    names = [f"d{i}.example" for i in range(4)]
    spec_path = write_spec(tmp_path, simple_domains(names))
    providers, result = workflow.plan(workflow.load(spec_path))
    workflow.apply(result.plan, providers)
    write_spec(tmp_path, simple_domains(names[:1]))
    providers, result = workflow.plan(workflow.load(spec_path))

    with pytest.raises(MtastsError, match="apply refuses this without --allow-destroy"):
        workflow.apply(result.plan, providers)
    assert workflow.apply(result.plan, providers, allow_destroy=True) > 0


def test_render_to_writes_the_local_layout(tmp_path: Path) -> None:
    spec = workflow.load(write_spec(tmp_path, simple_domains(["a.example"])))
    assert workflow.render_to(spec, tmp_path / "rendered") == 1
    assert (tmp_path / "rendered" / "zones" / "a.example.zone").is_file()
    with pytest.raises(MtastsError, match=r"--domain z\.example: not in the spec"):
        workflow.render_to(spec, tmp_path / "rendered", ["z.example"])
