"""The daily run through django-q2: the schedule's hour in shop time (DST too), idempotent setup."""

from datetime import datetime

import pytest
import time_machine
from django.apps import apps
from django.core.management import call_command
from django_q.models import Schedule
from django_q.tasks import async_task, result

from reminders.models import ReminderAttempt
from reminders.signals import create_daily_schedule
from reminders.tasks import DAILY_SCHEDULE, ensure_daily_schedule, send_daily_reminders
from reminders.tests.conftest import ALLOWED, NY, TUESDAY
from reminders.tests.factories import appointment_at

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_schedule() -> None:
    Schedule.objects.filter(name=DAILY_SCHEDULE).delete()  # `migrate` made one in the test database


def _local(moment: datetime) -> tuple[int, int, int, int, int]:
    local = moment.astimezone(NY)
    return local.year, local.month, local.day, local.hour, local.minute


def test_the_first_run_is_the_next_nine_oclock_at_the_shop(twilio, no_schedule) -> None:
    with time_machine.travel(datetime(2026, 11, 23, 8, 0, tzinfo=NY), tick=False):
        assert _local(ensure_daily_schedule().next_run) == (2026, 11, 23, 9, 0)
    Schedule.objects.all().delete()
    with time_machine.travel(datetime(2026, 11, 23, 9, 1, tzinfo=NY), tick=False):
        assert _local(ensure_daily_schedule().next_run) == (2026, 11, 24, 9, 0)


def test_django_q_keeps_nine_oclock_shop_time_across_the_dst_change(twilio, no_schedule) -> None:
    with time_machine.travel(datetime(2026, 10, 31, 9, 30, tzinfo=NY), tick=False):  # Saturday, still EDT
        schedule = ensure_daily_schedule()
        assert schedule.next_run.utcoffset() is not None
        assert _local(schedule.next_run) == (2026, 11, 1, 9, 0)  # Sunday, EST from 02:00
        assert schedule.next_run.astimezone(NY).utcoffset().total_seconds() == -5 * 3600
    with time_machine.travel(datetime(2026, 11, 1, 9, 0, 30, tzinfo=NY), tick=False):
        # what django-q2's scheduler does after a run: ask the schedule for its next time
        assert _local(schedule.calculate_next_run()) == (2026, 11, 2, 9, 0)
    with time_machine.travel(datetime(2026, 3, 7, 9, 30, tzinfo=NY), tick=False):  # spring forward on the 8th
        assert _local(schedule.calculate_next_run()) == (2026, 3, 8, 9, 0)


def test_setting_up_again_after_nine_does_not_skip_todays_pending_run(twilio, no_schedule) -> None:
    with time_machine.travel(datetime(2026, 11, 23, 8, 0, tzinfo=NY), tick=False):
        first = ensure_daily_schedule()
    with time_machine.travel(datetime(2026, 11, 23, 9, 0, 10, tzinfo=NY), tick=False):  # a deploy, 10 s late
        again = ensure_daily_schedule()
    assert again.pk == first.pk and _local(again.next_run) == (2026, 11, 23, 9, 0)
    assert Schedule.objects.filter(name=DAILY_SCHEDULE).count() == 1


def test_a_new_reminder_hour_moves_the_schedule(twilio, settings, no_schedule) -> None:
    ensure_daily_schedule()
    settings.REMINDER_HOUR = 10
    with time_machine.travel(datetime(2026, 11, 23, 9, 30, tzinfo=NY), tick=False):
        schedule = ensure_daily_schedule()
    assert schedule.cron == "0 10 * * *" and _local(schedule.next_run) == (2026, 11, 23, 10, 0)


def test_duplicate_schedules_left_by_concurrent_deploys_are_merged(twilio, no_schedule) -> None:
    for _ in range(2):
        Schedule.objects.create(name=DAILY_SCHEDULE, func="reminders.tasks.send_daily_reminders",
                                schedule_type=Schedule.CRON, cron="0 9 * * *")
    kept = ensure_daily_schedule()
    assert list(Schedule.objects.filter(name=DAILY_SCHEDULE)) == [kept]


def test_migrate_creates_the_schedule(twilio, no_schedule) -> None:
    call_command("migrate", verbosity=0)
    assert Schedule.objects.filter(name=DAILY_SCHEDULE, cron="0 9 * * *").count() == 1
    create_daily_schedule(sender=apps.get_app_config("reminders"), using="default")
    assert Schedule.objects.filter(name=DAILY_SCHEDULE).count() == 1


def test_the_scheduled_task_reminds_tomorrows_customers_through_django_q(twilio) -> None:
    appointment_at(TUESDAY, 9, phone=ALLOWED)
    schedule = ensure_daily_schedule()
    task_id = async_task(schedule.func, sync=True)
    assert result(task_id) == {"day": "2026-11-24", "due": 1, "dialled": 1, "skipped": 0, "failed": 0,
                               "already_claimed": 0}
    assert len(twilio.created) == 1


def test_a_run_started_late_at_night_calls_nobody(twilio) -> None:
    appointment_at(TUESDAY, 9, phone=ALLOWED)
    with time_machine.travel(datetime(2026, 11, 23, 21, 15, tzinfo=NY), tick=False):
        assert send_daily_reminders() == {"skipped": "outside calling hours"}
    assert twilio.created == [] and not ReminderAttempt.objects.exists()
