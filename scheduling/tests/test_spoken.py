"""Dates and times are said the way a person says them, in the shop's timezone."""

from datetime import UTC, date, datetime

import pytest

from scheduling.spoken import spoken_day, spoken_time


@pytest.fixture(autouse=True)
def _shop(settings) -> None:
    settings.SHOP_TIMEZONE = "America/New_York"


def test_a_time_on_the_hour_is_said_without_minutes_in_shop_time() -> None:
    assert spoken_time(datetime(2026, 11, 24, 14, 0, tzinfo=UTC)) == "Tuesday, November 24 at 9 AM"


def test_a_time_off_the_hour_keeps_its_minutes() -> None:
    assert spoken_time(datetime(2026, 11, 24, 15, 30, tzinfo=UTC)) == "Tuesday, November 24 at 10:30 AM"


def test_a_time_late_in_the_utc_day_is_said_on_the_shops_day() -> None:
    assert spoken_time(datetime(2026, 11, 25, 2, 0, tzinfo=UTC)) == "Tuesday, November 24 at 9 PM"


def test_a_day_is_said_with_its_weekday_and_no_leading_zero() -> None:
    assert spoken_day(date(2026, 12, 1)) == "Tuesday, December 1"
