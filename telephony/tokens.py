"""A short-lived per-call token that binds a media stream to the webhook that started it."""

import hmac
import time

from django.utils.crypto import salted_hmac

from telephony.signatures import checks_enabled

STREAM_TOKEN_TTL = 120  # seconds from the webhook's answer to the stream's `start`


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
    # The salt keeps its old name: a token minted before a deploy stays valid after it.
    return salted_hmac("voice.stream-token", f"{call_sid}:{expires}", algorithm="sha256").hexdigest()
