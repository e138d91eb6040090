"""Reads for reminder calls: which appointments are due on a shop day."""

from datetime import date, datetime, time, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from crm.models import ACTIVE_STATUSES, Appointment
from scheduling.shop import shop_timezone


def shop_today() -> date:
    """Today as the shop counts it (its own timezone, not UTC)."""
    return timezone.now().astimezone(shop_timezone()).date()


def shop_tomorrow() -> date:
    """The day the daily run reminds people about."""
    return shop_today() + timedelta(days=1)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """Aware midnight-to-midnight of a shop day; 23 or 25 hours long on DST change days."""
    tz = shop_timezone()
    return datetime.combine(day, time.min, tzinfo=tz), datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)


def reminders_due(day: date) -> QuerySet[Appointment]:
    """Appointments on `day` (shop time), scheduled or confirmed, with no reminder claimed for that day."""
    start, end = day_bounds(day)
    return (Appointment.objects.select_related("customer")
            .filter(scheduled_at__gte=start, scheduled_at__lt=end, status__in=ACTIVE_STATUSES)
            .exclude(reminder_attempts__reminder_date=day)
            .order_by("scheduled_at", "pk"))
