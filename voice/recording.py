"""The call as the caller heard it, for the call log: one stereo WAV per call, the caller on the left
channel and the agent on the right.

`CallRecorder` is pure (no I/O, no clock): the consumer feeds it the caller's media frames at their
Twilio timestamps and the messages it sent to Twilio at the time it sent them, both with the server's
time since the stream started. One timeline for both sides: Twilio's media clock, onto which the
server's time is mapped by the caller frames (each arrives once its audio has ended; a frame held up
on the way moves the mapping only if the delay lasts, so a burst does not, a clock drift does). Twilio
plays agent audio as it arrives, or after the audio it already holds; a `clear` drops what had not
played yet. The recorder keeps that model of Twilio's buffer, so speech the caller interrupted is cut
where they cut in. It does not read the mark echoes (the session's PlaybackTracker does, for the
transcript): they would confirm the model a network delay later. That delay (tens of ms) is not modelled.

Memory is bounded: both sides are kept as mu-law (8 KB a second each) up to `MAX_SECONDS`, and the
WAV is written to a temporary file in pieces. `recording_save` stores it through Django's storage API
when the call ends; a call whose stream reconnected gets the new part appended to its first one.
"""

import base64
import binascii
import json
import logging
import tempfile
import wave
from typing import IO

from django.core.files import File
from django.core.files.storage import default_storage

from crm.phones import mask_phone
from crm.selectors import call_log_recording_name
from crm.services import call_log_recording_attach
from voice.audio import audioop

logger = logging.getLogger(__name__)

RATE = 8000
SAMPLES_PER_MS = RATE // 1000
MULAW_SILENCE = 0xFF
MAX_SECONDS = 60 * 60
"""Longest recording kept: 2 x 28.8 MB of mu-law. Audio past it is not recorded (the call goes on)."""
MAX_DRIFT = 0.1
"""How fast the server's time may drift from Twilio's media clock (s/s) before a late frame counts as
drift rather than a delay on the way."""
WRITE_SECONDS = 10  # decoded and written to the WAV this much at a time


class CallRecorder:
    """One stream's audio, both sides, on one timeline in ms since the stream started."""

    def __init__(self, *, max_seconds: int = MAX_SECONDS) -> None:
        self._caller = bytearray()  # mu-law, one byte a sample, index = ms * 8
        self._agent = bytearray()
        self._buffered_until = 0  # sample where the agent audio already sent to Twilio runs out
        self._media_ahead_ms: float | None = None  # Twilio's media clock minus the server's time
        self._limit = max_seconds * RATE
        self.truncated = False  # audio past `max_seconds` was left out

    def caller_audio(self, timestamp_ms: int, payload: bytes, at_ms: float | None = None) -> None:
        """A caller media frame, at its Twilio timestamp (gaps between frames are silence), received at
        `at_ms` of the server's time (None: the clocks are taken to agree)."""
        self._place(self._caller, timestamp_ms * SAMPLES_PER_MS, payload)
        if at_ms is None:
            return
        ahead = timestamp_ms + len(payload) / SAMPLES_PER_MS - at_ms
        if self._media_ahead_ms is not None:  # the least delayed frame is the truest; a lasting change wins
            ahead = max(ahead, self._media_ahead_ms - len(payload) / SAMPLES_PER_MS * MAX_DRIFT)
        self._media_ahead_ms = ahead

    def agent_audio(self, at_ms: float, payload: bytes) -> None:
        """Agent audio sent at `at_ms` (server time): it plays now, or once the audio sent before it has played."""
        start = max(self._media_sample(at_ms), self._buffered_until)
        self._place(self._agent, start, payload)
        self._buffered_until = start + len(payload)

    def cleared(self, at_ms: float) -> None:
        """A `clear` at `at_ms` (server time): the agent audio not yet played is gone."""
        cut = self._media_sample(at_ms)
        if cut < self._buffered_until:
            del self._agent[cut:]
            self._buffered_until = cut

    def sent(self, text: str, at_ms: float) -> None:
        """A message the consumer sent to Twilio: its audio (`media`) or a `clear`; others are ignored."""
        if '"media"' not in text and '"clear"' not in text:
            return  # a mark: nothing to hear
        try:
            message = json.loads(text)
            if message.get("event") == "media":
                self.agent_audio(at_ms, base64.b64decode(message["media"]["payload"]))
            elif message.get("event") == "clear":
                self.cleared(at_ms)
        except (ValueError, KeyError, TypeError, binascii.Error):
            return  # we built it (twilio_protocol): not expected; a recording never breaks the call

    def samples(self, end_ms: float) -> int:
        """The recording's length when the stream ended at `end_ms` (server time)."""
        return min(max(self._media_sample(end_ms), len(self._caller)), self._limit)

    def write_wav(self, out: IO[bytes], end_ms: float, before: IO[bytes] | None = None) -> float:
        """Write the stereo WAV (16-bit, 8 kHz; caller left, agent right) of the stream ended at `end_ms`,
        after the frames of the WAV `before` (an earlier part of the call). Its length in seconds."""
        total = self.samples(end_ms)
        with wave.open(out, "wb") as wav:
            wav.setnchannels(2)
            wav.setsampwidth(2)
            wav.setframerate(RATE)
            if before is not None:
                with wave.open(before, "rb") as earlier:
                    while frames := earlier.readframes(WRITE_SECONDS * RATE):
                        wav.writeframes(frames)
            step = WRITE_SECONDS * RATE
            for start in range(0, total, step):
                wav.writeframes(_stereo(_piece(self._caller, start, min(step, total - start)),
                                        _piece(self._agent, start, min(step, total - start))))
            return wav.getnframes() / RATE

    def _media_sample(self, at_ms: float) -> int:
        """The sample of the media clock at `at_ms` of the server's time."""
        return max(round((at_ms + (self._media_ahead_ms or 0.0)) * SAMPLES_PER_MS), 0)

    def _place(self, track: bytearray, start: int, audio: bytes) -> None:
        if start < 0 or not audio:
            return
        if start + len(audio) > self._limit:
            self.truncated = True
            audio = audio[:max(self._limit - start, 0)]
            if not audio:
                return
        if start > len(track):
            track.extend(bytes([MULAW_SILENCE]) * (start - len(track)))
        track[start:start + len(audio)] = audio


