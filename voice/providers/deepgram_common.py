"""What Deepgram's speech-to-text and text-to-speech clients share: where Deepgram is, and which errors
mean the connection failed."""

import contextlib
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import httpx
from deepgram import DeepgramClientEnvironment
from deepgram.core.api_error import ApiError
from deepgram.listen.v1.socket_client import AsyncV1SocketClient
from websockets.asyncio.client import connect as websocket_connect
from websockets.exceptions import InvalidStatus, WebSocketException

from voice.providers.base import ProviderError
from voice.providers.tls import tls_context

# Errors the SDK lets through when a socket or HTTP request fails (it wraps only HTTP statuses in ApiError).
TRANSPORT_ERRORS = (ApiError, OSError, TimeoutError, WebSocketException, httpx.HTTPError)


def deepgram_environment(base_url: str | None) -> DeepgramClientEnvironment:
    """Deepgram's own endpoints, or all four pointed at one server (`http(s)://` or `ws(s)://`, any path)."""
    if not base_url:
        return DeepgramClientEnvironment.PRODUCTION
    parts = urlsplit(base_url.rstrip("/"))
    if parts.scheme not in ("http", "https", "ws", "wss") or not parts.netloc:
        raise ValueError(f"Deepgram URL must be http(s):// or ws(s)://host[:port], not {base_url!r}")
    secure = parts.scheme in ("https", "wss")
    http_base = urlunsplit(("https" if secure else "http", parts.netloc, parts.path, "", ""))
    ws_base = urlunsplit(("wss" if secure else "ws", parts.netloc, parts.path, "", ""))
    return DeepgramClientEnvironment(base=http_base, production=ws_base, agent=ws_base, agent_rest=http_base)


@contextlib.asynccontextmanager
async def listen_socket(url: str, api_key: str, ping_seconds: float) -> AsyncIterator[AsyncV1SocketClient]:
    """A live `/v1/listen` socket at `url` (query included) in the SDK's socket client. The SDK opens it with
    websockets' default permessage-deflate, which Deepgram accepts: compressing mu-law audio saves nothing and
    costs both ends CPU on every message, so it is opened here without. A socket that answers no ping within
    `ping_seconds` is dropped (the close handshake gets as long)."""
    try:
        async with websocket_connect(
            url, additional_headers={"Authorization": f"Token {api_key}"}, compression=None,
            ssl=tls_context() if url.startswith("wss:") else None, ping_interval=ping_seconds,
            ping_timeout=ping_seconds, close_timeout=ping_seconds, open_timeout=None,
            user_agent_header="autoshop (deepgram-sdk socket)",
        ) as socket:
            yield AsyncV1SocketClient(websocket=socket)  # type: ignore[arg-type]
    except InvalidStatus as exc:
        status = exc.response.status_code
        body = exc.response.body.decode("utf-8", "replace") if exc.response.body else ""
        raise ProviderError(f"Deepgram refused the listen socket: HTTP {status} {body}".rstrip()) from exc
