"""Speech to text surviving a Deepgram that drops mid-call (issue 13, point 3): the real deepgram-sdk against a
local Deepgram that transcribes scripted speech, closes, refuses and stalls sockets on cue.

The peer transcribes `spoken(...)` audio word by word, with offsets in each socket's own audio, as
Deepgram does; so a word the caller said while no socket was listening shows up only if its audio was
kept and replayed, and a word replayed twice shows up twice unless the stream sorts it out."""

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from voice.providers.base import ProviderError, STTEvent, TranscriptReceived
from voice.providers.deepgram import DeepgramSTT, DeepgramSTTStream
from voice.providers.fallback import FallbackSTT, FallbackSTTStream
from voice.providers.offline_speech import OfflineSTT, OfflineTTS
from voice.tests.peers import wait_until
from voice.tests.peers.deepgram_server import FakeDeepgram, silence, spoken

FRAME = 160  # 20 ms, as Twilio sends it


@pytest.fixture
async def dg() -> AsyncIterator[FakeDeepgram]:
    async with FakeDeepgram(recognise=True) as server:
        yield server


class Listener:
    """Collects a stream's final words as they come."""

    def __init__(self, stream: DeepgramSTTStream | FallbackSTTStream) -> None:
        self.stream = stream
        self.events: list[STTEvent] = []
        self.error: ProviderError | None = None
        self._task = asyncio.create_task(self._collect())

    async def _collect(self) -> None:
        try:
            async for event in self.stream.events():
                self.events.append(event)
        except ProviderError as exc:
            self.error = exc

    @property
    def words(self) -> list[str]:
        return [e.text for e in self.events if isinstance(e, TranscriptReceived) and e.is_final and e.text]

    async def wait_for_words(self, count: int, within: float = 3.0) -> list[str]:
        await wait_until(lambda: len(self.words) >= count, within, f"{count} final words")
        return self.words

    async def stop(self) -> None:
        await self.stream.close()
        async with asyncio.timeout(3):
            await self._task


async def say(stream: DeepgramSTTStream | FallbackSTTStream, audio: bytes, pace: float = 0.0) -> None:
    """Send `audio` in 20 ms frames (`pace` s apart; 0: as fast as the socket takes them)."""
    for offset in range(0, len(audio), FRAME):
        await stream.send_audio(audio[offset:offset + FRAME])
        await asyncio.sleep(pace)


async def test_words_said_while_the_socket_is_down_are_transcribed_once_after_an_immediate_reconnect(
        dg: FakeDeepgram) -> None:
    stream = await DeepgramSTT("test-key", dg.url).open_stream()  # production timings
    listener = Listener(stream)
    try:
        await say(stream, spoken("i need"))
        assert await listener.wait_for_words(2) == ["i", "need"]
        dropped = time.monotonic()
        dg.drop()  # the TCP connection dies, no close frame
        await say(stream, spoken("an oil"))  # said while nothing is listening
        await dg.wait_for_sessions(2)
        reconnected = time.monotonic() - dropped
        await say(stream, spoken("change please") + silence(0.1))
        words = await listener.wait_for_words(5)
        await asyncio.sleep(0.1)  # nothing more (a word twice) is on its way
    finally:
        await listener.stop()

    assert listener.words == ["i", "need", "an", "oil", "change", "please"]
    assert reconnected < 1.0, f"reconnected after {reconnected:.3f} s"
    assert stream.last_reconnect_seconds is not None and stream.last_reconnect_seconds < 1.0
    assert stream.reconnects == 1 and stream.dropped_bytes == 0
    assert words[:5] == ["i", "need", "an", "oil", "change"]


async def test_a_close_with_an_error_code_and_a_refused_handshake_lose_no_words(dg: FakeDeepgram) -> None:
    stream = await DeepgramSTT("test-key", dg.url).open_stream()
    listener = Listener(stream)
    try:
        await say(stream, spoken("book a"))
        await listener.wait_for_words(2)
        dg.refuse_next(1)  # the first reconnect gets HTTP 503
        await dg.close_listener(1011, "NET-0000")
        await say(stream, spoken("brake inspection"), pace=0.005)
        await dg.wait_for_sessions(2, within=2.0)
        await say(stream, spoken("tomorrow") + silence(0.1))
        await listener.wait_for_words(5)
        await asyncio.sleep(0.1)
    finally:
        await listener.stop()

    assert listener.words == ["book", "a", "brake", "inspection", "tomorrow"]
    assert dg.rejected_handshakes == [503]
    assert dg.sessions[0].close_code == 1011
    assert stream.last_reconnect_seconds is not None and stream.last_reconnect_seconds < 1.0


async def test_a_reconnect_handshake_that_hangs_is_abandoned_and_retried(dg: FakeDeepgram) -> None:
    stream = await DeepgramSTT("test-key", dg.url, reconnect_timeout=0.3).open_stream()
    listener = Listener(stream)
    try:
        await say(stream, spoken("hello"))
        await listener.wait_for_words(1)
        dg.hang_next(1)
        started = time.monotonic()
        dg.drop()
        await say(stream, spoken("is anyone there"), pace=0.005)
        await dg.wait_for_sessions(2, within=2.0)
        recovered = time.monotonic() - started
        await say(stream, silence(0.1))
        await listener.wait_for_words(4)
    finally:
        await listener.stop()

    assert listener.words == ["hello", "is", "anyone", "there"]
    assert recovered < 1.0, f"recovered after {recovered:.3f} s"  # 0.3 s given up + 0.2 s backoff + connect


async def test_when_reconnects_are_exhausted_the_offline_engine_hears_the_rest_of_the_call(dg: FakeDeepgram) -> None:
    speech = b"".join([chunk async for chunk in OfflineTTS().synthesize("I would like to book an oil change")])
    stt = FallbackSTT(DeepgramSTT("test-key", dg.url, reconnect_backoff=0.05), OfflineSTT())
    stream = await stt.open_stream()
    listener = Listener(stream)
    try:
        await say(stream, spoken("hi"))
        await listener.wait_for_words(1)
        dg.reject_status = 503  # Deepgram is down for good
        dg.drop()
        # The caller goes on talking while the reconnects fail and the offline engine starts: none of it is lost.
        await say(stream, silence(0.3) + speech + silence(1.0), pace=0.002)
        await listener.wait_for_words(2, within=10.0)
    finally:
        await listener.stop()

    assert listener.error is None  # the session never saw the failure
    assert stream.switched
    assert listener.words[0] == "hi"
    assert "oil change" in listener.words[1], listener.words
    assert dg.rejected_handshakes == [503, 503, 503]


async def test_deepgram_down_at_the_start_of_the_call_means_the_offline_engine_listens() -> None:
    async with FakeDeepgram() as server:
        url = server.url
    stt = FallbackSTT(DeepgramSTT("test-key", url, connect_timeout=1.0), OfflineSTT())
    stream = await stt.open_stream()
    try:
        assert stream.switched
    finally:
        await stream.close()


async def test_without_a_fallback_exhausted_reconnects_still_reach_the_session(dg: FakeDeepgram) -> None:
    stream = await DeepgramSTT("test-key", dg.url, reconnect_attempts=2, reconnect_backoff=0.02).open_stream()
    listener = Listener(stream)
    try:
        await dg.wait_for_sessions(1)
        dg.reject_status = 503
        dg.drop()
        await wait_until(lambda: listener.error is not None, 2.0, "the stream to fail")
    finally:
        await listener.stop()
    assert "reconnect" in str(listener.error)
