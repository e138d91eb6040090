"""N simulated Twilio callers against the real server (issue 14, point 1). Prints figures, asserts nothing.

Three kinds of process, none sharing a core's event loop with another:
  - the server: the production command (`manage.py serve`, one worker unless `--workers`), a fresh one per
    N, on a migrated, seeded SQLite copy, with Deepgram (listen and speak) and OpenAI as its providers, no
    fallbacks (STT_FALLBACK=none, TTS_FALLBACKS=none), local-memory cache unless `--redis URL`;
  - the provider peers, FakeDeepgram and FakeOpenAI, each in a process of its own (they stand for services
    on other machines: one loaded peer must not slow the other): the model's first token
    after 300 ms, then the rest at once; speech's first byte after 150 ms; the listen socket transcribes
    the caller's scripted speech word by word and ends the utterance after 300 ms of silence (Deepgram's
    `endpointing=300`, which the server asks for);
  - the callers, asyncio, in their own process(es) (2 from 101 calls up, `--caller-processes`): each rings
    the shop (the signed `/twilio/voice` webhook), opens the signed media stream, sends `start` and then
    a 20 ms mu-law frame every 20 ms on a fixed clock (silence, or its speech), echoes each mark once the
    audio before it has played (as Twilio's player does), hears the greeting out, then `--lines` times
    (3) waits a pause (0.5-4 s, seeded) and says a line and hears the reply out; then it hangs up. Call
    starts are spread over `--stagger` seconds (10), so the calls are all up at once while their turns
    fall at different moments, as on a real line. `--lines 1 --stagger 2` is a flash crowd instead:
    every call rings within 2 s and every caller speaks at about the same moment.

Per N, one row:
  at once           the most calls whose media streams were up at the same moment
  reply p50/p99     of every line of every call: the caller's speech end (its last speech frame sent) → the
                    first agent `media` message
                    (includes the 300 ms the STT peer waits before ending the utterance, as Deepgram does)
  greeting p50/p99  `start` sent → the first agent `media` message
  gaps              media messages that arrived after the agent audio received before them had run out
                    (by > 20 ms) within one agent turn (greeting or reply), in all calls; and in how many calls
  CPU s/call-min    the server's CPU over the load, less its idle rate (probe included) measured for 3 s
                    before, per minute of call time (sum of start → hang-up): `autoshop_worker_cpu_seconds`
                    from its /metrics, summed over the workers (the numbers an operator scrapes)
  core %            the server's CPU seconds per second of load, gross (100: one core)
  MB/call           (the workers' peak resident memory during the load - theirs idle after the warm-up
                    calls) / N, from /metrics (`autoshop_worker_resident_memory_bytes`)
  loop lag p99/max  how late the workers' event loops woke from a 100 ms sleep during the load
                    (`autoshop_event_loop_lag_seconds`, a bucket's upper bound; max: the worst the
                    workers' gauges showed)
  healthz p50/p99   server responsiveness, not a loop-lag probe: latency of `GET /healthz` every 100 ms
                    during the load (a sync view: it also waits for Django's sync thread and the database)
  caller lag p99    the caller process's own event-loop lag (a 10 ms ticker; the worst process): if it is
                    large, the caller figures above carry it too
  ok                calls that got a greeting and a reply to each line; a call still waiting after 40 s counts as
                    infinitely late ("never") in the percentiles

With `--profile`, py-spy samples the server through each load (py-spy from PyPI) and the folded stacks
are kept beside the logs; the functions with the most samples (own and inclusive) are printed.

    .venv/bin/python bench/load.py [--calls 1,50,100,200] [--workers 1,2] [--stagger 10] [--lines 3]
                                   [--redis redis://127.0.0.1:6380/0] [--profile]
"""

import argparse
import asyncio
import base64
import contextlib
import json
import math
import multiprocessing
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from urllib.request import urlopen

