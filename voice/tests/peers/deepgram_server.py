"""A local Deepgram: live transcription (`/v1/listen` WebSocket) and Aura REST TTS (`POST /v1/speak`).

One port serves both, like api.deepgram.com, so a single DEEPGRAM_URL works for STT and TTS. The WebSocket
side is a `websockets.asyncio.server` (websockets 17) and the REST side an aiohttp app; a small front door
reads each connection's request head and pipes the bytes to the right one (websockets only parses bodiless
GET requests, so it cannot answer a POST itself).

    async with FakeDeepgram(script=[(1600, speech_started()), (3200, results("oil change", is_final=True))]) as dg:
        stt = DeepgramSTT("test-key", dg.url)
        ...
        await dg.wait_for_audio(3200)
        await dg.send(utterance_end())        # push any message to the newest listener
        dg.drop()                             # kill the socket without a close frame (reconnect tests)
        await dg.close_listener(1011)         # or close it with an error code, as Deepgram does
        dg.refuse_next(2); dg.hang_next(1)    # the next handshakes fail (HTTP 503) or never answer

    `FakeDeepgram(recognise=True)` transcribes `spoken("book an oil change")` audio word by word, as final
    results whose start/duration are offsets in that socket's audio, like Deepgram's; with `endpointing=0.3`
    it also ends the utterance (`UtteranceEnd`) after 0.3 s of silence following the words.
        dg.sessions[0].query["encoding"]      # "mulaw"; .audio, .controls ({"type": "KeepAlive"}, ...)
        dg.speak_requests[0].text             # what was synthesised; .query has model/encoding/...
"""

import asyncio
import contextlib
import copy
import json
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

from aiohttp import web
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from voice.tests.peers import load_fixture, start_app, wait_until

MULAW_BYTES_PER_SECOND = 8000
# Deepgram closes a listen socket that got neither audio nor a text message for 10 s (error NET-0001).
NET0001_REASON = (
    "Deepgram did not receive audio data or a text message within the timeout window. See https://dpgr.am/net0001"
)


# --- messages, built from the recorded shapes in tests/fixtures/deepgram/ ---------------------------------------


def results(
    transcript: str,
    *,
    is_final: bool = False,
    speech_final: bool = False,
    start: float | None = None,
    duration: float = 1.0,
    from_finalize: bool = False,
) -> dict[str, Any]:
    """A `Results` message with one alternative carrying `transcript`, words spread over `duration`.
    `start` None: the peer places it where Deepgram would, just after the socket's last final result."""
    msg = load_fixture("deepgram", "results_final")
    msg.update(
        is_final=is_final, speech_final=speech_final, start=start, duration=duration, from_finalize=from_finalize
    )
    words = transcript.split()
    step = duration / max(len(words), 1)
    alternative = msg["channel"]["alternatives"][0]
    alternative["transcript"] = transcript
    alternative["words"] = [
        {
            "word": word.strip(".,?!").lower(),
            "start": round((start or 0.0) + i * step, 3),
            "end": round((start or 0.0) + (i + 1) * step, 3),
            "confidence": 0.98,
            "punctuated_word": word,
        }
        for i, word in enumerate(words)
    ]
    return msg


def _placed(message: dict[str, Any], session: "ListenSession") -> dict[str, Any]:
    """`message` with a `Results` start filled in (after the socket's last final), and that final noted."""
    if message.get("type") != "Results":
        return message
    if message.get("start") is None:
        message = copy.deepcopy(message)
        message["start"] = offset = session.final_end
        for word in message["channel"]["alternatives"][0]["words"]:
            word["start"], word["end"] = round(word["start"] + offset, 3), round(word["end"] + offset, 3)
    if message.get("is_final"):
        session.final_end = message["start"] + message["duration"]
    return message


