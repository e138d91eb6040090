"""Texts after a call books, moves or cancels: what they say (shop time, the car, the address), who is
never texted (opted out, safe mode), and Twilio refusing or failing, against a local Messages API."""

import pytest
from prometheus_client import REGISTRY

from crm.models import AppointmentAction, AppointmentStatus, SmsMessage, SmsStatus
from crm.services import call_appointment_record
from crm.tests.factories import VehicleFactory
from reminders.tests.conftest import ACCOUNT, ALLOWED, ALSO_ALLOWED, BASE, SHOP_NUMBER, STRANGER, TUESDAY
from reminders.tests.factories import appointment_at
from telephony.tests.twilio_rest import SERVER_ERROR, UNSUBSCRIBED, FakeTwilioREST
from texts.services import appointment_text_send
from texts.tasks import send_appointment_text
from texts.tests.conftest import ADDRESS

pytestmark = pytest.mark.django_db


def sms_count(outcome: str) -> float:
    return REGISTRY.get_sample_value("autoshop_sms_total", {"outcome": outcome}) or 0.0


def civic_at_half_past_two(phone: str = ALLOWED, **fields: object):
    """Marge's brake inspection on Tuesday at 2:30 PM shop time (19:30 UTC) for her 2018 Honda Civic."""
    appointment = appointment_at(TUESDAY, 14, 30, phone=phone, name="Marge Simpson", service_type="brake_inspection",
                                 vehicle=None, **fields)
    appointment.vehicle = VehicleFactory.create(customer=appointment.customer, year=2018, make="Honda", model="Civic")
    appointment.save()
    return appointment


def test_a_booking_text_names_the_service_car_shop_time_and_address_and_goes_through_twilio(twilio) -> None:
    appointment = civic_at_half_past_two()
    sent_before = sms_count("sent")
    message = appointment_text_send(appointment_id=appointment.pk, action=AppointmentAction.BOOKED)
    assert message is not None and len(twilio.texts) == 1
    form = twilio.texts[0]
    assert form["To"] == [ALLOWED] and form["From"] == [SHOP_NUMBER]
    assert form["StatusCallback"] == [f"{BASE}/twilio/sms/{message.pk}/status"]
    body = form["Body"][0]
    assert body == ("Bart's Automotive: your brake inspection for your 2018 Honda Civic is booked for Tuesday, "
                    f"November 24 at 2:30 PM. We're at {ADDRESS}. To change it, call (555) 010-0100. "
                    "Reply STOP to opt out.")
    assert "7:30" not in body  # the shop's wall clock, not UTC
    assert body.isascii() and len(body) <= 306  # GSM-7, at most two segments
    assert message.message_sid == next(iter(twilio.messages)) and message.message_sid.startswith("SM")
    assert (message.status, message.kind, message.body, message.customer, message.appointment) == (
        SmsStatus.QUEUED, "booked", body, appointment.customer, appointment)
    assert sms_count("sent") == sent_before + 1


def test_a_moved_appointment_is_texted_its_new_time(twilio) -> None:
    appointment = civic_at_half_past_two()
    appointment_text_send(appointment_id=appointment.pk, action=AppointmentAction.MOVED)
    assert "is moved to Tuesday, November 24 at 2:30 PM" in twilio.texts[0]["Body"][0]


def test_a_cancellation_text_says_so_with_the_way_to_book_again(twilio) -> None:
    appointment = civic_at_half_past_two(status=AppointmentStatus.CANCELLED)
    appointment_text_send(appointment_id=appointment.pk, action=AppointmentAction.CANCELLED)
    body = twilio.texts[0]["Body"][0]
    assert "2018 Honda Civic on Tuesday, November 24 at 2:30 PM is cancelled" in body
    assert "call (555) 010-0100" in body and ADDRESS in body


def test_an_appointment_without_a_car_is_texted_without_one(twilio) -> None:
    appointment = appointment_at(TUESDAY, 9, phone=ALLOWED, vehicle=None)
    appointment_text_send(appointment_id=appointment.pk, action=AppointmentAction.BOOKED)
    assert "your oil change is booked for Tuesday, November 24 at 9 AM." in twilio.texts[0]["Body"][0]


def test_a_booking_cancelled_before_its_text_went_out_gets_only_the_cancellation(twilio) -> None:
    appointment = civic_at_half_past_two(status=AppointmentStatus.CANCELLED)
    assert appointment_text_send(appointment_id=appointment.pk, action=AppointmentAction.BOOKED) is None
    assert twilio.texts == [] and not SmsMessage.objects.exists()


def test_a_customer_who_opted_out_is_never_texted_and_the_text_is_recorded_as_not_sent(twilio) -> None:
    appointment = civic_at_half_past_two()
    appointment.customer.sms_opt_out = True
    appointment.customer.save()
    message = appointment_text_send(appointment_id=appointment.pk, action=AppointmentAction.BOOKED)
    assert twilio.texts == []
    assert message is not None and message.status == SmsStatus.OPTED_OUT and message.message_sid == ""


