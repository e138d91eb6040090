"""Template filters that show values as advisors say them (see crm.formatting)."""

from datetime import datetime, timedelta

from django import template

from crm import formatting

register = template.Library()


@register.filter
def shop_time(moment: datetime | None) -> str:
    """{{ call.started_at|shop_time }} → "Tue Dec 15, 12:00 PM"."""
    return formatting.shop_time(moment)


@register.filter
def shop_clock(moment: datetime | None) -> str:
    """{{ appointment.scheduled_at|shop_clock }} → "9:30 AM"."""
    return formatting.shop_clock(moment) if moment is not None else ""


@register.filter
def shop_clock_iso(text: str | None) -> str:
    """A transcript turn's ISO time ("2026-11-23T15:00:03Z") on the shop's clock, to the second: "10:00:03 AM"."""
    try:
        moment = datetime.fromisoformat(text or "")
    except ValueError:
        return text or ""
    if moment.tzinfo is None:
        return text or ""
    return formatting.shop_clock(moment, seconds=True)


@register.filter
def national_phone(number: str | None) -> str:
    """{{ customer.phone|national_phone }} → "(865) 555-0109"."""
    return formatting.national_phone(number)


@register.filter
def duration_words(length: timedelta | None) -> str:
    """{{ call.duration|duration_words }} → "4 min 12 s"."""
    return formatting.duration_words(length)
