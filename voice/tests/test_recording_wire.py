"""Call recordings through the product as deployed (`manage.py serve`, DEBUG off): one call placed as
Twilio places it, the caller's silence every 20 ms and speech in real time, the agent's audio played back
as Twilio plays it; then the WAV the server stored for the call is read from its MEDIA_ROOT."""

import asyncio
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest

from voice.audio import audioop
from voice.tests.faults import Caller, running_server, speech
from voice.tests.live_server import LiveServer

LOUD = 1000  # RMS over 10 ms above which a channel counts as sound (silence frames decode to 0)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("recordings")


@pytest.fixture(scope="module")
def recording_server(folder: Path) -> Iterator[LiveServer]:
    with running_server(folder, "recording", {"RECORD_CALLS": "true", "MEDIA_ROOT": str(folder / "media")}) as server:
        yield server


@pytest.fixture(scope="module")
def quiet_server(folder: Path) -> Iterator[LiveServer]:
    """Production's default: RECORD_CALLS unset."""
    with running_server(folder, "not-recording", {"MEDIA_ROOT": str(folder / "media-off")}) as server:
        yield server


def _recording_name(server: LiveServer, call_sid: str, timeout: float = 10.0) -> str:
    """The call log's recording once the call log is finished and the recording saved ("" if none came)."""
    deadline = time.monotonic() + timeout
    name = ""
    while time.monotonic() < deadline and not name:
        rows = server.query("SELECT recording FROM crm_calllog WHERE call_sid = ? AND outcome != 'in_progress'",
                            call_sid)
        name = rows[0][0] if rows else ""
        time.sleep(0.1)
    return name


