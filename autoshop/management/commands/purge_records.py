"""`manage.py purge_records`: delete call logs and reminder attempts older than the retention period."""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from autoshop.retention import records_purge


class Command(BaseCommand):
    help = ("Delete call logs (transcripts) and reminder attempts older than --older-than-days "
            "(default RECORD_RETENTION_DAYS). The only way these records are deleted; admin shows them read-only.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than-days", type=int, default=None,
                            help="Keep this many days of records (default: RECORD_RETENTION_DAYS).")
        parser.add_argument("--dry-run", action="store_true", help="Count what would be deleted; delete nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["older_than_days"]
        if days is None:
            days = settings.RECORD_RETENTION_DAYS
        if days < 1:
            raise CommandError(f"--older-than-days must be at least 1 (got {days}).")
        cutoff = timezone.now() - timedelta(days=days)
        purged = records_purge(older_than=cutoff, dry_run=options["dry_run"])
        verb = "Would delete" if options["dry_run"] else "Deleted"
        self.stdout.write(f"{verb} {purged.call_logs} call logs and {purged.reminder_attempts} reminder attempts "
                          f"older than {days} days (before {cutoff:%Y-%m-%d %H:%M} UTC).")