import uvloop

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from voice.tests.faults import running_server  # noqa: E402
from voice.tests.live_server import (  # noqa: E402
    AUTH_TOKEN,
    PUBLIC_BASE_URL,
    SHOP_NUMBER,
    SILENCE,
    WireCall,
    media_stream,
    new_call_sid,
    stream_parameters,
)

LINE = "what are your hours on saturday"
BASE64: dict[bytes, str] = {}  # the frames a caller process sends, in base64 once
REPLY = "We are open on Saturday from eight to two. Is there anything else I can help you with?"
MODEL_FIRST_TOKEN = 0.3
TTS_FIRST_BYTE = 0.15
ENDPOINTING = 0.3
FRAME = 0.02
PAUSE = (0.5, 4.0)  # seconds a caller waits after the agent's turn before saying the next line (seeded)
QUIET = 0.8  # the agent's turn is over when its audio has played and nothing new came for this long
TURN_TIMEOUT = 40.0
BASELINE = 3.0  # seconds of the idle server (probe running) measured before each load
GAUGE_REFRESH = 1.1  # the workers refresh their CPU and memory gauges every second
CPU = "autoshop_worker_cpu_seconds"
DRAIN = 15.0  # seconds the server is given, after the last hang-up, to close its calls' logs


# --- the provider peers, in a process of their own ------------------------------------------------------


def peers_process(which: str, urls: Any, stop: Any) -> None:
    """One provider peer (`deepgram`: listen and speak; `openai`: the model) in this process; puts its URL."""
    from voice.tests.peers.deepgram_server import FakeDeepgram, spoken
    from voice.tests.peers.openai_server import FakeOpenAI, TextReply

    spoken(LINE)  # scripted words get their byte values in order of first use: the same as in the callers'
    async def serve() -> None:
        if which == "deepgram":
            peer: Any = FakeDeepgram(recognise=True, endpointing=ENDPOINTING, idle_timeout=None,
                                     speak_first_byte_delay=TTS_FIRST_BYTE)
        else:
            peer = FakeOpenAI(default=TextReply(REPLY, first_token_delay=MODEL_FIRST_TOKEN))
        async with peer:
            urls.put((which, {which: peer.url, f"{which}_key": peer.api_key, f"{which}_pid": os.getpid()}))
            while not stop.is_set():
                for kept in ("sessions", "speak_requests", "requests"):  # not needed here: keep memory flat
                    if hasattr(peer, kept):
                        getattr(peer, kept).clear()
                await asyncio.sleep(0.5)

    uvloop.run(serve())


# --- the callers ----------------------------------------------------------------------------------------


@dataclass
class CallResult:
    greeting: float | None = None  # seconds
    replies: list[float | None] = field(default_factory=list)  # one per line the caller said (None: no reply)
    gaps: int = 0
    seconds: float = 0.0  # start → hang-up
    lines: int = 0  # lines the caller meant to say
    began: float = 0.0  # time.monotonic() (one clock for every process of the machine) at `start`
    ended: float = 0.0
    error: str = ""

    @property
    def answered(self) -> bool:
        return self.greeting is not None and bool(self.replies) and all(r is not None for r in self.replies)


