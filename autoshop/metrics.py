"""What an operator watches: the project's own Prometheus metrics, and the functions that move them.

Everything the call path, the providers and the reminders report goes through one function here, so the
metric names and their label values (a few fixed words each: never a phone number or a call sid) are in
one place. `/metrics` (autoshop.metrics_view) serves them with django-prometheus' request metrics.

Several web processes on one host (PROMETHEUS_MULTIPROC_DIR set): every process writes its values into
that directory and a scrape of any one of them adds counters and histograms up over all of them; the
per-worker gauges are reported per process, labelled `pid`. Without it, each process serves its own.
"""

import asyncio
import atexit
import contextlib
import glob
import logging
import os
import shutil
import tempfile
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping
from functools import cache
from typing import Any, Literal

from prometheus_client import Counter, Gauge, Histogram

logger = logging.getLogger(__name__)

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

# --- calls ------------------------------------------------------------------------------------------

CALLS = Counter("autoshop_calls", "Media streams started with a valid token (a resumed call counts again).",
                ["direction", "stream"])
CALLS_ENDED = Counter("autoshop_calls_ended", "Media streams ended, by the call's outcome.", ["outcome"])
TURN_STAGES = ("stt_final", "llm_first_token", "tts_first_byte", "first_audio", "total")
TURN_LATENCY = Histogram(
    "autoshop_turn_latency_seconds",
    "One caller turn, per stage: speech end -> STT final (stt_final) -> first model token (llm_first_token) -> "
    "first TTS byte (tts_first_byte) -> first audio sent to Twilio (first_audio); total: speech end -> audio.",
    ["stage"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0))
for _stage in TURN_STAGES:
    TURN_LATENCY.labels(_stage)

# --- providers --------------------------------------------------------------------------------------

PROVIDER_ERRORS = Counter("autoshop_provider_errors", "A speech or model provider failed on a call.",
                          ["role", "provider"])
FALLBACK_TARGETS = ("fallback_engine", "next_voice", "apology", "front_desk", "callback")
PROVIDER_FALLBACKS = Counter(
    "autoshop_provider_fallbacks",
    "What a call fell back to when a provider failed: the STT fallback engine, the next TTS voice, the "
    "apology (cached audio, or the model's offer of a person), the front desk, or a callback request.",
    ["role", "to"])
MODEL_TIMEOUTS = Counter("autoshop_model_timeouts", "A model request given up past its budget "
                         "(MODEL_FIRST_TOKEN_BUDGET_SECONDS or MODEL_STREAM_GAP_SECONDS).", ["budget"])
FILLERS = Counter("autoshop_fillers", "Fillers said while the model or a tool worked (\"One moment.\").")
STT_RECONNECTS = Counter("autoshop_stt_reconnects", "Speech-to-text sockets that dropped mid-call and were "
                         "reopened (ok) or could not be (failed).", ["result"])
STT_RECONNECT_SECONDS = Histogram("autoshop_stt_reconnect_seconds", "From a dropped STT socket noticed to the "
                                  "new one open.", buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0))

# --- the media stream ---------------------------------------------------------------------------------

FRAME_DROP_REASONS = ("malformed", "out_of_order", "other")
FRAMES_DROPPED = Counter("autoshop_protocol_frames_dropped", "Media-stream frames dropped as malformed or out "
                         "of order.", ["reason"])
STREAM_CLOSE_REASONS = {4401: "token_refused", 4408: "protocol_errors"}
STREAMS_CLOSED = Counter("autoshop_streams_closed", "Media streams we closed: a start without its valid token, "
                         "or too many dropped frames.", ["reason"])
for _reason in FRAME_DROP_REASONS:
    FRAMES_DROPPED.labels(_reason)
for _reason in STREAM_CLOSE_REASONS.values():
    STREAMS_CLOSED.labels(_reason)

# --- reminders and SMS ----------------------------------------------------------------------------------

REMINDER_OUTCOMES = Counter("autoshop_reminder_calls", "Reminder calls, by each outcome they reached (a call "
                            "dialled, then answered, then confirmed counts once under each).", ["outcome"])
# texts.services: each text we send counts once as sent, opted_out, skipped_safe_mode or failed, and again
# when Twilio's callback says delivered, undelivered or failed; each text a customer sends us as received.
SMS_OUTCOMES = ("sent", "delivered", "undelivered", "failed", "skipped_safe_mode", "opted_out", "received")
SMS = Counter("autoshop_sms", "Text messages, by outcome: accepted by Twilio (sent), then delivered or "
              "undelivered; refused (failed); not sent in safe mode or to a customer who opted out; "
              "received from a customer.", ["outcome"])
