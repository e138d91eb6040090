"""`manage.py purge_records`: call logs and reminder attempts past the retention period go, nothing else."""

from datetime import datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command

from crm.models import Appointment, CallLog, Customer
from crm.tests.factories import CallLogFactory
from reminders.models import ReminderAttempt
from reminders.tests.factories import ReminderAttemptFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=ZoneInfo("UTC"))


def _records_aged(days: int) -> tuple[CallLog, ReminderAttempt]:
    """A call log and a reminder attempt made `days` days before NOW."""
    with time_machine.travel(NOW - timedelta(days=days), tick=False):
        call = CallLogFactory.create(started_at=NOW - timedelta(days=days))
        attempt = ReminderAttemptFactory.create()
    return call, attempt


def _purge(*args: str) -> str:
    out = StringIO()
    with time_machine.travel(NOW, tick=False):
        call_command("purge_records", *args, stdout=out)
    return out.getvalue()


def test_records_older_than_the_given_days_are_deleted_and_newer_ones_kept() -> None:
    old_call, old_attempt = _records_aged(400)
    new_call, new_attempt = _records_aged(20)
    customers, appointments = Customer.objects.count(), Appointment.objects.count()
    output = _purge("--older-than-days", "30")
    assert "Deleted 1 call logs and 1 reminder attempts older than 30 days" in output
    assert list(CallLog.objects.all()) == [new_call]
    assert list(ReminderAttempt.objects.all()) == [new_attempt]
    assert (Customer.objects.count(), Appointment.objects.count()) == (customers, appointments)  # only records go
    assert not CallLog.objects.filter(pk=old_call.pk).exists()
    assert not ReminderAttempt.objects.filter(pk=old_attempt.pk).exists()


def test_the_default_period_is_record_retention_days(settings) -> None:
    settings.RECORD_RETENTION_DAYS = 365
    _records_aged(366)
    kept = _records_aged(364)
    assert "older than 365 days" in _purge()
    assert list(CallLog.objects.all()) == [kept[0]] and list(ReminderAttempt.objects.all()) == [kept[1]]


def test_a_dry_run_counts_and_deletes_nothing() -> None:
    _records_aged(400)
    _records_aged(401)
    assert "Would delete 2 call logs and 2 reminder attempts" in _purge("--older-than-days", "30", "--dry-run")
    assert (CallLog.objects.count(), ReminderAttempt.objects.count()) == (2, 2)


def test_a_period_under_one_day_is_refused() -> None:
    _records_aged(2)
    with pytest.raises(CommandError, match="at least 1"):
        _purge("--older-than-days", "0")
    assert CallLog.objects.count() == 1
