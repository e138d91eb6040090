"""A local OpenAI Chat Completions endpoint that streams scripted replies as server-sent events.

    async with FakeOpenAI(replies=[TextReply("Sure, Tuesday works."),
                                   ToolCallsReply([ToolCall("check_availability", {"date": "2026-11-24"})])]) as ai:
        chat = OpenAIChat("sk-test", ai.url)             # ai.url ends in /v1, like OPENAI_BASE_URL
        ...
        ai.script(ErrorReply(500), TextReply("Hello"))   # queue more replies, one per request
        ai.requests[0].messages, ai.requests[0].tools    # what the client sent
        await ai.wait_for_disconnect(0)                  # the client hung up before the reply ended

Each request takes the next reply from the queue; with the queue empty it gets `default` or, if there is none,
an HTTP 400 naming the problem (400 so the SDK does not retry and the test fails loudly). Chunks are built
from the recorded shapes in tests/fixtures/openai/.
"""

import asyncio
import json
import re
import secrets
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from voice.tests.peers import load_fixture, start_app, wait_until

# --- replies -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TextReply:
    """Spoken text, streamed word by word (each word with its leading space) as content deltas."""

    text: str
    first_token_delay: float = 0.0
    tokens_per_second: float | None = None  # None: as fast as possible


@dataclass(frozen=True, slots=True)
class ToolCall:
    name: str
    arguments: dict[str, Any] | str  # a dict is sent as compact JSON; a str is sent as written
    id: str | None = None  # default: a fresh "call_..." id


@dataclass(frozen=True, slots=True)
class ToolCallsReply:
    """Optional text, then one or more tool calls (parallel calls get index 0, 1, ...), finish "tool_calls".

    Arguments arrive in `fragment_size`-character pieces after a first delta that carries index, id, type, name
    and empty arguments, as OpenAI streams them.
    """

    calls: Sequence[ToolCall]
    text: str = ""
    fragment_size: int = 7
    first_token_delay: float = 0.0
    tokens_per_second: float | None = None


@dataclass(frozen=True, slots=True)
class ErrorReply:
    """An HTTP error in OpenAI's error shape. `retry_after_ms` is sent as `retry-after-ms`, which the SDK honours."""

    status: int = HTTPStatus.INTERNAL_SERVER_ERROR
    message: str = "The server had an error while processing your request. Sorry about that!"
    retry_after_ms: int | None = 10


@dataclass(frozen=True, slots=True)
class HangReply:
    """Accept the request and send nothing (not even headers) for `seconds`: for client timeout tests."""

    seconds: float = 30.0


Reply = TextReply | ToolCallsReply | ErrorReply | HangReply


# --- records -------------------------------------------------------------------------------------------


@dataclass
class ChatRequest:
    """One `POST /v1/chat/completions` and what became of its response."""

    body: dict[str, Any]
    headers: dict[str, str]
    reply: Reply | None = None
    completed: bool = False  # the whole reply (through `data: [DONE]`) was written
    client_disconnected: bool = False  # the client went away before that
    chunks_sent: int = 0
    timestamps: list[float] = field(default_factory=list)

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.body.get("messages", [])

    @property
    def tools(self) -> list[dict[str, Any]]:
        return self.body.get("tools", [])


# --- the server ----------------------------------------------------------------------------------------


