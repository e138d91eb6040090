"""The shop's configuration (timezone, opening hours, bays), read from settings when asked."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

WEEKDAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class OpeningHours:
    """One day's opening hours, as wall-clock times in the shop's timezone."""

    opens: time
    closes: time


def shop_timezone() -> ZoneInfo:
    """The shop's timezone: every time the agent hears, says or stores is read in it."""
    return ZoneInfo(settings.SHOP_TIMEZONE)


def shop_now() -> datetime:
    """Now, on the shop's wall clock (aware, in the shop's timezone)."""
    return timezone.now().astimezone(shop_timezone())


def shop_today() -> date:
    """Today as the shop counts it (its own timezone, not UTC or the server's)."""
    return shop_now().date()


def day_window(day: date) -> tuple[datetime, datetime]:
    """The aware start and end (next midnight) of one shop day: 23 or 25 hours long on DST change days."""
    tz = shop_timezone()
    return (datetime.combine(day, time.min, tzinfo=tz),
            datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz))


def _parse_hours(text: str) -> OpeningHours | None:
    text = text.strip()
    if not text:
        return None
    opens, closes = (time.fromisoformat(part.strip()) for part in text.split("-"))
    if closes <= opens:
        raise ValueError(f"closing time must be after opening time in {text!r}")
    return OpeningHours(opens=opens, closes=closes)


def opening_hours(weekday: int) -> OpeningHours | None:
    """The hours for a weekday (Monday=0), or None when the shop is closed all day."""
    return _parse_hours(settings.SHOP_HOURS.get(WEEKDAY_KEYS[weekday], ""))


def opening_window(day: date) -> tuple[datetime, datetime] | None:
    """The aware open and close instants of one calendar day, or None when closed."""
    hours = opening_hours(day.weekday())
    if hours is None:
        return None
    tz = shop_timezone()
    return (datetime.combine(day, hours.opens, tzinfo=tz), datetime.combine(day, hours.closes, tzinfo=tz))


def bays() -> int:
    """How many cars the shop can work on at once."""
    return int(settings.SHOP_BAYS)


def slot_length() -> timedelta:
    """Granularity of bookable start times."""
    return timedelta(minutes=int(settings.SHOP_SLOT_MINUTES))
