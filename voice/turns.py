"""Turn-taking: who has the floor, when the agent replies, and when a caller's speech interrupts it.

A plain synchronous state machine with the clock passed in: events in, actions out, timers via `tick`.
Pure: no I/O, no asyncio, no Django.
"""

from dataclasses import dataclass
from enum import Enum

from voice.backchannels import DEFAULT_BACKCHANNELS, count_real_words
from voice.providers.base import SpeechStarted, TranscriptReceived, UtteranceEnded


class TurnState(Enum):
    """Who has the floor."""

    LISTENING = "listening"
    CALLER_SPEAKING = "caller_speaking"
    THINKING = "thinking"
    SPEAKING = "speaking"


@dataclass(frozen=True, slots=True)
class TurnConfig:
    """Timings (seconds) and thresholds of turn-taking."""

    false_interruption_timeout: float = 1.0
    min_interruption_words: int = 1
    silence_prompt_after: float = 8.0
    max_silence_prompts: int = 2
    backchannels: frozenset[str] = DEFAULT_BACKCHANNELS
    dictation_hold: float = 1.5  # more silence awaited after the end of an utterance while the caller dictates


# --- events the session reports (besides the STT events) -----------------------------------------


@dataclass(frozen=True, slots=True)
class AgentReplyStarted:
    """The first audio of an agent reply was sent to the caller."""


@dataclass(frozen=True, slots=True)
class AgentReplyFinished:
    """The reply's text is complete and all its audio has played."""


@dataclass(frozen=True, slots=True)
class ReplyFailed:
    """The reply in flight failed (provider error) and was abandoned; the floor goes back to the caller."""


@dataclass(frozen=True, slots=True)
class KeyPressed:
    """The caller pressed a key. `said` is what the key means in words for the agent ("I want to
    cancel"); None when the call script answers it itself (a reminder's "press 1 to confirm")."""

    said: str | None


TurnEvent = (SpeechStarted | TranscriptReceived | UtteranceEnded | AgentReplyStarted | AgentReplyFinished
             | ReplyFailed | KeyPressed)


# --- actions for the session ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StartReply:
    """Run the agent on what the caller said."""

    caller_text: str


@dataclass(frozen=True, slots=True)
class PausePlayback:
    """Send Twilio `clear` now and stop sending audio; keep the reply running."""


@dataclass(frozen=True, slots=True)
class ResumePlayback:
    """It was not an interruption: re-send the audio the caller has not heard and carry on."""


@dataclass(frozen=True, slots=True)
class CancelReply:
    """The caller interrupted: cancel the LLM and TTS, keep only the heard part of the reply in history."""


@dataclass(frozen=True, slots=True)
class PromptSilence:
    """The caller has been silent too long: ask whether they are still there."""


@dataclass(frozen=True, slots=True)
class HangUp:
    """The caller stayed silent after every prompt: end the call."""


Action = StartReply | PausePlayback | ResumePlayback | CancelReply | PromptSilence | HangUp

_REPLY_IN_FLIGHT = (TurnState.THINKING, TurnState.SPEAKING)


