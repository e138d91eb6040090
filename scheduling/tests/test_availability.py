"""Free start times from the shop's hours, bays, closed days, lead time — right across DST."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from scheduling.availability import Interval, free_starts, peak_overlap, why_not_bookable

NY = ZoneInfo("America/New_York")
MONDAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=NY)  # the Friday before
HALF_HOUR = timedelta(minutes=30)


@pytest.fixture(autouse=True)
def _shop(settings) -> None:
    settings.SHOP_TIMEZONE = "America/New_York"
    settings.SHOP_HOURS = {"mon": "08:00-18:00", "tue": "08:00-18:00", "wed": "08:00-18:00", "thu": "08:00-18:00",
                           "fri": "08:00-18:00", "sat": "09:00-14:00", "sun": ""}
    settings.SHOP_BAYS = 2
    settings.SHOP_SLOT_MINUTES = 30
    settings.SHOP_LEAD_TIME_MINUTES = 60
    settings.SHOP_BOOKING_DAYS = 60
    settings.SHOP_CLOSED_DAYS = ["2026-11-26"]  # Thanksgiving


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=NY)


def starts(day: date, duration: timedelta = HALF_HOUR, booked=(), blocked=(), now: datetime = NOW) -> list[datetime]:
    return free_starts(start_day=day, end_day=day, duration=duration, booked=list(booked), blocked=list(blocked),
                       now=now)


def test_a_weekday_offers_every_half_hour_that_ends_by_closing() -> None:
    result = starts(MONDAY, timedelta(hours=2))
    assert result[0] == at(MONDAY, 8) and result[-1] == at(MONDAY, 16)
    assert len(result) == 17


def test_saturday_hours_sunday_and_holidays_are_respected() -> None:
    assert starts(date(2026, 11, 28))[0] == at(date(2026, 11, 28), 9)
    assert starts(date(2026, 11, 28))[-1] == at(date(2026, 11, 28), 13, 30)
    assert starts(date(2026, 11, 29)) == []
    assert starts(date(2026, 11, 26)) == []


def test_bays_limit_simultaneous_jobs_including_long_ones() -> None:
    booked = [Interval(at(MONDAY, 9), at(MONDAY, 11)), Interval(at(MONDAY, 10), at(MONDAY, 10, 30))]
    result = starts(MONDAY, HALF_HOUR, booked)
    assert at(MONDAY, 10) not in result  # both bays busy 10:00-10:30
    assert at(MONDAY, 9) in result and at(MONDAY, 10, 30) in result
    long_job = starts(MONDAY, timedelta(hours=2), booked)
    assert at(MONDAY, 8, 30) not in long_job  # would run into the full 10:00 half hour


def test_lead_time_and_the_past() -> None:
    now = at(MONDAY, 9, 10)
    result = starts(MONDAY, now=now)
    assert result[0] == at(MONDAY, 10, 30)
    assert why_not_bookable(at(MONDAY, 9), HALF_HOUR, booked=[], blocked=[], now=now) == "That time is in the past."
    assert "notice" in (why_not_bookable(at(MONDAY, 10), HALF_HOUR, booked=[], blocked=[], now=now) or "")


def test_staff_blocks_close_the_shop() -> None:
    block = Interval(at(MONDAY, 12), at(MONDAY, 13))
    result = starts(MONDAY, HALF_HOUR, blocked=[block])
    assert at(MONDAY, 12) not in result and at(MONDAY, 12, 30) not in result and at(MONDAY, 13) in result
    assert "closed to bookings" in (why_not_bookable(at(MONDAY, 12), HALF_HOUR, booked=[], blocked=[block], now=NOW)
                                    or "")


@pytest.mark.parametrize(("start", "expected"), [
    (at(date(2026, 11, 29), 10), "We're closed on Sundays."),
    (at(MONDAY, 7, 30), "We open at 8:00 AM that day."),
    (at(MONDAY, 17), "We close at 6:00 PM that day, and that service takes 2 hours."),
    (at(MONDAY, 9, 15), "Please pick a start on the 30-minute grid, like 9:00 or 9:30."),
    (at(date(2027, 3, 1), 9), "We only book up to 60 days ahead."),
    (at(date(2026, 11, 26), 9), "We're closed that day."),
])
def test_reasons_can_be_said_to_the_caller(start: datetime, expected: str) -> None:
    assert why_not_bookable(start, timedelta(hours=2), booked=[], blocked=[], now=NOW) == expected


def test_spring_forward_keeps_wall_clock_slots() -> None:
    sunday_before = datetime(2026, 3, 6, 9, 0, tzinfo=NY)
    monday = date(2026, 3, 9)  # the day after clocks went forward
    result = starts(monday, now=sunday_before)
    assert result[0] == at(monday, 8) and result[0].utcoffset() == timedelta(hours=-4)
    saturday_before = date(2026, 3, 7)
    assert starts(saturday_before, now=sunday_before)[0].utcoffset() == timedelta(hours=-5)


def test_fall_back_week_and_real_durations() -> None:
    now = datetime(2026, 10, 30, 9, 0, tzinfo=NY)
    monday = date(2026, 11, 2)  # the day after clocks went back
    result = starts(monday, timedelta(hours=2), now=now)
    assert result[0] == at(monday, 8) and result[0].utcoffset() == timedelta(hours=-5)
    assert result[-1] + timedelta(hours=2) == at(monday, 18)


def test_peak_overlap_counts_touching_intervals_as_separate() -> None:
    a = Interval(at(MONDAY, 9), at(MONDAY, 10))
    b = Interval(at(MONDAY, 10), at(MONDAY, 11))
    c = Interval(at(MONDAY, 9, 30), at(MONDAY, 10, 30))
    assert peak_overlap([a, b], at(MONDAY, 8), at(MONDAY, 12)) == 1
    assert peak_overlap([a, b, c], at(MONDAY, 8), at(MONDAY, 12)) == 2
    assert peak_overlap([a, b, c], at(MONDAY, 10, 30), at(MONDAY, 12)) == 1
