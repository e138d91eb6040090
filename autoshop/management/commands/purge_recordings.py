"""`manage.py purge_recordings`: delete call recordings older than the recordings' retention period."""

from typing import Any

from autoshop.management.retention_command import RetentionCommand
from autoshop.retention import recordings_purge


class Command(RetentionCommand):
    help = ("Delete the recordings of calls older than --older-than-days (default RECORDING_RETENTION_DAYS): "
            "the audio files, and the call logs' recording field cleared. The call logs themselves stay.")
    retention_setting, kept = "RECORDING_RETENTION_DAYS", "recordings"

    def handle(self, *args: Any, **options: Any) -> None:
        days, cutoff = self.cutoff(options)
        purged = recordings_purge(older_than=cutoff, dry_run=options["dry_run"])
        self.report(options, f"{purged} call recordings", days, cutoff)
