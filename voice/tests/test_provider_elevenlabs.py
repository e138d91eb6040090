"""ElevenLabsTTS: plain httpx against a local ElevenLabs streaming text-to-speech endpoint."""

import time
from collections.abc import AsyncIterator

import pytest

from voice.providers.base import ProviderError
from voice.providers.elevenlabs import ElevenLabsTTS
from voice.tests.peers.elevenlabs_server import FakeElevenLabs

VOICE = "21m00Tcm4TlvDq8ikWAM"
MODEL = "eleven_flash_v2_5"


@pytest.fixture
async def el() -> AsyncIterator[FakeElevenLabs]:
    async with FakeElevenLabs(api_key="xi-test", chunk_size=400, chunk_delay=0.005) as server:
        yield server


async def speak(tts: ElevenLabsTTS, text: str) -> list[bytes]:
    try:
        return [chunk async for chunk in tts.synthesize(text)]
    finally:
        await tts.aclose()


async def test_elevenlabs_streams_ulaw_audio_in_chunks(el: FakeElevenLabs) -> None:
    text = "Thanks for calling Bart's Automotive, how can I help?"

    chunks = await speak(ElevenLabsTTS("xi-test", el.url, VOICE, MODEL), text)

    assert len(chunks) > 1
    assert b"".join(chunks) == el.audio_for(text)
    (request,) = el.requests
    assert request.voice_id == VOICE
    assert request.query == {"output_format": "ulaw_8000"}
    assert request.body == {"text": text, "model_id": MODEL}
    assert request.headers["xi-api-key"] == "xi-test"


async def test_elevenlabs_with_a_bad_api_key_is_a_provider_error(el: FakeElevenLabs) -> None:
    with pytest.raises(ProviderError, match=r"401.*invalid_api_key"):
        await speak(ElevenLabsTTS("xi-wrong", el.url, VOICE, MODEL), "Hello")


async def test_elevenlabs_server_error_is_a_provider_error(el: FakeElevenLabs) -> None:
    el.fail_status = 500
    with pytest.raises(ProviderError, match="500"):
        await speak(ElevenLabsTTS("xi-test", el.url, VOICE, MODEL), "Hello")


async def test_elevenlabs_that_does_not_start_in_time_is_a_provider_error() -> None:
    async with FakeElevenLabs(api_key="xi-test", first_byte_delay=1.5) as server:
        started = time.monotonic()
        with pytest.raises(ProviderError):
            await speak(ElevenLabsTTS("xi-test", server.url, VOICE, MODEL, timeout=0.2), "Hello")
    assert time.monotonic() - started < 1.0
