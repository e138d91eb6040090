"""Phone audio conversions: mu-law 8 kHz (Twilio) to and from linear PCM at other rates."""

import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # audioop: stdlib until 3.12, audioop-lts after
    import audioop


class Resampler:
    """Linear PCM16 mono from one rate to another, keeping filter state across chunks."""

    def __init__(self, rate_in: int, rate_out: int) -> None:
        self.rate_in = rate_in
        self.rate_out = rate_out
        self._state: tuple[int, tuple[tuple[int, int], ...]] | None = None  # audioop.ratecv's carry-over

    def convert(self, pcm: bytes) -> bytes:
        if self.rate_in == self.rate_out or not pcm:
            return pcm
        out, self._state = audioop.ratecv(pcm, 2, 1, self.rate_in, self.rate_out, self._state)
        return out


def ulaw_to_pcm16(ulaw: bytes) -> bytes:
    return audioop.ulaw2lin(ulaw, 2)


def pcm16_to_ulaw(pcm: bytes) -> bytes:
    return audioop.lin2ulaw(pcm, 2)


VOICE_RMS = 300
"""Linear RMS above which a caller frame counts as voice: the one threshold of the session's
speech-end timing and the offline speech detector."""


def rms_ulaw(frame: bytes) -> int:
    """Loudness of a mu-law frame (linear RMS)."""
    return audioop.rms(audioop.ulaw2lin(frame, 2), 2) if frame else 0


def is_voice(frame: bytes) -> bool:
    """Whether a mu-law frame is loud enough to be the caller speaking."""
    return rms_ulaw(frame) > VOICE_RMS
