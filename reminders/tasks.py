"""django-q2 entry points for reminder calls."""

from croniter import croniter
from django.conf import settings
from django.utils import timezone
from django_q.models import Schedule

from reminders.services import ReminderRun, send_reminders

DAILY_SCHEDULE = "daily-reminder-calls"


def send_daily_reminders() -> dict[str, int]:
    """The 09:00 run: remind everyone booked tomorrow (shop time)."""
    run: ReminderRun = send_reminders()
    return {"due": run.due, "dialled": len(run.dialled), "skipped": len(run.skipped), "failed": len(run.failed)}


def ensure_daily_schedule() -> Schedule:
    """Create or update the daily reminder schedule (idempotent). django-q2 reads cron in TIME_ZONE,
    which is the shop's timezone, so "0 9 * * *" is 09:00 at the shop, DST included."""
    cron = f"0 {int(settings.REMINDER_HOUR)} * * *"
    next_run = croniter(cron, timezone.localtime()).get_next(type(timezone.localtime()))
    schedule, _ = Schedule.objects.update_or_create(
        name=DAILY_SCHEDULE,
        defaults={"func": "reminders.tasks.send_daily_reminders", "schedule_type": Schedule.CRON, "cron": cron,
                  "repeats": -1, "next_run": next_run},
    )
    return schedule
