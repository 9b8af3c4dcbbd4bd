"""The provider toolkit against hostile input: what a careless user or a foreign record
feeds it (issue 9). Each case asserts what the user sees: one line naming the knob or the
value, never an internal error, never a 64 KiB message."""

from __future__ import annotations

import pytest
from clihelpers import run, write_spec

from provisioner.dnstext import (
    DnsTextError,
    parse_txt,
    rrset_texts,
    txt_text,
    txt_value,
    zone_for,
)
from provisioner.knobs import KnobError, Rate, RateKnob
from provisioner.pacing import Pacer


@pytest.mark.parametrize("raw", ["5/0.0001", "1/1e-9", "1/0.0004"])
def test_a_rate_window_under_a_millisecond_is_a_knob_error(monkeypatch, raw):
    """It was an AssertionError inside pyrate-limiter (a window of 0 ms): an internal error."""
    monkeypatch.setenv("MTASTS_TEST_RATE", raw)
    with pytest.raises(KnobError) as caught:
        RateKnob("MTASTS_TEST_RATE", Rate(1, 1.0)).read()
    assert str(caught.value) == (
        f"MTASTS_TEST_RATE: {raw} needs at least 1 request in a window of 0.001..86400 seconds"
    )


@pytest.mark.parametrize("raw", ["5/", "5/ ", "5/0", "5/1/2"])
def test_a_rate_with_no_usable_window_is_refused(monkeypatch, raw):
    monkeypatch.setenv("MTASTS_TEST_RATE", raw)
    with pytest.raises(KnobError, match=r"^MTASTS_TEST_RATE: .* is not a rate"):
        RateKnob("MTASTS_TEST_RATE", Rate(1, 1.0)).read()


def test_a_pacer_with_the_shortest_window_paces():
    pacer = Pacer(Rate(3, 0.001))
    for _ in range(5):
        pacer.acquire()
    assert pacer.sent == 5


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "MTASTS_WORKERS: 0 is outside 1..256 workers"),
        ("-1", "MTASTS_WORKERS: -1 is outside 1..256 workers"),
        ("1e9", "MTASTS_WORKERS: '1e9' is not a number of workers"),
        ("abc", "MTASTS_WORKERS: 'abc' is not a number of workers"),
    ],
)
def test_a_bad_workers_knob_stops_a_plan_in_one_line(tmp_path, value, message):
    domains = {d: {"mx": [f"mx.{d}"]} for d in ("example.com", "example.org")}
    path = write_spec(tmp_path, domains)
    result = run("plan", "-c", path, env={"MTASTS_WORKERS": value})
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [f"error: {message}"], result.stderr


@pytest.mark.parametrize(
    "text",
    ['"abc\\"', "abc\\", '"a\\256b"', "", "   ", '"' + "a" * 256 + '"', '"a\nb"'],
)
def test_hostile_txt_text_is_a_dns_text_error(text):
    with pytest.raises(DnsTextError, match=r"^not TXT record data: "):
        parse_txt(text)


def test_a_64_kib_value_round_trips_and_its_error_is_short():
    value = "v=" + "x" * 65_536
    assert txt_value(txt_text(value)) == value
    with pytest.raises(DnsTextError) as caught:
        parse_txt('"' + value + '"')  # one string over 255 bytes: not zone-file text
    assert len(str(caught.value)) < 200
    assert "(65540 chars)" in str(caught.value)


def test_a_lone_surrogate_is_a_dns_text_error_not_a_unicode_crash():
    """A JSON API may hand back `\\ud800`; it was a UnicodeEncodeError (internal error)."""
    with pytest.raises(DnsTextError, match="lone surrogate"):
        txt_text("a\ud800b")


def test_backslash_255_is_a_byte_that_round_trips():
    value = parse_txt('"id=\\255"').value
    assert txt_text(value) == '"id=\\255"'


def test_zone_for_reads_a_domain_as_dns_does():
    zones = ["EXAMPLE.com.", "mail.example.com"]
    assert zone_for("A.Mail.Example.COM.", zones) == "mail.example.com"
    assert zone_for("example.com.", zones) == "EXAMPLE.com."


