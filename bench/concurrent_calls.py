"""Many calls in one web process, printed as figures (no assertions).

Each simulated call runs the real call loop (CallSession) for a greeting and a few turns. Caller audio
arrives as Twilio media frames, 50 a second per call, through the real frame parser; the agent's audio
goes out paced in real time and Twilio's marks come back when it has "played". The providers are
timed stand-ins (model: first token after 300 ms, then 50 tokens/s; speech: first byte after 150 ms),
so what grows with the number of calls is this process's own work: parsing, audio, turn-taking,
per-call state in the cache.

Printed for 1 call and for N at once: caller speech end → first agent audio (p50/p99), event-loop lag
(p99/max of a 10 ms ticker), CPU used (share of one core, Twilio's simulated side included) and
memory per call (RSS growth / N). The process starts as the web process does (autoshop.asgi).

Run: .venv/bin/python bench/concurrent_calls.py [--calls 100] [--turns 3]
     REDIS_URL=redis://127.0.0.1:6379/2 .venv/bin/python bench/concurrent_calls.py   # state in Redis
"""

import argparse
import asyncio
import base64
import json
import logging
import math
import os
import random
import resource
import sys
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
import audioop  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "autoshop.settings")

import autoshop.asgi  # noqa: E402, F401 - the web process's own start: Django, providers preloaded, gc frozen

logging.disable(logging.INFO)  # one line per call start and end would drown the figures

from voice import twilio_protocol as twilio  # noqa: E402
from voice.agent.shop_tools import registry  # noqa: E402
from voice.call_record import CallIdentity, SessionStore  # noqa: E402
from voice.phrases import PhraseCache  # noqa: E402
from voice.providers.base import TranscriptReceived  # noqa: E402
from voice.session import CallSession, SessionConfig  # noqa: E402
from voice.tests.fakes import QueueSTT, TimedChat, TimedTTS, TwilioPlayer  # noqa: E402
from voice.turns import TurnState  # noqa: E402

REPLY = "Sure. We have Tuesday at ten or Wednesday at two. Which one works for you?"
FRAME = 160  # 20 ms of 8 kHz mu-law
SILENT = b"\xff" * FRAME
VOICED = audioop.lin2ulaw(b"".join(int(8000 * math.sin(2 * math.pi * 220 * n / 8000)).to_bytes(2, "little",
                                                                                          signed=True)
                                  for n in range(FRAME)), 2)
PHRASES = PhraseCache()  # shared by every call, as in the web process


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


class LeanPlayer(TwilioPlayer):
    """Twilio's side, keeping nothing it was sent (the test fake keeps every message for assertions,
    which here would be the bench's own memory and garbage-collector load, not the product's)."""

    def __init__(self, speed: float) -> None:
        super().__init__(speed)
        self.audio_started = asyncio.Event()

    async def send(self, text: str) -> None:
        await super().send(text)
        if self.first_media_at is not None:
            self.audio_started.set()
        self.messages.clear()
        self.audio.clear()


class Caller:
    """One call: Twilio's side (media in, audio out with marks) around a real CallSession."""

    def __init__(self, index: int) -> None:
        self.stt = QueueSTT()
        self.player = LeanPlayer(speed=1.0)
        self.session = CallSession(
            identity=CallIdentity(call_sid=f"CAconc{index:05d}", stream_sid=f"MZconc{index:05d}", caller=None),
            send=self.player.send, stt=self.stt,
            chat=TimedChat(reply=REPLY, first_token=0.300, tokens_per_second=50),
            tts=TimedTTS(first_byte=0.150, ms_per_char=60, chunk_ms=100, chunk_interval=0.020),
            tools=registry, store=SessionStore(), phrases=PHRASES, config=SessionConfig(lead_ms=300))
        self.player.session = self.session
        self.speaking = False
        self.latencies: list[float] = []
        self._sequence = 0

    async def feed_media(self) -> None:
        """Twilio's inbound track: a frame every 20 ms, voiced while the caller talks."""
        next_at = time.monotonic()
        while True:
            self._sequence += 1
            frame = json.dumps({"event": "media", "sequenceNumber": str(self._sequence),
                                "streamSid": self.session.record.identity.stream_sid,
                                "media": {"track": "inbound", "chunk": str(self._sequence),
                                          "timestamp": str(self._sequence * 20),
                                          "payload": base64.b64encode(VOICED if self.speaking else SILENT).decode()}})
            event = twilio.parse_message(frame)
            assert isinstance(event, twilio.MediaReceived)
            await self.session.on_media(event.payload)
            next_at += 0.020
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    async def until_quiet(self, limit: float = 60.0) -> None:
        """The agent's reply has been sent and played."""
        deadline = time.monotonic() + limit
        while True:
            if not self.session.replies.running and self.session.turns.state == TurnState.LISTENING:
                return
            if time.monotonic() > deadline:
                raise TimeoutError("the agent never finished its reply")
            await asyncio.sleep(0.02)

    async def run(self, turns: int, start_after: float) -> None:
        await asyncio.sleep(start_after)
        feeder = asyncio.create_task(self.feed_media())
        await self.session.start()
        await self.until_quiet()
        for turn in range(turns):
            self.speaking = True
            await asyncio.sleep(1.2)  # the caller talks
            self.speaking = False
            self.player.first_media_at = None
            self.player.audio_started.clear()
            ended = time.monotonic()
            self.stt.stream.emit(TranscriptReceived(f"do you have time on tuesday {turn}", is_final=True,
                                                    speech_final=True))
            await self.player.audio_started.wait()
            assert self.player.first_media_at is not None
            self.latencies.append((self.player.first_media_at - ended) * 1000)
            await self.until_quiet()
        await self.session.stop()
        feeder.cancel()


async def loop_lag(samples: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        started = time.monotonic()
        await asyncio.sleep(0.010)
        samples.append((time.monotonic() - started - 0.010) * 1000)


async def scenario(calls: int, turns: int, spread: float) -> None:
    rng = random.Random(7)
    callers = [Caller(i) for i in range(calls)]
    lag: list[float] = []
    stop = asyncio.Event()
    ticker = asyncio.create_task(loop_lag(lag, stop))
    rss_before, cpu_before, wall_before = rss_mb(), time.process_time(), time.monotonic()
    peak = [rss_before]

    async def watch_memory() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], rss_mb())
            await asyncio.sleep(0.25)

    watcher = asyncio.create_task(watch_memory())
    await asyncio.gather(*(c.run(turns, rng.uniform(0, spread)) for c in callers))
    cpu, wall = time.process_time() - cpu_before, time.monotonic() - wall_before
    stop.set()
    await asyncio.gather(ticker, watcher)
    latencies = [ms for c in callers for ms in c.latencies]
    print(f"{calls:>4} call(s) at once, {len(latencies)} turns, {wall:5.1f} s:")
    print(f"     speech end → first agent audio   p50 {pct(latencies, 50):7.1f} ms   p99 {pct(latencies, 99):7.1f} ms")
    print(f"     event-loop lag (10 ms ticker)     p99 {pct(lag, 99):7.1f} ms   max {max(lag):7.1f} ms")
    print(f"     CPU {100 * cpu / wall:5.1f} % of one core   "
          f"memory +{peak[0] - rss_before:6.1f} MB RSS ({(peak[0] - rss_before) * 1024 / calls:6.0f} KB per call)")


async def main(calls: int, turns: int) -> None:
    await scenario(1, turns, spread=0)  # also warms imports and the shared phrase cache
    await scenario(1, turns, spread=0)
    await scenario(calls, turns, spread=5.0)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--turns", type=int, default=3)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.calls, arguments.turns))
