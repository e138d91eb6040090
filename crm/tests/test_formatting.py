"""Values as advisors say them: shop time in words, durations to the second, national phone numbers."""

from datetime import UTC, datetime, timedelta

import pytest

from crm.formatting import day_words, duration_words, national_phone, shop_clock, shop_time


@pytest.mark.parametrize(("utc", "said"), [
    (datetime(2026, 12, 15, 17, 0, tzinfo=UTC), "Tue Dec 15, 12:00 PM"),  # EST: UTC-5
    (datetime(2026, 7, 4, 13, 5, tzinfo=UTC), "Sat Jul 4, 9:05 AM"),  # EDT: UTC-4
    (datetime(2026, 12, 16, 4, 30, tzinfo=UTC), "Tue Dec 15, 11:30 PM"),  # the shop's day, not UTC's
    (datetime(2026, 12, 15, 5, 0, tzinfo=UTC), "Tue Dec 15, 12:00 AM"),
])
def test_times_are_shop_time_in_words(utc: datetime, said: str) -> None:
    assert shop_time(utc) == said


def test_clock_and_day_words() -> None:
    moment = datetime(2026, 12, 15, 14, 30, 5, tzinfo=UTC)
    assert (shop_clock(moment), shop_clock(moment, seconds=True)) == ("9:30 AM", "9:30:05 AM")
    assert day_words(moment.date()) == "Tue Dec 15"
    assert shop_time(None) == ""


@pytest.mark.parametrize(("length", "said"), [
    (timedelta(minutes=4, seconds=12), "4 min 12 s"),
    (timedelta(seconds=45), "45 s"),
    (timedelta(0), "0 s"),
    (timedelta(minutes=3), "3 min"),
    (timedelta(hours=1, minutes=5), "1 h 5 min"),
    (timedelta(hours=1, seconds=9), "1 h 9 s"),
    (timedelta(seconds=59.6), "1 min"),
])
def test_durations_to_the_second(length: timedelta, said: str) -> None:
    assert duration_words(length) == said


@pytest.mark.parametrize(("stored", "said"), [
    ("+18655550109", "(865) 555-0109"),
    ("+442071838750", "+44 20 7183 8750"),  # another country: international form
    ("anonymous", "anonymous"),  # what a withheld caller ID looks like
    ("", ""),
])
def test_phone_numbers_in_national_format(stored: str, said: str) -> None:
    assert national_phone(stored) == said
