"""DeepgramSTT and DeepgramTTS: the real deepgram-sdk against a local Deepgram speaking its wire protocol."""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import pytest
from websockets.utils import accept_key

from voice.providers.base import ProviderError, SpeechStarted, STTEvent, TranscriptReceived, UtteranceEnded
from voice.providers.deepgram import DeepgramSTT, DeepgramSTTStream
from voice.providers.deepgram_common import deepgram_environment
from voice.providers.deepgram_tts import DeepgramTTS
from voice.tests.peers.deepgram_server import FakeDeepgram, results, sample_audio, speech_started, utterance_end

FRAME = bytes(range(0x40, 0x40 + 160))  # 20 ms of mu-law, as Twilio sends it


@pytest.fixture
async def dg() -> AsyncIterator[FakeDeepgram]:
    async with FakeDeepgram() as server:
        yield server


def stt(server: FakeDeepgram, **options: float) -> DeepgramSTT:
    options = {"keep_alive_interval": 5.0, "reconnect_backoff": 0.02, **options}
    return DeepgramSTT("test-key", server.url, **options)  # type: ignore[arg-type]


async def next_events(stream: DeepgramSTTStream, count: int, within: float = 2.0) -> list[STTEvent]:
    events: list[STTEvent] = []
    async with asyncio.timeout(within):
        async for event in stream.events():
            events.append(event)
            if len(events) == count:
                break
    return events


# --- speech to text ------------------------------------------------------------------------------------


async def test_caller_audio_reaches_deepgram_three_frames_a_message_with_the_phone_call_options(
        dg: FakeDeepgram) -> None:
    stream = await stt(dg).open_stream()
    try:
        for _ in range(6):
            await stream.send_audio(FRAME)
        await dg.wait_for_audio(6 * len(FRAME))
    finally:
        await stream.close()

    session = dg.listener
    assert bytes(session.audio) == FRAME * 6
    assert session.audio_frames == 2  # 60 ms a message
    assert session.headers["Authorization"] == "Token test-key"
    assert session.query == {
        "model": "nova-2-phonecall",
        "encoding": "mulaw",
        "sample_rate": "8000",
        "channels": "1",
        "interim_results": "true",
        "endpointing": "300",
        "utterance_end_ms": "1000",
        "vad_events": "true",
        "smart_format": "true",
        "punctuate": "true",
    }


async def test_the_listen_socket_carries_audio_uncompressed(dg: FakeDeepgram) -> None:
    """permessage-deflate on mu-law audio costs CPU at both ends for every message and saves nothing."""
    stream = await stt(dg).open_stream()
    try:
        await dg.wait_for_sessions(1)
        negotiated = dg.listener.connection.protocol.extensions
    finally:
        await stream.close()

    assert "Sec-WebSocket-Extensions" not in dg.listener.headers
    assert negotiated == []


