"""`manage.py talk`: a typed conversation with the configured brain, real tools and database."""

from datetime import datetime
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command

from crm.models import Appointment
from crm.tests.factories import VehicleFactory

NY = ZoneInfo("America/New_York")


@pytest.mark.django_db(transaction=True)
def test_a_typed_conversation_books_with_the_offline_brain(settings) -> None:
    settings.LLM_PROVIDER, settings.CALENDAR_BACKEND, settings.SHOP_TIMEZONE = "offline", "builtin", "America/New_York"
    VehicleFactory.create(customer__phone="+15550102000", customer__name="Marge Simpson")
    out = StringIO()
    lines = StringIO("I need an oil change\nTuesday\n10 am\nyes\nthat's all, bye\n")
    with time_machine.travel(datetime(2026, 11, 23, 8, 0, tzinfo=NY), tick=False):
        call_command("talk", "--from", "(555) 010-2000", stdin=lines, stdout=out)
    text = out.getvalue()
    assert text.startswith("Agent: Thanks for calling Bart's Automotive.")  # typed: a number nobody vouched for
    assert "Shall I book it?" in text and "You're all set" in text and "Goodbye" in text
    assert Appointment.objects.get().scheduled_at == datetime(2026, 11, 24, 10, 0, tzinfo=NY)


def test_a_bad_caller_number_is_refused() -> None:
    with pytest.raises(CommandError):
        call_command("talk", "--from", "not a phone", stdin=StringIO(""), stdout=StringIO())
