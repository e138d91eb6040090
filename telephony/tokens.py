"""A short-lived, single-use token that binds a media stream to the webhook answer that started it:
the call sid and every `<Parameter>` the stream's session trusts (caller, direction, appointment,
attestation). Twilio hands the parameters back in `start`; only the token says they are ours."""

import hmac
import json
import logging
import secrets
import time
from collections.abc import Mapping

from django.core.cache import cache
from django.utils.crypto import salted_hmac

from telephony.signatures import checks_enabled

STREAM_TOKEN_TTL = 60  # seconds from the webhook's answer to the stream's `start` (Twilio takes about one)
TOKEN_PARAMETER = "token"  # noqa: S105 - the parameter's name, not a secret

logger = logging.getLogger(__name__)


def stream_token(call_sid: str, parameters: Mapping[str, str], now: float | None = None) -> str:
    """A token for `call_sid` and exactly these stream parameters, valid once for STREAM_TOKEN_TTL seconds."""
    expires = int((now if now is not None else time.time()) + STREAM_TOKEN_TTL)
    nonce = secrets.token_hex(8)
    return f"{expires}.{nonce}.{_mac(call_sid, expires, nonce, parameters)}"


def stream_token_valid(token: str | None, call_sid: str, parameters: Mapping[str, str],
                       now: float | None = None) -> bool:
    """True when `token` was minted by `stream_token` for this call and these parameters (the token's own
    entry in `parameters` aside) and has not expired. Does not use the token up: `stream_token_use` does."""
    if not checks_enabled():
        return True
    parts = (token or "").split(".")
    if len(parts) != 3 or not parts[0].isascii() or not parts[0].isdecimal() or len(parts[0]) > 12:
        return False
    expires, nonce, mac = int(parts[0]), parts[1], parts[2]
    if expires < (now if now is not None else time.time()):
        return False
    return hmac.compare_digest(mac, _mac(call_sid, expires, nonce, parameters))


def stream_token_use(token: str | None, call_sid: str, parameters: Mapping[str, str],
                     now: float | None = None) -> bool:
    """`stream_token_valid`, and the first use of this token: a second stream with it is refused. The
    mark is one atomic `cache.add` (local memory or Redis), so two streams racing cannot both win.

    With the cache down (Redis unreachable) the use cannot be marked: the token is then accepted on its
    signature and expiry alone, and that is logged. Refusing would turn every new caller away for as long
    as the outage lasts; accepting leaves only a replay, within STREAM_TOKEN_TTL, of a token for this same
    call and these same parameters, which nobody outside Twilio and us has seen."""
    if not checks_enabled():
        return True
    if not stream_token_valid(token, call_sid, parameters, now):
        return False
    nonce = (token or "").split(".")[1]
    try:
        return bool(cache.add(f"stream-token-used:{nonce}", 1, STREAM_TOKEN_TTL + 60))
    except Exception as exc:  # noqa: BLE001 - any cache failure: signature and expiry still hold
        logger.warning("call %s: stream token accepted unmarked, the cache is failing (%s)", call_sid,
                       type(exc).__name__)
        return True


def canonical_parameters(parameters: Mapping[str, str]) -> str:
    """The parameters the token covers, in one unambiguous encoding: every name but the token's, sorted.
    An empty value counts as absent (the session reads both alike, and Twilio may drop empty ones)."""
    return json.dumps(sorted((name, value) for name, value in parameters.items()
                             if name != TOKEN_PARAMETER and value), separators=(",", ":"))


def _mac(call_sid: str, expires: int, nonce: str, parameters: Mapping[str, str]) -> str:
    message = json.dumps([call_sid, expires, nonce, canonical_parameters(parameters)], separators=(",", ":"))
    return salted_hmac("telephony.stream-token.v2", message, algorithm="sha256").hexdigest()
