"""Twilio's REST API for live calls (hand a caller to the front desk)."""

import logging

from django.conf import settings
from twilio.base.exceptions import TwilioException
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

logger = logging.getLogger(__name__)


def twilio_client() -> Client | None:
    """A REST client from settings (`TWILIO_API_BASE_URL` points it at a local server in tests), or None."""
    if not (settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN):
        return None
    client = Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN)
    if settings.TWILIO_API_BASE_URL:
        client.api.base_url = settings.TWILIO_API_BASE_URL.rstrip("/")
    return client


def transfer_call(call_sid: str) -> bool:
    """Redirect the live call to `<Dial>` the front desk. False when that is not possible here;
    then closing the media stream lets `<Connect action>` dial instead."""
    client = twilio_client()
    if client is None or not settings.FRONT_DESK_NUMBER:
        return False
    response = VoiceResponse()
    response.say("Connecting you to the front desk now.")
    response.dial(settings.FRONT_DESK_NUMBER)
    try:
        client.calls(call_sid).update(twiml=str(response))
    except TwilioException as exc:
        logger.warning("call %s: transfer through Twilio failed (%s); falling back", call_sid, type(exc).__name__)
        return False
    return True
