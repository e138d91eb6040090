"""A stream's protocol errors: counted, logged without flooding the log, and bounded."""

import logging

import pytest

from voice.stream_limits import ProtocolErrors


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_ten_thousand_junk_frames_write_a_handful_of_lines_not_ten_thousand(caplog) -> None:
    clock = Clock()
    errors = ProtocolErrors(limit=100_000, summary_every=10.0, clock=clock)
    errors.call_sid, errors.caller = "CA" + "1" * 32, "+15550102000"
    with caplog.at_level(logging.WARNING, logger="voice.consumers"):
        for index in range(10_000):
            clock.now = index * 0.003  # 30 s of junk
            assert errors.note(f"junk {index}") is False
        errors.flush()
    lines = _lines(caplog)
    assert len(lines) == 1 + 2 + 1  # the first, a summary at 10 s and at 20 s, the rest at the end
    assert "dropped a media-stream frame: junk 0" in lines[0] and "+1********00" in lines[0]
    assert "10000 media-stream frame(s) dropped" in lines[-1]
    assert "+15550102000" not in "".join(lines)  # the number is masked


def test_the_budget_runs_out_at_the_limit() -> None:
    errors = ProtocolErrors(limit=3, clock=Clock())
    assert [errors.note("x") for _ in range(3)] == [False, False, True]


def test_each_error_reaches_the_call_log_once() -> None:
    errors = ProtocolErrors(clock=Clock())
    errors.note("x")
    errors.note("y")
    assert errors.take_unrecorded() == 2
    errors.note("z")
    assert errors.take_unrecorded() == 1
    assert errors.take_unrecorded() == 0
