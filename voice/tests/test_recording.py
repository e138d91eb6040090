"""The call recorder: the caller left, the agent right, each where the caller heard it."""

import io
import math
import wave
from pathlib import Path

import pytest
from django.core.files.base import ContentFile

from crm.models import CallLog
from crm.tests.factories import CallLogFactory
from voice import twilio_protocol as twilio
from voice.audio import audioop
from voice.call_record import CallIdentity
from voice.call_script import greeting
from voice.recording import CallRecorder, recording_save

RATE = 8000


def tone(ms: int, hz: int = 440) -> bytes:
    """`ms` of a loud sine as mu-law."""
    pcm = b"".join(int(8000 * math.sin(2 * math.pi * hz * n / RATE)).to_bytes(2, "little", signed=True)
                   for n in range(ms * 8))
    return audioop.lin2ulaw(pcm, 2)


def channels(recorder: CallRecorder, end_ms: float, before: bytes | None = None) -> tuple[bytes, bytes, wave.Wave_read]:
    out = io.BytesIO()
    recorder.write_wav(out, end_ms, io.BytesIO(before) if before is not None else None)
    wav = wave.open(io.BytesIO(out.getvalue()), "rb")
    frames = wav.readframes(wav.getnframes())
    return audioop.tomono(frames, 2, 1, 0), audioop.tomono(frames, 2, 0, 1), wav