# Scripted speech a recognising peer understands: each word is a run of one byte value (a mu-law level no
# silence uses), 40 ms per letter plus 40 ms; words are apart by 60 ms of silence (0xFF, mu-law zero).
FRAME_BYTES = 160
SILENCE_BYTE = 0xFF
_WORD_BYTES: dict[str, int] = {}
_BYTE_WORDS: dict[int, str] = {}
_OTHER_BYTE: dict[int, re.Pattern[bytes]] = {}  # per byte value: a pattern finding any other byte


def word_audio(word: str) -> bytes:
    """The audio of one scripted word (a new word gets the next free byte value)."""
    if word not in _WORD_BYTES:
        value = 0x01 + len(_WORD_BYTES)
        assert value < 0x7F, "too many scripted words"
        _WORD_BYTES[word], _BYTE_WORDS[value] = value, word
    return bytes([_WORD_BYTES[word]]) * (2 * FRAME_BYTES * (len(word) + 1))


def silence(seconds: float) -> bytes:
    return bytes([SILENCE_BYTE]) * int(seconds * MULAW_BYTES_PER_SECOND)


def spoken(text: str) -> bytes:
    """Scripted speech for `text`, each word followed by 60 ms of silence."""
    return b"".join(word_audio(word) + silence(0.06) for word in text.split())


def speech_started(timestamp: float = 0.08) -> dict[str, Any]:
    """A `SpeechStarted` message (sent when `vad_events=true`)."""
    msg = load_fixture("deepgram", "speech_started")
    msg["timestamp"] = timestamp
    return msg


def utterance_end(last_word_end: float = 1.6) -> dict[str, Any]:
    """An `UtteranceEnd` message (sent when `utterance_end_ms` is set)."""
    msg = load_fixture("deepgram", "utterance_end")
    msg["last_word_end"] = last_word_end
    return msg


def metadata(duration: float) -> dict[str, Any]:
    """The `Metadata` message Deepgram sends after `CloseStream`, just before closing."""
    msg = load_fixture("deepgram", "metadata")
    msg.update(duration=duration, request_id=str(uuid.uuid4()))
    return msg