def _piece(track: bytearray, start: int, length: int) -> bytes:
    """`length` mu-law samples of `track` from `start`, silence where it has none."""
    part = bytes(track[start:start + length])
    return part + bytes([MULAW_SILENCE]) * (length - len(part))


def _stereo(left: bytes, right: bytes) -> bytes:
    """Two mu-law mono pieces of one length as 16-bit interleaved stereo."""
    return audioop.add(audioop.tostereo(audioop.ulaw2lin(left, 2), 2, 1, 0),
                       audioop.tostereo(audioop.ulaw2lin(right, 2), 2, 0, 1), 2)


def recording_save(*, call_sid: str, caller: str | None, recorder: CallRecorder, end_ms: float) -> str:
    """Store the stream's recording (appended to the call's earlier part, if it has one) and point the call
    log at it; the stored name, or "" when it could not be saved (logged: the call log stands without it).
    Blocking (file and database I/O): run it in a thread."""
    try:
        earlier = call_log_recording_name(call_sid=call_sid)
        with tempfile.TemporaryFile() as out:
            seconds, kept = _write(recorder, out, end_ms, earlier, call_sid)
            out.seek(0)
            name = call_log_recording_attach(call_sid=call_sid, content=File(out, name=f"{call_sid}.wav"),
                                             replaces=earlier, keep_replaced=kept)
    except Exception:
        logger.exception("call %s from %s: the recording could not be saved; the call log stands without it",
                         call_sid, mask_phone(caller))
        return ""
    if not name:
        logger.warning("call %s from %s: the call log changed while its recording was saved; not attached",
                       call_sid, mask_phone(caller))
        return ""
    logger.info("call %s: recording saved (%.1f s%s)", call_sid, seconds,
                ", cut at the length limit" if recorder.truncated else "")
    return name


def _write(recorder: CallRecorder, out: IO[bytes], end_ms: float, earlier: str, call_sid: str) -> tuple[float, bool]:
    """The WAV of the call so far into `out`: the earlier part, then this stream's. (seconds, whether the
    earlier part could not be read and its file is to be kept as it is, this part stored alone)."""
    if earlier:
        try:
            with default_storage.open(earlier, "rb") as before:
                return recorder.write_wav(out, end_ms, before), False
        except (OSError, EOFError, wave.Error):
            logger.warning("call %s: the earlier part of the recording (%s) could not be read; this part is "
                           "stored alone and that file kept", call_sid, earlier, exc_info=True)
            out.seek(0)
            out.truncate()
    return recorder.write_wav(out, end_ms), bool(earlier)
