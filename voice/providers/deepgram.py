"""Deepgram speech to text (live `/v1/listen` WebSocket) via deepgram-sdk 7; text to speech is in `deepgram_tts`.

`DeepgramSTT` keeps one listen socket per call alive: it sends KeepAlive when no audio went out for a while
(Deepgram hangs up after 10 s without data), and when the socket drops mid-call it reopens it at once and
replays the caller's audio since the last final result into it (`voice.providers.replay`), so no words
are lost. SDK, HTTP and socket errors become ProviderError.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any
from urllib.parse import urlencode

from deepgram.listen.v1.socket_client import AsyncV1SocketClient
from websockets.exceptions import ConnectionClosed

from autoshop import metrics
from voice.providers.base import ProviderError, STTEvent
from voice.providers.deepgram_common import TRANSPORT_ERRORS, deepgram_environment, listen_socket
from voice.providers.deepgram_events import result_span, to_event
from voice.providers.replay import ReplayBuffer

logger = logging.getLogger(__name__)

# --- speech to text ------------------------------------------------------------------------------------


PING_SECONDS = 5.0  # a socket that stops answering pings is dropped (and reopened) within 3x this

# Twilio's 20 ms frames go to Deepgram three at a time: a third of the messages (each one a frame to
# build and a write to the socket: 12 % of the server's CPU at 60 calls, sent one by one), for at most
# 40 ms more before Deepgram hears the end of a sentence (Deepgram suggests chunks of 20-100 ms).
SEND_MS = 60


class DeepgramSTT:
    """Opens one live transcription stream per call (mu-law 8 kHz mono, interim results, VAD events)."""

    def __init__(
        self,
        api_key: str,
        base_url: str | None = None,
        model: str = "nova-2-phonecall",
        *,
        keep_alive_interval: float = 5.0,
        connect_timeout: float = 3.0,
        reconnect_attempts: int = 3,
        reconnect_backoff: float = 0.2,
        reconnect_timeout: float = 1.0,
        replay_seconds: float = 10.0,
        send_ms: int = SEND_MS,
        ping_seconds: float = PING_SECONDS,
    ) -> None:
        self.model = model
        self.send_bytes = send_ms * 8  # mu-law 8 kHz: 8 bytes a millisecond
        self.ping_seconds = ping_seconds
        self.keep_alive_interval = keep_alive_interval
        self.connect_timeout = connect_timeout
        # The first reconnect is made at once, the next ones after reconnect_backoff * 2**(n-1) s, each
        # given reconnect_timeout s to open: a caller mid-sentence cannot wait for a slow handshake.
        self.reconnect_attempts = reconnect_attempts
        self.reconnect_backoff = reconnect_backoff
        self.reconnect_timeout = reconnect_timeout
        self.replay_seconds = replay_seconds
        self._api_key = api_key
        self._listen_url = deepgram_environment(base_url).production + "/v1/listen"

    def live_options(self) -> dict[str, Any]:
        """The `/v1/listen` query: Twilio's audio format plus the events the turn-taking needs."""
        return {
            "model": self.model,
            "encoding": "mulaw",
            "sample_rate": 8000,
            "channels": 1,
            "interim_results": "true",
            "endpointing": 300,
            "utterance_end_ms": 1000,
            "vad_events": "true",
            "smart_format": "true",
            "punctuate": "true",
        }

    def connect(self) -> contextlib.AbstractAsyncContextManager[AsyncV1SocketClient]:
        """The live socket: `/v1/listen` with `live_options()`, Deepgram's token header, no compression."""
        return listen_socket(f"{self._listen_url}?{urlencode(self.live_options())}", self._api_key,
                             self.ping_seconds)

    async def open_stream(self) -> "DeepgramSTTStream":
        stream = DeepgramSTTStream(self)
        await stream.start()
        return stream


_CLOSED = object()  # end-of-events marker on the queue
REPLAY_CHUNK_BYTES = 3200  # a replay goes out in 400 ms frames