async def test_a_socket_that_stops_answering_pings_is_dropped_and_reopened() -> None:
    """A Deepgram that goes silent mid-call (no data, no pong) is noticed within three ping intervals (the
    ping, its timeout, the close handshake's)."""
    handshakes = 0
    second = asyncio.Event()

    async def black_hole(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal handshakes
        head = await reader.readuntil(b"\r\n\r\n")
        key = next(line.split(b":", 1)[1].strip() for line in head.split(b"\r\n")
                   if line.lower().startswith(b"sec-websocket-key:"))
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Accept: " + accept_key(key.decode()).encode() + b"\r\n\r\n")
        handshakes += 1
        if handshakes == 2:
            second.set()
        with contextlib.suppress(OSError):
            while await reader.read(65536):  # hears everything, answers nothing
                pass
        writer.close()

    server = await asyncio.start_server(black_hole, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    stream = await DeepgramSTT("test-key", url, ping_seconds=0.2, reconnect_backoff=0.02).open_stream()
    try:
        async with asyncio.timeout(2.0):
            await second.wait()
    finally:
        await stream.close()
        server.close()

    assert handshakes >= 2


async def test_deepgram_messages_become_speech_started_transcripts_and_utterance_ended() -> None:
    script = [
        (160, speech_started()),
        (160, results("", is_final=False)),  # silence: no event
        (320, results("I'd like", is_final=False, duration=0.5)),
        (320, {"type": "SomethingNew", "detail": 1}),  # unknown to the SDK: it yields None, we skip it
        (480, results("I'd like an oil change.", is_final=True, speech_final=True, duration=1.7)),
        (480, utterance_end(last_word_end=1.7)),
    ]
    async with FakeDeepgram(script=script) as server:
        stream = await stt(server).open_stream()
        try:
            for _ in range(3):
                await stream.send_audio(FRAME)
            events = await next_events(stream, 4)
        finally:
            await stream.close()

    assert events == [
        SpeechStarted(),
        TranscriptReceived("I'd like", is_final=False, speech_final=False),
        TranscriptReceived("I'd like an oil change.", is_final=True, speech_final=True),
        UtteranceEnded(),
    ]


async def test_a_final_result_without_speech_final_is_reported_as_final_only(dg: FakeDeepgram) -> None:
    stream = await stt(dg).open_stream()
    try:
        await dg.wait_for_sessions(1)
        await dg.send(results("my brakes squeal", is_final=True, speech_final=False))
        events = await next_events(stream, 1)
    finally:
        await stream.close()

    assert events == [TranscriptReceived("my brakes squeal", is_final=True, speech_final=False)]


async def test_an_idle_stream_sends_keep_alive_so_deepgram_does_not_hang_up() -> None:
    async with FakeDeepgram(idle_timeout=0.3) as server:  # Deepgram's 10 s, scaled down
        stream = await stt(server, keep_alive_interval=0.1).open_stream()
        try:
            await asyncio.sleep(0.7)
            session = server.listener
            assert not session.closed, f"Deepgram hung up (code {session.close_code})"
            assert len(server.sessions) == 1
            assert session.control_types().count("KeepAlive") >= 3
        finally:
            await stream.close()


async def test_audio_flowing_means_no_automatic_keep_alive(dg: FakeDeepgram) -> None:
    stream = await stt(dg, keep_alive_interval=0.15).open_stream()
    try:
        for _ in range(21):  # 0.42 s of audio: well past the interval, never idle for that long
            await stream.send_audio(FRAME)
            await asyncio.sleep(0.02)
        await dg.wait_for_audio(21 * len(FRAME))
    finally:
        await stream.close()

    assert "KeepAlive" not in dg.listener.control_types()


async def test_keep_alive_sends_a_keepalive_message(dg: FakeDeepgram) -> None:
    stream = await stt(dg).open_stream()
    try:
        await stream.keep_alive()
        await dg.wait_for_control("KeepAlive")
    finally:
        await stream.close()

    assert dg.listener.controls[0] == {"type": "KeepAlive"}


async def test_close_sends_the_last_audio_then_close_stream_and_ends_the_events(dg: FakeDeepgram) -> None:
    stream = await stt(dg).open_stream()
    await stream.send_audio(FRAME)  # 20 ms: short of a whole message, held back until close
    await asyncio.sleep(0.05)
    assert bytes(dg.listener.audio) == b""
    await stream.close()

    assert bytes(dg.listener.audio) == FRAME

    async with asyncio.timeout(1):
        remaining = [event async for event in stream.events()]
    assert remaining == []
    assert dg.listener.control_types() == ["CloseStream"]
    await dg.wait_for_close()
    assert dg.listener.close_code == 1000


async def test_a_bad_api_key_is_a_provider_error(dg: FakeDeepgram) -> None:
    with pytest.raises(ProviderError, match="401"):
        await DeepgramSTT("wrong-key", dg.url).open_stream()

    assert dg.rejected_handshakes == [401]


async def test_an_unreachable_deepgram_is_a_provider_error() -> None:
    async with FakeDeepgram() as server:
        url = server.url
    with pytest.raises(ProviderError):
        await DeepgramSTT("test-key", url, connect_timeout=1.0).open_stream()


async def test_the_stream_reconnects_after_deepgram_drops_the_socket(dg: FakeDeepgram) -> None:
    stream = await stt(dg, send_ms=20).open_stream()
    try:
        await stream.send_audio(FRAME)
        await dg.wait_for_audio(len(FRAME))
        dg.drop()
        await dg.wait_for_sessions(2)
        await dg.send(speech_started(), session=1)
        await dg.send(results("still there?", is_final=True, speech_final=True), session=1)
        events = await next_events(stream, 2)
        await stream.send_audio(FRAME)
        await dg.wait_for_audio(len(FRAME), session=1)
    finally:
        await stream.close()

    assert events == [SpeechStarted(), TranscriptReceived("still there?", is_final=True, speech_final=True)]
    assert stream.reconnects == 1
    assert dg.sessions[1].query == dg.sessions[0].query


async def test_events_raise_provider_error_when_reconnecting_fails(dg: FakeDeepgram) -> None:
    stream = await stt(dg, reconnect_attempts=2).open_stream()
    try:
        await dg.wait_for_sessions(1)
        dg.reject_status = 503
        dg.drop()
        started = time.monotonic()
        with pytest.raises(ProviderError, match="reconnect"):
            await next_events(stream, 1)
        assert time.monotonic() - started < 1.0
        await stream.send_audio(FRAME)  # a failed stream swallows audio instead of raising twice
    finally:
        await stream.close()

    assert dg.rejected_handshakes == [503, 503]


def test_one_url_points_rest_at_http_and_websockets_at_ws() -> None:
    local = deepgram_environment("http://127.0.0.1:8081/")
    assert (local.base, local.production) == ("http://127.0.0.1:8081", "ws://127.0.0.1:8081")
    secure = deepgram_environment("wss://dg.example.com/proxy")
    assert (secure.base, secure.production) == ("https://dg.example.com/proxy", "wss://dg.example.com/proxy")
    default = deepgram_environment(None)
    assert (default.base, default.production) == ("https://api.deepgram.com", "wss://api.deepgram.com")


# --- text to speech ------------------------------------------------------------------------------------


async def test_tts_streams_raw_mulaw_in_chunks() -> None:
    text = "Your oil change is booked for Tuesday at nine."
    async with FakeDeepgram(speak_chunk_size=320, speak_chunk_delay=0.005) as server:
        tts = DeepgramTTS("test-key", server.url)
        try:
            chunks = [chunk async for chunk in tts.synthesize(text)]
        finally:
            await tts.aclose()

    assert len(chunks) > 1
    assert b"".join(chunks) == sample_audio(text)
    (request,) = server.speak_requests
    assert request.text == text
    assert request.query == {
        "model": "aura-asteria-en",
        "encoding": "mulaw",
        "sample_rate": "8000",
        "container": "none",
    }
    assert request.headers["Authorization"] == "Token test-key"


async def test_tts_with_a_bad_api_key_is_a_provider_error(dg: FakeDeepgram) -> None:
    tts = DeepgramTTS("wrong-key", dg.url)
    try:
        with pytest.raises(ProviderError, match="401"):
            [chunk async for chunk in tts.synthesize("Hello")]
    finally:
        await tts.aclose()


async def test_tts_server_error_is_a_provider_error(dg: FakeDeepgram) -> None:
    dg.speak_status = 503
    tts = DeepgramTTS("test-key", dg.url)
    try:
        with pytest.raises(ProviderError, match="503"):
            [chunk async for chunk in tts.synthesize("Hello")]
    finally:
        await tts.aclose()


async def test_tts_that_does_not_start_in_time_is_a_provider_error() -> None:
    async with FakeDeepgram(speak_first_byte_delay=1.5) as server:
        tts = DeepgramTTS("test-key", server.url, timeout=0.2)
        started = time.monotonic()
        try:
            with pytest.raises(ProviderError):
                [chunk async for chunk in tts.synthesize("Hello")]
        finally:
            await tts.aclose()
    assert time.monotonic() - started < 1.0
