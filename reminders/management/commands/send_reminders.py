"""`manage.py send_reminders`: call everyone booked for a day (default tomorrow) to remind them."""

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from crm.phones import mask_phone
from reminders.services import reminders_due, send_reminders, tomorrow
from scheduling.shop import shop_timezone


class Command(BaseCommand):
    help = ("Place reminder calls for appointments on a day (default: tomorrow, shop time). Each appointment is "
            "called at most once per day; safe mode dials only REMINDER_ALLOWED_NUMBERS.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--date", help="The appointments' day, YYYY-MM-DD (default: tomorrow).")
        parser.add_argument("--dry-run", action="store_true", help="List who would be called; change nothing.")
        parser.add_argument("--limit", type=int, help="Call at most this many.")
        parser.add_argument("--pace", type=float, help="Seconds between calls (default REMINDER_PACE_SECONDS).")

    def handle(self, *args: Any, **options: Any) -> None:
        day = tomorrow()
        if options["date"]:
            try:
                day = date.fromisoformat(options["date"])
            except ValueError as exc:
                raise CommandError(f"--date must look like 2026-11-24, not {options['date']!r}.") from exc
        if day < timezone.now().astimezone(shop_timezone()).date():
            raise CommandError(f"{day} is in the past; reminders are for today or later.")
        if options["limit"] is not None and options["limit"] < 1:
            raise CommandError("--limit must be at least 1.")
        if options["dry_run"]:
            due = reminders_due(day)[: options["limit"]] if options["limit"] else reminders_due(day)
            for appointment in due:
                self.stdout.write(f"would call {mask_phone(appointment.customer.phone)} about appointment "
                                  f"{appointment.pk} at {timezone.localtime(appointment.scheduled_at):%H:%M}")
        run = send_reminders(day=day, dry_run=options["dry_run"], limit=options["limit"], pace_seconds=options["pace"])
        verb = "would remind" if run.dry_run else "reminded"
        self.stdout.write(f"{day}: {run.due} due, {verb} {len(run.dialled)}, skipped by safe mode {len(run.skipped)}, "
                          f"failed {len(run.failed)}, already claimed {run.already_claimed}")
