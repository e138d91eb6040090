"""Text to speech surviving a voice that fails mid-reply (issue 13, point 4): the real deepgram-sdk and httpx
against local Deepgram and ElevenLabs servers that answer 500 or cut a response short on cue."""

import asyncio
from collections.abc import AsyncIterator

import pytest

from voice.call_script import APOLOGY, FIXED_PHRASES
from voice.phrases import PhraseCache, prerender
from voice.providers.base import ProviderError, TTSProvider
from voice.providers.deepgram_tts import DeepgramTTS
from voice.providers.elevenlabs import ElevenLabsTTS
from voice.providers.fallback import FallbackTTS
from voice.providers.offline_speech import OfflineTTS
from voice.tests.fakes import TimedTTS
from voice.tests.peers.deepgram_server import FakeDeepgram
from voice.tests.peers.elevenlabs_server import FakeElevenLabs
from voice.tests.test_session import Call
from voice.tests.virtual_time import VirtualTime

SENTENCE = "Your car will be ready at five."


def eleven_audio(text: str) -> bytes:
    """ElevenLabs' 'voice': different bytes from Deepgram's, so a test can tell who spoke."""
    return bytes([0x21, 0x31, 0x41, 0x51]) * 20 * len(text)


def chain(dg: FakeDeepgram | str, el: FakeElevenLabs) -> FallbackTTS:
    """Deepgram, then ElevenLabs (what make_tts() builds for TTS_PROVIDER=deepgram, TTS_FALLBACKS=elevenlabs)."""
    url = dg if isinstance(dg, str) else dg.url
    return FallbackTTS([DeepgramTTS("test-key", url), ElevenLabsTTS("xi-test", el.url, "voice-1", "flash")])


@pytest.fixture
async def voices() -> AsyncIterator[tuple[FakeDeepgram, FakeElevenLabs, FallbackTTS]]:
    async with FakeDeepgram(speak_chunk_size=320) as dg, FakeElevenLabs(audio_for=eleven_audio) as el:
        tts = chain(dg, el)
        yield dg, el, tts
        await tts.aclose()


async def speak(tts: TTSProvider, text: str) -> bytes:
    return b"".join([chunk async for chunk in tts.synthesize(text)])


async def test_a_sentence_deepgram_answers_500_to_is_spoken_by_elevenlabs_which_speaks_the_rest_of_the_call(
        voices: tuple[FakeDeepgram, FakeElevenLabs, FallbackTTS]) -> None:
    dg, el, tts = voices
    dg.speak_status = 500

    first = await speak(tts, SENTENCE)
    second = await speak(tts, "See you then.")

    assert first == eleven_audio(SENTENCE) and second == eleven_audio("See you then.")
    assert [r.text for r in dg.speak_requests] == [SENTENCE]  # the broken voice is not tried again
    assert [r.body["text"] for r in el.requests] == [SENTENCE, "See you then."]
    assert tts.failovers == 1


async def test_a_voice_cut_off_mid_sentence_is_followed_by_the_whole_sentence_in_the_next_voice(
        voices: tuple[FakeDeepgram, FakeElevenLabs, FallbackTTS]) -> None:
    dg, el, tts = voices
    dg.speak_fail_after = 640  # two chunks of Deepgram's audio arrive, then the connection is reset

    audio = await speak(tts, SENTENCE)

    heard_from_deepgram = dg.speak_audio(SENTENCE)[:640]
    assert audio == heard_from_deepgram + eleven_audio(SENTENCE)  # the fragment, then the full sentence
    assert [r.body["text"] for r in el.requests] == [SENTENCE]


async def test_when_elevenlabs_fails_too_the_offline_voice_speaks() -> None:
    async with FakeDeepgram() as dg, FakeElevenLabs() as el:
        dg.speak_status, el.fail_after_bytes = 503, 400
        tts = FallbackTTS([DeepgramTTS("test-key", dg.url), ElevenLabsTTS("xi-test", el.url, "v", "m"), OfflineTTS()])
        try:
            audio = await speak(tts, SENTENCE)
        finally:
            await tts.aclose()

    assert audio[:400] == el.audio_for(SENTENCE)[:400]  # the fragment ElevenLabs got out before the reset
    assert len(audio) - 400 > 8000  # then over a second of Piper's speech: the whole sentence
    assert tts.active is tts.chain[2]
    assert len(dg.speak_requests) == len(el.requests) == 1


