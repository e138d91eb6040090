"""What the purge commands share: `--older-than-days` (a retention setting by default) and `--dry-run`."""

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone


class RetentionCommand(BaseCommand):
    """A command deleting what is older than a retention period; `retention_setting` names its default."""

    retention_setting = ""  # e.g. "RECORD_RETENTION_DAYS"
    kept = "records"  # what --older-than-days keeps, for its help

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than-days", type=int, default=None,
                            help=f"Keep this many days of {self.kept} (default: {self.retention_setting}).")
        parser.add_argument("--dry-run", action="store_true", help="Count what would be deleted; delete nothing.")

    def cutoff(self, options: dict[str, Any]) -> tuple[int, datetime]:
        """The days kept and the moment before which things go; a period under a day is refused."""
        days = options["older_than_days"]
        if days is None:
            days = getattr(settings, self.retention_setting)
        if days < 1:
            raise CommandError(f"--older-than-days must be at least 1 (got {days}).")
        return days, timezone.now() - timedelta(days=days)

    def report(self, options: dict[str, Any], what: str, days: int, cutoff: datetime) -> None:
        verb = "Would delete" if options["dry_run"] else "Deleted"
        self.stdout.write(f"{verb} {what} older than {days} days (before {cutoff:%Y-%m-%d %H:%M} UTC).")