def sample_audio(text: str) -> bytes:
    """Deterministic stand-in for synthesised speech: 40 ms of mu-law bytes per character of `text`."""
    pattern = bytes(range(0x10, 0x70))
    size = 320 * max(len(text), 1)
    return (pattern * (size // len(pattern) + 1))[:size]


# --- records -------------------------------------------------------------------------------------------


@dataclass
class ListenSession:
    """One accepted `/v1/listen` WebSocket and everything the client sent on it."""

    query: dict[str, str]
    headers: Headers
    connection: ServerConnection
    audio: bytearray = field(default_factory=bytearray)
    audio_frames: int = 0
    controls: list[dict[str, Any]] = field(default_factory=list)
    closed: bool = False
    close_code: int | None = None
    final_end: float = 0.0  # seconds: where the last final result sent on this socket ended
    heard: int = 0  # bytes of audio the recogniser has looked at
    word_start: int = 0  # where the run of bytes being heard began
    words_unended: bool = False  # words recognised since the last utterance end the recogniser sent

    def recognise(self, endpointing: float | None = None) -> list[dict[str, Any]]:
        """Final results for the scripted words whose audio has ended since the last call; with `endpointing`
        (seconds), also an `UtteranceEnd` once that much silence follows recognised words."""
        found = []
        while self.heard < len(self.audio):
            run = self.audio[self.word_start]
            other = _OTHER_BYTE.setdefault(run, re.compile(b"[^" + re.escape(bytes([run])) + b"]"))
            change = other.search(self.audio, self.heard)  # skip the rest of the run in one step
            if change is None:
                self.heard = len(self.audio)
                break
            self.heard = change.start()
            word = _BYTE_WORDS.get(run)
            if word is not None and self.heard - self.word_start >= FRAME_BYTES:
                start, end = self.word_start / MULAW_BYTES_PER_SECOND, self.heard / MULAW_BYTES_PER_SECOND
                found.append(results(word, is_final=True, start=start, duration=round(end - start, 4)))
                self.words_unended = True
            self.word_start = self.heard
        silent = len(self.audio) - self.word_start
        if (endpointing is not None and self.words_unended and self.audio[self.word_start:self.word_start + 1]
                == bytes([SILENCE_BYTE]) and silent >= endpointing * MULAW_BYTES_PER_SECOND):
            self.words_unended = False
            found.append(utterance_end(self.word_start / MULAW_BYTES_PER_SECOND))
        return found

    def control_types(self) -> list[str]:
        return [c.get("type", "") for c in self.controls]


@dataclass
class SpeakRequest:
    """One `POST /v1/speak` request."""

    query: dict[str, str]
    text: str
    headers: dict[str, str]


# --- the server ----------------------------------------------------------------------------------------


class FakeDeepgram:
    """Deepgram's `/v1/listen` WebSocket and `/v1/speak` REST endpoint on one local port.

    `script`: `(after_bytes, message)` pairs; on every listen socket, each message is sent once that socket
    has received at least `after_bytes` bytes of audio, in order. `send()` pushes a message at any time.
    `idle_timeout`: close a listen socket with 1011/NET-0001 after this long without audio or a text message,
    as Deepgram does after 10 s (None: never). `reject_status`: answer new listen handshakes with this HTTP
    status (e.g. 503) to make reconnects fail. Speak: `speak_audio(text)` gives the bytes, streamed in
    `speak_chunk_size` pieces after `speak_first_byte_delay` s and `speak_chunk_delay` s between them;
    `speak_status` makes `/v1/speak` fail with that status. `recognise`: transcribe `spoken(...)` audio;
    `endpointing` (seconds, None: never): then send an `UtteranceEnd` once that much silence follows the words.
    """

    def __init__(
        self,
        api_key: str = "test-key",
        *,
        script: Sequence[tuple[int, dict[str, Any]]] = (),
        idle_timeout: float | None = 10.0,
        speak_audio: Callable[[str], bytes] = sample_audio,
        speak_chunk_size: int = 320,
        speak_first_byte_delay: float = 0.0,
        speak_chunk_delay: float = 0.0,
        recognise: bool = False,
        endpointing: float | None = None,
    ) -> None:
        self.api_key = api_key
        self.script = list(script)
        self.recognise = recognise
        self.endpointing = endpointing
        self.refusals = 0  # the next this many listen handshakes get HTTP 503
        self.hangs = 0  # the next this many listen handshakes never get an answer
        self.speak_fail_after: int | None = None  # /v1/speak resets the connection after this many bytes
        self.idle_timeout = idle_timeout
        self.speak_audio = speak_audio
        self.speak_chunk_size = speak_chunk_size
        self.speak_first_byte_delay = speak_first_byte_delay
        self.speak_chunk_delay = speak_chunk_delay
        self.reject_status: int | None = None
        self.speak_status: int | None = None
        self.sessions: list[ListenSession] = []
        self.rejected_handshakes: list[int] = []
        self.speak_requests: list[SpeakRequest] = []
        self.url = ""
        self._ws_server: Server | None = None
        self._runner: web.AppRunner | None = None
        self._front: asyncio.Server | None = None
        self._pipes: set[asyncio.StreamWriter] = set()
        self._stopping = asyncio.Event()

    # lifecycle

    async def __aenter__(self) -> Self:
        self._ws_server = await serve(
            self._listen, "127.0.0.1", 0, process_request=self._check_handshake, ping_interval=None
        )
        ws_port = self._ws_server.sockets[0].getsockname()[1]
        app = web.Application()
        app.router.add_post("/v1/speak", self._speak)
        self._runner, http_port = await start_app(app)

        async def front_door(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self._route(reader, writer, ws_port=ws_port, http_port=http_port)

        self._front = await asyncio.start_server(front_door, "127.0.0.1", 0)
        port = self._front.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stopping.set()
        if self._front is not None:
            self._front.close()
        for writer in list(self._pipes):
            writer.transport.abort()
        if self._ws_server is not None:
            self._ws_server.close(close_connections=False)
            for session in self.sessions:
                session.connection.transport.abort()
            await self._ws_server.wait_closed()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._front is not None:
            await self._front.wait_closed()

    # what tests call

    @property
    def listener(self) -> ListenSession:
        """The newest listen session."""
        if not self.sessions:
            raise AssertionError("no client has opened /v1/listen")
        return self.sessions[-1]

    async def send(self, message: dict[str, Any], session: int = -1) -> None:
        """Send a JSON message (e.g. `results(...)`) to a listen socket, the newest by default."""
        target = self.sessions[session]
        await target.connection.send(json.dumps(_placed(message, target)))

    def drop(self, session: int = -1) -> None:
        """Kill a listen socket's TCP connection without a close frame, as a network failure would."""
        self.sessions[session].connection.transport.abort()

    async def close_listener(self, code: int = 1011, reason: str = "NET-0000", session: int = -1) -> None:
        """Close a listen socket with a close frame carrying an error code, as Deepgram does mid-call."""
        await self.sessions[session].connection.close(code, reason)

    def refuse_next(self, count: int) -> None:
        """Answer the next `count` listen handshakes with HTTP 503."""
        self.refusals = count

    def hang_next(self, count: int) -> None:
        """Leave the next `count` listen handshakes unanswered (a Deepgram that accepts TCP and then stalls)."""
        self.hangs = count

    async def wait_for_sessions(self, count: int, within: float = 2.0) -> None:
        await wait_until(lambda: len(self.sessions) >= count, within, f"{count} listen session(s)")

    async def wait_for_audio(self, nbytes: int, session: int = -1, within: float = 2.0) -> None:
        await self.wait_for_sessions(1 if session < 0 else session + 1, within)
        await wait_until(lambda: len(self.sessions[session].audio) >= nbytes, within, f"{nbytes} bytes of audio")

    async def wait_for_control(self, kind: str, session: int = -1, within: float = 2.0) -> None:
        """Wait for a client text message such as "KeepAlive", "Finalize" or "CloseStream"."""
        await self.wait_for_sessions(1 if session < 0 else session + 1, within)
        await wait_until(lambda: kind in self.sessions[session].control_types(), within, f"a {kind} message")

    async def wait_for_close(self, session: int = -1, within: float = 2.0) -> None:
        """Wait until a listen socket's server side has finished (then `close_code` is known)."""
        await self.wait_for_sessions(1 if session < 0 else session + 1, within)
        await wait_until(lambda: self.sessions[session].closed, within, "the listen socket to close")

    # WebSocket side

    async def _check_handshake(self, connection: ServerConnection, request: Request) -> Response | None:
        if urlsplit(request.path).path != "/v1/listen":
            return connection.respond(HTTPStatus.NOT_FOUND, "Not Found\n")
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "token" or key != self.api_key:
            self.rejected_handshakes.append(HTTPStatus.UNAUTHORIZED)
            body = {"err_code": "INVALID_AUTH", "err_msg": "Invalid credentials.", "request_id": str(uuid.uuid4())}
            response = connection.respond(HTTPStatus.UNAUTHORIZED, json.dumps(body))
            response.headers["Content-Type"] = "application/json"
            return response
        if self.hangs > 0:
            self.hangs -= 1
            self.rejected_handshakes.append(0)
            await self._stopping.wait()  # until the test is over
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "Service Unavailable\n")
        if self.refusals > 0:
            self.refusals -= 1
            self.rejected_handshakes.append(HTTPStatus.SERVICE_UNAVAILABLE)
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "Service Unavailable\n")
        if self.reject_status is not None:
            self.rejected_handshakes.append(self.reject_status)
            return connection.respond(self.reject_status, "Service Unavailable\n")
        return None

    async def _listen(self, connection: ServerConnection) -> None:
        request = connection.request
        assert request is not None
        session = ListenSession(
            query=dict(parse_qsl(urlsplit(request.path).query)), headers=request.headers, connection=connection
        )
        self.sessions.append(session)
        pending = list(self.script)
        try:
            while True:
                try:
                    async with asyncio.timeout(self.idle_timeout):
                        message = await connection.recv()
                except TimeoutError:
                    await connection.close(1011, NET0001_REASON)
                    break
                if isinstance(message, bytes):
                    session.audio.extend(message)
                    session.audio_frames += 1
                    while pending and len(session.audio) >= pending[0][0]:
                        await connection.send(json.dumps(_placed(pending.pop(0)[1], session)))
                    for found in session.recognise(self.endpointing) if self.recognise else ():
                        await connection.send(json.dumps(_placed(found, session)))
                    continue
                control = json.loads(message)
                session.controls.append(control)
                if control.get("type") == "CloseStream":
                    await connection.send(json.dumps(metadata(len(session.audio) / MULAW_BYTES_PER_SECOND)))
                    await connection.close()
                    break
        except ConnectionClosed:
            pass
        finally:
            session.closed = True
            session.close_code = connection.close_code

    # REST side

    async def _speak(self, request: web.Request) -> web.StreamResponse:
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "token" or key != self.api_key:
            return web.json_response(
                {"err_code": "INVALID_AUTH", "err_msg": "Invalid credentials.", "request_id": str(uuid.uuid4())},
                status=HTTPStatus.UNAUTHORIZED,
            )
        body = await request.json()
        text = body.get("text", "") if isinstance(body, dict) else ""
        self.speak_requests.append(SpeakRequest(dict(request.query), text, dict(request.headers)))
        if not text:
            return web.json_response(
                {"err_code": "Bad Request", "err_msg": "Text is required.", "request_id": str(uuid.uuid4())},
                status=HTTPStatus.BAD_REQUEST,
            )
        if self.speak_status is not None:
            return web.json_response(
                {"err_code": "INTERNAL_SERVER_ERROR", "err_msg": "Speak failed.", "request_id": str(uuid.uuid4())},
                status=self.speak_status,
            )
        await asyncio.sleep(self.speak_first_byte_delay)
        response = web.StreamResponse(
            headers={
                "Content-Type": "application/octet-stream",
                "dg-request-id": str(uuid.uuid4()),
                "dg-model-name": request.query.get("model", "aura-asteria-en"),
                "dg-char-count": str(len(text)),
            }
        )
        response.enable_chunked_encoding()
        await response.prepare(request)
        audio = self.speak_audio(text)
        for offset in range(0, len(audio), self.speak_chunk_size):
            if offset:
                await asyncio.sleep(self.speak_chunk_delay)
            if self.speak_fail_after is not None and offset >= self.speak_fail_after:
                return cut_off(request, response)
            await response.write(audio[offset : offset + self.speak_chunk_size])
        await response.write_eof()
        return response

    # the front door: one port for both

    async def _route(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, ws_port: int, http_port: int
    ) -> None:
        self._pipes.add(writer)
        upstream: asyncio.StreamWriter | None = None
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            is_websocket = b"\r\nupgrade: websocket" in head.lower()
            up_reader, upstream = await asyncio.open_connection("127.0.0.1", ws_port if is_websocket else http_port)
            self._pipes.add(upstream)
            upstream.write(head)
            await asyncio.gather(_pipe(reader, upstream), _pipe(up_reader, writer))
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            for w in (writer, upstream):
                if w is not None:
                    self._pipes.discard(w)
                    w.close()


def cut_off(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    """Reset the connection mid-response (the client sees a chunked body that never ends)."""
    assert request.transport is not None
    request.transport.abort()
    return response


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    """Copy bytes until EOF (then half-close) or a reset (then reset the other side too)."""
    try:
        while data := await src.read(65536):
            dst.write(data)
            await dst.drain()
    except OSError:
        dst.transport.abort()
        return
    if src.at_eof() and not dst.is_closing():
        with contextlib.suppress(OSError):
            if dst.can_write_eof():
                dst.write_eof()
            else:
                dst.close()
