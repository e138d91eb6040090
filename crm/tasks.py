"""django-q2 entry points for CRM work (ids in, services called)."""

import logging
from datetime import timedelta

from django.utils import timezone
from django_q.models import Schedule

from crm.models import Appointment, CalendarSync
from crm.services import appointment_sync_calendar

logger = logging.getLogger(__name__)

RETRY_AFTER = timedelta(minutes=1)
SWEEP_SCHEDULE = "calendar-sync-sweep"


def sync_appointment_calendar(appointment_id: int) -> bool:
    """Push one appointment to the calendar."""
    return appointment_sync_calendar(appointment_id=appointment_id)


def sync_pending_calendar_events(limit: int = 200) -> int:
    """Retry every appointment whose calendar event is not in step (calendar was down). Returns how many synced."""
    ids = list(Appointment.objects.exclude(calendar_sync=CalendarSync.SYNCED).order_by("updated_at")
               .values_list("pk", flat=True)[:limit])
    return sum(appointment_sync_calendar(appointment_id=pk) for pk in ids)


def schedule_calendar_retry(appointment_id: int) -> None:
    """Try this appointment's calendar sync again in a minute (the sweep also catches it)."""
    Schedule.objects.create(name=f"calendar-sync-{appointment_id}-{timezone.now().timestamp():.0f}",
                            func="crm.tasks.sync_appointment_calendar", args=str(appointment_id),
                            schedule_type=Schedule.ONCE, next_run=timezone.now() + RETRY_AFTER)


def ensure_calendar_sweep() -> Schedule:
    """The five-minute sweep of unsynced appointments (idempotent)."""
    schedule, _ = Schedule.objects.update_or_create(
        name=SWEEP_SCHEDULE,
        defaults={"func": "crm.tasks.sync_pending_calendar_events", "schedule_type": Schedule.MINUTES,
                  "minutes": 5, "repeats": -1},
    )
    return schedule
