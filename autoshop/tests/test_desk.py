"""The desk's numbers that come from outside the CRM: the day's reminder calls and failed background tasks,
each linking to the admin list behind it."""

import uuid
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse
from django_q.models import Task

from reminders.tests.factories import ReminderAttemptFactory

pytestmark = pytest.mark.django_db

DAY = date(2026, 12, 15)
SHOP = ZoneInfo("America/New_York")


def _numbers(client: Client) -> dict:
    response = client.get(reverse("admin:index"), {"day": DAY.isoformat()})
    assert response.status_code == 200
    return {n.label: n for n in response.context["numbers"]}


@pytest.fixture
def superuser() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("boss", "boss@example.com", "pw-not-secret-123"))
    return client


@pytest.fixture
def advisor() -> Client:
    user = User.objects.create_user("sam", "sam@example.com", "pw-not-secret-123", is_staff=True)
    user.groups.add(Group.objects.get(name="advisor"))
    client = Client()
    client.force_login(user)
    return client


def test_reminder_results_count_the_days_attempts_by_outcome_and_link_to_them(advisor: Client) -> None:
    confirmed = {ReminderAttemptFactory.create(reminder_date=DAY, outcome="confirmed") for _ in range(2)}
    ReminderAttemptFactory.create(reminder_date=DAY, outcome="no_answer")
    ReminderAttemptFactory.create(reminder_date=DAY - timedelta(days=1), outcome="confirmed")
    number = _numbers(advisor)["Reminder calls"]
    assert number.value == "3"
    assert [(p.label, p.value) for p in number.parts] == [("confirmed", "2"), ("no answer", "1")]
    assert len(advisor.get(number.url).context["cl"].result_list) == 3
    assert set(advisor.get(number.parts[0].url).context["cl"].result_list) == confirmed


def test_failed_tasks_count_the_days_failures_and_link_only_for_who_may_see_the_queue(superuser: Client,
                                                                                      advisor: Client) -> None:
    def task(stopped: datetime, success: bool) -> Task:
        return Task.objects.create(id=uuid.uuid4().hex, name=uuid.uuid4().hex, func="crm.tasks.x",
                                   started=stopped, stopped=stopped, success=success)

    failed = task(datetime.combine(DAY, time(23, 30), tzinfo=SHOP), success=False)
    task(datetime.combine(DAY, time(9), tzinfo=SHOP), success=True)
    task(datetime.combine(DAY + timedelta(days=1), time(0, 30), tzinfo=SHOP), success=False)
    number = _numbers(superuser)["Failed background tasks"]
    assert number.value == "1"
    assert [t.pk for t in superuser.get(number.url).context["cl"].result_list] == [failed.pk]
    assert _numbers(advisor)["Failed background tasks"].url is None
