"""Progress on long runs names the phase (issue 11): apply tells the display each phase as
it starts, and the CLI's bar shows it with the elapsed time."""

from __future__ import annotations

import io

from clihelpers import simple_domains, write_spec
from rich.console import Console

from provisioner import cli, workflow
from provisioner.polling import Wait, poll
from provisioner.provider import PhaseProgress


class Recorder:
    """A progress display that keeps what it was told, in order."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def advance(self, amount: int = 1) -> None:
        self.events.append(f"+{amount}")

    def start_phase(self, name: str) -> None:
        self.events.append(name)


def test_apply_names_each_phase_before_its_work(tmp_path):
    spec = workflow.load(write_spec(tmp_path, simple_domains(["a.example", "b.example"])))
    providers, result = workflow.plan(spec)
    sink = Recorder()

    workflow.apply(result.plan, providers, progress=sink)

    phases = [e for e in sink.events if not e.startswith("+")]
    assert phases == ["policies", "TXT records"]
    assert sink.events.index("policies") < sink.events.index("TXT records")
    assert isinstance(sink, PhaseProgress)


def test_the_bar_shows_the_phase_and_elapsed_time(monkeypatch):
    terminal = Console(file=io.StringIO(), force_terminal=True, width=100)
    monkeypatch.setattr(cli, "stderr", terminal)

    with cli._progress("applying", cli.PROGRESS_THRESHOLD + 1) as sink:
        assert isinstance(sink, PhaseProgress)
        sink.start_phase("policies")
        sink.advance(3)
        terminal.file.truncate(0)
        terminal.print()  # let the live display draw once more

    shown = terminal.file.getvalue()
    assert "applying: policies" in shown
    assert "3/51" in shown
    assert "0:00:0" in shown


def test_a_wait_inside_a_provider_is_named_on_the_display(tmp_path, monkeypatch):
    """A provider's poll (a certificate issuing, a distribution deploying) shows what it
    waits for, once, when it first has to pause; a wait settled at once says nothing."""
    spec = workflow.load(write_spec(tmp_path, simple_domains(["a.example"])))
    providers, result = workflow.plan(spec)
    [provider] = providers.values()
    real_apply = provider.apply

    def apply_after_waiting(changes, progress):
        answers = iter([None, None, "ISSUED"])
        poll("local: certificates ISSUED", lambda: next(answers), Wait(10), sleep=lambda s: None)
        poll("local: settled at once", lambda: "done", Wait(10), sleep=lambda s: None)
        real_apply(changes, progress)

    monkeypatch.setattr(provider, "apply", apply_after_waiting)
    sink = Recorder()

    workflow.apply(result.plan, providers, progress=sink)

    phases = [e for e in sink.events if not e.startswith("+")]
    assert phases == [
        "policies",
        "waiting for local: certificates ISSUED",
        "TXT records",
        "waiting for local: certificates ISSUED",
    ]