def loud_ms(pcm: bytes) -> list[tuple[int, int]]:
    """The loud stretches of a 16-bit mono track, as (start ms, end ms), to 10 ms."""
    spans: list[tuple[int, int]] = []
    for start in range(0, len(pcm) // 2 // 8, 10):
        loud = audioop.rms(pcm[start * 16:(start + 10) * 16], 2) > 1000
        if loud and spans and spans[-1][1] == start:
            spans[-1] = (spans[-1][0], start + 10)
        elif loud:
            spans.append((start, start + 10))
    return spans


def test_the_caller_is_on_the_left_and_the_agent_on_the_right_in_a_stereo_8_khz_wav() -> None:
    recorder = CallRecorder()
    for n in range(10):  # 200 ms of the caller, from 1 s
        recorder.caller_audio(1000 + n * 20, tone(20)[:160])
    recorder.agent_audio(2000, tone(300))
    left, right, wav = channels(recorder, 3000)
    assert (wav.getnchannels(), wav.getframerate(), wav.getsampwidth()) == (2, 8000, 2)
    assert loud_ms(left) == [(1000, 1200)]
    assert loud_ms(right) == [(2000, 2300)]


def test_the_recording_lasts_as_long_as_the_stream_and_gaps_in_the_caller_audio_are_silence() -> None:
    recorder = CallRecorder()
    recorder.caller_audio(20, tone(20))
    recorder.caller_audio(500, tone(20))  # frames 40..480 ms never came
    left, _, wav = channels(recorder, 4250)
    assert wav.getnframes() == 4250 * 8
    assert loud_ms(left) == [(20, 40), (500, 520)]


def test_agent_audio_sent_ahead_plays_after_what_twilio_already_holds() -> None:
    recorder = CallRecorder()
    for _ in range(3):  # three 100 ms chunks sent at once at 1 s: Twilio plays them one after the other
        recorder.agent_audio(1000, tone(100))
    recorder.agent_audio(1150, tone(100))  # queued behind them: 1.3 s to 1.4 s
    recorder.agent_audio(3000, tone(100))  # the buffer ran dry: plays when it arrives
    _, right, _ = channels(recorder, 4000)
    assert loud_ms(right) == [(1000, 1400), (3000, 3100)]


def test_a_clear_on_barge_in_cuts_the_agent_where_the_caller_cut_in() -> None:
    recorder = CallRecorder()
    recorder.agent_audio(1000, tone(1000))  # a one-second sentence, all sent ahead
    for n in range(5):
        recorder.caller_audio(1300 + n * 20, tone(20))
    recorder.cleared(1400)  # the caller talked over it: Twilio drops the 600 ms not yet played
    recorder.agent_audio(2000, tone(200))  # the next reply
    left, right, _ = channels(recorder, 3000)
    assert loud_ms(right) == [(1000, 1400), (2000, 2200)]
    assert loud_ms(left) == [(1300, 1400)]


def test_a_clear_after_the_audio_played_out_changes_nothing() -> None:
    recorder = CallRecorder()
    recorder.agent_audio(1000, tone(200))
    recorder.cleared(1500)
    _, right, _ = channels(recorder, 2000)
    assert loud_ms(right) == [(1000, 1200)]


def test_agent_audio_still_buffered_when_the_call_ends_is_not_in_the_recording() -> None:
    recorder = CallRecorder()
    recorder.agent_audio(1000, tone(1000))
    _, right, wav = channels(recorder, 1500)
    assert wav.getnframes() == 1500 * 8
    assert loud_ms(right) == [(1000, 1500)]


def test_the_agent_is_placed_on_twilios_media_clock_when_the_servers_runs_ahead_of_it() -> None:
    recorder = CallRecorder()
    for n in range(100):  # frames 20 ms apart by their timestamps, arriving 21 ms apart by the server's clock
        recorder.caller_audio(n * 20, tone(20) if n == 99 else bytes([0xFF]) * 160, at_ms=n * 21 + 20)
    recorder.agent_audio(2099, tone(100))  # sent as frame 99 arrived: 2 s on the media clock, 2.099 s on the server's
    recorder.cleared(2149)
    left, right, wav = channels(recorder, 2599)
    assert loud_ms(left) == [(1980, 2000)] and loud_ms(right) == [(2000, 2050)]
    assert wav.getnframes() == 2500 * 8  # the stream's end, on the media clock too


def test_caller_frames_held_up_on_the_way_do_not_move_the_agent() -> None:
    recorder = CallRecorder()
    for n in range(50):  # on time: each arrives as its 20 ms end
        recorder.caller_audio(n * 20, bytes([0xFF]) * 160, at_ms=n * 20 + 20)
    for n in range(50, 55):  # a burst: five frames held up 100 ms, arriving at once
        recorder.caller_audio(n * 20, bytes([0xFF]) * 160, at_ms=1200)
    recorder.agent_audio(1200, tone(100))
    _, right, _ = channels(recorder, 2000)
    assert loud_ms(right) == [(1190, 1290)]  # 10 ms of allowed drift off, not the 100 ms of the delay


def test_the_wire_messages_are_read_media_placed_marks_ignored_and_clear_cuts() -> None:
    recorder = CallRecorder()
    recorder.sent(twilio.media_message("MZ1", tone(100)), 500)
    recorder.sent(twilio.mark_message("MZ1", "a1-0-1"), 500)
    recorder.sent(twilio.media_message("MZ1", tone(100)), 510)
    recorder.sent(twilio.clear_message("MZ1"), 650)
    recorder.sent("not json", 700)
    _, right, _ = channels(recorder, 1000)
    assert loud_ms(right) == [(500, 650)]


def test_a_reconnected_stream_is_appended_to_the_first_part() -> None:
    first = CallRecorder()
    first.caller_audio(100, tone(20))
    earlier = io.BytesIO()
    first.write_wav(earlier, 1000)
    second = CallRecorder()
    second.agent_audio(200, tone(100))
    left, right, wav = channels(second, 500, before=earlier.getvalue())
    assert wav.getnframes() == (1000 + 500) * 8
    assert loud_ms(left) == [(100, 120)]
    assert loud_ms(right) == [(1200, 1300)]


def test_audio_past_the_length_limit_is_left_out() -> None:
    recorder = CallRecorder(max_seconds=1)
    recorder.agent_audio(900, tone(300))
    recorder.caller_audio(1200, tone(20))
    left, right, wav = channels(recorder, 5000)
    assert wav.getnframes() == 8000 and recorder.truncated
    assert loud_ms(right) == [(900, 1000)] and loud_ms(left) == []


# --- stored with the call log ------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_recording_is_stored_and_the_call_log_points_at_it() -> None:
    call = CallLogFactory.create()
    recorder = CallRecorder()
    recorder.caller_audio(20, tone(20))
    name = recording_save(call_sid=call.call_sid, caller=call.from_number, recorder=recorder, end_ms=2000)
    call.refresh_from_db()
    assert name and call.recording.name == name and name.startswith("recordings/") and name.endswith(".wav")
    with call.recording.open("rb") as stored, wave.open(stored, "rb") as wav:
        assert (wav.getnchannels(), wav.getframerate(), wav.getnframes()) == (2, 8000, 2000 * 8)


@pytest.mark.django_db
def test_a_second_stream_of_the_call_is_appended_to_the_first_and_the_first_file_replaced() -> None:
    call = CallLogFactory.create()
    first = recording_save(call_sid=call.call_sid, caller=None, recorder=CallRecorder(), end_ms=1000)
    first_path = Path(CallLog.objects.get(pk=call.pk).recording.path)
    second = CallRecorder()
    second.agent_audio(100, tone(100))
    name = recording_save(call_sid=call.call_sid, caller=None, recorder=second, end_ms=500)
    assert name and name != first and not first_path.exists()
    call.refresh_from_db()
    with call.recording.open("rb") as stored:
        _, right, wav = channels(CallRecorder(), 0, before=stored.read())
    assert wav.getnframes() == 1500 * 8 and loud_ms(right) == [(1100, 1200)]


@pytest.mark.django_db
def test_an_earlier_part_that_cannot_be_read_is_kept_and_the_new_part_stored_alone(caplog) -> None:
    call = CallLogFactory.create()
    call.recording.save("broken.wav", ContentFile(b"not a wav file"), save=True)
    broken = Path(call.recording.path)
    second = CallRecorder()
    second.agent_audio(100, tone(100))
    name = recording_save(call_sid=call.call_sid, caller=None, recorder=second, end_ms=500)
    assert name and broken.exists() and "could not be read" in caplog.text
    call.refresh_from_db()
    with call.recording.open("rb") as stored:
        _, right, wav = channels(CallRecorder(), 0, before=stored.read())
    assert wav.getnframes() == 500 * 8 and loud_ms(right) == [(100, 200)]


@pytest.mark.django_db
def test_a_recording_that_cannot_be_stored_is_logged_without_the_number_and_the_call_log_stands(
        settings, tmp_path, caplog) -> None:
    call = CallLogFactory.create(from_number="+15550107788")
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    settings.MEDIA_ROOT = str(blocked)  # nothing can be written under a file
    name = recording_save(call_sid=call.call_sid, caller="+15550107788", recorder=CallRecorder(), end_ms=1000)
    assert name == ""
    assert "the recording could not be saved" in caplog.text and "+15550107788" not in caplog.text
    call.refresh_from_db()
    assert call.recording.name == "" and call.transcript


@pytest.mark.django_db
def test_no_recording_is_attached_to_a_call_without_a_call_log() -> None:
    assert recording_save(call_sid="CA" + "9" * 32, caller=None, recorder=CallRecorder(), end_ms=1000) == ""


# --- the notice ----------------------------------------------------------------------------------------


def test_the_greeting_says_the_recording_notice_after_its_first_sentence_when_calls_are_recorded(settings) -> None:
    settings.RECORD_CALLS, settings.RECORDING_NOTICE = True, "This call may be recorded."
    assert greeting(CallIdentity(call_sid="CA1")) == ("Thanks for calling Bart's Automotive. "
                                                      "This call may be recorded. How can I help you today?")
    reminder = {"service": "Oil change", "vehicle": "2018 Honda Civic", "when": "Tuesday at 10 AM"}
    said = greeting(CallIdentity(call_sid="CA1", direction="outbound", reminder=reminder))
    assert "on Tuesday at 10 AM. This call may be recorded. Can you still make it?" in said


def test_no_notice_is_said_when_calls_are_not_recorded_or_the_notice_is_empty(settings) -> None:
    settings.RECORD_CALLS, settings.RECORDING_NOTICE = False, "This call may be recorded."
    assert greeting(CallIdentity(call_sid="CA1")) == "Thanks for calling Bart's Automotive. How can I help you today?"
    settings.RECORD_CALLS, settings.RECORDING_NOTICE = True, ""
    assert greeting(CallIdentity(call_sid="CA1")) == "Thanks for calling Bart's Automotive. How can I help you today?"
