"""The provider toolkit's core pieces: knobs, pacing, polling, concurrency."""

from __future__ import annotations

import threading
import time

import pytest

from provisioner.concurrency import each
from provisioner.knobs import KnobError, Rate, RateKnob, seconds
from provisioner.pacing import Pacer, shared_pacer
from provisioner.polling import Wait, WaitTimedOut, poll


@pytest.mark.parametrize(
    ("raw", "rate"),
    [
        ("5", Rate(5, 1.0)),
        ("5.0", Rate(5, 1.0)),
        ("0.5", Rate(1, 2)),
        ("1200/300", Rate(1200, 300.0)),
        (" 7/0.5 ", Rate(7, 0.5)),
    ],
)
def test_a_rate_knob_reads_n_per_seconds(monkeypatch, raw, rate):
    monkeypatch.setenv("MTASTS_TEST_RATE", raw)
    assert RateKnob("MTASTS_TEST_RATE", Rate(1, 1.0)).read() == rate


@pytest.mark.parametrize("raw", ["fast", "0", "5/0", "-1/3", "5/x", "1/999999", "nan"])
def test_a_bad_rate_is_a_one_line_error_naming_the_variable(monkeypatch, raw):
    monkeypatch.setenv("MTASTS_TEST_RATE", raw)
    with pytest.raises(KnobError, match=r"^MTASTS_TEST_RATE: "):
        RateKnob("MTASTS_TEST_RATE", Rate(1, 1.0)).read()


@pytest.mark.parametrize("raw", ["soon", "0", "-3", "1e9", "nan"])
def test_a_bad_timeout_is_refused_not_defaulted(monkeypatch, raw):
    monkeypatch.setenv("MTASTS_TEST_TIMEOUT", raw)
    with pytest.raises(KnobError, match=r"^MTASTS_TEST_TIMEOUT: "):
        seconds("MTASTS_TEST_TIMEOUT", 5.0, 600.0).read()


def test_an_unset_knob_is_its_default(monkeypatch):
    monkeypatch.delenv("MTASTS_TEST_TIMEOUT", raising=False)
    assert seconds("MTASTS_TEST_TIMEOUT", 5.0).read() == 5.0


def test_a_pacer_lets_a_burst_of_the_quota_through_then_holds_the_rest():
    pacer = Pacer(Rate(4, 0.4))
    started = time.monotonic()
    for _ in range(4):
        pacer.acquire()
    burst = time.monotonic() - started
    pacer.acquire()
    assert pacer.sent == 5
    assert burst < time.monotonic() - started, "the fifth request waited for the window"


def test_pacers_are_shared_per_account_and_api():
    a = shared_pacer("acct", "route53", Rate(5, 1.0))
    assert shared_pacer("acct", "route53", Rate(5, 1.0)) is a
    assert shared_pacer("other", "route53", Rate(5, 1.0)) is not a


def test_poll_returns_the_first_value_and_names_what_timed_out():
    answers = iter([None, None, "ISSUED"])
    slept: list[float] = []
    assert poll("cert", lambda: next(answers), Wait(100, 1, 2), sleep=slept.append) == "ISSUED"
    assert slept == [1, 1.5]
    now = [0.0]

    def clock() -> float:
        return now[0]

    def sleep(pause: float) -> None:
        now[0] += pause

    with pytest.raises(WaitTimedOut, match=r"^gave up waiting for aws: a.example: certificate"):
        poll("aws: a.example: certificate ISSUED", lambda: None, Wait(10), sleep, clock)


def test_each_keeps_input_order_and_raises_the_first_error_in_that_order():
    assert each(lambda x: x * 2, [3, 1, 2], workers=3) == [6, 2, 4]
    finished = threading.Event()

    def work(x: int) -> int:
        if x == 1:
            finished.wait(5)
            raise ValueError("first")
        if x == 2:
            finished.set()
            raise ValueError("second")
        return x

    with pytest.raises(ValueError, match="first"):
        each(work, [0, 1, 2], workers=3)


def test_a_pacing_wait_past_the_run_deadline_fails_at_once():
    from provisioner.deadline import Deadline, DeadlinePassed

    pacer = Pacer(Rate(1, 60.0))
    run = Deadline(0.2)
    pacer.acquire(run)
    started = time.monotonic()
    with pytest.raises(DeadlinePassed, match="MTASTS_DEADLINE"):
        pacer.acquire(run)
    assert time.monotonic() - started < 5, "no 60 s wait past a 0.2 s deadline"


def test_a_poll_stops_before_a_pause_that_would_outlive_the_run():
    from provisioner.deadline import Deadline

    with pytest.raises(WaitTimedOut, match=r"the run's deadline of 0\.05s comes first"):
        poll("cert", lambda: None, Wait(100, 1, 1), run=Deadline(0.05))


@pytest.mark.parametrize("raw", ["٣", "9" * 5000])
def test_a_knob_takes_ascii_digits_and_never_echoes_a_whole_file(monkeypatch, raw):
    monkeypatch.setenv("MTASTS_TEST_TIMEOUT", raw)
    with pytest.raises(KnobError) as caught:
        seconds("MTASTS_TEST_TIMEOUT", 5.0).read()
    assert len(str(caught.value)) < 120
