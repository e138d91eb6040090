"""`manage.py purge_recordings`: delete call recordings older than the recordings' retention period."""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from autoshop.retention import recordings_purge


class Command(BaseCommand):
    help = ("Delete the recordings of calls older than --older-than-days (default RECORDING_RETENTION_DAYS): "
            "the audio files, and the call logs' recording field cleared. The call logs themselves stay.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than-days", type=int, default=None,
                            help="Keep this many days of recordings (default: RECORDING_RETENTION_DAYS).")
        parser.add_argument("--dry-run", action="store_true", help="Count what would be deleted; delete nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["older_than_days"]
        if days is None:
            days = settings.RECORDING_RETENTION_DAYS
        if days < 1:
            raise CommandError(f"--older-than-days must be at least 1 (got {days}).")
        cutoff = timezone.now() - timedelta(days=days)
        purged = recordings_purge(older_than=cutoff, dry_run=options["dry_run"])
        verb = "Would delete" if options["dry_run"] else "Deleted"
        self.stdout.write(f"{verb} {purged} call recordings older than {days} days "
                          f"(before {cutoff:%Y-%m-%d %H:%M} UTC).")
