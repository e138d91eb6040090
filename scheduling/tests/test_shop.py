"""Shop time: today and a day's bounds are the shop's own, not UTC's or the server's, right across DST."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from scheduling.shop import day_window, shop_now, shop_today

NY = ZoneInfo("America/New_York")


@pytest.fixture(autouse=True)
def _shop(settings) -> None:
    settings.SHOP_TIMEZONE = "America/New_York"


def test_late_evening_at_the_shop_is_still_today_though_utc_is_tomorrow() -> None:
    with time_machine.travel(datetime(2026, 11, 23, 22, 30, tzinfo=NY), tick=False):  # 03:30 UTC Tuesday
        assert shop_today() == date(2026, 11, 23)
        assert shop_now().tzinfo == NY and shop_now().hour == 22


def test_an_ordinary_day_runs_from_local_midnight_to_local_midnight() -> None:
    start, end = day_window(date(2026, 11, 24))
    assert (start, end) == (datetime(2026, 11, 24, tzinfo=NY), datetime(2026, 11, 25, tzinfo=NY))
    assert end - start == timedelta(hours=24)


@pytest.mark.parametrize(("day", "hours"), [(date(2026, 11, 1), 25), (date(2026, 3, 8), 23)])
def test_dst_change_days_are_as_long_as_they_really_are(day: date, hours: int) -> None:
    start, end = day_window(day)
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=hours)
    assert (start.hour, end.hour, end.date()) == (0, 0, day + timedelta(days=1))