def _loud_spans(pcm: bytes) -> list[tuple[float, float]]:
    """The stretches of sound of a 16-bit mono channel, (start s, end s), to 10 ms; gaps under 300 ms joined."""
    spans: list[tuple[float, float]] = []
    for ms in range(0, len(pcm) // 16, 10):
        if audioop.rms(pcm[ms * 16:(ms + 10) * 16], 2) > LOUD:
            start = ms / 1000
            if spans and start - spans[-1][1] < 0.3:
                spans[-1] = (spans[-1][0], start + 0.01)
            else:
                spans.append((start, start + 0.01))
    return spans


async def test_a_call_is_recorded_in_stereo_the_caller_left_and_the_agent_right_as_heard(
        recording_server: LiveServer, folder: Path) -> None:
    said = speech("I need an oil change")
    began = time.monotonic()
    async with Caller(recording_server) as call:
        await call.heard()  # the greeting
        await call.quiet()
        first_frame = call._chunk + 1  # the media timestamp of the speech's first frame is this x 20 ms
        await call.say(said)
        said_until = (call._chunk + 1) * 0.02  # the end of its last frame, on the media clock
        answer_wait = await call.heard()
        await call.quiet()
    lasted = time.monotonic() - began

    name = await asyncio.to_thread(_recording_name, recording_server, call.call_sid)
    assert name.startswith("recordings/") and name.endswith(".wav"), recording_server.log_text()[-3000:]
    with wave.open(str(folder / "media" / name), "rb") as wav:
        assert (wav.getnchannels(), wav.getframerate(), wav.getsampwidth()) == (2, 8000, 2)
        seconds = wav.getnframes() / 8000
        frames = wav.readframes(wav.getnframes())
    assert abs(seconds - lasted) < 1.0, (seconds, lasted)
    caller, agent = audioop.tomono(frames, 2, 1, 0), audioop.tomono(frames, 2, 0, 1)

    # The caller's own words, sample for sample, on the left, where they said them; nothing else there.
    words = audioop.ulaw2lin(said, 2)
    quarter = len(said) // 4 * 2
    at = caller.find(words[quarter:2 * quarter])
    assert at == first_frame * 20 * 8 * 2 + quarter, "the caller's speech is not on the left channel at its time"
    heard_caller = _loud_spans(caller)
    assert len(heard_caller) == 1, heard_caller  # the words, and silence around them

    # The agent on the right: the greeting from the first second, the answer after the caller's words,
    # as long after them as the caller waited for it; never the caller's words.
    heard_agent = _loud_spans(agent)
    greeting = [span for span in heard_agent if span[1] <= first_frame * 0.02]
    assert greeting[0][0] < 1.5 and sum(end - start for start, end in greeting) > 2.0, heard_agent
    answer = next((start for start, _ in heard_agent if start > heard_caller[0][1]), None)
    assert answer is not None, heard_agent
    assert -0.1 < answer - (said_until + answer_wait) < 0.4, (answer, said_until, answer_wait)  # measured: 0.03
    assert agent.find(words[quarter:2 * quarter]) == -1

    transcript = recording_server.query("SELECT transcript FROM crm_calllog WHERE call_sid = ?", call.call_sid)
    assert "This call may be recorded." in transcript[0][0]  # the greeting said so
    assert "Traceback" not in recording_server.log_text()


async def test_a_greeting_the_caller_talks_over_is_cut_in_the_recording_where_they_cut_in(
        recording_server: LiveServer, folder: Path) -> None:
    said = speech("I need an oil change")
    async with Caller(recording_server) as call:
        await call.heard()  # the greeting has begun
        await asyncio.sleep(1.0)
        first_frame = call._chunk + 1
        await call.say(said)  # over the greeting: the agent clears Twilio's buffer
        said_until = (call._chunk + 1) * 0.02
        await call.heard()
        await call.quiet()

    name = await asyncio.to_thread(_recording_name, recording_server, call.call_sid)
    assert name, recording_server.log_text()[-3000:]
    with wave.open(str(folder / "media" / name), "rb") as wav:
        frames = wav.readframes(wav.getnframes())
    caller, agent = audioop.tomono(frames, 2, 1, 0), audioop.tomono(frames, 2, 0, 1)
    (talked_from, _), = _loud_spans(caller)
    heard_agent = _loud_spans(agent)
    # The greeting (over 4 s when heard whole) stops within a second of the caller's first word, and the
    # agent is silent from there until the caller has finished.
    greeting_until = max(end for start, end in heard_agent if start < talked_from)
    assert talked_from < greeting_until < talked_from + 1.0, (talked_from, heard_agent)
    assert greeting_until < first_frame * 0.02 + 2.0
    assert not [span for span in heard_agent if greeting_until < span[0] < said_until], heard_agent
    assert any(start > said_until for start, _ in heard_agent), heard_agent  # the answer


async def test_a_call_whose_stream_reopens_keeps_one_recording_with_both_parts(
        recording_server: LiveServer, folder: Path) -> None:
    async with Caller(recording_server) as call:
        await call.heard()  # the greeting
        await call.quiet()
        await call.follow_connect_action()  # the stream closed and Twilio opened the call's next one
        first_name = await asyncio.to_thread(_recording_name, recording_server, call.call_sid)
        assert first_name
        with wave.open(str(folder / "media" / first_name), "rb") as wav:
            first_frames = wav.getnframes()
        await call.heard()  # "the line dropped for a moment, I'm back"
        await call.quiet()
    for _ in range(100):
        name = await asyncio.to_thread(_recording_name, recording_server, call.call_sid)
        if name != first_name:
            break
        await asyncio.sleep(0.1)
    assert name != first_name and not (folder / "media" / first_name).exists()
    with wave.open(str(folder / "media" / name), "rb") as wav:
        frames = wav.readframes(wav.getnframes())
    assert len(frames) // 4 > first_frames + 8000  # the first part, then a second's more at least
    agent = audioop.tomono(frames, 2, 0, 1)
    first, second = _loud_spans(agent[:first_frames * 2]), _loud_spans(agent[first_frames * 2:])
    assert first and second, (first, second)


async def test_no_recording_is_made_when_record_calls_is_off(quiet_server: LiveServer, folder: Path) -> None:
    async with Caller(quiet_server) as call:
        await call.heard()
        await call.quiet()
    rows: list[tuple[str, str]] = []
    for _ in range(100):
        rows = quiet_server.query("SELECT recording, transcript FROM crm_calllog WHERE call_sid = ? "
                                  "AND outcome != 'in_progress'", call.call_sid)
        if rows:
            break
        await asyncio.sleep(0.1)
    assert rows and rows[0][0] == ""
    assert "may be recorded" not in rows[0][1]
    await asyncio.sleep(0.5)  # a recording would be written just after the call log
    assert not (folder / "media-off").exists() or not any((folder / "media-off").rglob("*.wav"))
