"""Staff: the reminder history (read-only) and "call now" on appointments."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from reminders.models import ReminderAttempt, ReminderOutcome
from reminders.tests.conftest import ALLOWED, ALSO_ALLOWED, STRANGER, TUESDAY
from reminders.tests.factories import ReminderAttemptFactory, appointment_at

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(twilio) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("advisor", "advisor@example.com", "pw-not-secret-123"))
    return client


def _call_now(client: Client, *pks: int):
    return client.post(reverse("admin:crm_appointment_changelist"),
                       {"action": "call_now", "_selected_action": [str(pk) for pk in pks]}, follow=True)


def test_call_now_dials_once_a_day_within_safe_mode(staff, twilio) -> None:
    allowed = appointment_at(TUESDAY, 9, phone=ALLOWED)
    stranger = appointment_at(TUESDAY, 10, phone=STRANGER)
    first = _call_now(staff, allowed.pk, stranger.pk)
    second = _call_now(staff, allowed.pk, stranger.pk)
    assert [form["To"] for form in twilio.created] == [[ALLOWED]]
    outcomes = dict(ReminderAttempt.objects.values_list("appointment_id", "outcome"))
    assert outcomes == {allowed.pk: ReminderOutcome.DIALLING, stranger.pk: ReminderOutcome.SKIPPED_SAFE_MODE}
    assert ReminderAttempt.objects.get(appointment=allowed).reminder_date == TUESDAY - timedelta(days=1)  # today
    assert f"Appointment {allowed.pk}: Dialling." in first.content.decode()
    assert f"Appointment {allowed.pk} already had a reminder call today." in second.content.decode()


def test_call_now_skips_cancelled_and_past_appointments(staff, twilio) -> None:
    cancelled = appointment_at(TUESDAY, 9, phone=ALLOWED, status="cancelled")
    past = appointment_at(TUESDAY - timedelta(days=2), 9, phone=ALSO_ALLOWED)
    page = _call_now(staff, cancelled.pk, past.pk).content.decode()
    assert twilio.created == [] and not ReminderAttempt.objects.exists()
    assert f"Appointment {cancelled.pk} is not upcoming" in page


def test_the_appointment_page_shows_its_reminder_history(staff) -> None:
    attempt = ReminderAttemptFactory.create(appointment=appointment_at(TUESDAY, 9, phone=ALLOWED),
                                     outcome=ReminderOutcome.VOICEMAIL)
    page = staff.get(reverse("admin:crm_appointment_change", args=[attempt.appointment_id]))
    assert page.status_code == 200 and "Left voicemail" in page.content.decode()


def test_reminder_attempts_are_listed_filtered_and_never_edited(staff) -> None:
    ReminderAttemptFactory.create(appointment=appointment_at(TUESDAY, 9, phone=ALLOWED),
                                  outcome=ReminderOutcome.NO_ANSWER)
    busy = ReminderAttemptFactory.create(appointment=appointment_at(TUESDAY, 10, phone=ALSO_ALLOWED),
                                  outcome=ReminderOutcome.BUSY)
    listing = staff.get(reverse("admin:reminders_reminderattempt_changelist"), {"outcome__exact": "busy"})
    assert list(listing.context["cl"].result_list) == [busy]
    assert staff.get(reverse("admin:reminders_reminderattempt_add")).status_code == 403
    change = staff.post(reverse("admin:reminders_reminderattempt_change", args=[busy.pk]), {"outcome": "confirmed"})
    assert change.status_code == 403
    busy.refresh_from_db()
    assert busy.outcome == ReminderOutcome.BUSY


def test_reminder_attempts_are_never_deleted_in_admin_not_even_by_a_superuser(staff) -> None:
    attempt = ReminderAttemptFactory.create(appointment=appointment_at(TUESDAY, 9, phone=ALLOWED))
    page = staff.get(reverse("admin:reminders_reminderattempt_change", args=[attempt.pk]))
    assert page.status_code == 200 and page.context["has_delete_permission"] is False
    delete = reverse("admin:reminders_reminderattempt_delete", args=[attempt.pk])
    assert staff.get(delete).status_code == 403
    assert staff.post(delete, {"post": "yes"}).status_code == 403
    listing = staff.get(reverse("admin:reminders_reminderattempt_changelist")).content.decode()
    assert "delete_selected" not in listing
    assert ReminderAttempt.objects.filter(pk=attempt.pk).exists()


def test_an_advisor_reads_reminder_attempts_but_cannot_delete_them(twilio) -> None:
    attempt = ReminderAttemptFactory.create(appointment=appointment_at(TUESDAY, 9, phone=ALLOWED))
    user = User.objects.create_user("sam", "sam@example.com", "pw-not-secret-123", is_staff=True)
    user.groups.add(Group.objects.get(name="advisor"))
    advisor = Client()
    advisor.force_login(user)
    assert advisor.get(reverse("admin:reminders_reminderattempt_changelist")).status_code == 200
    assert advisor.get(reverse("admin:reminders_reminderattempt_change", args=[attempt.pk])).status_code == 200
    assert advisor.post(reverse("admin:reminders_reminderattempt_delete", args=[attempt.pk]),
                        {"post": "yes"}).status_code == 403
    assert ReminderAttempt.objects.filter(pk=attempt.pk).exists()
