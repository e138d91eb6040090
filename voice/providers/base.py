"""The three provider interfaces of the call loop, and the events they produce.

STT: a stream you push caller audio (mu-law 8 kHz) into and iterate for events.
Chat: a model that streams text and tool calls for a list of messages.
TTS: turns one piece of text into a stream of mu-law 8 kHz audio chunks.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


class ProviderError(Exception):
    """A provider failed in a way the call must recover from (apology, transfer offer)."""


# --- speech to text -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    """Voice activity began (Deepgram `SpeechStarted`); words may or may not follow."""


@dataclass(frozen=True, slots=True)
class TranscriptReceived:
    """Words heard. `is_final` text will not change; `speech_final` marks the end of an utterance."""

    text: str
    is_final: bool
    speech_final: bool = False


@dataclass(frozen=True, slots=True)
class UtteranceEnded:
    """Silence after the last word (Deepgram `UtteranceEnd`): the caller has stopped talking."""


STTEvent = SpeechStarted | TranscriptReceived | UtteranceEnded


class STTStream(Protocol):
    """One live transcription session for one call. Keeping the connection open while the caller is
    silent (Deepgram's KeepAlive) is the stream's own business, not its caller's."""

    async def send_audio(self, chunk: bytes) -> None:
        """Push caller audio (mu-law 8 kHz, any length)."""

    def events(self) -> AsyncIterator[STTEvent]:
        """Events as they arrive; ends when the stream is closed. Raises ProviderError on failure."""

    async def close(self) -> None:
        """Finish the stream and release the connection."""


@runtime_checkable
class DictationHint(Protocol):
    """A recogniser that listens better when told a spelled answer (VIN, plate, number) is expected."""

    def expect_dictation(self, on: bool) -> None: ...


class STTProvider(Protocol):
    async def open_stream(self) -> STTStream:
        """Open a live transcription stream (connected when this returns)."""


# --- chat model -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the model's spoken reply."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolCallRequested:
    """The model wants a tool run; `arguments` is the raw JSON text the model wrote."""

    call_id: str
    name: str
    arguments: str


ChatEvent = TextDelta | ToolCallRequested


@dataclass(slots=True)
class ChatContext:
    """The call's facts as data, for a model that does not read the system prompt's prose (the
    offline brain). A cloud model ignores it: it reads the same facts in the prompt."""

    direction: str = "inbound"
    customer: dict[str, Any] | None = None  # id, name, phone, email when the caller's number is known
    # The number is on record but not trusted and the caller has not proved who they are: the name on record
    # is not said to them (whoever has the phone may not be that customer).
    name_private: bool = False
    reminder: dict[str, Any] | None = None  # reminder calls: appointment_id, service, vehicle, when
    services: dict[str, str] = field(default_factory=dict)  # service code -> the name callers hear
    notes: dict[str, Any] = field(default_factory=dict)  # the model's own memory of this call, kept by the call
    # The model's last reply was the last thing the caller heard, to its end. False after a barge-in or a
    # fixed phrase (a silence prompt, a resumed line): a question it asked may not have been heard.
    last_reply_heard: bool = True


class ChatModel(Protocol):
    def stream(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]],
               context: ChatContext | None = None) -> AsyncIterator[ChatEvent]:
        """Stream one model reply to `messages` (OpenAI chat format). Tool calls come whole,
        after the text of the same reply. Raises ProviderError on failure."""

    async def aclose(self) -> None:
        """Release pooled connections when the call ends (nothing to do for an in-process model)."""


# --- text to speech -------------------------------------------------------------------------------


class TTSProvider(Protocol):
    def synthesize(self, text: str) -> AsyncIterator[bytes]:
        """Stream `text` as mu-law 8 kHz mono audio without a container. Raises ProviderError."""

    async def aclose(self) -> None:
        """Release pooled connections when the call ends (nothing to do for an in-process voice)."""