for _outcome in SMS_OUTCOMES:
    SMS.labels(_outcome)

# --- the web process itself -------------------------------------------------------------------------------

LOOP_LAG = Histogram("autoshop_event_loop_lag_seconds", "How late the ASGI event loop wakes from a sleep: time "
                     "every call on the process waited for the loop.",
                     buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0))


@cache
def worker_gauges() -> dict[str, Gauge]:
    """The per-process gauges, made on first use in a web process only (in multiprocess mode a gauge is a
    file per process: a task worker or a management command must not leave one behind)."""
    if MULTIPROCESS:
        atexit.register(_mark_dead)
    mode: Literal["liveall"] = "liveall"  # multiprocess: one series per live process, labelled pid
    return {
        "calls": Gauge("autoshop_calls_in_progress", "Calls this worker process is handling now.",
                       multiprocess_mode=mode),
        "lag_max": Gauge("autoshop_event_loop_lag_max_seconds", "The longest event-loop lag of this worker in "
                         "the last 10 to 20 seconds.", multiprocess_mode=mode),
        "cpu": Gauge("autoshop_worker_cpu_seconds", "CPU seconds (user + system) this worker process has used.",
                     multiprocess_mode=mode),
        "rss": Gauge("autoshop_worker_resident_memory_bytes", "Resident memory of this worker process.",
                     multiprocess_mode=mode),
    }


def _mark_dead() -> None:
    process_gone(os.getpid())


def process_gone(pid: int) -> None:
    """A web worker ended (its own exit, or its supervisor saw it die): in multiprocess mode its per-worker
    gauges leave the scrape; its counts stay in the totals."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        with contextlib.suppress(OSError):
            multiprocess.mark_process_dead(pid)


def prepare_workers_directory(workers: int) -> None:
    """Before `manage.py serve` starts its workers. With PROMETHEUS_MULTIPROC_DIR set: the per-worker gauges of
    processes no longer running are removed (a worker killed last time, whose pid a new process may get).
    Unset and several workers: a fresh directory of this server's own (removed when it stops), so a scrape
    of any worker still adds up all of them."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not path:
        if workers > 1:
            path = tempfile.mkdtemp(prefix="autoshop-metrics-")
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = path  # the workers inherit it
            atexit.register(shutil.rmtree, path, True)
        return
    for name in glob.glob(os.path.join(path, "gauge_live*_*.db")):
        pid = os.path.basename(name).rsplit("_", 1)[-1].removesuffix(".db")
        if pid.isdigit() and not _running(int(pid)):
            process_gone(int(pid))


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --- what the code reports -------------------------------------------------------------------------------

def call_started(direction: str, *, resumed: bool) -> None:
    """A call's media stream started (`resumed`: a new stream for a call already in progress)."""
    CALLS.labels(direction if direction in ("inbound", "outbound") else "other",
                 "resumed" if resumed else "new").inc()
    worker_gauges()["calls"].inc()


def call_ended(outcome: str) -> None:
    """A call's media stream ended (one `call_started` before it), with the call's outcome so far."""
    CALLS_ENDED.labels(str(outcome)).inc()
    worker_gauges()["calls"].dec()


def turn_latency(row: Mapping[str, Any]) -> None:
    """One turn's latency row (voice.latency.TurnTimes.as_row, in ms); stages the turn did not have are skipped."""
    for stage in TURN_STAGES:
        value = row.get(f"{stage}_ms")
        if value is not None:
            TURN_LATENCY.labels(stage).observe(max(0.0, float(value)) / 1000)


def provider_name(provider: object) -> str:
    """A provider's label: its class name (a stream's is its provider's); a fallback wrapper's active one."""
    active = getattr(provider, "active", None)
    name = type(active if active is not None else provider).__name__
    return name.removesuffix("Stream")


def provider_failed(role: str, provider: object, *, fallback: str | None = None) -> None:
    """`provider` (stt, tts or llm) failed on a call; `fallback` is what the call fell back to, if anything."""
    PROVIDER_ERRORS.labels(role, provider if isinstance(provider, str) else provider_name(provider)).inc()
    if fallback is not None:
        fell_back(role, fallback)


def fell_back(role: str, to: str) -> None:
    """A call fell back to `to` (one of FALLBACK_TARGETS) because its `role` provider failed."""
    PROVIDER_FALLBACKS.labels(role, to if to in FALLBACK_TARGETS else "other").inc()