async def test_only_when_every_voice_fails_is_it_a_provider_error(
        voices: tuple[FakeDeepgram, FakeElevenLabs, FallbackTTS]) -> None:
    dg, el, tts = voices
    dg.speak_status, el.fail_status = 500, 500

    with pytest.raises(ProviderError, match="ElevenLabs"):
        await speak(tts, SENTENCE)
    assert len(dg.speak_requests) == len(el.requests) == 1


async def test_the_apology_is_pre_rendered_in_every_voice_and_served_with_the_voice_that_failed_down(
        voices: tuple[FakeDeepgram, FakeElevenLabs, FallbackTTS]) -> None:
    dg, el, tts = voices
    phrases = PhraseCache()
    # As the web process starts (its own providers, on a loop of its own); the call's `tts` is another instance.
    ready = await asyncio.to_thread(prerender, phrases, lambda: chain(dg, el), FIXED_PHRASES)

    assert ready == len(FIXED_PHRASES)
    assert {r.text for r in dg.speak_requests} == {r.body["text"] for r in el.requests} == FIXED_PHRASES
    requests = len(dg.speak_requests), len(el.requests)
    dg.speak_status, el.fail_status = 500, 500  # every voice is down now
    with pytest.raises(ProviderError):  # the reply runner's sentence fails: it reaches for the apology
        async for _ in phrases.speak(tts, SENTENCE):
            pass

    assert phrases.cached(tts, APOLOGY) == eleven_audio(APOLOGY)  # the voice the call speaks with now
    assert phrases.cached(tts.chain[0], APOLOGY) == dg.speak_audio(APOLOGY)
    assert (len(dg.speak_requests), len(el.requests)) == (requests[0] + 1, requests[1] + 1)  # just the sentence


async def test_a_voice_down_at_start_up_does_not_keep_the_others_from_pre_rendering() -> None:
    async with FakeDeepgram() as dg:
        url = dg.url  # and gone: nothing answers there
    async with FakeElevenLabs(audio_for=eleven_audio) as el:
        phrases = PhraseCache()
        ready = await asyncio.to_thread(prerender, phrases, lambda: chain(url, el), [APOLOGY])

    tts = chain(url, el)
    assert ready == 1
    assert phrases.cached(tts, APOLOGY) == eleven_audio(APOLOGY)
    await tts.aclose()


async def test_a_reply_the_first_voice_cannot_speak_is_heard_in_the_next_voice_with_no_apology_or_transfer() -> None:
    time = VirtualTime()
    primary = TimedTTS(ms_per_char=4, fail_after=1, sleep=time.sleep)  # the greeting, then it breaks
    backup = TimedTTS(ms_per_char=4, sleep=time.sleep)
    backup.model = "backup"  # another voice
    tts = FallbackTTS([primary, backup])
    async with Call(tts=tts, time=time) as call:  # type: ignore[arg-type]
        call.say("When will my car be ready?")
        await call.until(lambda: len(call.history) == 3, what="the reply")
        reply = call.history[2]["content"]
        assert not call.session.record.transfer
    assert reply == call.chat.reply and APOLOGY not in backup.texts + primary.texts
    assert " ".join(backup.texts) == reply  # every sentence, the first one included
    assert primary.texts[1] == backup.texts[0]


async def test_a_voice_that_stalls_is_given_up_after_tts_timeout_seconds_and_the_next_voice_speaks(settings) -> None:
    """What make_tts() builds: a Deepgram that accepts the request and sends nothing costs the caller
    TTS_TIMEOUT_SECONDS of silence (the providers waited 5 s before), then ElevenLabs says it."""
    import time

    from voice.providers.factory import make_tts

    async with FakeDeepgram() as dg, FakeElevenLabs(audio_for=eleven_audio) as el:
        dg.speak_first_byte_delay = 30.0
        settings.TTS_PROVIDER, settings.TTS_FALLBACKS = "deepgram", ["elevenlabs"]
        settings.DEEPGRAM_API_KEY, settings.DEEPGRAM_URL = "test-key", dg.url
        settings.ELEVENLABS_API_KEY, settings.ELEVENLABS_URL = "xi-test", el.url
        settings.TTS_TIMEOUT_SECONDS = 1.0
        tts = make_tts()
        try:
            started = time.monotonic()
            audio = await speak(tts, SENTENCE)
            took = time.monotonic() - started
        finally:
            await tts.aclose()
    assert audio == eleven_audio(SENTENCE)
    assert 1.0 <= took < 2.5, took