def test_safe_mode_texts_only_the_allowlist_and_records_the_rest_as_blocked(twilio) -> None:
    texted = civic_at_half_past_two(phone=ALSO_ALLOWED)
    stranger = civic_at_half_past_two(phone=STRANGER)
    blocked_before = sms_count("skipped_safe_mode")
    appointment_text_send(appointment_id=texted.pk, action=AppointmentAction.BOOKED)
    message = appointment_text_send(appointment_id=stranger.pk, action=AppointmentAction.BOOKED)
    assert [form["To"] for form in twilio.texts] == [[ALSO_ALLOWED]]
    assert message is not None and message.status == SmsStatus.BLOCKED
    assert message.get_status_display() == "Not sent (safe mode)"
    assert sms_count("skipped_safe_mode") == blocked_before + 1


@pytest.mark.parametrize("text", ["", "enabled", "ture"])
def test_safe_mode_that_is_not_explicitly_off_still_blocks_strangers(twilio, settings, text: str) -> None:
    settings.REMINDER_SAFE_MODE = text
    stranger = civic_at_half_past_two(phone=STRANGER)
    message = appointment_text_send(appointment_id=stranger.pk, action=AppointmentAction.BOOKED)
    assert message is not None and message.status == SmsStatus.BLOCKED and twilio.texts == []


def test_with_safe_mode_off_every_customer_is_texted(twilio, settings) -> None:
    settings.REMINDER_SAFE_MODE = False
    stranger = civic_at_half_past_two(phone=STRANGER)
    appointment_text_send(appointment_id=stranger.pk, action=AppointmentAction.BOOKED)
    assert [form["To"] for form in twilio.texts] == [[STRANGER]]


def test_a_twilio_server_error_marks_the_text_failed_and_the_task_carries_on(twilio) -> None:
    appointment = civic_at_half_past_two()
    twilio.fail_next(SERVER_ERROR, on="message")
    failed_before = sms_count("failed")
    assert send_appointment_text(appointment.pk, AppointmentAction.BOOKED) == SmsStatus.FAILED
    message = SmsMessage.objects.get()
    assert (message.status, message.error_code, message.message_sid) == (SmsStatus.FAILED, "20500", "")
    assert twilio.rejected == [(f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json", 500)]
    assert sms_count("failed") == failed_before + 1


def test_twilio_unreachable_marks_the_text_failed(twilio, settings) -> None:
    appointment = civic_at_half_past_two()
    with FakeTwilioREST(ACCOUNT, "test-auth-token") as gone:
        settings.TWILIO_API_BASE_URL = gone.url
    message = appointment_text_send(appointment_id=appointment.pk, action=AppointmentAction.BOOKED)
    assert message is not None and message.status == SmsStatus.FAILED and message.error_code == "ConnectionError"


def test_twilio_saying_the_customer_unsubscribed_opts_them_out_here_too(twilio) -> None:
    appointment = civic_at_half_past_two()
    twilio.fail_next(UNSUBSCRIBED, on="message")
    message = appointment_text_send(appointment_id=appointment.pk, action=AppointmentAction.BOOKED)
    assert message is not None and message.status == SmsStatus.OPTED_OUT and message.error_code == "21610"
    appointment.customer.refresh_from_db()
    assert appointment.customer.sms_opt_out


def test_without_twilio_settings_the_text_is_recorded_as_failed(twilio, settings) -> None:
    settings.TWILIO_PHONE_NUMBER = ""
    appointment = civic_at_half_past_two()
    message = appointment_text_send(appointment_id=appointment.pk, action=AppointmentAction.BOOKED)
    assert message is not None and message.status == SmsStatus.FAILED and message.error_code == "unconfigured"
    assert twilio.texts == []


def test_a_call_that_books_moves_and_cancels_texts_each_once_committed_through_the_task_queue(
        twilio, tasks_inline, django_capture_on_commit_callbacks) -> None:
    appointment = civic_at_half_past_two()
    call_sid = "CA" + "3" * 32
    with django_capture_on_commit_callbacks(execute=True):
        call_appointment_record(call_sid=call_sid, appointment=appointment, action=AppointmentAction.BOOKED)
    with django_capture_on_commit_callbacks(execute=True):
        call_appointment_record(call_sid=call_sid, appointment=appointment, action=AppointmentAction.CONFIRMED)
    appointment.status = AppointmentStatus.CANCELLED
    appointment.save()
    with django_capture_on_commit_callbacks(execute=True):
        call_appointment_record(call_sid=call_sid, appointment=appointment, action=AppointmentAction.CANCELLED)
    assert [message.kind for message in SmsMessage.objects.order_by("pk")] == ["booked", "cancelled"]
    assert len(twilio.texts) == 2 and "is cancelled" in twilio.texts[1]["Body"][0]


def test_with_sms_confirmations_off_a_call_texts_nobody(twilio, settings, tasks_inline,
                                                        django_capture_on_commit_callbacks) -> None:
    settings.SMS_CONFIRMATIONS = False
    appointment = civic_at_half_past_two()
    with django_capture_on_commit_callbacks(execute=True):
        call_appointment_record(call_sid="CA" + "3" * 32, appointment=appointment, action=AppointmentAction.BOOKED)
    assert twilio.texts == [] and not SmsMessage.objects.exists()