@dataclass
class Phone:
    """Twilio's side of one call: the frame clock, the player (marks echoed once played), what arrived."""

    call: WireCall
    speech: list[bytes] = field(default_factory=list)  # frames still to say
    last_speech_sent: float = 0.0
    play_until: float = 0.0  # when the agent audio received so far has played out
    turn_audio: list[float] = field(default_factory=list)  # arrival times of this turn's agent audio
    gaps: int = 0
    closed: bool = False
    said: asyncio.Event = field(default_factory=asyncio.Event)  # the last speech frame is sent
    heard: asyncio.Event = field(default_factory=asyncio.Event)  # agent audio arrived

    async def send_frame(self) -> None:
        """The next 20 ms frame: speech, else silence."""
        frame = self.speech.pop(0) if self.speech else SILENCE
        with contextlib.suppress(Exception):
            await self.call.socket.send(self.call.media_message(frame, BASE64.get(frame)))
        if frame is not SILENCE:
            self.last_speech_sent = time.monotonic()
            if not self.speech:
                self.said.set()

    async def listen(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            async for raw in self.call.socket:
                message = json.loads(raw)
                now = time.monotonic()
                event = message.get("event")
                if event == "media":
                    if self.turn_audio and now > self.play_until + FRAME:
                        self.gaps += 1  # the caller heard dead air inside the agent's turn
                    self.turn_audio.append(now)
                    self.heard.set()
                    seconds = len(base64.b64decode(message["media"]["payload"])) / 8000
                    self.play_until = max(self.play_until, now) + seconds
                elif event == "mark":
                    name = message["mark"]["name"]
                    loop.call_later(max(self.play_until - now, 0), self._echo, name)
                elif event == "clear":
                    self.play_until = now
        except Exception:  # noqa: BLE001 - any close ends the call for the caller
            return
        finally:
            self.closed = True

    def _echo(self, name: str) -> None:
        if not self.closed:
            asyncio.get_running_loop().create_task(self.call.send({"event": "mark", "mark": {"name": name}}))

    async def turn(self, since: float, what: str) -> float:
        """Wait for the agent's turn after `since` and hear it out; seconds from `since` to its first audio."""
        self.turn_audio = []
        self.heard.clear()
        deadline = since + TURN_TIMEOUT
        while not self.turn_audio:
            if self.closed or time.monotonic() > deadline:
                raise TimeoutError(f"no {what}" + (" (stream closed)" if self.closed else f" in {TURN_TIMEOUT:.0f} s"))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.heard.wait(), 0.1)
        first = self.turn_audio[0] - since
        while not self.closed and time.monotonic() < deadline:
            now = time.monotonic()
            if now > self.play_until + QUIET and now > self.turn_audio[-1] + QUIET:
                break
            await asyncio.sleep(0.02)
        return first


class Metronome:
    """One 20 ms clock for every call of the caller process, on a fixed schedule (Twilio does not drift): each
    tick sends every live call its next frame. A sleeping task per call would cost the callers more CPU than
    the calls do (the callers share the machine with the server under test)."""

    def __init__(self) -> None:
        self.phones: list[Phone] = []

    async def run(self) -> None:
        tick = time.monotonic()
        while True:
            self.phones = [phone for phone in self.phones if not phone.closed]
            for phone in self.phones:
                await phone.send_frame()  # returns at once unless that socket's buffer is full
            tick += FRAME
            await asyncio.sleep(max(tick - time.monotonic(), 0))


async def ring(session: Any, port: int, number: str) -> tuple[str, dict[str, str]]:
    """The signed `/twilio/voice` webhook, as Twilio posts it; the call sid and the stream parameters."""
    from twilio.request_validator import RequestValidator

    call_sid = new_call_sid()
    form = {"CallSid": call_sid, "From": number, "To": SHOP_NUMBER, "CallStatus": "ringing",
            "Direction": "inbound", "AccountSid": "AC" + "0" * 32}
    signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC_BASE_URL + "/twilio/voice", form)
    async with session.post(f"http://127.0.0.1:{port}/twilio/voice", data=urlencode(form),
                            headers={"Content-Type": "application/x-www-form-urlencoded",
                                     "X-Twilio-Signature": signature}) as response:
        body = await response.text()
        if response.status != 200:
            raise RuntimeError(f"webhook {response.status}")
    return call_sid, stream_parameters(body)


