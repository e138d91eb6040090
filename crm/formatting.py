"""Values as service advisors say them: shop-time dates in words, durations to the second, national numbers."""

from datetime import date, datetime, timedelta

import phonenumbers
from django.conf import settings

from scheduling.shop import shop_timezone


def _clock(moment: datetime, seconds: bool = False) -> str:
    second = f":{moment.second:02d}" if seconds else ""
    return f"{moment.hour % 12 or 12}:{moment.minute:02d}{second} {'AM' if moment.hour < 12 else 'PM'}"


def shop_time(moment: datetime | None) -> str:
    """`moment` on the shop's wall clock, as advisors say it: "Tue Dec 15, 12:00 PM" ("" for None)."""
    if moment is None:
        return ""
    local = moment.astimezone(shop_timezone())
    return f"{local:%a %b} {local.day}, {_clock(local)}"


def shop_clock(moment: datetime, seconds: bool = False) -> str:
    """Only the time of day on the shop's wall clock: "9:30 AM" (with `seconds`: "9:30:05 AM")."""
    return _clock(moment.astimezone(shop_timezone()), seconds)


def day_words(day: date) -> str:
    """A day as advisors say it: "Tue Dec 15"."""
    return f"{day:%a %b} {day.day}"


def duration_words(length: timedelta | None) -> str:
    """A duration to the second: "4 min 12 s", "1 h 5 min", "45 s" ("" for None)."""
    if length is None:
        return ""
    seconds = max(round(length.total_seconds()), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours} h" if hours else "", f"{minutes} min" if minutes else "",
             f"{secs} s" if secs or not (hours or minutes) else ""]
    return " ".join(part for part in parts if part)


def national_phone(number: str | None) -> str:
    """A stored (E.164) number as people in the shop's country write it: "(865) 555-0109"; a number from
    another country in international form; anything unreadable as it is."""
    if not number:
        return ""
    try:
        parsed = phonenumbers.parse(number, settings.PHONE_REGION)
    except phonenumbers.NumberParseException:
        return number
    home = phonenumbers.region_code_for_number(parsed) == settings.PHONE_REGION or (
        parsed.country_code == phonenumbers.country_code_for_region(settings.PHONE_REGION))
    style = phonenumbers.PhoneNumberFormat.NATIONAL if home else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    return phonenumbers.format_number(parsed, style)
