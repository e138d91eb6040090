"""`manage.py send_reminders` and `manage.py schedule_reminders`."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django_q.models import Schedule

from reminders.models import ReminderAttempt
from reminders.tasks import DAILY_SCHEDULE
from reminders.tests.conftest import ALLOWED, ALSO_ALLOWED, STRANGER, TUESDAY
from reminders.tests.factories import appointment_at

pytestmark = pytest.mark.django_db


def _call(*args: str) -> str:
    out = StringIO()
    call_command("send_reminders", *args, "--pace", "0", stdout=out)
    return out.getvalue()


def test_a_dry_run_lists_masked_numbers_and_changes_nothing(twilio) -> None:
    appointment = appointment_at(TUESDAY, 9, phone=ALLOWED)
    out = _call("--dry-run")
    assert f"would call +1********00 about appointment {appointment.pk} (Oil change) at 09:00" in out
    assert "2026-11-24: 1 due; dry run, nobody called" in out and ALLOWED not in out
    assert not ReminderAttempt.objects.exists() and twilio.created == []


def test_a_run_prints_its_summary(twilio) -> None:
    appointment_at(TUESDAY, 9, phone=ALLOWED)
    appointment_at(TUESDAY, 10, phone=STRANGER)
    out = _call()
    assert "2026-11-24: 2 due, dialled 1, skipped by safe mode 1, failed 0, already claimed 0" in out


def test_a_date_and_a_limit_choose_whom_to_call(twilio) -> None:
    friday = TUESDAY + timedelta(days=3)
    appointment_at(TUESDAY, 9, phone=ALLOWED)
    appointment_at(friday, 9, phone=ALLOWED)
    appointment_at(friday, 10, phone=ALSO_ALLOWED)
    assert "2026-11-27: 1 due, dialled 1" in _call("--date", "2026-11-27", "--limit", "1")
    assert ReminderAttempt.objects.get().reminder_date == friday


def test_today_is_allowed_but_a_past_date_is_refused(twilio) -> None:
    _call("--date", "2026-11-23")
    with pytest.raises(CommandError, match=r"2026-11-22 is in the past \(today is 2026-11-23, shop time\)"):
        _call("--date", "2026-11-22")
    assert twilio.created == []


@pytest.mark.parametrize("text", ["next week", "24/11/2026", "2026-02-30"])
def test_a_malformed_date_is_refused_with_the_expected_form(twilio, text) -> None:
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        _call("--date", text)


def test_a_limit_below_one_is_refused(twilio) -> None:
    with pytest.raises(CommandError, match="--limit"):
        _call("--limit", "0")


def test_schedule_reminders_creates_the_daily_run_once_at_nine_shop_time(twilio) -> None:
    Schedule.objects.filter(name=DAILY_SCHEDULE).delete()  # `migrate` made one in the test database
    out = StringIO()
    call_command("schedule_reminders", stdout=out)
    call_command("schedule_reminders", stdout=out)
    schedule = Schedule.objects.get(name=DAILY_SCHEDULE)
    assert schedule.schedule_type == Schedule.CRON and schedule.cron == "0 9 * * *"
    assert schedule.func == "reminders.tasks.send_daily_reminders" and schedule.repeats == -1
    assert out.getvalue().count("next run 2026-11-24 09:00 EST") == 2


def test_setup_schedules_also_creates_the_daily_run(twilio) -> None:
    Schedule.objects.filter(name=DAILY_SCHEDULE).delete()
    call_command("setup_schedules", stdout=StringIO())
    assert Schedule.objects.filter(name=DAILY_SCHEDULE).count() == 1


def test_setup_schedules_makes_the_daily_retention_run_that_purges_old_records(twilio) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from crm.models import CallLog

    call_command("setup_schedules", stdout=StringIO())
    call_command("setup_schedules", stdout=StringIO())
    schedule = Schedule.objects.get(name="record-retention")
    assert schedule.cron == "0 3 * * *" and schedule.repeats == -1
    old = CallLog.objects.create(call_sid="CA-old", direction="inbound")
    CallLog.objects.filter(pk=old.pk).update(started_at=timezone.now() - timedelta(days=400))
    CallLog.objects.create(call_sid="CA-new", direction="inbound")
    module, _, name = schedule.func.rpartition(".")
    getattr(__import__(module, fromlist=[name]), name)()  # what the cluster runs
    assert list(CallLog.objects.values_list("call_sid", flat=True)) == ["CA-new"]
