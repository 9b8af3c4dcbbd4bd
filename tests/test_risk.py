"""Risk is a property of the plan (issue 11): each domain's class, the summary line, refusal.

The planner classes every domain (`blocks-mail`, `downgrade`, `retire`, `enforce`,
`routine`); apply refuses `blocks-mail` without `--allow-risk blocks-mail`, for a plan made
now and for a saved plan, whose classes are recomputed against the live MX at apply: a file
edited to say `routine` is still refused.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from clihelpers import run, snapshot, write_spec
from riskplans import NOW, desired, live, mixed_plan

from providers.local import LocalProvider
from provisioner import workflow
from provisioner.errors import MtastsError
from provisioner.plan import Plan, diff
from provisioner.provider import Progress
from provisioner.rfc8461 import Mode
from provisioner.risk import Risk
from provisioner.state import LiveDomain

# --- the classes, from the planner ------------------------------------------------------


def test_every_class_from_one_rollout():
    plan = mixed_plan(routine=2)

    risks = {d.domain: d.risk for d in plan.domains}

    assert risks == {
        "blocks.example": Risk.BLOCKS_MAIL,
        "down.example": Risk.DOWNGRADE,
        "gone.example": Risk.RETIRE,
        "new-enforce.example": Risk.ENFORCE,
        "r0000.example": Risk.ROUTINE,
        "r0001.example": Risk.ROUTINE,
    }
    [blocks] = plan.risk_domains(Risk.BLOCKS_MAIL)
    assert blocks.blocked_mx == ("backup.mail-host.example",)
    assert plan.risk_line() == (
        "1 domain to enforce, 1 downgrade, 1 retiring (step 1 of 2), 2 routine; 1 blocking mail"
    )


def test_enforce_whose_mx_covers_every_live_host_is_enforce_not_blocking():
    want = desired("ok.example", Mode.ENFORCE, mx=("*.ok.example",))
    have = live(want, Mode.TESTING, mx_hosts=("a.ok.example", "b.ok.example"))

    [domain] = diff({"ok.example": want}, {"ok.example": have}, NOW).domains

    assert domain.risk is Risk.ENFORCE
    assert domain.blocked_mx == ()


def test_unknown_mx_is_not_claimed_to_block():
    """A provider that cannot read MX (mx_hosts None) cannot say enforce blocks mail."""
    want = desired("x.example", Mode.ENFORCE)
    [domain] = diff({"x.example": want}, {"x.example": live(want, Mode.TESTING)}, NOW).domains

    assert domain.risk is Risk.ENFORCE


def test_a_new_domain_straight_to_enforce_over_an_uncovered_mx_blocks_mail():
    want = desired("new.example", Mode.ENFORCE)
    have = LiveDomain("new.example", mx_hosts=("mail.elsewhere.example",))

    [domain] = diff({"new.example": want}, {"new.example": have}, NOW).domains

    assert domain.risk is Risk.BLOCKS_MAIL


def test_max_age_and_id_changes_are_routine_even_when_enforced():
    want = desired("e.example", Mode.ENFORCE, max_age=604800)
    have = live(want, max_age=86400, mx_hosts=("mx.e.example",))

    [domain] = diff({"e.example": want}, {"e.example": have}, NOW).domains

    assert domain.risk is Risk.ROUTINE
    assert domain.summary.startswith("max_age 86400 -> 604800")


def test_removal_step_two_is_retire_step_2():
    gone = desired("gone.example", Mode.NONE)
    have = live(gone, published=NOW - timedelta(days=3))

    plan = diff({}, {"gone.example": have}, NOW, removals={"gone.example": "local"})

    [domain] = plan.domains
    assert (domain.risk, domain.step) == (Risk.RETIRE, 2)
    assert plan.risk_line() == "1 retiring (step 2 of 2); 0 blocking mail"


def test_summary_line_speaks_singular_and_plural():
    one = mixed_plan(routine=1)
    assert "1 domain to enforce" in one.risk_line()
    assert "1 routine" in one.risk_line()
    empty = Plan(changes=())
    assert empty.risk_line() == "no domain changes; 0 blocking mail"


def test_json_carries_risk_per_domain_and_counts_in_summary():
    data = mixed_plan(routine=2).to_json()

    by_domain = {d["domain"]: d for d in data["domains"]}
    assert by_domain["blocks.example"]["risk"] == "blocks-mail"
    assert by_domain["blocks.example"]["blocked_mx"] == ["backup.mail-host.example"]
    assert by_domain["gone.example"]["step"] == 1
    assert data["summary"]["risk"] == {
        "blocks-mail": 1,
        "downgrade": 1,
        "retire": 1,
        "enforce": 1,
        "routine": 2,
    }
    assert data["format_version"] == 1
    assert Plan.from_json(data).to_json() == data


def test_workflow_apply_refuses_blocks_mail_before_any_provider_write():
    plan = mixed_plan(routine=0)

    with pytest.raises(MtastsError) as refused:
        workflow.apply(plan, {}, allow_destroy=True)

    assert str(refused.value).startswith(
        "refusing to apply: 1 domain would enforce a policy whose mx patterns do not cover "
        "a live MX host: blocks.example (backup.mail-host.example)"
    )
    assert str(refused.value).endswith("--allow-risk blocks-mail")


# --- the CLI, on the local provider taught to read MX -----------------------------------

LIVE_MX = ("mx.blocks.example", "backup.other.example")


@pytest.fixture
def reads_mx(monkeypatch: pytest.MonkeyPatch) -> None:
    """The local provider reports a live MX set for blocks.example, as cloud providers do."""
    original = LocalProvider.read

    def read(self: LocalProvider, domains: Sequence[str], progress: Progress) -> Any:
        states = original(self, domains, progress)
        for name in domains:
            if name == "blocks.example":
                state = states.get(name) or LiveDomain(name)
                states[name] = LiveDomain(**{**state.__dict__, "mx_hosts": LIVE_MX})
        return states

    monkeypatch.setattr(LocalProvider, "read", read)


def _blocking_spec(tmp_path: Path) -> Path:
    return write_spec(
        tmp_path,
        {"blocks.example": {"mx": ["mx.blocks.example"], "mode": "enforce", "max_age": 86400}},
    )


def test_plan_names_the_blocked_host_and_apply_refuses_it(tmp_path, reads_mx):
    spec = _blocking_spec(tmp_path)

    shown = run("plan", "-c", spec)
    before = snapshot(tmp_path)
    refused = run("apply", "-c", spec, "--auto-approve")

    assert "blocks.example (local) [blocks-mail]:" in shown.stdout
    assert (
        "blocks mail: blocks.example: enforce would refuse mail to live MX backup.other.example"
        in shown.stdout
    )
    assert "1 domain to enforce" not in shown.stdout
    assert shown.stdout.endswith("Plan: 3 to add, 0 to change, 0 to destroy.\n1 blocking mail\n")
    assert refused.exit_code == 1
    [line] = refused.stderr.splitlines()
    assert line.startswith("error: refusing to apply: 1 domain would enforce")
    assert "blocks.example (backup.other.example)" in line
    assert line.endswith("pass --allow-risk blocks-mail")
    assert snapshot(tmp_path) == before, "nothing written"


def test_allow_risk_blocks_mail_applies(tmp_path, reads_mx):
    spec = _blocking_spec(tmp_path)

    result = run("apply", "-c", spec, "--auto-approve", "--allow-risk", "blocks-mail")

    assert result.exit_code == 0, result.stderr
    assert "Apply complete: 3 changes" in result.stdout


def test_allow_risk_names_a_class(tmp_path):
    spec = _blocking_spec(tmp_path)

    result = run("apply", "-c", spec, "--auto-approve", "--allow-risk", "blocks_mail")

    assert result.exit_code == 1
    assert result.stderr == (
        "error: --allow-risk: 'blocks_mail' is not a risk class apply refuses (one of "
        "blocks-mail)\n"
    )


@pytest.mark.parametrize("value", ["downgrade", "retire", "enforce", "routine"])
def test_allow_risk_of_a_class_apply_never_refuses_is_refused_not_ignored(tmp_path, value):
    """Accepted, `--allow-risk downgrade` would read as a permission it is not."""
    spec = _blocking_spec(tmp_path)
    before = snapshot(tmp_path)

    result = run("apply", "-c", spec, "--auto-approve", "--allow-risk", value)

    assert result.exit_code == 1
    assert result.stderr == (
        f"error: --allow-risk: apply never refuses {value!r} for its class (only "
        "blocks-mail); many downgrades or removals at once need --allow-destroy\n"
    )
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("null_mx", [".", ""])
def test_a_null_mx_is_not_a_host_enforce_blocks(null_mx):
    """RFC 7505: `MX 0 .` says the domain takes no mail; providers read it as "." or ""."""
    want = desired("nomail.example", Mode.ENFORCE)
    have = live(want, Mode.TESTING, mx_hosts=(null_mx,))

    plan = diff({"nomail.example": want}, {"nomail.example": have}, NOW)

    [domain] = plan.domains
    assert (domain.risk, domain.blocked_mx) == (Risk.ENFORCE, ())
    assert plan.risk_line() == "1 domain to enforce; 0 blocking mail"


def test_a_policy_change_on_an_enforced_domain_over_an_uncovered_mx_blocks_mail():
    """Not only a mode change: a max_age change re-publishes enforce over the foreign MX."""
    want = desired("e.example", Mode.ENFORCE, max_age=604800)
    have = live(
        want,
        max_age=86400,
        mx_hosts=("mx.e.example", "MX.Other.Example.", "MX.Other.Example."),
    )

    [domain] = diff({"e.example": want}, {"e.example": have}, NOW).domains

    assert (domain.risk, domain.blocked_mx) == (Risk.BLOCKS_MAIL, ("MX.Other.Example.",))


def test_enforce_to_none_in_the_spec_is_a_downgrade_not_a_retirement():
    want = desired("d.example", Mode.NONE)

    plan = diff({"d.example": want}, {"d.example": live(want, Mode.ENFORCE)}, NOW)

    assert [d.risk for d in plan.domains] == [Risk.DOWNGRADE]
    assert plan.risk_line() == "1 downgrade; 0 blocking mail"


@pytest.mark.parametrize(
    "tamper",
    [
        "routine",  # the plain lie
        "retire",  # the one claim the file may make, for a removal step only
        "no-such-class",  # unreadable: read as routine
    ],
)
def test_a_saved_plan_edited_to_hide_blocks_mail_is_still_refused(tmp_path, reads_mx, tamper):
    spec = _blocking_spec(tmp_path)
    plan_path = tmp_path / "p.json"
    assert run("plan", "-c", spec, "--out", plan_path).exit_code == 0
    data = json.loads(plan_path.read_text(encoding="utf-8"))
    assert data["domains"][0]["risk"] == "blocks-mail"
    data["domains"][0]["risk"] = tamper
    data["domains"][0].pop("blocked_mx")
    data["summary"]["risk"] = {"routine": 1}
    plan_path.write_text(json.dumps(data), encoding="utf-8")
    before = snapshot(tmp_path)

    result = run("apply", "--auto-approve", plan_path)

    assert result.exit_code == 1
    assert "error: refusing to apply: 1 domain would enforce" in result.stderr
    assert "blocks.example (backup.other.example)" in result.stderr
    assert snapshot(tmp_path) == before


def test_a_saved_blocking_plan_repeats_the_refusal_and_applies_with_allow_risk(tmp_path, reads_mx):
    spec = _blocking_spec(tmp_path)
    plan_path = tmp_path / "p.json"
    assert run("plan", "-c", spec, "--out", plan_path).exit_code == 0

    refused = run("apply", "--auto-approve", plan_path)
    applied = run("apply", "--auto-approve", plan_path, "--allow-risk", "blocks-mail")

    assert refused.exit_code == 1
    assert "blocks mail: blocks.example" in refused.stdout, "the risk block is shown first"
    assert applied.exit_code == 0, applied.stderr
    assert "Apply complete: 3 changes" in applied.stdout


def test_a_saved_plan_claiming_blocks_mail_for_a_safe_domain_is_recomputed(tmp_path):
    """An edit the other way (a false alarm) is recomputed too: the live state decides."""
    spec = write_spec(tmp_path, {"a.example": {"mx": ["mx.a.example"]}})
    plan_path = tmp_path / "p.json"
    assert run("plan", "-c", spec, "--out", plan_path).exit_code == 0
    data = json.loads(plan_path.read_text(encoding="utf-8"))
    data["domains"][0]["risk"] = "blocks-mail"
    plan_path.write_text(json.dumps(data), encoding="utf-8")

    result = run("apply", "--auto-approve", plan_path)

    assert result.exit_code == 0, result.stderr
