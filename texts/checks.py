"""System checks: text settings that would record every text as failed."""

from typing import Any

from django.conf import settings
from django.core import checks

from texts.services import confirmations_on, reminder_texts_on


def check_text_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    found: list[checks.CheckMessage] = []
    texting = confirmations_on() or reminder_texts_on()
    account = str(getattr(settings, "TWILIO_ACCOUNT_SID", ""))
    number = str(getattr(settings, "TWILIO_PHONE_NUMBER", ""))
    if texting and account and not number:
        found.append(checks.Warning(
            "Texts are on (SMS_CONFIRMATIONS / SMS_REMINDERS) but TWILIO_PHONE_NUMBER is empty: every text would "
            "be recorded as failed.",
            hint="Set TWILIO_PHONE_NUMBER to the shop's SMS-capable Twilio number, or SMS_CONFIRMATIONS=false and "
                 "SMS_REMINDERS=false.", id="texts.W001"))
    return found
