"""autoshop.metrics on its own: the event-loop watch sees a stalled loop, starts once per served loop and never
in this test process unless asked, and labels stay a few fixed words."""

import asyncio
import os
import subprocess
import sys
import time

import pytest
from prometheus_client import REGISTRY

from autoshop import metrics


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_loop_blocked_for_80_ms_shows_as_lag_in_the_histogram_and_the_workers_max() -> None:
    count, total = value("autoshop_event_loop_lag_seconds_count"), value("autoshop_event_loop_lag_seconds_sum")
    quick = value("autoshop_event_loop_lag_seconds_bucket", le="0.05")
    watch = asyncio.create_task(metrics.watch_event_loop(interval=0.01))
    try:
        await asyncio.sleep(0.05)
        time.sleep(0.08)  # noqa: ASYNC251 - the stall under test: every call on the loop would wait this long
        await asyncio.sleep(0.05)
    finally:
        watch.cancel()
    assert value("autoshop_event_loop_lag_seconds_count") - count >= 3
    assert value("autoshop_event_loop_lag_seconds_sum") - total >= 0.07
    assert value("autoshop_event_loop_lag_max_seconds") >= 0.07
    late = (value("autoshop_event_loop_lag_seconds_count") - count) - (
        value("autoshop_event_loop_lag_seconds_bucket", le="0.05") - quick)
    assert late >= 1  # the wake-up the stall delayed, in a bucket above 50 ms


async def test_the_watch_refreshes_the_workers_cpu_and_memory() -> None:
    watch = asyncio.create_task(metrics.watch_event_loop(interval=0.01))
    await asyncio.sleep(0.03)
    watch.cancel()
    assert value("autoshop_worker_cpu_seconds") == pytest.approx(time.process_time(), abs=0.5)
    assert value("autoshop_worker_resident_memory_bytes") > 20_000_000


async def test_the_asgi_wrapper_starts_one_watch_per_loop_and_none_while_disabled(monkeypatch) -> None:
    served: list[str] = []

    async def app(scope, receive, send) -> None:
        served.append(scope["type"])

    watched = metrics.EventLoopWatch(app)
    await watched({"type": "http"}, None, None)  # type: ignore[arg-type]
    assert served == ["http"] and not watched._tasks  # the test process: off (conftest.py)
    monkeypatch.setattr(metrics, "loop_monitor_enabled", True)
    for _ in range(3):
        await watched({"type": "websocket"}, None, None)  # type: ignore[arg-type]
    assert len(watched._tasks) == 1
    for task in list(watched._tasks):
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_a_turn_row_is_observed_per_stage_in_seconds_and_a_missing_stage_is_skipped() -> None:
    before = {s: value("autoshop_turn_latency_seconds_count", stage=s) for s in metrics.TURN_STAGES}
    metrics.turn_latency({"stt_final_ms": 12.0, "llm_first_token_ms": None, "tts_first_byte_ms": None,
                          "first_audio_ms": 3.0, "total_ms": 15.0})
    moved = {s: value("autoshop_turn_latency_seconds_count", stage=s) - before[s] for s in metrics.TURN_STAGES}
    assert moved == {"stt_final": 1, "llm_first_token": 0, "tts_first_byte": 0, "first_audio": 1, "total": 1}


def test_labels_are_a_few_fixed_words_whatever_the_code_passes() -> None:
    metrics.frame_dropped("a frame from +15550102000 about CA0123")
    metrics.sms_outcome("+15550102000")
    metrics.fell_back("tts", "somewhere new")
    exposed = {sample.labels.get("reason") or sample.labels.get("outcome") or sample.labels.get("to")
               for family in REGISTRY.collect() if family.name.startswith(("autoshop_protocol", "autoshop_sms",
                                                                           "autoshop_provider_fallbacks"))
               for sample in family.samples}
    assert "other" in exposed and not any(label and ("+1555" in label or "CA0" in label) for label in exposed)


def test_sms_outcomes_are_exposed_at_zero_before_anything_is_sent() -> None:
    for outcome in metrics.SMS_OUTCOMES:
        assert REGISTRY.get_sample_value("autoshop_sms_total", {"outcome": outcome}) is not None


def test_a_provider_is_named_by_its_class_a_stream_by_its_provider_and_a_fallback_by_its_active_voice() -> None:
    class DeepgramSTTStream:
        pass

    class Chain:
        active = DeepgramSTTStream()

    assert metrics.provider_name(DeepgramSTTStream()) == "DeepgramSTT"
    assert metrics.provider_name(Chain()) == "DeepgramSTT"


def test_serve_prunes_the_gauges_of_workers_no_longer_running_from_a_given_directory(tmp_path, monkeypatch) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    for name in (f"gauge_liveall_{dead.pid}.db", f"gauge_liveall_{os.getpid()}.db", f"counter_{dead.pid}.db"):
        (tmp_path / name).write_bytes(b"")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    metrics.prepare_workers_directory(2)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f"gauge_liveall_{os.getpid()}.db",
                                                                  f"counter_{dead.pid}.db"])  # counts stay


def test_serve_gives_several_workers_a_directory_of_their_own_and_one_worker_none(monkeypatch) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")  # so that monkeypatch puts back what was there
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
    metrics.prepare_workers_directory(1)
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ
    registered: list[tuple] = []
    monkeypatch.setattr(metrics.atexit, "register", lambda *args: registered.append(args))
    metrics.prepare_workers_directory(2)
    made = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    assert os.path.isdir(made) and not os.listdir(made)
    assert registered == [(metrics.shutil.rmtree, made, True)]  # removed when the server stops
    metrics.shutil.rmtree(made)
