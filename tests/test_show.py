"""The terminal side of issue 11: `mtasts show`, the prompt's risk block, -v, colour, completion.

`show PLANFILE` prints a saved plan without building any provider (proved by making every
provider construction fail); `apply` without a terminal refuses before any provider is
built; `-v` says what was read and written and counts API calls without a secret.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from clihelpers import run, simple_domains, write_spec
from rich.console import Console

from provisioner import apicalls, cli, pacing, registry, workflow
from provisioner.knobs import Rate


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    spec = write_spec(tmp_path, simple_domains(["a.example", "b-c.example"]))
    plan_path = tmp_path / "plan.json"
    result = run("plan", "-c", spec, "--out", plan_path)
    assert result.exit_code == 0, result.stderr
    return plan_path


@pytest.fixture
def no_providers(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every provider construction fails the test's way, and is recorded."""
    built: list[str] = []

    def refuse(name: str, *args: object, **kwargs: object) -> None:
        built.append(name)
        raise AssertionError(f"provider {name} was built")

    monkeypatch.setattr(registry, "build_provider", refuse)
    monkeypatch.setattr(workflow, "build_providers", refuse)
    monkeypatch.setattr(workflow, "build_saved_providers", refuse)
    return built


def test_show_prints_a_saved_plan_without_touching_a_provider(saved, no_providers):
    result = run("show", saved)

    assert result.exit_code == 0, result.stderr
    assert "a.example (local) [routine]: new policy: mode testing" in result.stdout
    assert result.stdout.endswith(
        "Plan: 6 to add, 0 to change, 0 to destroy.\n2 routine; 0 blocking mail\n"
    )
    assert no_providers == []


def test_show_markdown_is_the_whole_comment_uncut(saved, no_providers):
    result = run("show", saved, "--format", "markdown", "--markdown-header", "commit 1a2b3c4")

    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("commit 1a2b3c4\n\n### mtasts plan: 6 to add")
    assert "| b\u2011c.example | routine | `local` |" in result.stdout
    assert no_providers == []


def test_show_json_is_the_plan_json(saved, no_providers):
    result = run("show", saved, "--format", "json")

    data = json.loads(result.stdout)
    saved_data = json.loads(saved.read_text(encoding="utf-8"))
    assert data["changes"] == saved_data["changes"]
    assert data["summary"] == saved_data["summary"]
    assert [d["risk"] for d in data["domains"]] == ["routine", "routine"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such plan file"),
        ("{", "not a JSON plan file"),
        ("[]", "not a saved mtasts plan"),
    ],
)
def test_show_of_a_bad_file_is_one_line(tmp_path, no_providers, content, message):
    path = tmp_path / "p.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")

    result = run("show", path)

    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("error: ") and message in line


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d["domains"][0].update(blocked_mx=7),
        lambda d: d["domains"][0].pop("domain"),
        lambda d: d.update(domains=[None]),
        lambda d: d["domains"][0].update(step="1", risk=["blocks-mail"]),
    ],
)
def test_show_of_a_malformed_domain_entry_is_one_line_or_harmless(saved, no_providers, edit):
    data = json.loads(saved.read_text(encoding="utf-8"))
    edit(data)
    saved.write_text(json.dumps(data), encoding="utf-8")

    result = run("show", saved)

    assert "Traceback" not in result.stderr + result.stdout
    if result.exit_code:
        [line] = result.stderr.splitlines()
        assert line.startswith(f"error: {saved}: malformed plan file")
    else:
        assert "2 routine; 0 blocking mail" in result.stdout


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(managed_domains=float("inf")), "cannot convert float infinity"),
        (lambda d: d["summary"].update(unchanged_domains=float("inf")), "float infinity"),
        (lambda d: d["changes"][0].update(after=5), "a policy change holds a value that is not"),
        (lambda d: d["changes"][0].update(after={"a": 1}), "holds a value that is not text"),
        (lambda d: d["changes"][1].update(rrset_after=[7]), "holds a value that is not text"),
    ],
)
@pytest.mark.parametrize("output", ["text", "markdown", "json"])
def test_show_of_a_value_of_the_wrong_kind_is_one_line(saved, no_providers, edit, message, output):
    data = json.loads(saved.read_text(encoding="utf-8"))
    edit(data)
    saved.write_text(json.dumps(data), encoding="utf-8")

    result = run("show", saved, "--format", output)

    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: {saved}: malformed plan file (") and message in line
    assert result.stdout == ""


def test_show_of_a_deeply_nested_file_is_one_line(tmp_path, no_providers):
    path = tmp_path / "p.json"
    path.write_text('{"fingerprints": ' + "[" * 100_000 + "]" * 100_000 + "}", encoding="utf-8")

    result = run("show", path)

    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {path}: not a saved mtasts plan (a value out of range, or nested too deep)\n"
    )


@pytest.mark.parametrize("output", ["text", "markdown"])
def test_show_keeps_only_text_warnings_and_notes(saved, no_providers, output):
    data = json.loads(saved.read_text(encoding="utf-8"))
    data["warnings"] = [{"a": 1}, 5, None, "a real warning"]
    data["notes"] = [["x"], "a real note"]
    saved.write_text(json.dumps(data), encoding="utf-8")

    result = run("show", saved, "--format", output)

    assert result.exit_code == 0, result.stderr
    assert "a real warning" in result.stdout and "a real note" in result.stdout
    assert "'a': 1" not in result.stdout and "['x']" not in result.stdout


