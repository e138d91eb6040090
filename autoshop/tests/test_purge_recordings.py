"""`manage.py purge_recordings`: recordings past their retention go (file and field), their call logs stay."""

from datetime import datetime, timedelta
from io import StringIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command

from autoshop.retention import purge_expired_records, records_purge
from crm.models import CallLog
from crm.tests.factories import CallLogFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=ZoneInfo("UTC"))


def _recorded_call(days: int) -> tuple[CallLog, Path]:
    """A call log made `days` days before NOW, with a recording file."""
    call = CallLogFactory.create(started_at=NOW - timedelta(days=days))
    call.recording.save(f"{call.call_sid}.wav", ContentFile(b"RIFF....WAVE"), save=True)
    return call, Path(call.recording.path)


def _purge(*args: str) -> str:
    out = StringIO()
    with time_machine.travel(NOW, tick=False):
        call_command("purge_recordings", *args, stdout=out)
    return out.getvalue()


def test_recordings_older_than_the_given_days_are_deleted_and_their_call_logs_kept() -> None:
    old, old_file = _recorded_call(40)
    new, new_file = _recorded_call(10)
    unrecorded = CallLogFactory.create(started_at=NOW - timedelta(days=50))
    assert old_file.exists() and new_file.exists()
    assert "Deleted 1 call recordings older than 30 days" in _purge("--older-than-days", "30")
    assert not old_file.exists() and new_file.exists()
    old.refresh_from_db()
    new.refresh_from_db()
    assert (old.recording.name, new.recording.name) == ("", new.recording.name) and new.recording.name
    assert set(CallLog.objects.all()) == {old, new, unrecorded}


def test_the_default_period_is_recording_retention_days(settings) -> None:
    settings.RECORDING_RETENTION_DAYS = 90
    _, gone = _recorded_call(91)
    _, kept = _recorded_call(89)
    assert "Deleted 1 call recordings older than 90 days" in _purge()
    assert not gone.exists() and kept.exists()


def test_a_dry_run_counts_and_deletes_nothing() -> None:
    _, first = _recorded_call(100)
    _, second = _recorded_call(120)
    assert "Would delete 2 call recordings" in _purge("--older-than-days", "30", "--dry-run")
    assert first.exists() and second.exists()
    assert CallLog.objects.exclude(recording="").count() == 2


def test_a_period_under_one_day_is_refused() -> None:
    _, kept = _recorded_call(5)
    with pytest.raises(CommandError, match="at least 1"):
        _purge("--older-than-days", "0")
    assert kept.exists()


def test_a_recording_whose_file_is_already_gone_is_cleared_from_its_call_log() -> None:
    call, path = _recorded_call(100)
    path.unlink()
    assert "Deleted 1 call recordings" in _purge("--older-than-days", "30")
    call.refresh_from_db()
    assert call.recording.name == ""


def test_a_call_log_deleted_by_the_record_retention_takes_its_recording_file_with_it() -> None:
    _, path = _recorded_call(400)
    records_purge(older_than=NOW - timedelta(days=365))
    assert not path.exists() and not CallLog.objects.exists()


def test_the_daily_run_deletes_recordings_past_their_own_period(settings) -> None:
    settings.RECORD_RETENTION_DAYS, settings.RECORDING_RETENTION_DAYS = 365, 90
    call, path = _recorded_call(100)
    with time_machine.travel(NOW, tick=False):
        purged = purge_expired_records()
    assert (purged.call_logs, purged.recordings) == (0, 1)
    assert not path.exists() and CallLog.objects.get(pk=call.pk).recording.name == ""
