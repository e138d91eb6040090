"""`manage.py setup_schedules`: create every recurring task (idempotent; run on every deploy)."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from autoshop.retention import ensure_retention_schedule
from crm.tasks import ensure_calendar_sweep
from reminders.tasks import ensure_daily_schedule
from scheduling.shop import shop_timezone


class Command(BaseCommand):
    help = ("Create or update the daily reminder calls (REMINDER_HOUR, shop time), the calendar sync sweep "
            "and the daily record retention run.")

    def handle(self, *args: Any, **options: Any) -> None:
        reminders = ensure_daily_schedule()
        sweep = ensure_calendar_sweep()
        when = reminders.next_run.astimezone(shop_timezone())
        self.stdout.write(f"{reminders.name}: next run {when:%Y-%m-%d %H:%M %Z}")
        self.stdout.write(f"{sweep.name}: every {sweep.minutes} minutes")
        retention = ensure_retention_schedule()
        self.stdout.write(f"{retention.name}: daily at 03:00, deletes records older than "
                          f"{settings.RECORD_RETENTION_DAYS} days and recordings older than "
                          f"{settings.RECORDING_RETENTION_DAYS} days")
