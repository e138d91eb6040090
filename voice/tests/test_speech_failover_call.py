"""Whole calls over the wire when a voice fails mid-call (issue 13, point 4): a Twilio Media Streams client,
the real consumer with the providers `make_tts()` builds from settings, and local Deepgram, ElevenLabs and
OpenAI servers."""

import asyncio

import pytest

from crm.models import CallLog, CallOutcome
from voice.call_script import APOLOGY, FIXED_PHRASES
from voice.consumers import PHRASES
from voice.phrases import prerender
from voice.providers.factory import make_tts
from voice.tests import test_consumer as wire
from voice.tests.peers.elevenlabs_server import FakeElevenLabs
from voice.tests.peers.openai_server import TextReply

pytestmark = pytest.mark.django_db(transaction=True)
application, peers = wire.application, wire.peers  # the consumer tests' fixtures
REPLY = "Sure thing. What day works for you?"


def eleven_audio(text: str) -> bytes:
    """ElevenLabs' 'voice' (10 ms per character, like the Deepgram peer's here): other bytes, to tell who spoke."""
    return bytes([0x21, 0x31, 0x41, 0x51]) * 20 * len(text)


async def test_a_reply_deepgram_cannot_speak_is_heard_in_elevenlabs_with_no_apology(application, peers,
                                                                                      settings) -> None:
    dg, ai = peers
    async with FakeElevenLabs(api_key="xi-test", audio_for=eleven_audio) as el:
        settings.ELEVENLABS_API_KEY, settings.ELEVENLABS_URL = "xi-test", el.url
        settings.TTS_FALLBACKS = ["elevenlabs", "offline"]
        ai.script(TextReply(REPLY))
        call = wire.make_call(application)
        assert await call.connect()
        await call.start()
        await call.wait_for(lambda: call.received.media_messages > 0 and not call.playing, what="the greeting")
        dg.speak_status = 500  # Deepgram's voice breaks mid-call
        await wire.talk(call, dg, "I'd like an oil change please.")
        await call.wait_for(lambda: len(el.requests) == 2 and not call.playing, timeout=8, what="the reply")
        await asyncio.sleep(0.2)
        await call.hang_up()

    assert [r.body["text"] for r in el.requests] == ["Sure thing.", "What day works for you?"]
    assert [r.text for r in dg.speak_requests[1:]] == ["Sure thing."]  # tried once, never again this call
    audio = bytes(call.received.audio)
    assert eleven_audio("Sure thing.") + eleven_audio("What day works for you?") in audio
    log = await CallLog.objects.aget(call_sid=wire.CALL_SID)
    assert log.transcript[-1]["text"] == REPLY
    assert log.outcome == CallOutcome.INFORMATION  # no transfer: the caller never heard of the failure


async def test_when_every_voice_fails_the_apology_rendered_at_start_up_is_heard_without_asking_them(
        application, peers, settings) -> None:
    dg, ai = peers
    async with FakeElevenLabs(api_key="xi-test", audio_for=eleven_audio) as el:
        settings.ELEVENLABS_API_KEY, settings.ELEVENLABS_URL = "xi-test", el.url
        settings.TTS_FALLBACKS = ["elevenlabs"]
        assert await asyncio.to_thread(prerender, PHRASES, make_tts, FIXED_PHRASES) == len(FIXED_PHRASES)
        ai.script(TextReply(REPLY))
        call = wire.make_call(application)
        assert await call.connect()
        await call.start()
        await call.wait_for(lambda: call.received.media_messages > 0 and not call.playing, what="the greeting")
        asked = len(dg.speak_requests), len(el.requests)
        dg.speak_status, el.fail_status = 500, 500  # both voices break
        await wire.talk(call, dg, "I'd like an oil change please.")
        await call.wait_for(lambda: eleven_audio(APOLOGY) in bytes(call.received.audio), timeout=8,
                            what="the apology")
        await call.hang_up()

    assert [r.text for r in dg.speak_requests[asked[0]:]] == ["Sure thing."]
    assert [r.body["text"] for r in el.requests[asked[1]:]] == ["Sure thing."]  # nobody was asked for the apology
