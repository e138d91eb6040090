"""Reads for reminder calls: which appointments are due on a shop day."""

from datetime import date, timedelta

from django.db.models import QuerySet

from crm.models import ACTIVE_STATUSES, Appointment
from scheduling.shop import day_window, shop_today


def shop_tomorrow() -> date:
    """The day the daily run reminds people about: tomorrow, shop time."""
    return shop_today() + timedelta(days=1)


def reminders_due(day: date) -> QuerySet[Appointment]:
    """Appointments on `day` (shop time), scheduled or confirmed, with no reminder claimed for that day."""
    start, end = day_window(day)
    return (Appointment.objects.select_related("customer")
            .filter(scheduled_at__gte=start, scheduled_at__lt=end, status__in=ACTIVE_STATUSES)
            .exclude(reminder_attempts__reminder_date=day)
            .order_by("scheduled_at", "pk"))
