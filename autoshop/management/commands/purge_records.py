"""`manage.py purge_records`: delete call logs and reminder attempts older than the retention period."""

from typing import Any

from autoshop.management.retention_command import RetentionCommand
from autoshop.retention import records_purge


class Command(RetentionCommand):
    help = ("Delete call logs (transcripts) and reminder attempts older than --older-than-days "
            "(default RECORD_RETENTION_DAYS). The only way these records are deleted; admin shows them read-only.")
    retention_setting, kept = "RECORD_RETENTION_DAYS", "records"

    def handle(self, *args: Any, **options: Any) -> None:
        days, cutoff = self.cutoff(options)
        purged = records_purge(older_than=cutoff, dry_run=options["dry_run"])
        self.report(options, f"{purged.call_logs} call logs and {purged.reminder_attempts} reminder attempts",
                    days, cutoff)
