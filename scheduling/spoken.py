"""Dates and times the way a person says them on the phone, in the shop's timezone."""

from datetime import date, datetime

from scheduling.shop import shop_timezone


def spoken_time(moment: datetime) -> str:
    """`Tuesday, November 24 at 9 AM` / `... at 10:30 AM`, in the shop's timezone."""
    local = moment.astimezone(shop_timezone())
    clock = local.strftime("%-I %p") if local.minute == 0 else local.strftime("%-I:%M %p")
    return f"{local.strftime('%A, %B')} {local.day} at {clock}"


def spoken_day(day: date) -> str:
    """`Tuesday, November 24`: a calendar day as said aloud."""
    return f"{day.strftime('%A, %B')} {day.day}"
