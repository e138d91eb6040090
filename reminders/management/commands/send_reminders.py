"""`manage.py send_reminders`: call everyone booked for a day (default tomorrow) to remind them."""

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from crm.models import Appointment
from crm.phones import mask_phone
from reminders.selectors import shop_tomorrow
from reminders.services import send_reminders
from scheduling.shop import shop_timezone, shop_today


class Command(BaseCommand):
    help = ("Place reminder calls for the appointments on a day (default: tomorrow, shop time). Each appointment "
            "is called at most once per day; safe mode (REMINDER_SAFE_MODE) dials only REMINDER_ALLOWED_NUMBERS.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", help="The appointments' day, YYYY-MM-DD (default: tomorrow, shop time).")
        parser.add_argument("--dry-run", action="store_true", help="List who would be called; change nothing.")
        parser.add_argument("--limit", type=int, help="Call at most this many.")
        parser.add_argument("--pace", type=float, help="Seconds between calls (default REMINDER_PACE_SECONDS).")

    def handle(self, *args: Any, **options: Any) -> None:
        day = self._day(options["date"])
        if options["limit"] is not None and options["limit"] < 1:
            raise CommandError("--limit must be at least 1.")
        if options["pace"] is not None and options["pace"] < 0:
            raise CommandError("--pace cannot be negative.")
        run = send_reminders(day=day, dry_run=options["dry_run"], limit=options["limit"], pace_seconds=options["pace"])
        if run.dry_run:
            appointments = Appointment.objects.select_related("customer").in_bulk(run.due)
            for pk in run.due:
                appointment = appointments[pk]
                local = appointment.scheduled_at.astimezone(shop_timezone())
                self.stdout.write(f"would call {mask_phone(appointment.customer.phone)} about appointment {pk} "
                                  f"({appointment.get_service_type_display()}) at {local:%H:%M}")
            self.stdout.write(f"{day}: {len(run.due)} due; dry run, nobody called")
            return
        self.stdout.write(f"{day}: {len(run.due)} due, dialled {len(run.dialled)}, skipped by safe mode "
                          f"{len(run.skipped)}, failed {len(run.failed)}, already claimed {len(run.already_claimed)}")

    def _day(self, text: str | None) -> date:
        if not text:
            return shop_tomorrow()
        try:
            day = date.fromisoformat(text)
        except ValueError as exc:
            raise CommandError(f"--date must be a day like 2026-11-24 (YYYY-MM-DD), not {text!r}.") from exc
        today = shop_today()
        if day < today:
            raise CommandError(f"--date {day} is in the past (today is {today}, shop time); "
                               "reminders are for today or later.")
        return day
