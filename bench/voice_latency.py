"""Voice loop latency, printed as figures (no assertions).

1. Own overhead: with instant providers, STT final → first audio frame sent to Twilio.
2. Barge-in: caller speech event → Twilio `clear` sent.
3. Streaming vs a non-streaming baseline with simulated provider latency (LLM first token 300 ms
   at 50 tokens/s, TTS first byte 150 ms, synthesis 5x real time): speech end → first audio.

Run: .venv/bin/python bench/voice_latency.py [--turns 200]
"""

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "autoshop.settings")

import django

django.setup()

from voice.agent.shop_tools import registry  # noqa: E402
from voice.call_record import CallIdentity, SessionStore  # noqa: E402
from voice.phrases import PhraseCache  # noqa: E402
from voice.providers.base import SpeechStarted, TextDelta, TranscriptReceived  # noqa: E402
from voice.session import CallSession, SessionConfig  # noqa: E402
from voice.tests.fakes import QueueSTT, TimedChat, TimedTTS, TwilioPlayer  # noqa: E402

REPLY = ("Sure, I can help with that. We have an opening on Tuesday at ten in the morning, "
         "and another one on Wednesday at two in the afternoon. Which one works better for you?")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def line(name: str, values: list[float]) -> str:
    return (f"{name:<44} p50 {pct(values, 50):8.3f} ms   p99 {pct(values, 99):8.3f} ms   "
            f"max {max(values):8.3f} ms   n={len(values)}")


async def wait(predicate: Callable[[], bool], limit_s: float = 10.0) -> None:
    deadline = time.monotonic() + limit_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError
        await asyncio.sleep(0)


async def first_audio(player: TwilioPlayer) -> float:
    """When the player's first agent audio frame of this turn arrived (time.monotonic)."""
    await wait(lambda: player.first_media_at is not None)
    assert player.first_media_at is not None
    return player.first_media_at


def make_session(chat: TimedChat, tts: TimedTTS, call_sid: str) -> tuple[CallSession, QueueSTT, TwilioPlayer]:
    stt = QueueSTT()
    player = TwilioPlayer(speed=1000.0)
    session = CallSession(identity=CallIdentity(call_sid=call_sid, stream_sid="MZbench", caller="+15550100001"),
                          send=player.send, stt=stt, chat=chat, tts=tts, tools=registry, store=SessionStore(),
                          phrases=PhraseCache(), config=SessionConfig(lead_ms=300))
    player.session = session
    return session, stt, player


async def reply_done(session: CallSession) -> None:
    await wait(lambda: not session.replies.running)


async def own_overhead(turns: int) -> list[float]:
    session, stt, player = make_session(TimedChat(reply="Sure."), TimedTTS(ms_per_char=2), "CAbench-overhead")
    await session.start()
    await reply_done(session)
    figures = []
    for i in range(turns):
        player.first_media_at = None
        sent = time.monotonic()
        stt.stream.emit(TranscriptReceived(f"question number {i}", is_final=True, speech_final=True))
        figures.append((await first_audio(player) - sent) * 1000)
        await reply_done(session)
        session.record.history.clear()  # keep the prompt the same size every turn
    await session.stop()
    return figures


async def barge_in(turns: int) -> list[float]:
    session, stt, player = make_session(TimedChat(reply=REPLY), TimedTTS(ms_per_char=60), "CAbench-barge")
    await session.start()
    await reply_done(session)
    figures = []
    for i in range(turns):
        stt.stream.emit(TranscriptReceived(f"what times do you have {i}", is_final=True, speech_final=True))
        await wait(lambda: len(player.audio) > 0 and session.turns.state.value == "speaking")
        clears = player.clears
        sent = time.monotonic()
        stt.stream.emit(SpeechStarted())
        await wait(lambda: player.clears > clears)  # noqa: B023
        figures.append((player.clear_at[-1] - sent) * 1000)
        stt.stream.emit(TranscriptReceived("no wait", is_final=False))
        await wait(lambda: session.turns.state.value == "caller_speaking")
        session.record.history.clear()
    await session.stop()
    return figures


async def streaming_vs_baseline(turns: int) -> tuple[list[float], list[float]]:
    def chat() -> TimedChat:
        return TimedChat(reply=REPLY, first_token=0.300, tokens_per_second=50)

    def tts() -> TimedTTS:
        return TimedTTS(first_byte=0.150, ms_per_char=60, chunk_ms=100, chunk_interval=0.020)

    streaming, baseline = [], []
    session, stt, player = make_session(chat(), tts(), "CAbench-stream")
    await session.start()
    await reply_done(session)
    for i in range(turns):
        session._chat = chat()  # fresh script each turn
        player.first_media_at = None
        sent = time.monotonic()
        stt.stream.emit(TranscriptReceived(f"what times {i}", is_final=True, speech_final=True))
        streaming.append((await first_audio(player) - sent) * 1000)
        await session._interrupt_reply()
        session.turns.state = type(session.turns.state).LISTENING
        session.record.history.clear()

        # Baseline: the whole reply from the model, then the whole reply through TTS, then send.
        started = time.monotonic()
        text = "".join([event.text async for event in chat().stream([], []) if isinstance(event, TextDelta)])
        audio = b"".join([chunk async for chunk in tts().synthesize(text)])
        assert audio
        baseline.append((time.monotonic() - started) * 1000)
    await session.stop()
    return streaming, baseline


async def main(turns: int) -> None:
    overhead = await own_overhead(turns)
    print(line("own overhead: STT final → first audio sent", overhead))
    barge = await barge_in(max(turns // 2, 20))
    print(line("barge-in: caller speech → clear sent", barge))
    streaming, baseline = await streaming_vs_baseline(10)
    print(line("speech end → first audio, streaming", streaming))
    print(line("speech end → first audio, non-streaming", baseline))
    ratio = statistics.median(streaming) / statistics.median(baseline)
    print(f"streaming / baseline (medians, same run): {ratio:.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200)
    asyncio.run(main(parser.parse_args().turns))