def test_show_of_a_hostile_saved_text_prints_it_inert(saved, no_providers):
    data = json.loads(saved.read_text(encoding="utf-8"))
    data["domains"][0]["summary"] = "\x1b[2J\rNo changes. [red]x[/red] :smile:"
    data["domains"][0]["risk"] = "\x1b]0;pwned\x07"
    saved.write_text(json.dumps(data), encoding="utf-8")

    result = run("show", saved)

    assert result.exit_code == 0, result.stderr
    assert "\x1b" not in result.stdout
    assert r"\x1b[2J\rNo changes. [red]x[/red] :smile:" in result.stdout
    assert "a.example (local) [routine]" in result.stdout, "an unknown class reads as routine"


def test_apply_without_a_terminal_refuses_before_building_any_provider(tmp_path, no_providers):
    spec = write_spec(tmp_path, simple_domains(["a.example"]))

    result = run("apply", "-c", spec)

    assert result.exit_code == 1
    assert "stdin is not a terminal" in result.stderr
    assert no_providers == []


def test_apply_of_a_saved_plan_shows_the_summary_and_risk_line_before_applying(saved):
    result = run("apply", "--auto-approve", saved)

    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:3] == [
        "Plan: 6 to add, 0 to change, 0 to destroy.",
        "2 routine; 0 blocking mail",
        "Apply complete: 6 changes (6 added, 0 changed, 0 destroyed).",
    ]


def test_verbose_says_what_was_read_and_written_and_counts_api_calls(tmp_path, monkeypatch):
    monkeypatch.setattr(pacing, "_shared", {})
    pacer = pacing.shared_pacer("AKIASECRETKEY", "route53", Rate(1000, 1.0))
    pacer.acquire()
    pacer.acquire()
    spec = write_spec(tmp_path, simple_domains(["a.example"]))

    result = run("-v", "apply", "-c", spec, "--auto-approve")

    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines() == [
        "mtasts: read 1 domain from provider local",
        "mtasts: API calls (rate-limited APIs): route53 2",
        "mtasts: a.example (local, routine): policy create, sts_record create, "
        "tlsrpt_record create",
        "mtasts: 3 changes applied",
        "mtasts: API calls (rate-limited APIs): route53 2",
    ]
    assert "AKIA" not in result.stderr


def test_mtasts_log_debug_is_verbose(tmp_path, monkeypatch):
    monkeypatch.setattr(pacing, "_shared", {})
    spec = write_spec(tmp_path, simple_domains(["a.example"]))

    result = run("plan", "-c", spec, env={"MTASTS_LOG": "debug"})

    assert result.stderr.splitlines() == [
        "mtasts: read 1 domain from provider local",
        "mtasts: API calls: none to a rate-limited API",
    ]


def test_no_color_and_completion_are_global_options():
    result = run("--help")

    assert "--no-color" in result.stdout
    assert "--verbose" in result.stdout
    assert "--install-completion" in result.stdout
    assert "--show-completion" in result.stdout


@pytest.mark.parametrize(
    ("args", "env", "coloured"),
    [
        ((), {}, True),
        (("--no-color",), {}, False),
        ((), {"NO_COLOR": "1"}, False),
    ],
)
def test_no_color_beside_no_color_env(tmp_path, monkeypatch, args, env, coloured):
    """On a colour terminal, the plan is coloured unless --no-color or NO_COLOR says not."""
    terminal = Console(file=io.StringIO(), force_terminal=True, color_system="standard")
    monkeypatch.setattr(cli, "stdout", terminal)
    spec = write_spec(tmp_path, simple_domains(["a.example"]))

    result = run(*args, "plan", "-c", spec, env=env)

    assert result.exit_code == 0, result.stderr
    shown = terminal.file.getvalue()
    assert bool(re.search(r"\x1b\[[0-9;]*3[0-7]m", shown)) is coloured, "colour codes"
    assert "\x1b[1m" in shown, "NO_COLOR removes colour, not bold (no-color.org)"


def test_apply_of_a_saved_plan_without_a_terminal_refuses_before_any_provider(saved, no_providers):
    result = run("apply", saved)

    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert "stdin is not a terminal" in line and "--auto-approve" in line
    assert result.stdout == ""
    assert no_providers == []


def test_apply_of_a_saved_plan_asks_with_the_summary_right_above_the_prompt(
    saved, tmp_path, monkeypatch
):
    monkeypatch.setattr(cli, "_stdin_is_terminal", lambda: True)

    declined = run("apply", saved, input="no\n")

    assert declined.exit_code == 1
    assert "apply cancelled; nothing was changed" in declined.stderr
    assert not (tmp_path / "out").exists()
    before_prompt = declined.stdout.split("Apply these 6 changes?")[0].rstrip().splitlines()
    assert before_prompt[-2:] == [
        "Plan: 6 to add, 0 to change, 0 to destroy.",
        "2 routine; 0 blocking mail",
    ]

    accepted = run("apply", saved, input="yes\n")

    assert accepted.exit_code == 0, accepted.stderr
    assert "Apply complete: 6 changes (6 added, 0 changed, 0 destroyed)." in accepted.stdout


def test_verbose_counts_only_this_commands_calls(tmp_path):
    """Calls recorded by an earlier command in the same process (a bot, a test session)
    are not reported as this command's."""
    apicalls.record("aws s3")
    spec = write_spec(tmp_path, simple_domains(["a.example"]))

    result = run("-v", "plan", "-c", spec)

    assert result.exit_code == 0, result.stderr
    assert "API calls by service" not in result.stderr
