"""Latency bookkeeping for one call: the instants of each caller turn, and barge-in reaction times.

Pure: the clock is passed in. One row per answered turn goes into the call record (and so the call log).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class TurnTimes:
    """Monotonic instants of one caller turn."""

    speech_end: float
    stt_final: float
    llm_first_token: float | None = None
    tts_first_byte: float | None = None
    first_audio: float | None = None

    def as_row(self) -> dict[str, float | None]:
        def ms(a: float | None, b: float | None) -> float | None:
            return None if a is None or b is None else round((b - a) * 1000, 1)

        return {
            "stt_final_ms": ms(self.speech_end, self.stt_final),
            "llm_first_token_ms": ms(self.stt_final, self.llm_first_token),
            "tts_first_byte_ms": ms(self.llm_first_token, self.tts_first_byte),
            "first_audio_ms": ms(self.tts_first_byte, self.first_audio),
            "total_ms": ms(self.speech_end, self.first_audio),
        }


@dataclass(slots=True)
class LatencyRecorder:
    """Notes each stage's first moment for the turn in progress; hands back a row when audio starts."""

    clock: Callable[[], float]
    turn: TurnTimes | None = None
    barge_in_ms: list[float] = field(default_factory=list)  # caller speech event → `clear` sent

    def turn_started(self, speech_end: float | None) -> TurnTimes:
        """The caller's turn ended and the agent starts on it (speech_end: last voiced audio, if heard)."""
        now = self.clock()
        self.turn = TurnTimes(speech_end=speech_end if speech_end is not None else now, stt_final=now)
        return self.turn

    def first_token(self) -> None:
        if self.turn is not None and self.turn.llm_first_token is None:
            self.turn.llm_first_token = self.clock()

    def first_byte(self) -> None:
        if self.turn is not None and self.turn.tts_first_byte is None:
            self.turn.tts_first_byte = self.clock()

    def first_audio(self) -> dict[str, Any] | None:
        """The turn's first audio went out: its finished row, once per turn."""
        if self.turn is None or self.turn.first_audio is not None:
            return None
        self.turn.first_audio = self.clock()
        return self.turn.as_row()

    def barge_in(self, event_at: float) -> None:
        self.barge_in_ms.append(round((self.clock() - event_at) * 1000, 3))