def model_timed_out(budget: str) -> None:
    """A model request sent nothing within its budget: `first_token` or `gap`."""
    MODEL_TIMEOUTS.labels(budget).inc()


def filler_said() -> None:
    FILLERS.inc()


def stt_reconnected(seconds: float | None) -> None:
    """A dropped speech-to-text socket was reopened after `seconds`."""
    STT_RECONNECTS.labels("ok").inc()
    if seconds is not None:
        STT_RECONNECT_SECONDS.observe(seconds)


def stt_reconnect_failed() -> None:
    """A dropped speech-to-text socket could not be reopened (every attempt failed)."""
    STT_RECONNECTS.labels("failed").inc()


def frame_dropped(reason: str) -> None:
    """A media-stream frame was dropped; `reason` as voice.consumers words it ("malformed: ...")."""
    kind = reason.split(":", 1)[0].strip().replace(" ", "_")
    FRAMES_DROPPED.labels(kind if kind in FRAME_DROP_REASONS else "other").inc()


def stream_closed(code: int) -> None:
    """We closed a media stream with `code` (voice.stream_limits)."""
    STREAMS_CLOSED.labels(STREAM_CLOSE_REASONS.get(code, "other")).inc()


def reminder_outcome(outcome: str, count: int = 1) -> None:
    """Reminder calls reached `outcome` (a reminders.models.ReminderOutcome value)."""
    if count > 0:
        REMINDER_OUTCOMES.labels(str(outcome)).inc(count)


def sms_outcome(outcome: str) -> None:
    """A text message reached `outcome` (one of SMS_OUTCOMES)."""
    SMS.labels(outcome if outcome in SMS_OUTCOMES else "other").inc()


# --- the event loop --------------------------------------------------------------------------------------

LAG_INTERVAL_SECONDS = 0.1  # how often the loop is asked to wake
LAG_WINDOW_SECONDS = 10.0  # autoshop_event_loop_lag_max_seconds: the worst of the last one or two windows
PROCESS_EVERY_SECONDS = 1.0  # how often the worker's CPU and memory gauges are refreshed
loop_monitor_enabled = True  # False in the test process (conftest.py): only a served ASGI app watches its loop


def resident_memory_bytes() -> int | None:
    """This process's resident memory (Linux /proc), None where it cannot be read."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def refresh_worker_figures() -> None:
    """Set this worker's CPU seconds and resident memory gauges from the process as it is now."""
    gauges = worker_gauges()
    gauges["cpu"].set(time.process_time())
    rss = resident_memory_bytes()
    if rss is not None:
        gauges["rss"].set(rss)


async def watch_event_loop(interval: float = LAG_INTERVAL_SECONDS,
                           sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
    """Forever: sleep `interval`, note how late the loop woke us (the lag every call on it also had), and
    refresh the worker's CPU and memory figures about once a second."""
    loop = asyncio.get_running_loop()
    gauges = worker_gauges()
    window_start, window_max, previous_max = loop.time(), 0.0, 0.0
    next_figures = loop.time()
    while True:
        asked = loop.time()
        await sleep(interval)
        now = loop.time()
        lag = max(0.0, now - asked - interval)
        LOOP_LAG.observe(lag)
        if now - window_start >= LAG_WINDOW_SECONDS:
            window_start, previous_max, window_max = now, window_max, 0.0
        window_max = max(window_max, lag)
        gauges["lag_max"].set(max(window_max, previous_max))
        if now >= next_figures:
            refresh_worker_figures()
            next_figures = now + PROCESS_EVERY_SECONDS


ASGIApp = Callable[[dict[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


class EventLoopWatch:
    """ASGI middleware: the first connection a served process gets starts `watch_event_loop` on its loop
    (the loop exists only once the server runs it; no management command or import starts it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._loops: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()
        self._tasks: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Awaitable[Any]],
                       send: Callable[[Any], Awaitable[None]]) -> None:
        if loop_monitor_enabled:
            self.start()
        await self.app(scope, receive, send)

    def start(self) -> None:
        """Watch the running loop, once per loop."""
        loop = asyncio.get_running_loop()
        if loop in self._loops:
            return
        self._loops.add(loop)
        task = loop.create_task(watch_event_loop(), name="event-loop-watch")
        self._tasks.add(task)  # a reference, so the task is not collected while it runs
        task.add_done_callback(self._tasks.discard)

