"""Shared fixtures: a local Twilio REST server wired in through settings, and a frozen Monday morning."""

from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from twilio.request_validator import RequestValidator

from telephony.tests.twilio_rest import FakeTwilioREST

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

NY = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=NY)  # Monday 09:00 at the shop: the daily run is for Tuesday
TUESDAY = date(2026, 11, 24)
ACCOUNT, TOKEN, BASE = "AC" + "1" * 32, "test-auth-token", "https://shop.example.com"
SHOP_NUMBER = "+15550100100"
ALLOWED, ALSO_ALLOWED, STRANGER = "+15550102000", "+15550102001", "+15557654321"


@pytest.fixture
def twilio(settings: Any) -> Iterator[FakeTwilioREST]:
    """The fake Twilio API, with settings pointing at it, safe mode on and time frozen at NOW."""
    with FakeTwilioREST(ACCOUNT, TOKEN) as fake:
        settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = ACCOUNT, TOKEN
        settings.TWILIO_PHONE_NUMBER, settings.TWILIO_API_BASE_URL = SHOP_NUMBER, fake.url
        settings.PUBLIC_BASE_URL, settings.SHOP_TIMEZONE = BASE, "America/New_York"
        settings.SHOP_NAME, settings.SHOP_PHONE = "Bart's Automotive", SHOP_NUMBER
        settings.REMINDER_SAFE_MODE, settings.REMINDER_ALLOWED_NUMBERS = True, [ALLOWED, ALSO_ALLOWED]
        settings.REMINDER_PACE_SECONDS = 1.0
        with time_machine.travel(NOW, tick=False):
            yield fake


@pytest.fixture
def signed_post() -> Callable[[str, dict[str, str]], "TestResponse"]:
    """POST to one of our webhooks the way Twilio does: form-encoded and signed for the public URL."""

    def post(path: str, params: dict[str, str]) -> "TestResponse":
        signature = RequestValidator(TOKEN).compute_signature(BASE + path, params)
        return Client().post(path, params, HTTP_X_TWILIO_SIGNATURE=signature)

    return post
