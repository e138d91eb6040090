"""Retention: call transcripts and reminder attempts are kept for RECORD_RETENTION_DAYS, then deleted;
call recordings for RECORDING_RETENTION_DAYS (the call log stays, without its recording).
This is the only way they are deleted (admin shows them read-only), so what goes, and when, is one rule."""

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.conf import settings
from django.core.files.storage import Storage
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
    recordings: int = 0


def records_purge(*, older_than: datetime, dry_run: bool = False) -> Purged:
    """Delete call logs that started, and reminder attempts claimed, before `older_than`."""
    call_logs = CallLog.objects.filter(started_at__lt=older_than)
    attempts = ReminderAttempt.objects.filter(claimed_at__lt=older_than)
    if dry_run:
        return Purged(call_logs=call_logs.count(), reminder_attempts=attempts.count())
    recordings = list(call_logs.exclude(recording="").values_list("recording", flat=True))
    with transaction.atomic():
        _, attempts_deleted = attempts.delete()
        _, calls_deleted = call_logs.delete()
    for name in recordings:  # a deleted call's recording goes with it
        _recording_storage().delete(name)
    return Purged(call_logs=calls_deleted.get(CallLog._meta.label, 0),
                  reminder_attempts=attempts_deleted.get(ReminderAttempt._meta.label, 0))


def recordings_purge(*, older_than: datetime, dry_run: bool = False) -> int:
    """Delete the recordings of calls that started before `older_than`: the file, then the call log's
    field cleared (the call log stays). How many went (or, on a dry run, would go)."""
    calls = CallLog.objects.filter(started_at__lt=older_than).exclude(recording="")
    if dry_run:
        return calls.count()
    purged = 0
    for pk, name in calls.values_list("pk", "recording").iterator():
        _recording_storage().delete(name)  # first: a field cleared over a file left behind would lose it
        purged += CallLog.objects.filter(pk=pk, recording=name).update(recording="")
    return purged


def _recording_storage() -> Storage:
    return CallLog._meta.get_field("recording").storage


RETENTION_SCHEDULE = "record-retention"


def purge_expired_records() -> Purged:
    """The daily django-q2 task: delete records older than RECORD_RETENTION_DAYS and recordings older
    than RECORDING_RETENTION_DAYS."""
    now = timezone.now()
    purged = records_purge(older_than=now - timedelta(days=settings.RECORD_RETENTION_DAYS))
    recordings = recordings_purge(older_than=now - timedelta(days=settings.RECORDING_RETENTION_DAYS))
    return replace(purged, recordings=recordings)


def ensure_retention_schedule() -> Schedule:
    """The daily retention run, at 03:00 shop time (idempotent, made by `manage.py setup_schedules`)."""
    schedule, _ = Schedule.objects.update_or_create(
        name=RETENTION_SCHEDULE,
        defaults={"func": "autoshop.retention.purge_expired_records", "schedule_type": Schedule.CRON,
                  "cron": "0 3 * * *", "repeats": -1},
    )
    return schedule
