"""Who is due a reminder: the shop's own calendar day, DST included, active bookings only."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from reminders.selectors import reminders_due, shop_tomorrow
from reminders.tests.conftest import ALLOWED, NY, TUESDAY
from reminders.tests.factories import ReminderAttemptFactory, appointment_at
from scheduling.shop import day_window

pytestmark = pytest.mark.django_db


def test_tomorrow_is_counted_in_the_shop_timezone_not_utc(twilio) -> None:
    # 09:00 Monday in New York is 14:00 UTC; late on Monday evening it is already Tuesday in UTC.
    assert shop_tomorrow() == TUESDAY
    with time_machine.travel(datetime(2026, 11, 23, 22, 30, tzinfo=NY), tick=False):  # 03:30 UTC Tuesday
        assert shop_tomorrow() == TUESDAY


def test_half_past_midnight_tomorrow_is_due_and_half_past_eleven_tonight_is_not(twilio) -> None:
    early = appointment_at(TUESDAY, 0, 30, phone=ALLOWED)  # 05:30 UTC on Tuesday
    appointment_at(TUESDAY - timedelta(days=1), 23, 30, phone="+15550102001")  # 04:30 UTC on Tuesday
    late = appointment_at(TUESDAY, 23, 30, phone="+15550102002")  # 04:30 UTC on Wednesday
    appointment_at(TUESDAY + timedelta(days=1), 0, 0, phone="+15550102003")
    assert list(reminders_due(TUESDAY)) == [early, late]


def test_only_scheduled_and_confirmed_appointments_are_due(twilio) -> None:
    scheduled = appointment_at(TUESDAY, 9, phone=ALLOWED, status="scheduled")
    confirmed = appointment_at(TUESDAY, 10, phone="+15550102001", status="confirmed")
    for hour, status in ((11, "cancelled"), (12, "completed"), (13, "no_show")):
        appointment_at(TUESDAY, hour, phone=f"+155501020{hour}", status=status)
    assert list(reminders_due(TUESDAY)) == [scheduled, confirmed]


def test_an_appointment_already_claimed_for_the_day_is_not_due_again(twilio) -> None:
    claimed = appointment_at(TUESDAY, 9, phone=ALLOWED)
    other = appointment_at(TUESDAY, 10, phone="+15550102001")
    ReminderAttemptFactory.create(appointment=claimed, reminder_date=TUESDAY)
    ReminderAttemptFactory.create(appointment=other, reminder_date=TUESDAY - timedelta(days=1))  # another day's claim
    assert list(reminders_due(TUESDAY)) == [other]


def test_the_autumn_dst_day_has_twenty_five_hours_and_all_of_them_count(twilio) -> None:
    sunday = date(2026, 11, 1)  # clocks go back at 02:00
    start, end = day_window(sunday)
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=25)  # aware, real hours
    first = appointment_at(sunday, 0, 15, phone=ALLOWED)
    last = appointment_at(sunday, 23, 30, phone="+15550102001")
    appointment_at(sunday + timedelta(days=1), 0, 15, phone="+15550102002")
    assert list(reminders_due(sunday)) == [first, last]


def test_the_spring_dst_day_has_twenty_three_hours_and_ends_at_local_midnight(twilio) -> None:
    sunday = date(2026, 3, 8)  # clocks go forward at 02:00
    start, end = day_window(sunday)
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=23)  # aware, real hours
    last = appointment_at(sunday, 23, 30, phone=ALLOWED)
    appointment_at(sunday + timedelta(days=1), 0, 30, phone="+15550102001")
    appointment_at(sunday - timedelta(days=1), 23, 30, phone="+15550102002")
    assert list(reminders_due(sunday)) == [last]
