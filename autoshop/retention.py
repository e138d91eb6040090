"""Retention: call transcripts and reminder attempts are kept for RECORD_RETENTION_DAYS, then deleted.
This is the only way they are deleted (admin shows them read-only), so what goes, and when, is one rule."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_q.models import Schedule

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


RETENTION_SCHEDULE = "record-retention"


def purge_expired_records() -> Purged:
    """The daily django-q2 task: delete what is older than RECORD_RETENTION_DAYS."""
    return records_purge(older_than=timezone.now() - timedelta(days=settings.RECORD_RETENTION_DAYS))


def ensure_retention_schedule() -> Schedule:
    """The daily retention run, at 03:00 shop time (idempotent, made by `manage.py setup_schedules`)."""
    schedule, _ = Schedule.objects.update_or_create(
        name=RETENTION_SCHEDULE,
        defaults={"func": "autoshop.retention.purge_expired_records", "schedule_type": Schedule.CRON,
                  "cron": "0 3 * * *", "repeats": -1},
    )
    return schedule
