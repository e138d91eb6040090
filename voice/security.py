"""Is this request really from Twilio? Signatures on webhooks and on the media-stream upgrade,
and a short-lived per-call token that binds a media stream to the webhook that started it."""

import hmac
import logging
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.utils.crypto import salted_hmac
from twilio.request_validator import RequestValidator

logger = logging.getLogger(__name__)

STREAM_TOKEN_TTL = 120  # seconds from the webhook's answer to the stream's `start`
_warned = False


def checks_enabled() -> bool:
    """False only in a local demo without a Twilio auth token (production refuses to start so)."""
    global _warned  # one warning per process is the point
    if settings.TWILIO_AUTH_TOKEN:
        return True
    if not _warned:
        logger.warning("TWILIO_AUTH_TOKEN is not set: Twilio signatures are NOT checked (local demo only)")
        _warned = True
    return False


def public_url(path_and_query: str, websocket: bool = False) -> str:
    """The URL Twilio used (and signed) for `path_and_query`, from PUBLIC_BASE_URL."""
    base = urlsplit(settings.PUBLIC_BASE_URL.rstrip("/"))
    scheme = base.scheme
    if websocket:
        scheme = {"https": "wss", "http": "ws"}.get(scheme, scheme)
    path, _, query = path_and_query.partition("?")
    return urlunsplit((scheme, base.netloc, base.path + path, query, ""))


def signature_valid(url: str, params: Mapping[str, Any] | None, signature: str | None) -> bool:
    """Twilio's X-Twilio-Signature check for `url` and its POST `params`."""
    if not checks_enabled():
        return True
    if not signature:
        return False
    try:
        return RequestValidator(settings.TWILIO_AUTH_TOKEN).validate(url, params or {}, signature)
    except (TypeError, ValueError):
        return False


def stream_token(call_sid: str, now: float | None = None) -> str:
    """A token for `call_sid`, valid for STREAM_TOKEN_TTL seconds, sent as a `<Parameter>`."""
    expires = int((now if now is not None else time.time()) + STREAM_TOKEN_TTL)
    return f"{expires}.{_mac(call_sid, expires)}"


def stream_token_valid(token: str | None, call_sid: str, now: float | None = None) -> bool:
    """True when `token` was minted by `stream_token` for this very call and has not expired."""
    if not checks_enabled():
        return True
    if not token or "." not in token:
        return False
    expires_text, _, mac = token.partition(".")
    if not expires_text.isdigit() or int(expires_text) < (now if now is not None else time.time()):
        return False
    return hmac.compare_digest(mac, _mac(call_sid, int(expires_text)))


def _mac(call_sid: str, expires: int) -> str:
    return salted_hmac("voice.stream-token", f"{call_sid}:{expires}", algorithm="sha256").hexdigest()
