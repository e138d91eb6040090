"""In-process providers behind our own interfaces, with controllable latency, for session unit
tests and benchmarks. (Vendor SDK code is tested against the wire-level peers in `peers/`.)"""

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from voice.providers.base import ChatContext, ChatEvent, ProviderError, STTEvent, TextDelta, ToolCallRequested


class QueueSTTStream:
    """An STT stream whose events the test pushes with `emit`."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[STTEvent | Exception | None] = asyncio.Queue()
        self.audio_bytes = 0
        self.closed = False
        self.dictation_hints: list[bool] = []  # what the session said, each time an agent reply ended

    def expect_dictation(self, on: bool) -> None:
        self.dictation_hints.append(on)

    def emit(self, event: STTEvent | Exception) -> None:
        self.queue.put_nowait(event)

    async def send_audio(self, chunk: bytes) -> None:
        self.audio_bytes += len(chunk)

    async def events(self) -> AsyncIterator[STTEvent]:
        while (event := await self.queue.get()) is not None:
            if isinstance(event, Exception):
                raise event
            yield event

    async def close(self) -> None:
        self.closed = True
        self.queue.put_nowait(None)


class QueueSTT:
    def __init__(self) -> None:
        self.stream = QueueSTTStream()

    async def open_stream(self) -> QueueSTTStream:
        return self.stream


class TimedChat:
    """Streams `reply` word by word after `first_token` seconds at `tokens_per_second`."""

    def __init__(self, reply: str = "Sure. We can do that on Tuesday at ten. Does that work for you?",
                 first_token: float = 0.0, tokens_per_second: float = 0.0,
                 script: list[list[ChatEvent]] | None = None, fail: bool = False,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.reply = reply
        self.sleep = sleep
        self.first_token = first_token
        self.tokens_per_second = tokens_per_second
        self.script = script
        self.fail = fail
        self.requests: list[list[dict[str, Any]]] = []
        self.contexts: list[ChatContext | None] = []
        self.cancelled = 0
        self.closed = False

    async def stream(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]],
                     context: ChatContext | None = None) -> AsyncIterator[ChatEvent]:
        self.requests.append([dict(m) for m in messages])
        self.contexts.append(context)
        if self.fail:
            raise ProviderError("model unavailable")
        events: list[ChatEvent] = (
            self.script.pop(0) if self.script else [TextDelta(w) for w in _words(self.reply)]
        )
        try:
            if self.first_token:
                await self.sleep(self.first_token)
            for i, event in enumerate(events):
                if i and self.tokens_per_second and isinstance(event, TextDelta):
                    await self.sleep(1 / self.tokens_per_second)
                yield event
        except asyncio.CancelledError:
            self.cancelled += 1
            raise

    async def aclose(self) -> None:
        self.closed = True


class TimedTTS:
    """Turns text into mu-law "audio": `ms_per_char` of audio per character, first byte after
    `first_byte` seconds, then one `chunk_ms` chunk every `chunk_interval` seconds."""

    model = "timed"

    def __init__(self, first_byte: float = 0.0, ms_per_char: float = 60.0, chunk_ms: int = 100,
                 chunk_interval: float = 0.0, fail_after: int | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.sleep = sleep
        self.first_byte = first_byte
        self.ms_per_char = ms_per_char
        self.chunk_ms = chunk_ms
        self.chunk_interval = chunk_interval
        self.fail_after = fail_after
        self.texts: list[str] = []
        self.cancelled = 0
        self.closed = False

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        self.texts.append(text)
        if self.fail_after is not None and len(self.texts) > self.fail_after:
            raise ProviderError("tts unavailable")
        total = int(len(text) * self.ms_per_char * 8)
        try:
            if self.first_byte:
                await self.sleep(self.first_byte)
            sent = 0
            while sent < total:
                size = min(self.chunk_ms * 8, total - sent)
                yield bytes([0x7F - (sent // 8) % 50]) * size  # audible (non-silent) mu-law
                sent += size
                if self.chunk_interval:
                    await self.sleep(self.chunk_interval)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise

    async def aclose(self) -> None:
        self.closed = True


def _words(text: str) -> list[str]:
    words = text.split(" ")
    return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]


def tool_call(name: str, arguments: str = "{}", call_id: str = "call_1") -> ToolCallRequested:
    return ToolCallRequested(call_id=call_id, name=name, arguments=arguments)


class TwilioPlayer:
    """Twilio's side of the outbound audio for a session under test: collects what the session
    sends and echoes each mark once the audio before it has "played" (`speed` times real time),
    on the clock and sleep it is given (virtual time in tests)."""

    def __init__(self, speed: float = 1.0, clock: Callable[[], float] | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.speed = speed
        self.clock = clock or (lambda: asyncio.get_running_loop().time())
        self.sleep = sleep
        self.session: Any = None
        self.messages: list[dict[str, Any]] = []
        self.audio = bytearray()
        self.clears = 0
        self.first_media_at: float | None = None
        self.clear_at: list[float] = []
        self._play_until = 0.0
        self._echoes: set[asyncio.Task[None]] = set()

    async def send(self, text: str) -> None:
        message = json.loads(text)
        self.messages.append(message)
        event = message["event"]
        now = self.clock()
        if event == "media":
            payload = base64.b64decode(message["media"]["payload"])
            if self.first_media_at is None:
                self.first_media_at = now
            self.audio.extend(payload)
            self._play_until = max(self._play_until, now) + len(payload) / 8000 / self.speed
        elif event == "mark":
            echo = asyncio.get_running_loop().create_task(self._echo(message["mark"]["name"],
                                                                     max(self._play_until - now, 0)))
            self._echoes.add(echo)
            echo.add_done_callback(self._echoes.discard)
        elif event == "clear":
            self.clears += 1
            self.clear_at.append(now)
            self.close()
            self._play_until = now

    def events_after(self, index: int) -> list[str]:
        """The events sent from message `index` on."""
        return [message["event"] for message in self.messages[index:]]

    async def _echo(self, name: str, delay: float) -> None:
        await self.sleep(delay)
        if self.session is not None:
            await self.session.on_mark(name)

    def close(self) -> None:
        for echo in list(self._echoes):
            echo.cancel()
