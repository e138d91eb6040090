"""`manage.py setup_schedules`: create the recurring tasks (idempotent; run on every deploy)."""

from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from crm.tasks import ensure_calendar_sweep
from reminders.tasks import ensure_daily_schedule


class Command(BaseCommand):
    help = "Create or update the daily reminder calls (09:00 shop time) and the calendar sync sweep."

    def handle(self, *args: Any, **options: Any) -> None:
        reminders = ensure_daily_schedule()
        sweep = ensure_calendar_sweep()
        when = timezone.localtime(reminders.next_run).strftime("%Y-%m-%d %H:%M %Z")
        self.stdout.write(f"{reminders.name}: next run {when}")
        self.stdout.write(f"{sweep.name}: every {sweep.minutes} minutes")