class FakeOpenAI:
    """`POST /v1/chat/completions` with `stream: true` (and plain JSON when `stream` is false)."""

    def __init__(self, api_key: str = "sk-test", *, replies: Iterable[Reply] = (), default: Reply | None = None):
        self.api_key = api_key
        self.default = default
        self.requests: list[ChatRequest] = []
        self.url = ""
        self._replies: deque[Reply] = deque(replies)
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()

    def script(self, *replies: Reply) -> None:
        """Queue replies for the next requests, in order."""
        self._replies.extend(replies)

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._completions)
        self._runner, port = await start_app(app)
        self.url = f"http://127.0.0.1:{port}/v1"
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def wait_for_requests(self, count: int, within: float = 2.0) -> None:
        await wait_until(lambda: len(self.requests) >= count, within, f"{count} chat request(s)")

    async def wait_for_disconnect(self, index: int = -1, within: float = 2.0) -> None:
        await self.wait_for_requests(1 if index < 0 else index + 1, within)
        await wait_until(lambda: self.requests[index].client_disconnected, within, "the client to disconnect")

    # the endpoint

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _error(
                HTTPStatus.UNAUTHORIZED,
                "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
                kind="invalid_request_error",
                code="invalid_api_key",
            )
        body = await request.json()
        record = ChatRequest(body=body, headers=dict(request.headers))
        self.requests.append(record)
        reply = self._replies.popleft() if self._replies else self.default
        record.reply = reply
        if reply is None:
            return _error(HTTPStatus.BAD_REQUEST, "FakeOpenAI has no scripted reply left for this request.")
        if isinstance(reply, ErrorReply):
            headers = {"retry-after-ms": str(reply.retry_after_ms)} if reply.retry_after_ms is not None else {}
            kind = "server_error" if reply.status >= 500 else "invalid_request_error"
            return _error(reply.status, reply.message, kind=kind, headers=headers)
        try:
            if isinstance(reply, HangReply):
                await asyncio.wait_for(self._stopping.wait(), reply.seconds)
                return _error(HTTPStatus.GATEWAY_TIMEOUT, "FakeOpenAI hung on purpose.")
            if not body.get("stream"):
                return web.json_response(_completion(body, reply))
            return await self._stream(request, record, body, reply)
        except (asyncio.CancelledError, ConnectionResetError):
            record.client_disconnected = True
            raise
        except TimeoutError:
            return _error(HTTPStatus.GATEWAY_TIMEOUT, "FakeOpenAI hung on purpose.")

    async def _stream(
        self, request: web.Request, record: ChatRequest, body: dict[str, Any], reply: TextReply | ToolCallsReply
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        gap = 1 / reply.tokens_per_second if reply.tokens_per_second else 0.0
        chunks = list(_chunks(body, reply))
        for i, chunk in enumerate(chunks):
            if i == 1:
                await asyncio.sleep(reply.first_token_delay)
            elif i > 1 and gap and chunk["choices"]:
                await asyncio.sleep(gap)
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
            record.chunks_sent += 1
            record.timestamps.append(time.monotonic())
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        record.completed = True
        return response


# --- wire shapes ---------------------------------------------------------------------------------------


def _error(
    status: int,
    message: str,
    *,
    kind: str = "invalid_request_error",
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return web.json_response(body, status=status, headers=headers)


def _words(text: str) -> list[str]:
    return re.findall(r"\s*\S+", text)


def _arguments(call: ToolCall) -> str:
    if isinstance(call.arguments, str):
        return call.arguments
    return json.dumps(call.arguments, separators=(",", ":"))


def _chunks(body: dict[str, Any], reply: TextReply | ToolCallsReply) -> Iterable[dict[str, Any]]:
    """The `chat.completion.chunk` objects of one streamed reply, in order, shaped like the fixtures."""
    envelope = {"id": f"chatcmpl-{secrets.token_urlsafe(18)}", "created": int(time.time()), "model": body.get("model")}

    def chunk(fixture: str, delta: dict[str, Any] | None = None) -> dict[str, Any]:
        out = load_fixture("openai", fixture) | envelope
        if delta is not None:
            out["choices"][0]["delta"] = delta
        return out

    calls = list(reply.calls) if isinstance(reply, ToolCallsReply) else []
    size = reply.fragment_size if isinstance(reply, ToolCallsReply) else 7
    heads = [
        {
            "index": index,
            "id": call.id or f"call_{secrets.token_urlsafe(18)}",
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        for index, call in enumerate(calls)
    ]
    if calls and not reply.text:
        # A reply that is only tool calls opens with the role and the first call's head in one delta.
        first = load_fixture("openai", "chunk_tool_call_first")["choices"][0]["delta"] | {"tool_calls": heads[:1]}
        yield chunk("chunk_tool_call_first", first)
    else:
        yield chunk("chunk_text_first")
        for word in _words(reply.text):
            yield chunk("chunk_text", {"content": word})
    for index, call in enumerate(calls):
        if index or reply.text:
            yield chunk("chunk_tool_call_arguments", {"tool_calls": [heads[index]]})
        arguments = _arguments(call)
        for start in range(0, len(arguments), size):
            fragment = {"index": index, "function": {"arguments": arguments[start : start + size]}}
            yield chunk("chunk_tool_call_arguments", {"tool_calls": [fragment]})
    yield chunk("chunk_finish_tool_calls" if calls else "chunk_finish_stop")
    if (body.get("stream_options") or {}).get("include_usage"):
        yield load_fixture("openai", "chunk_usage") | envelope


def _completion(body: dict[str, Any], reply: TextReply | ToolCallsReply) -> dict[str, Any]:
    """The non-streamed `chat.completion` for the same reply."""
    calls = reply.calls if isinstance(reply, ToolCallsReply) else ()
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None, "refusal": None}
    if calls:
        message["tool_calls"] = [
            {
                "id": call.id or f"call_{secrets.token_urlsafe(18)}",
                "type": "function",
                "function": {"name": call.name, "arguments": _arguments(call)},
            }
            for call in calls
        ]
    usage = load_fixture("openai", "chunk_usage")["usage"]
    return {
        "id": f"chatcmpl-{secrets.token_urlsafe(18)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model"),
        "system_fingerprint": "fp_50cad350e4",
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": "tool_calls" if calls else "stop"}
        ],
        "usage": usage,
    }
