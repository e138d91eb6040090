"""django-q2 entry points for reminder calls, and the daily schedule that runs them."""

import logging

from django.conf import settings
from django_q.models import Schedule

from reminders.services import send_reminders
from scheduling.shop import shop_now

logger = logging.getLogger(__name__)

DAILY_SCHEDULE = "daily-reminder-calls"
DAILY_FUNC = "reminders.tasks.send_daily_reminders"
# A run the cluster only gets to late (it was down at 09:00) must not ring people at night.
CALLING_HOURS = range(8, 20)  # shop-local hours in which a scheduled run may dial


def send_daily_reminders() -> dict[str, int | str]:
    """The daily run: remind everyone booked tomorrow (shop time). Safe to run twice."""
    now = shop_now()
    if now.hour not in CALLING_HOURS:
        logger.warning("daily reminder run at %s shop time is outside calling hours; nobody called", f"{now:%H:%M}")
        return {"skipped": "outside calling hours"}
    run = send_reminders()
    return {"day": run.day.isoformat(), "due": len(run.due), "dialled": len(run.dialled),
            "skipped": len(run.skipped), "failed": len(run.failed), "already_claimed": len(run.already_claimed)}


def reminder_cron() -> str:
    return f"0 {int(getattr(settings, 'REMINDER_HOUR', 9))} * * *"


def ensure_daily_schedule(using: str = "default") -> Schedule:
    """Create the daily schedule, or bring it in line with REMINDER_HOUR (idempotent).

    django-q2 reads cron in `Q_CLUSTER["time_zone"]`, by default Django's TIME_ZONE, which is the
    shop's: "0 9 * * *" is 09:00 at the shop on both sides of a DST change. A schedule that is
    already right keeps its next_run, so a deploy at 09:00:10 does not skip today's run."""
    cron = reminder_cron()
    schedules = Schedule.objects.using(using)
    existing = list(schedules.filter(name=DAILY_SCHEDULE).order_by("pk"))
    if len(existing) > 1:  # name is not unique in django-q2: two deploys at once could both create it
        schedules.filter(pk__in=[extra.pk for extra in existing[1:]]).delete()
    schedule = existing[0] if existing else None
    if schedule is None:
        # Schedule.save() computes next_run from the cron expression for a new CRON schedule.
        schedule = Schedule(name=DAILY_SCHEDULE, func=DAILY_FUNC, schedule_type=Schedule.CRON, cron=cron, repeats=-1)
        schedule.save(using=using)
        return schedule
    if (schedule.func, schedule.schedule_type, schedule.cron, schedule.repeats) != (
            DAILY_FUNC, Schedule.CRON, cron, -1):
        schedule.func, schedule.schedule_type, schedule.cron, schedule.repeats = DAILY_FUNC, Schedule.CRON, cron, -1
        schedule.next_run = schedule.calculate_next_run()
        schedule.save(using=using)
    return schedule