async def one_call(session: Any, port: int, number: str, delay: float, speech: list[bytes],
                   metronome: Metronome, pauses: list[float]) -> CallResult:
    """Ring, hear the greeting out, then per pause: wait it (the caller thinks), say the line, hear the reply out."""
    result = CallResult(lines=len(pauses))
    await asyncio.sleep(delay)
    started = time.monotonic()
    try:
        call_sid, parameters = await ring(session, port, number)
        async with media_stream(port) as socket:
            phone = Phone(WireCall(socket, call_sid=call_sid))
            await phone.call.start(parameters)
            started = result.began = time.monotonic()
            metronome.phones.append(phone)
            tasks = [asyncio.create_task(phone.listen())]
            try:
                result.greeting = await phone.turn(started, "greeting")
                for pause in pauses:
                    await asyncio.sleep(pause)
                    phone.said.clear()
                    phone.speech = list(speech)
                    await asyncio.wait_for(phone.said.wait(), len(speech) * FRAME + TURN_TIMEOUT)
                    result.replies.append(None)
                    result.replies[-1] = await phone.turn(phone.last_speech_sent, "reply")
            finally:
                result.gaps = phone.gaps
                phone.closed = True
                with contextlib.suppress(Exception):
                    await phone.call.stop()
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
    except Exception as exc:  # noqa: BLE001 - a failed call is a figure too
        result.error = f"{type(exc).__name__}: {exc}"[:120]
    result.ended = time.monotonic()
    result.seconds = result.ended - started
    return result


def callers_process(port: int, offsets: list[float], pauses: list[list[float]], first_number: int,
                    results: Any) -> None:
    """The callers of one process; puts (their results, this loop's lag samples in seconds)."""
    from voice.tests.peers.deepgram_server import spoken

    audio = spoken(LINE).rstrip(b"\xff")  # speech ends with the last word; the clock sends silence after
    speech = [audio[i:i + 160].ljust(160, b"\xff") for i in range(0, len(audio), 160)]
    BASE64.update({frame: base64.b64encode(frame).decode() for frame in [SILENCE, *speech]})

    async def run() -> tuple[list[CallResult], list[float]]:
        import aiohttp

        lags: list[float] = []
        done = asyncio.Event()

        async def ticker() -> None:
            while not done.is_set():
                before = time.monotonic()
                await asyncio.sleep(0.01)
                lags.append(time.monotonic() - before - 0.01)

        lag = asyncio.create_task(ticker())
        metronome = Metronome()
        clock = asyncio.create_task(metronome.run())
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
            calls = await asyncio.gather(*(one_call(session, port, f"+1555{first_number + i:07d}", delay, speech,
                                                    metronome, pauses[i]) for i, delay in enumerate(offsets)))
        done.set()
        clock.cancel()
        await lag
        return list(calls), lags

    calls, lags = uvloop.run(run())
    results.put((calls, lags, time.process_time()))


# --- the server's figures -------------------------------------------------------------------------------


# --- the server's figures, read from its /metrics (the same numbers an operator's Prometheus scrapes) -----


Samples = dict[str, list[tuple[dict[str, str], float]]]


def scrape(port: int) -> Samples:
    """`/metrics` of the server (any worker: with several, one scrape adds them all up)."""
    from prometheus_client.parser import text_string_to_metric_families

    with urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def total(samples: Samples, name: str, **labels: str) -> float:
    return sum(value for have, value in samples.get(name, []) if all(have.get(k) == v for k, v in labels.items()))


def highest(samples: Samples, name: str) -> float:
    return max((value for _, value in samples.get(name, [])), default=math.nan)


def quantile(before: Samples, after: Samples, name: str, q: float, **labels: str) -> float:
    """The q-quantile of a histogram's observations between two scrapes: the upper bound of the bucket it
    falls in (seconds; inf when it is past the last bound, nan when nothing was observed)."""
    def buckets(samples: Samples) -> dict[float, float]:
        found: dict[float, float] = {}
        for have, value in samples.get(f"{name}_bucket", []):
            if all(have.get(k) == v for k, v in labels.items()):
                bound = float(have["le"])
                found[bound] = found.get(bound, 0.0) + value
        return found
    start, end = buckets(before), buckets(after)
    counts = sorted((bound, end[bound] - start.get(bound, 0.0)) for bound in end)
    if not counts or counts[-1][1] <= 0:
        return math.nan
    wanted = q * counts[-1][1]
    return next(bound for bound, cumulative in counts if cumulative >= wanted)


