"""django-q2 entry points for CRM work (ids in, services called)."""

import logging

from django_q.models import Schedule

from crm.selectors import appointment_ids_calendar_unsynced
from crm.services import appointment_sync_calendar

logger = logging.getLogger(__name__)

SWEEP_SCHEDULE = "calendar-sync-sweep"


def sync_appointment_calendar(appointment_id: int) -> bool:
    """The one-minute retry of one appointment's calendar sync (the sweep catches it if this fails too)."""
    return appointment_sync_calendar(appointment_id=appointment_id, retry_later=False)


def sync_pending_calendar_events(limit: int = 200) -> int:
    """Retry every appointment whose calendar event is not in step (calendar was down). Returns how many synced."""
    ids = appointment_ids_calendar_unsynced(limit=limit)
    return sum(appointment_sync_calendar(appointment_id=pk, retry_later=False) for pk in ids)


def ensure_calendar_sweep() -> Schedule:
    """The five-minute sweep of unsynced appointments (idempotent)."""
    schedule, _ = Schedule.objects.update_or_create(
        name=SWEEP_SCHEDULE,
        defaults={"func": "crm.tasks.sync_pending_calendar_events", "schedule_type": Schedule.MINUTES,
                  "minutes": 5, "repeats": -1},
    )
    return schedule
