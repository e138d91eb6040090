"""Dates, times and money the way a person says them on the phone."""

from datetime import date, datetime
from decimal import Decimal

from scheduling.shop import shop_timezone


def spoken_time(moment: datetime) -> str:
    """`Tuesday, November 24 at 9 AM` / `... at 10:30 AM`, in the shop's timezone."""
    local = moment.astimezone(shop_timezone())
    clock = local.strftime("%-I %p") if local.minute == 0 else local.strftime("%-I:%M %p")
    return f"{local.strftime('%A, %B')} {local.day} at {clock}"


def spoken_day(day: date) -> str:
    return f"{day.strftime('%A, %B')} {day.day}"


def spoken_price(amount: Decimal) -> str:
    dollars, cents = divmod(int(amount * 100), 100)
    return f"{dollars} dollars" + (f" and {cents} cents" if cents else "")
