"""A reminder call that reaches no one (no answer, busy, an answering machine) is followed by a reminder text,
queued through django-q2 once the call's result is committed; "C" to that text confirms the appointment."""

import pytest

from crm.models import AppointmentStatus, SmsMessage, SmsStatus
from reminders.models import ReminderAttempt, ReminderOutcome
from reminders.services import send_reminders
from reminders.tests.conftest import ALLOWED, BASE, SHOP_NUMBER, TUESDAY
from reminders.tests.factories import appointment_at
from texts.services import reminder_text_send
from texts.tests.conftest import ADDRESS

pytestmark = pytest.mark.django_db


@pytest.fixture
def dialled(twilio) -> ReminderAttempt:
    """A reminder call placed to Marge about her 9 o'clock oil change on Tuesday (no vehicle on it)."""
    appointment_at(TUESDAY, 9, phone=ALLOWED, name="Marge Simpson", vehicle=None)
    send_reminders(sleep=lambda seconds: None)
    return ReminderAttempt.objects.select_related("appointment").get()


def call_status(signed_post, attempt: ReminderAttempt, status: str, capture) -> None:
    with capture(execute=True):
        response = signed_post(f"/twilio/reminder/{attempt.pk}/status", {"CallSid": attempt.call_sid,
                                                                          "CallStatus": status})
    assert response.status_code == 204


@pytest.mark.parametrize("status", ["no-answer", "busy"])
def test_a_reminder_call_nobody_picked_up_is_followed_by_a_reminder_text(
        dialled, twilio, signed_post, tasks_inline, django_capture_on_commit_callbacks, status: str) -> None:
    call_status(signed_post, dialled, status, django_capture_on_commit_callbacks)
    call_status(signed_post, dialled, status, django_capture_on_commit_callbacks)  # Twilio repeated itself
    [form] = twilio.texts
    assert form["To"] == [ALLOWED] and form["From"] == [SHOP_NUMBER]
    assert form["Body"] == [f"Bart's Automotive: a reminder of your oil change on Tuesday, November 24 at 9 AM, at "
                            f"{ADDRESS}. Reply C to confirm, or call (555) 010-0100 to change it. "
                            "Reply STOP to opt out."]
    message = SmsMessage.objects.get()
    assert (message.kind, message.appointment_id, message.status) == ("reminder", dialled.appointment_id,
                                                                      SmsStatus.QUEUED)
    assert form["StatusCallback"] == [f"{BASE}/twilio/sms/{message.pk}/status"]


def test_an_answering_machine_gets_the_voicemail_and_then_the_text(
        dialled, twilio, signed_post, tasks_inline, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_post(f"/twilio/reminder/{dialled.pk}/amd",
                               {"CallSid": dialled.call_sid, "AnsweredBy": "machine_end_beep"})
    assert response.status_code == 204
    dialled.refresh_from_db()
    assert dialled.outcome == ReminderOutcome.VOICEMAIL and len(twilio.updates) == 1
    assert len(twilio.texts) == 1 and "Reply C to confirm" in twilio.texts[0]["Body"][0]


def test_a_reminder_call_the_customer_answered_is_not_followed_by_a_text(
        dialled, twilio, signed_post, tasks_inline, django_capture_on_commit_callbacks) -> None:
    call_status(signed_post, dialled, "in-progress", django_capture_on_commit_callbacks)
    call_status(signed_post, dialled, "completed", django_capture_on_commit_callbacks)
    assert twilio.texts == []


def test_with_sms_reminders_off_no_reminder_text_follows(
        dialled, twilio, settings, signed_post, tasks_inline, django_capture_on_commit_callbacks) -> None:
    settings.SMS_REMINDERS = False
    call_status(signed_post, dialled, "no-answer", django_capture_on_commit_callbacks)
    assert twilio.texts == [] and not SmsMessage.objects.exists()


def test_a_reminder_text_is_sent_once_and_not_for_an_appointment_cancelled_meanwhile(dialled, twilio) -> None:
    assert reminder_text_send(appointment_id=dialled.appointment_id) is not None
    assert reminder_text_send(appointment_id=dialled.appointment_id) is None  # a retried task does not text twice
    appointment = dialled.appointment
    appointment.status = AppointmentStatus.CANCELLED
    appointment.save()
    SmsMessage.objects.all().delete()
    assert reminder_text_send(appointment_id=appointment.pk) is None
    assert len(twilio.texts) == 1


def test_replying_c_to_the_reminder_text_confirms_the_appointment(
        dialled, twilio, signed_post, tasks_inline, django_capture_on_commit_callbacks) -> None:
    call_status(signed_post, dialled, "no-answer", django_capture_on_commit_callbacks)
    response = signed_post("/twilio/sms", {"MessageSid": "SM" + "c" * 32, "From": ALLOWED, "To": SHOP_NUMBER,
                                           "Body": "C"})
    assert response.status_code == 200 and b"is confirmed" in response.content
    dialled.appointment.refresh_from_db()
    assert dialled.appointment.status == AppointmentStatus.CONFIRMED
