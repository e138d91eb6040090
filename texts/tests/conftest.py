"""Shared fixtures: the local Twilio REST server (calls and messages) wired in through settings, a frozen
Monday morning, signed webhooks, and django-q2 running queued tasks in-process."""

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest
import time_machine
from django.test import Client
from django_q.conf import Conf
from twilio.request_validator import RequestValidator

from reminders.tests.conftest import ACCOUNT, ALLOWED, ALSO_ALLOWED, BASE, NOW, SHOP_NUMBER, TOKEN
from telephony.tests.twilio_rest import FakeTwilioREST

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

ADDRESS = "742 Evergreen Terrace, Springfield"


@pytest.fixture
def twilio(settings: Any) -> Iterator[FakeTwilioREST]:
    """The fake Twilio API, with settings pointing at it, safe mode on, texts on and time frozen at NOW."""
    with FakeTwilioREST(ACCOUNT, TOKEN) as fake:
        settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = ACCOUNT, TOKEN
        settings.TWILIO_PHONE_NUMBER, settings.TWILIO_API_BASE_URL = SHOP_NUMBER, fake.url
        settings.PUBLIC_BASE_URL, settings.SHOP_TIMEZONE = BASE, "America/New_York"
        settings.SHOP_NAME, settings.SHOP_PHONE, settings.SHOP_ADDRESS = "Bart's Automotive", SHOP_NUMBER, ADDRESS
        settings.REMINDER_SAFE_MODE, settings.REMINDER_ALLOWED_NUMBERS = True, [ALLOWED, ALSO_ALLOWED]
        settings.SMS_CONFIRMATIONS = settings.SMS_REMINDERS = True
        with time_machine.travel(NOW, tick=False):
            yield fake


@pytest.fixture
def signed_post() -> Callable[[str, dict[str, str]], "TestResponse"]:
    """POST to one of our webhooks the way Twilio does: form-encoded and signed for the public URL."""

    def post(path: str, params: dict[str, str]) -> "TestResponse":
        signature = RequestValidator(TOKEN).compute_signature(BASE + path, params)
        return Client().post(path, params, HTTP_X_TWILIO_SIGNATURE=signature)

    return post


@pytest.fixture
def tasks_inline(monkeypatch: pytest.MonkeyPatch) -> None:
    """django-q2's own test mode (`Q_CLUSTER["sync"]`): a queued task runs at once, in this process, through
    the cluster's worker code, whatever the broker."""
    monkeypatch.setattr(Conf, "SYNC", True)
