"""Reminder outcomes reach `/metrics` (autoshop_reminder_calls_total) once each, however often Twilio repeats
itself: an operator sees calls placed, skipped, answered, sent to voicemail, failed and confirmed."""

import pytest
from prometheus_client import REGISTRY

from crm.tests.factories import CallLogFactory
from reminders.models import ReminderAttempt
from reminders.services import send_reminders
from reminders.tests.conftest import ALLOWED, STRANGER, TUESDAY
from reminders.tests.factories import appointment_at

pytestmark = pytest.mark.django_db

OUTCOMES = ("dialling", "skipped_safe_mode", "answered", "voicemail", "no_answer", "failed", "confirmed")


def counts() -> dict[str, float]:
    return {outcome: REGISTRY.get_sample_value("autoshop_reminder_calls_total", {"outcome": outcome}) or 0.0
            for outcome in OUTCOMES}


def moved(before: dict[str, float]) -> dict[str, float]:
    return {outcome: value - before[outcome] for outcome, value in counts().items() if value != before[outcome]}


def test_a_run_counts_each_call_placed_and_each_skipped_in_safe_mode(twilio) -> None:
    appointment_at(TUESDAY, 9, phone=ALLOWED)
    appointment_at(TUESDAY, 10, phone=STRANGER)
    before = counts()
    send_reminders(sleep=lambda seconds: None)
    send_reminders(sleep=lambda seconds: None)  # already claimed: nobody called or counted twice
    assert moved(before) == {"dialling": 1, "skipped_safe_mode": 1}


def test_twilios_callbacks_count_once_each_even_when_repeated(twilio, signed_post) -> None:
    appointment_at(TUESDAY, 9, phone=ALLOWED)
    send_reminders(sleep=lambda seconds: None)
    attempt = ReminderAttempt.objects.get()
    before = counts()
    amd = {"CallSid": attempt.call_sid, "AnsweredBy": "machine_end_beep"}
    for _ in range(2):  # Twilio retried
        assert signed_post(f"/twilio/reminder/{attempt.pk}/status",
                           {"CallSid": attempt.call_sid, "CallStatus": "in-progress"}).status_code == 204
        assert signed_post(f"/twilio/reminder/{attempt.pk}/amd", amd).status_code == 204
    assert moved(before) == {"answered": 1, "voicemail": 1}


def test_a_call_that_never_connected_and_a_confirmed_one_are_counted(twilio, signed_post) -> None:
    appointment_at(TUESDAY, 9, phone=ALLOWED)
    appointment_at(TUESDAY, 11, phone="+15550102001")
    send_reminders(sleep=lambda seconds: None)
    busy, answered = ReminderAttempt.objects.order_by("appointment__scheduled_at")
    before = counts()
    signed_post(f"/twilio/reminder/{busy.pk}/status", {"CallSid": busy.call_sid, "CallStatus": "no-answer"})
    CallLogFactory.create(call_sid=answered.call_sid, direction="outbound", outcome="confirmed")
    assert moved(before) == {"no_answer": 1, "confirmed": 1}