class TurnTaker:
    """Decides, from STT and playback events and the clock, when to reply, pause, resume or cancel."""

    def __init__(self, config: TurnConfig | None = None) -> None:
        self.config = config or TurnConfig()
        self.state = TurnState.LISTENING
        self.interruptions = 0
        self.false_interruptions = 0
        self._finals: list[str] = []  # final text of the caller's current utterance
        self._interim = ""  # the not yet final tail of it
        self._replied_to = ""  # what the caller said that the reply in flight answers
        self._speech_at: float | None = None  # caller activity without real words since then (None: none)
        self._paused = False
        self._silence_since: float | None = None
        self._silence_prompts = 0
        self.dictating = False  # the agent asked for a VIN, plate, number or mileage: a pause is not the end
        self._hold_since: float | None = None  # an utterance that ended while dictating, held since

    @property
    def caller_text(self) -> str:
        """What the caller has said so far in the utterance not yet replied to."""
        return " ".join([*self._finals, self._interim] if self._interim else self._finals)

    def handle(self, event: TurnEvent, now: float) -> list[Action]:
        """Apply one event at time `now` (seconds, monotonic) and return what the session must do."""
        match event:
            case SpeechStarted():
                return self._on_speech_started(now)
            case TranscriptReceived():
                return self._on_transcript(event, now)
            case UtteranceEnded():
                return self._on_utterance_ended(now)
            case AgentReplyStarted():
                return self._on_reply_started(now)
            case AgentReplyFinished() | ReplyFailed():
                return self._on_reply_over(now)
            case KeyPressed():
                return self._on_key(event)
        return []

    def tick(self, now: float) -> list[Action]:
        """Fire the timers due at `now`: false interruption, noise without words, caller silence."""
        if self._hold_since is not None and now - self._hold_since >= self.config.dictation_hold:
            self._hold_since = None
            return self._end_of_utterance()  # the caller dictating has really finished
        timeout = self.config.false_interruption_timeout
        if self._speech_at is not None and now - self._speech_at >= timeout:
            if self.state in _REPLY_IN_FLIGHT:
                return self._resume()
            if self.state is TurnState.CALLER_SPEAKING and not self.caller_text:
                self._speech_at = None
                self.state = TurnState.LISTENING  # voice activity that never became words: noise
        if self._silence_since is not None and now - self._silence_since >= self.config.silence_prompt_after:
            if self._silence_prompts < self.config.max_silence_prompts:
                self._silence_prompts += 1
                self._silence_since = now
                return [PromptSilence()]
            self._silence_since = None
            return [HangUp()]
        return []

    # --- events -----------------------------------------------------------------------------------

    def _on_speech_started(self, now: float) -> list[Action]:
        if self.state is TurnState.LISTENING:
            self.state = TurnState.CALLER_SPEAKING
        self._speech_at, self._hold_since = now, None
        return self._pause()

    def _on_transcript(self, event: TranscriptReceived, now: float) -> list[Action]:
        text = event.text.strip()
        if text:
            self._silence_since = self._hold_since = None
            if event.is_final:
                self._finals.append(text)
                self._interim = ""
            else:
                self._interim = text
        if self.state in _REPLY_IN_FLIGHT:
            if text:
                if count_real_words(self.caller_text, self.config.backchannels) >= self.config.min_interruption_words:
                    actions = self._interrupt()
                    if event.speech_final:  # the interrupting utterance is already complete: answer it
                        actions += self._end_of_utterance()
                    return actions
                if event.speech_final:
                    return self._resume()  # the caller stopped after backchannels only
                self._speech_at = now
                return self._pause()
            if event.speech_final and self._speech_at is not None:
                return self._resume()
            return []
        if text and self.state is TurnState.LISTENING:
            self.state = TurnState.CALLER_SPEAKING
        return self._end_or_hold(now) if event.speech_final else []

    def _on_utterance_ended(self, now: float) -> list[Action]:
        if self.state in _REPLY_IN_FLIGHT:
            return self._resume() if self._speech_at is not None else []
        return self._end_or_hold(now)

    def _end_or_hold(self, now: float) -> list[Action]:
        """The utterance ended: reply now, or, while the caller dictates, once `dictation_hold` more passes."""
        if self.dictating and self.caller_text:
            self._hold_since = now
            return []
        return self._end_of_utterance()

    def _on_key(self, event: KeyPressed) -> list[Action]:
        """A key press takes the turn outright: any reply is interrupted, and what the key means is the
        caller's whole utterance (words said before it are dropped: the key is the clearer signal)."""
        actions = self._interrupt() if self.state in _REPLY_IN_FLIGHT else []
        self._finals, self._interim = [], ""
        self._silence_since = None
        self._silence_prompts = 0
        if event.said is None:
            self.state = TurnState.THINKING  # the call script answers at once
            return actions
        self._finals = [event.said]
        return [*actions, *self._end_of_utterance()]

    def _on_reply_started(self, now: float) -> list[Action]:
        self._silence_since = None
        if self.state is TurnState.CALLER_SPEAKING:
            # The reply (a greeting, a prompt) began while the caller was talking: treat it as an interruption.
            self._speech_at = now
            self._replied_to = ""
            self.state = TurnState.SPEAKING
            if count_real_words(self.caller_text, self.config.backchannels) >= self.config.min_interruption_words:
                return [*self._pause(), *self._interrupt()]
            return self._pause()
        self.state = TurnState.SPEAKING
        return self._pause() if self._speech_at is not None else []

    def _on_reply_over(self, now: float) -> list[Action]:
        if self.state not in _REPLY_IN_FLIGHT:
            return []
        self._paused = False
        self._replied_to = ""
        if not self.caller_text:
            self._silence_since = now  # silence means no words; noise does not stop the timer
        if self._speech_at is not None or self.caller_text:
            self.state = TurnState.CALLER_SPEAKING  # the caller started talking as the reply ended
        else:
            self.state = TurnState.LISTENING
        return []

    # --- transitions ------------------------------------------------------------------------------

    def _pause(self) -> list[Action]:
        """Silence the agent while the caller may be interrupting (only if its audio is playing)."""
        if self.state is TurnState.SPEAKING and not self._paused:
            self._paused = True
            return [PausePlayback()]
        return []

    def _resume(self) -> list[Action]:
        """The caller's speech was noise or backchannels: forget it and let the reply go on."""
        self.false_interruptions += 1
        self._finals, self._interim = [], ""
        self._speech_at = None
        if self._paused:
            self._paused = False
            return [ResumePlayback()]
        return []

    def _interrupt(self) -> list[Action]:
        """Real words over the reply: cancel it; the caller's words start the next utterance."""
        actions = self._pause()
        self.interruptions += 1
        if self.state is TurnState.THINKING and self._replied_to:
            self._finals.insert(0, self._replied_to)  # the reply was never heard: answer everything at once
        self._replied_to = ""
        self._speech_at = None
        self._paused = False
        self.state = TurnState.CALLER_SPEAKING
        return [*actions, CancelReply()]

    def _end_of_utterance(self) -> list[Action]:
        text = self.caller_text
        self._speech_at = None
        if not text:
            if self.state is TurnState.CALLER_SPEAKING:
                self.state = TurnState.LISTENING
            return []
        self._finals, self._interim = [], ""
        self._replied_to = text
        self._silence_since = None
        self._silence_prompts = 0
        self.state = TurnState.THINKING
        return [StartReply(caller_text=text)]
