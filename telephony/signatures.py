"""Is this request really from Twilio? Signatures on webhooks and on the media-stream upgrade,
checked against the public URL Twilio used."""

import logging
from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from twilio.request_validator import RequestValidator

logger = logging.getLogger(__name__)

_warned = False

View = Callable[..., HttpResponse]


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


def twilio_only(view: View) -> View:
    """Answer 403 unless the request carries Twilio's valid signature for our public URL."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        url = public_url(request.get_full_path())
        if not signature_valid(url, request.POST, request.headers.get("X-Twilio-Signature")):
            logger.warning("rejected a webhook with a missing or forged Twilio signature: %s", request.path)
            return HttpResponseForbidden("Invalid Twilio signature")
        return view(request, *args, **kwargs)

    return wrapper
