"""Twilio's REST API: one client with one timeout policy, and the updates we make to live calls."""

import logging

from django.conf import settings
from requests import RequestException
from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from telephony.twiml import transfer_twiml

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10.0  # one slow request must not stall a call's hand-over or the morning's reminder run


def twilio_client() -> Client | None:
    """A REST client from settings read now (`TWILIO_API_BASE_URL` points it elsewhere), or None
    when Twilio is not configured. Requests time out and are never retried (a retried create could
    place a second call)."""
    sid, token = getattr(settings, "TWILIO_ACCOUNT_SID", ""), getattr(settings, "TWILIO_AUTH_TOKEN", "")
    if not (sid and token):
        return None
    client = Client(sid, token, http_client=TwilioHttpClient(timeout=TIMEOUT_SECONDS))
    base = getattr(settings, "TWILIO_API_BASE_URL", "")
    if base:
        client.api.base_url = base.rstrip("/")
    return client


def update_call(client: Client, call_sid: str, twiml: str) -> None:
    """Replace what the live call `call_sid` is doing with `twiml` (Twilio and network errors raise)."""
    client.calls(call_sid).update(twiml=twiml)


def transfer_call(call_sid: str) -> bool:
    """Redirect the live call to `<Dial>` the front desk. False when that is not possible here;
    then closing the media stream lets `<Connect action>` dial instead."""
    client = twilio_client()
    if client is None or not settings.FRONT_DESK_NUMBER:
        return False
    try:
        update_call(client, call_sid, str(transfer_twiml(settings.FRONT_DESK_NUMBER)))
    except (TwilioException, RequestException) as exc:
        logger.warning("call %s: transfer through Twilio failed (%s); falling back", call_sid, type(exc).__name__)
        return False
    return True
