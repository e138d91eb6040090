"""Retention: call transcripts and reminder attempts are kept for RECORD_RETENTION_DAYS, then deleted.
This is the only way they are deleted (admin shows them read-only), so what goes, and when, is one rule."""

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from crm.models import CallLog
from reminders.models import ReminderAttempt


@dataclass(frozen=True, slots=True)
class Purged:
    """How many records were (or, on a dry run, would be) deleted."""

    call_logs: int
    reminder_attempts: int


def records_purge(*, older_than: datetime, dry_run: bool = False) -> Purged:
    """Delete call logs that started, and reminder attempts claimed, before `older_than`."""
    call_logs = CallLog.objects.filter(started_at__lt=older_than)
    attempts = ReminderAttempt.objects.filter(claimed_at__lt=older_than)
    if dry_run:
        return Purged(call_logs=call_logs.count(), reminder_attempts=attempts.count())
    with transaction.atomic():
        _, attempts_deleted = attempts.delete()
        _, calls_deleted = call_logs.delete()
    return Purged(call_logs=calls_deleted.get(CallLog._meta.label, 0),
                  reminder_attempts=attempts_deleted.get(ReminderAttempt._meta.label, 0))