class DeepgramSTTStream:
    """One call's transcription: push audio in, iterate events out; survives a dropped socket.

    Audio is kept for `replay_seconds`; a reopened socket first gets the audio since the last final result
    (what is older is counted in `dropped_bytes`). If the socket cannot be reopened, `events()` raises
    ProviderError; audio is still kept, for `unfinalised_audio()` (a fallback engine's start).
    """

    def __init__(self, provider: DeepgramSTT) -> None:
        self._provider = provider
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._conn: AsyncV1SocketClient | None = None
        self._exit_stack: AsyncExitStack | None = None
        self._reader: asyncio.Task[None] | None = None
        self._keeper: asyncio.Task[None] | None = None
        self._closing = False
        self._failed = False
        self._last_sent = 0.0
        self._audio = ReplayBuffer(provider.replay_seconds)
        self._send_lock = asyncio.Lock()
        self.reconnects = 0
        self.dropped_bytes = 0
        self.last_reconnect_seconds: float | None = None  # from the drop noticed to the new socket open

    async def start(self) -> None:
        await self._connect()
        self._last_sent = asyncio.get_running_loop().time()
        self._reader = asyncio.create_task(self._read_forever(), name="deepgram-stt-reader")
        if self._provider.keep_alive_interval > 0:
            self._keeper = asyncio.create_task(self._keep_alive_forever(), name="deepgram-stt-keepalive")

    # STTStream

    async def send_audio(self, chunk: bytes) -> None:
        if not chunk or self._closing:  # never an empty frame: Deepgram closes the socket on one
            return
        self._audio.append(chunk)
        if not self._failed and self._audio.unsent_bytes >= self._provider.send_bytes:
            await self._flush()

    def unfinalised_audio(self) -> bytes:
        """The kept audio after the last final result: what another engine needs to hear to lose no words."""
        return self._audio.since_final()

    async def _flush(self) -> None:
        """Send the socket what it does not have yet (just `chunk`, or a replay after a reconnect)."""
        async with self._send_lock:
            while (conn := self._conn) is not None and (data := self._audio.unsent(REPLAY_CHUNK_BYTES)):
                try:
                    await conn.send_media(data)
                except (ConnectionClosed, OSError):
                    return  # the reader notices the drop, reconnects and replays from the last final
                self._audio.sent += len(data)
                self._last_sent = asyncio.get_running_loop().time()

    async def keep_alive(self) -> None:
        conn = self._conn
        if conn is None or self._closing or self._failed:
            return
        with contextlib.suppress(ConnectionClosed, OSError):
            await conn.send_keep_alive()
            self._last_sent = asyncio.get_running_loop().time()

    async def events(self) -> AsyncIterator[STTEvent]:
        while True:
            item = await self._queue.get()
            if item is _CLOSED:
                self._queue.put_nowait(_CLOSED)  # a second events() iterator ends too
                return
            if isinstance(item, ProviderError):
                self._queue.put_nowait(item)
                raise item
            yield item

    async def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper
        conn = self._conn
        if conn is not None and not self._failed:
            await self._flush()  # the last words, still short of a whole send
            with contextlib.suppress(ConnectionClosed, OSError):
                await conn.send_close_stream()
        if self._reader is not None:
            # Deepgram flushes its last Results, sends Metadata and closes; don't wait long for it.
            try:
                async with asyncio.timeout(2.0):
                    await asyncio.shield(self._reader)
            except TimeoutError:
                self._reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._reader
        await self._disconnect()
        self._queue.put_nowait(_CLOSED)

    # internals

    async def _connect(self, within: float | None = None) -> None:
        stack = AsyncExitStack()
        try:
            async with asyncio.timeout(within or self._provider.connect_timeout):
                conn = await stack.enter_async_context(self._provider.connect())
        except ProviderError:
            await stack.aclose()
            raise
        except TRANSPORT_ERRORS as exc:
            await stack.aclose()
            raise ProviderError(f"Deepgram listen socket could not be opened: {exc!r}") from exc
        self._exit_stack, self._conn = stack, conn
        self.dropped_bytes += self._audio.new_socket()  # before any await: the next send replays

    async def _disconnect(self) -> None:
        stack, self._exit_stack, self._conn = self._exit_stack, None, None
        if stack is not None:
            with contextlib.suppress(*TRANSPORT_ERRORS):
                async with asyncio.timeout(2.0):
                    await stack.aclose()

    async def _read_forever(self) -> None:
        try:
            while True:
                conn = self._conn
                assert conn is not None
                try:
                    async for message in conn:
                        span = result_span(message)
                        if span is not None and not self._audio.result(*span):
                            continue  # words a replay made Deepgram transcribe a second time
                        event = to_event(message)
                        if event is not None:
                            self._queue.put_nowait(event)
                    lost: BaseException | None = None
                except (ConnectionClosed, OSError) as exc:
                    lost = exc
                if self._closing:
                    return
                logger.warning("Deepgram listen socket dropped mid-call (%r); reconnecting", lost)
                dropped_at = asyncio.get_running_loop().time()
                await self._disconnect()
                if not await self._reconnect():
                    return
                self.last_reconnect_seconds = asyncio.get_running_loop().time() - dropped_at
                metrics.stt_reconnected(self.last_reconnect_seconds)
                await self._flush()
        except Exception as exc:
            # Anything else would leave events() waiting forever: report it there instead.
            logger.exception("Deepgram transcription reader failed")
            self._failed = True
            self._queue.put_nowait(ProviderError(f"Deepgram transcription failed: {exc!r}"))

    async def _reconnect(self) -> bool:
        provider = self._provider
        error: ProviderError | None = None
        for attempt in range(provider.reconnect_attempts):
            if attempt:
                await asyncio.sleep(provider.reconnect_backoff * 2 ** (attempt - 1))
            if self._closing:
                return False
            try:
                await self._connect(provider.reconnect_timeout)
            except ProviderError as exc:
                error = exc
                logger.warning("Deepgram reconnect attempt %d failed: %s", attempt + 1, exc)
                continue
            if self._closing:  # close() began while we were connecting: it will not see this socket
                await self._disconnect()
                return False
            self.reconnects += 1
            self._last_sent = asyncio.get_running_loop().time()
            return True
        self._failed = True
        metrics.stt_reconnect_failed()
        self._queue.put_nowait(
            ProviderError(f"Deepgram listen socket dropped and {provider.reconnect_attempts} reconnects failed")
        )
        if error is not None:
            logger.error("Deepgram transcription lost for this call: %s", error)
        return False

    async def _keep_alive_forever(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self._provider.keep_alive_interval
        while not self._closing and not self._failed:
            idle = loop.time() - self._last_sent
            if idle >= interval:
                await self.keep_alive()
                idle = 0.0
            await asyncio.sleep(interval - idle)
