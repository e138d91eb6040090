"""The offline engines: Piper speaks mu-law 8 kHz; PocketSphinx hears it back, with the same events
a cloud STT gives (speech start, interim and final words, utterance end)."""

import asyncio

import pytest

from voice.audio import rms_ulaw
from voice.providers.base import SpeechStarted, TranscriptReceived, UtteranceEnded
from voice.providers.offline_speech import OfflineSTT, OfflineTTS

SILENCE = b"\xff" * 8000  # one second


async def _speak(text: str) -> bytes:
    return b"".join([chunk async for chunk in OfflineTTS().synthesize(text)])


async def test_speech_is_phone_audio_of_a_plausible_length() -> None:
    audio = await _speak("Your oil change is booked for Tuesday at ten in the morning.")
    assert 1.5 < len(audio) / 8000 < 6
    loud = sum(rms_ulaw(audio[i:i + 160]) > 300 for i in range(0, len(audio), 160))
    assert loud > 30


@pytest.mark.parametrize(("said", "must_hear"), [
    ("I would like to book an oil change for Tuesday at ten", ["oil", "change", "tuesday"]),
    ("I need to cancel my appointment", ["cancel", "appointment"]),
    ("yes please", ["yes"]),
])
async def test_what_was_said_is_heard_with_the_events_in_order(said: str, must_hear: list[str]) -> None:
    stream = await OfflineSTT().open_stream()
    audio = SILENCE + await _speak(said) + SILENCE
    for offset in range(0, len(audio), 160):  # 20 ms frames at about 4x real time, as a live call would
        await stream.send_audio(audio[offset:offset + 160])
        await asyncio.sleep(0.005)
    events = []
    async for event in stream.events():
        events.append(event)
        if isinstance(event, UtteranceEnded):
            break
    await stream.close()
    assert isinstance(events[0], SpeechStarted)
    finals = [e for e in events if isinstance(e, TranscriptReceived) and e.is_final]
    assert len(finals) == 1 and finals[0].speech_final and events.index(finals[0]) == len(events) - 2
    assert all(word in finals[0].text for word in must_hear), finals[0].text
    interim = [e for e in events if isinstance(e, TranscriptReceived) and not e.is_final]
    if len(said.split()) > 5:
        assert interim, "a long utterance gives interim words before the final"