def test_rrset_texts_keeps_live_text_and_renders_the_rest():
    live = ['"two " "strings"', '"caf\\195\\169"', "not parsable\\", '"v=STSv1; id=old"']
    texts = rrset_texts(["two strings", "café", "v=STSv1; id=new", "café"], live)
    assert texts == ('"two " "strings"', '"caf\\195\\169"', '"v=STSv1; id=new"')
    assert rrset_texts(["not parsable\\"], live) == ("not parsable\\",)


def test_a_relative_path_setting_is_recorded_absolute_for_a_saved_plan(tmp_path):
    """A saved plan rebuilds providers in whatever directory `apply PLANFILE` runs in."""
    from collections.abc import Sequence
    from pathlib import Path

    from pydantic import BaseModel, ConfigDict

    from provisioner.provider import Progress, Provider
    from provisioner.state import LiveDomain

    class FileSettings(BaseModel):
        model_config = ConfigDict(extra="forbid")
        api_file: Path
        label: str = "./not-a-path"

    class FileProvider(Provider):
        type_name = "file"
        capabilities = frozenset()
        Settings = FileSettings

        def managed_domains(self) -> set[str]:
            return set()

        def read(self, domains: Sequence[str], progress: Progress) -> dict[str, LiveDomain]:
            return {}

        def apply(self, changes, progress: Progress) -> None:
            return None

    settings = FileSettings(api_file=Path("state/api.json"))
    recorded = FileProvider("f", settings, tmp_path).plan_settings()
    assert recorded == {
        "api_file": str(tmp_path.resolve() / "state/api.json"),
        "label": "./not-a-path",
    }
    absolute = FileSettings(api_file=Path("/srv/api.json"))
    assert FileProvider("f", absolute, tmp_path).plan_settings()["api_file"] == "/srv/api.json"


class Throttled(Exception):
    pass


def test_retry_ends_a_429_storm_at_the_run_deadline_naming_the_knob():
    from provisioner.deadline import Deadline
    from provisioner.polling import Wait, WaitTimedOut, retry

    now = [0.0]
    calls: list[int] = []

    def throttled() -> str:
        calls.append(1)
        raise Throttled("429")

    def sleep(seconds: float) -> None:
        now[0] += seconds

    run = Deadline(3.0, clock=lambda: now[0])
    with pytest.raises(WaitTimedOut) as caught:
        retry(
            "toy: example.com: write TXT",
            throttled,
            lambda e: isinstance(e, Throttled),
            Wait(600.0, 1.0, 20.0),
            run=run,
            sleep=sleep,
            clock=lambda: now[0],
        )
    assert str(caught.value) == (
        "gave up waiting for toy: example.com: write TXT: the run's deadline of 3s comes "
        "first (MTASTS_DEADLINE)"
    )
    assert len(calls) == 3  # at 0 s, 1 s, 2.5 s; the next pause would pass 3 s


def test_retry_returns_the_answer_and_raises_other_errors_at_once():
    from provisioner.polling import Wait, retry

    answers = iter([Throttled(), Throttled(), None])

    def flaky() -> None:
        error = next(answers)
        if error is not None:
            raise error

    assert (
        retry("x", flaky, lambda e: isinstance(e, Throttled), Wait(60), sleep=lambda _: None)
        is None
    )
    with pytest.raises(KeyError):
        retry("x", lambda: {}["k"], lambda e: isinstance(e, Throttled), Wait(60))


def test_a_deadline_passed_in_a_provider_read_is_one_line_not_an_internal_error(
    tmp_path, monkeypatch
):
    """A provider pacing with `Pacer.acquire(run)` lets DeadlinePassed out; it read
    'internal error: DeadlinePassed: ... please report it'."""
    from providers.local import LocalProvider
    from provisioner.deadline import DeadlinePassed

    def late(self, domains, progress):
        raise DeadlinePassed(3.0, "waiting for the API's rate limit")

    monkeypatch.setattr(LocalProvider, "read", late)
    path = write_spec(tmp_path, {"example.com": {"mx": ["mx.example.com"]}})
    result = run("plan", "-c", path)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "error: the run's deadline of 3 s has passed (MTASTS_DEADLINE)"
    ]
