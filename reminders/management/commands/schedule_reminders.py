"""`manage.py schedule_reminders`: create or update the daily reminder run (idempotent)."""

from typing import Any

from django.core.management.base import BaseCommand

from reminders.tasks import ensure_daily_schedule
from scheduling.shop import shop_timezone


class Command(BaseCommand):
    help = "Create or update the django-q2 schedule that places reminder calls daily at REMINDER_HOUR, shop time."

    def handle(self, *args: Any, **options: Any) -> None:
        schedule = ensure_daily_schedule()
        when = schedule.next_run.astimezone(shop_timezone())
        self.stdout.write(f"{schedule.name}: cron {schedule.cron!r} (shop time), next run {when:%Y-%m-%d %H:%M %Z}")