STAGES = ("stt_final", "llm_first_token", "tts_first_byte", "first_audio")


def reporting(port: int, workers: int, within: float = 30.0) -> None:
    """Wait until every worker reports its own gauges (a worker starts them on its first request: with
    several, the warm-up calls may not have reached each one)."""
    deadline = time.monotonic() + within
    while len(scrape(port).get(CPU, [])) < workers:
        if time.monotonic() > deadline:
            raise RuntimeError(f"fewer than {workers} workers report {CPU} after {within:.0f} s")
        with urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:  # reaches some worker
            response.read()
        time.sleep(0.05)


def tree(pid: int) -> list[int]:
    """`pid` and its child processes (the web workers under `manage.py serve --workers N`)."""
    try:
        return [pid, *(int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split())]
    except OSError:
        return [pid]


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process and its children (a worker that has exited counts no more)."""
    total = 0.0
    for each in tree(pid):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{each}/stat").read_text().rpartition(")")[2].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


class Probe:
    """While the load runs: `/healthz` every 100 ms (its latency), and every second the server's memory and
    its worst event-loop lag from /metrics (their peaks)."""

    def __init__(self, port: int, pid: int) -> None:
        self.port, self.pid = port, pid
        self.latencies: list[float] = []
        self.failures = 0
        self.peak_rss = total(scrape(port), "autoshop_worker_resident_memory_bytes") / 2**20
        self.peak_lag = 0.0
        self._scraped = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "Probe":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=15)

    def _run(self) -> None:
        while not self._stop.is_set():
            tick = time.monotonic()
            try:
                with urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=10) as response:
                    response.read()
                self.latencies.append(time.monotonic() - tick)
            except Exception:  # noqa: BLE001 - counted
                self.failures += 1
            if tick - self._scraped >= 1.0:
                self._scraped = tick
                with contextlib.suppress(Exception):
                    samples = scrape(self.port)
                    self.peak_rss = max(self.peak_rss, total(samples, "autoshop_worker_resident_memory_bytes") / 2**20)
                    self.peak_lag = max(self.peak_lag, highest(samples, "autoshop_event_loop_lag_max_seconds"))
            self._stop.wait(max(0.1 - (time.monotonic() - tick), 0))


def percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


@dataclass
class Row:
    calls: int
    workers: int
    results: list[CallResult]
    cpu_per_call_minute: float
    mb_per_call: float
    idle_mb: float
    healthz: list[float]
    healthz_failures: int
    caller_lag: list[list[float]]
    peer_cpu: float
    wall: float
    core: float  # the server's CPU seconds per second of the load (1.0: one core busy; it has one loop)
    unsaved: int  # call logs still "in_progress" DRAIN seconds after the last caller hung up
    loop_lag_p99: float  # seconds, the server's event loops (autoshop_event_loop_lag_seconds) during the load
    loop_lag_max: float
    stages: dict[str, float]  # the server's own turn stages, p50 and p99 (s), from autoshop_turn_latency_seconds
    caller_cpu: float  # CPU seconds of the caller processes

    def ms(self, what: str, q: float) -> float:
        """A percentile in ms (of greetings, or of every reply of every call); one waited for and never got
        (a line a call that lost its stream never said included) counts as infinitely late."""
        if what == "greeting":
            values = [math.inf if r.greeting is None else r.greeting for r in self.results]
        else:
            values = [math.inf if i >= len(r.replies) or r.replies[i] is None else r.replies[i]  # type: ignore[misc]
                      for r in self.results if r.greeting is not None for i in range(r.lines)]
        return percentile(values, q) * 1000

    def at_once(self) -> int:
        """The most calls that had their media stream up at the same moment."""
        edges = sorted([(r.began, 1) for r in self.results if r.began]
                       + [(r.ended, -1) for r in self.results if r.began])
        most = now = 0
        for _, step in edges:
            now += step
            most = max(most, now)
        return most


def run_callers(port: int, calls: int, processes: int, stagger: float, round_index: int, lines: int) -> tuple[
        list[CallResult], list[list[float]], float]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    offsets = [stagger * i / max(calls - 1, 1) for i in range(calls)] if calls > 1 else [0.0]
    chance = random.Random(round_index)  # the same pauses for the same round on every run
    pauses = [[chance.uniform(*PAUSE) for _ in range(lines)] for _ in range(calls)]
    children = []
    for p in range(processes):
        mine = offsets[p::processes]
        if mine:
            first = 100_000 * round_index + 10_000 * p
            children.append(context.Process(target=callers_process,
                                            args=(port, mine, pauses[p::processes], first, queue)))
    for child in children:
        child.start()
    results: list[CallResult] = []
    lags: list[list[float]] = []
    cpu = 0.0
    for _ in children:
        got, lag, used = queue.get(timeout=stagger + (lines + 1) * (TURN_TIMEOUT + PAUSE[1]) + 60)
        results += got
        lags.append(lag)
        cpu += used
    for child in children:
        child.join(timeout=10)
    return results, lags, cpu


def drained(server: Any, within: float) -> int:
    """Wait (up to `within` s) until every call log is closed; how many are still "in_progress"."""
    deadline = time.monotonic() + within
    while True:
        left = int(server.query("SELECT count(*) FROM crm_calllog WHERE outcome = 'in_progress'")[0][0])
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.5)


def warm_up(port: int, workers: int) -> None:
    """Calls before the measurement, two per worker at once: imports, connections, caches (what a server that
    has run a while has)."""
    results, _, _ = run_callers(port, 2 * workers, 1, 0.5, 9, 1)
    errors = [r.error for r in results if r.error]
    if errors:
        raise RuntimeError(f"a warm-up call failed: {errors[0]}")


@contextlib.contextmanager
def sampled(pid: int, out: Path | None) -> Any:
    """py-spy on the server process while the block runs (nothing if `out` is None)."""
    if out is None:
        yield
        return
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    process = subprocess.Popen([spy, "record", "--pid", str(pid), "--subprocesses", "--format", "raw", "--rate", "100",
                                "--output", str(out), "--nonblocking"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        process.send_signal(2)  # SIGINT: py-spy writes what it sampled and exits
        process.wait(timeout=30)


def print_profile(out: Path, top: int = 14) -> None:
    """The functions with the most samples in folded stacks: own (the leaf) and inclusive (anywhere)."""
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = [frame.split(" (")[0] + " (" + frame.rpartition("/")[2].split(":")[0] for frame in stack.split(";")]
        total += n
        own[frames[-1]] = own.get(frames[-1], 0) + n
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + n
    print(f"  profile {out.name}: {total} samples (all threads)")
    for title, table in (("own", own), ("inclusive", inclusive)):
        for frame, n in sorted(table.items(), key=lambda item: -item[1])[:top]:
            print(f"    {title:>9} {100 * n / max(total, 1):5.1f} %  {frame})")


def measure(folder: Path, peers: dict[str, Any], calls: int, processes: int, stagger: float,
            redis: str | None, round_index: int, profile: bool = False, workers: int = 1, lines: int = 1) -> Row:
    env = {"STT_PROVIDER": "deepgram", "TTS_PROVIDER": "deepgram", "LLM_PROVIDER": "openai",
           "DEEPGRAM_URL": peers["deepgram"], "DEEPGRAM_API_KEY": peers["deepgram_key"],
           "OPENAI_BASE_URL": peers["openai"], "OPENAI_API_KEY": peers["openai_key"],
           "STT_FALLBACK": "none", "TTS_FALLBACKS": "none", "LOG_LEVEL": "WARNING"}
    if redis:
        env["REDIS_URL"] = redis
    with running_server(folder, f"load-{calls}-w{workers}", env, workers) as server:
        pid = server.process.pid
        warm_up(server.port, workers)
        reporting(server.port, workers)
        time.sleep(GAUGE_REFRESH)
        idle = total(scrape(server.port), "autoshop_worker_resident_memory_bytes") / 2**20
        with Probe(server.port, pid) as probe:
            quiet = scrape(server.port)
            time.sleep(BASELINE)  # the idle server's own CPU with the probe running: taken off the load's
            settled = scrape(server.port)
            baseline = (total(settled, CPU) - total(quiet, CPU)) / BASELINE
            probe.latencies.clear()
            peer_pids = (peers["deepgram_pid"], peers["openai_pid"])
            peer_cpu, started = sum(map(cpu_seconds, peer_pids)), time.monotonic()
            with sampled(pid, folder / f"profile-{calls}-w{workers}.txt" if profile else None):
                results, lags, caller_cpu = run_callers(server.port, calls, processes, stagger, round_index, lines)
            wall = time.monotonic() - started
            time.sleep(GAUGE_REFRESH)
            loaded = scrape(server.port)
            gross = total(loaded, CPU) - total(settled, CPU) - baseline * GAUGE_REFRESH
            peer_used = sum(map(cpu_seconds, peer_pids)) - peer_cpu
            used = gross - baseline * wall
        unsaved = drained(server, DRAIN)
    lag = "autoshop_event_loop_lag_seconds"
    stages = {f"{stage} p{q}": quantile(settled, loaded, "autoshop_turn_latency_seconds", q / 100, stage=stage)
              for stage in STAGES for q in (50, 99)}
    call_minutes = sum(r.seconds for r in results) / 60
    return Row(calls=calls, workers=workers, results=results,
               cpu_per_call_minute=used / call_minutes if call_minutes else math.nan,
               mb_per_call=(probe.peak_rss - idle) / calls, idle_mb=idle, healthz=probe.latencies,
               healthz_failures=probe.failures, caller_lag=lags, peer_cpu=peer_used, wall=wall,
               core=gross / wall, unsaved=unsaved, loop_lag_p99=quantile(settled, loaded, lag, 0.99),
               loop_lag_max=probe.peak_lag, stages=stages, caller_cpu=caller_cpu)


def ms(value: float, width: int) -> str:
    return f"{'never':>{width}}" if math.isinf(value) else f"{value:>{width}.0f}"


def print_table(rows: list[Row]) -> None:
    header = (f"{'workers':>7} {'calls':>5} {'at once':>7} {'ok':>5} {'reply p50':>9} {'p99':>6} {'p99/1':>6} "
              f"{'greet p50':>9} {'p99':>6} "
              f"{'gaps':>5} {'in calls':>8} {'CPU s/call-min':>14} {'core %':>6} {'MB/call':>7} "
              f"{'loop lag p99':>12} {'max':>5} {'healthz p50':>11} {'p99':>6} "
              f"{'caller lag p99':>14}")
    print(header)
    print("-" * len(header))
    for r in rows:
        reference = next((o.ms("reply", 99) for o in rows if o.calls == 1 and o.workers == r.workers),
                         next((o.ms("reply", 99) for o in rows if o.calls == 1), math.nan))
        ok = sum(1 for c in r.results if c.answered)
        lag = max((percentile(lags, 99) for lags in r.caller_lag), default=math.nan) * 1000
        ratio = r.ms("reply", 99) / reference
        print(f"{r.workers:>7} {r.calls:>5} {r.at_once():>7} {ok:>5} {ms(r.ms('reply', 50), 9)} "
              f"{ms(r.ms('reply', 99), 6)} "
              f"{'never' if math.isinf(ratio) else f'{ratio:.2f}x':>6} {ms(r.ms('greeting', 50), 9)} "
              f"{ms(r.ms('greeting', 99), 6)} "
              f"{sum(c.gaps for c in r.results):>5} {sum(1 for c in r.results if c.gaps):>8} "
              f"{r.cpu_per_call_minute:>14.2f} {r.core * 100:>6.0f} {r.mb_per_call:>7.2f} "
              f"{ms(r.loop_lag_p99 * 1000, 12)} {ms(r.loop_lag_max * 1000, 5)} "
              f"{percentile(r.healthz, 50) * 1000:>11.0f} "
              f"{percentile(r.healthz, 99) * 1000:>6.0f} {lag:>14.0f}")
    print("(ms unless stated; reply = caller's speech end → first agent audio, with the STT peer's 300 ms "
          "endpointing; p99/1 = reply p99 over the 1-call p99; never = not within "
          f"{TURN_TIMEOUT:.0f} s; healthz = server responsiveness, not loop lag)")
    for r in rows:
        errors = sorted({c.error for c in r.results if c.error})
        print(f"  {r.workers} worker(s), {r.calls} calls: {r.wall:.0f} s of load, server idle RSS "
              f"{r.idle_mb:.0f} MB, callers' CPU {r.caller_cpu:.1f} s, peers' CPU "
              f"{r.peer_cpu:.1f} s, healthz failures {r.healthz_failures}, call logs still in progress "
              f"{DRAIN:.0f} s after the last hang-up: {r.unsaved}"
              + (f", errors: {'; '.join(errors)[:300]}" if errors else ""))
        print("    server's turn stages (bucket upper bound, ms): " + ", ".join(
            f"{stage} {ms(value * 1000, 0)}" for stage, value in r.stages.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", default="1,50,100,200", help="comma-separated numbers of concurrent calls")
    parser.add_argument("--stagger", type=float, default=10.0, help="call starts spread over this many seconds")
    parser.add_argument("--lines", type=int, default=3, help="lines each caller says (after a pause of "
                        f"{PAUSE[0]}-{PAUSE[1]} s), each reply heard out")
    parser.add_argument("--caller-processes", type=int, default=0, help="0: 1 up to 100 calls, else 2")
    parser.add_argument("--redis", default=None, help="REDIS_URL for the server (default: local memory)")
    parser.add_argument("--workers", default="1", help="comma-separated web worker counts (manage.py serve)")
    parser.add_argument("--profile", action="store_true", help="sample the server with py-spy during each load")
    options = parser.parse_args()
    counts = [int(n) for n in options.calls.split(",") if n.strip()]
    folder = Path(tempfile.mkdtemp(prefix="bench_load_"))
    context = multiprocessing.get_context("spawn")
    urls, stop = context.Queue(), context.Event()
    peer_procs = [context.Process(target=peers_process, args=(which, urls, stop), daemon=True)
                  for which in ("deepgram", "openai")]
    for proc in peer_procs:
        proc.start()
    rows: list[Row] = []
    try:
        peers: dict[str, Any] = {}
        for _ in peer_procs:
            peers.update(urls.get(timeout=60)[1])
        rounds = [(w, calls) for w in (int(n) for n in options.workers.split(",") if n.strip()) for calls in counts]
        for index, (workers, calls) in enumerate(rounds):
            processes = options.caller_processes or (1 if calls <= 100 else 2)
            row = measure(folder, peers, calls, processes, options.stagger, options.redis, index, options.profile,
                          workers, options.lines)
            print(f"  {workers} worker(s), {calls} calls measured in {row.wall:.0f} s", file=sys.stderr, flush=True)
            rows.append(row)
    finally:
        stop.set()
        for proc in peer_procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()
    print_table(rows)
    for row in rows if options.profile else []:
        print_profile(folder / f"profile-{row.calls}-w{row.workers}.txt")
    print(f"(server logs and databases in {folder})")


if __name__ == "__main__":
    main()
