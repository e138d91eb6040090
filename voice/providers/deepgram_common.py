"""What Deepgram's speech-to-text and text-to-speech clients share: where Deepgram is, and which errors
mean the connection failed."""

from urllib.parse import urlsplit, urlunsplit

import httpx
from deepgram import DeepgramClientEnvironment
from deepgram.core.api_error import ApiError
from websockets.exceptions import WebSocketException

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
