"""Twilio's messaging webhooks: status callbacks keep each text's status, a customer's STOP / START / HELP /
C / YES is acted on and answered in TwiML, and a forged request changes nothing."""

import xml.etree.ElementTree as ET

import pytest
from django.test import Client

from crm.models import AppointmentAction, AppointmentStatus, Customer, SmsDirection, SmsMessage, SmsStatus
from reminders.tests.conftest import ALLOWED, BASE, SHOP_NUMBER, STRANGER, TUESDAY
from reminders.tests.factories import appointment_at
from texts.services import appointment_text_send, reminder_text_send
from texts.tests.conftest import ADDRESS

pytestmark = pytest.mark.django_db

FORGED = "Zm9yZ2VkIHNpZ25hdHVyZQ=="


@pytest.fixture
def texted(twilio) -> SmsMessage:
    """A booking text Twilio accepted for Marge's 9 o'clock oil change on Tuesday."""
    appointment = appointment_at(TUESDAY, 9, phone=ALLOWED, name="Marge Simpson")
    message = appointment_text_send(appointment_id=appointment.pk, action=AppointmentAction.BOOKED)
    assert message is not None and message.message_sid
    return message


def status(message: SmsMessage) -> tuple[str, str]:
    message.refresh_from_db()
    return message.status, message.error_code


def inbound(body: str, sid_digit: str = "1", sender: str = ALLOWED) -> dict[str, str]:
    """A customer's text as Twilio posts it to the shop number's messaging webhook."""
    return {"MessageSid": "SM" + sid_digit * 32, "SmsSid": "SM" + sid_digit * 32, "AccountSid": "AC" + "1" * 32,
            "From": sender, "To": SHOP_NUMBER, "Body": body, "NumMedia": "0", "NumSegments": "1",
            "SmsStatus": "received", "ApiVersion": "2010-04-01"}


def replies(response) -> list[ET.Element]:
    assert response.status_code == 200 and response["Content-Type"].startswith("text/xml")
    root = ET.fromstring(response.content)
    assert root.tag == "Response"
    return root.findall("Message")


# --- status callbacks ------------------------------------------------------------------------------


def test_status_callbacks_move_the_text_forward_and_keep_twilios_error_code(texted, signed_post) -> None:
    path = f"/twilio/sms/{texted.pk}/status"
    sid = texted.message_sid
    assert signed_post(path, {"MessageSid": sid, "MessageStatus": "sent"}).status_code == 204
    assert status(texted) == (SmsStatus.SENT, "")
    undelivered = {"MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    assert signed_post(path, undelivered).status_code == 204
    assert status(texted) == (SmsStatus.UNDELIVERED, "30003")


def test_a_late_or_repeated_callback_never_moves_a_text_back(texted, signed_post) -> None:
    path = f"/twilio/sms/{texted.pk}/status"
    for twilio_status in ("delivered", "sent", "queued", "delivered"):
        assert signed_post(path, {"MessageSid": texted.message_sid, "MessageStatus": twilio_status}).status_code == 204
    assert status(texted) == (SmsStatus.DELIVERED, "")


def test_a_forged_status_callback_is_refused(texted) -> None:
    response = Client().post(f"/twilio/sms/{texted.pk}/status", {"MessageSid": texted.message_sid,
                                                                  "MessageStatus": "failed"},
                             HTTP_X_TWILIO_SIGNATURE=FORGED)
    assert response.status_code == 403 and status(texted) == (SmsStatus.QUEUED, "")


def test_a_callback_about_another_text_is_not_found_and_a_malformed_sid_is_a_bad_request(texted, signed_post) -> None:
    path = f"/twilio/sms/{texted.pk}/status"
    assert signed_post(path, {"MessageSid": "SM" + "9" * 32, "MessageStatus": "failed"}).status_code == 404
    assert signed_post(path, {"MessageSid": "SM<script>", "MessageStatus": "failed"}).status_code == 400
    assert signed_post(f"/twilio/sms/{texted.pk + 100}/status", {"MessageSid": texted.message_sid,
                                                                 "MessageStatus": "failed"}).status_code == 404
    assert status(texted) == (SmsStatus.QUEUED, "")


def test_a_status_callback_for_a_text_we_received_is_not_found(twilio, signed_post) -> None:
    appointment_at(TUESDAY, 9, phone=ALLOWED)
    signed_post("/twilio/sms", inbound("hello"))
    received = SmsMessage.objects.get(direction=SmsDirection.INBOUND)
    response = signed_post(f"/twilio/sms/{received.pk}/status", {"MessageSid": received.message_sid,
                                                                 "MessageStatus": "failed"})
    assert response.status_code == 404 and status(received) == (SmsStatus.RECEIVED, "")


def test_the_webhooks_answer_only_post(texted) -> None:
    assert Client().get("/twilio/sms").status_code == 405
    assert Client().get(f"/twilio/sms/{texted.pk}/status").status_code == 405


# --- what customers text back ------------------------------------------------------------------------


def test_a_forged_inbound_text_is_refused_and_not_recorded(twilio) -> None:
    appointment_at(TUESDAY, 9, phone=ALLOWED)
    response = Client().post("/twilio/sms", inbound("STOP"), HTTP_X_TWILIO_SIGNATURE=FORGED)
    assert response.status_code == 403
    assert not SmsMessage.objects.exists() and not Customer.objects.get(phone=ALLOWED).sms_opt_out


def test_an_unsigned_inbound_text_is_refused(twilio) -> None:
    assert Client().post("/twilio/sms", inbound("HELP")).status_code == 403


@pytest.mark.parametrize("word", ["STOP", "stop", " Stop ", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"])
def test_stop_opts_the_customer_out_with_no_reply_of_ours_and_no_text_reaches_them_after(
        twilio, signed_post, word: str) -> None:
    appointment = appointment_at(TUESDAY, 9, phone=ALLOWED)
    assert replies(signed_post("/twilio/sms", inbound(word))) == []  # Twilio confirms the opt-out itself
    customer = Customer.objects.get(phone=ALLOWED)
    assert customer.sms_opt_out
    received = SmsMessage.objects.get(direction=SmsDirection.INBOUND)
    assert (received.status, received.kind, received.body, received.customer) == (
        SmsStatus.RECEIVED, "opt_out", word, customer)
    message = appointment_text_send(appointment_id=appointment.pk, action=AppointmentAction.MOVED)
    assert message is not None and message.status == SmsStatus.OPTED_OUT and twilio.texts == []


@pytest.mark.parametrize("word", ["START", "unstop"])
def test_start_opts_the_customer_back_in(twilio, signed_post, word: str) -> None:
    appointment = appointment_at(TUESDAY, 9, phone=ALLOWED)
    Customer.objects.filter(phone=ALLOWED).update(sms_opt_out=True)
    assert replies(signed_post("/twilio/sms", inbound(word))) == []  # Twilio confirms the opt-in itself
    assert not Customer.objects.get(phone=ALLOWED).sms_opt_out
    appointment_text_send(appointment_id=appointment.pk, action=AppointmentAction.MOVED)
    assert len(twilio.texts) == 1


def test_help_is_answered_with_the_shops_name_address_and_phone_and_the_reply_is_tracked(twilio, signed_post) -> None:
    appointment_at(TUESDAY, 9, phone=ALLOWED)
    [message] = replies(signed_post("/twilio/sms", inbound("help")))
    assert message.text == (f"Bart's Automotive, {ADDRESS}. Call us at (555) 010-0100. Reply C to confirm an "
                            "appointment we reminded you of. Reply STOP to opt out.")
    reply = SmsMessage.objects.get(kind="reply_help")
    assert (reply.direction, reply.to_number, reply.from_number, reply.status) == (
        SmsDirection.OUTBOUND, ALLOWED, SHOP_NUMBER, SmsStatus.QUEUED)
    assert message.get("statusCallback") == f"{BASE}/twilio/sms/{reply.pk}/status"
    # Twilio sends the reply and reports on it: the reply learns its sid from the first callback.
    sid = "SM" + "a" * 32
    assert signed_post(f"/twilio/sms/{reply.pk}/status", {"MessageSid": sid, "MessageStatus": "delivered"}
                       ).status_code == 204
    reply.refresh_from_db()
    assert (reply.message_sid, reply.status) == (sid, SmsStatus.DELIVERED)


@pytest.mark.parametrize("word", ["C", "c", "YES", "Yes!", "c."])
def test_c_or_yes_confirms_the_appointment_the_reminder_text_was_about(twilio, signed_post, word: str) -> None:
    appointment = appointment_at(TUESDAY, 9, phone=ALLOWED, name="Marge Simpson")
    later = appointment_at(TUESDAY, 15, phone=ALLOWED)  # never reminded: left alone
    reminder_text_send(appointment_id=appointment.pk)
    [message] = replies(signed_post("/twilio/sms", inbound(word)))
    assert message.text == ("Thanks, Marge! Your oil change on Tuesday, November 24 at 9 AM is confirmed. "
                            f"See you at {ADDRESS}. Bart's Automotive")
    appointment.refresh_from_db()
    later.refresh_from_db()
    assert appointment.status == AppointmentStatus.CONFIRMED and later.status == AppointmentStatus.SCHEDULED
    received = SmsMessage.objects.get(direction=SmsDirection.INBOUND)
    assert (received.kind, received.appointment) == ("confirm", appointment)


def test_yes_from_a_customer_who_had_opted_out_opts_them_back_in_as_twilio_does(twilio, signed_post) -> None:
    appointment = appointment_at(TUESDAY, 9, phone=ALLOWED)
    reminder_text_send(appointment_id=appointment.pk)
    Customer.objects.filter(phone=ALLOWED).update(sms_opt_out=True)
    assert len(replies(signed_post("/twilio/sms", inbound("YES")))) == 1
    assert not Customer.objects.get(phone=ALLOWED).sms_opt_out
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CONFIRMED


def test_c_with_no_reminded_appointment_confirms_nothing_and_says_so(twilio, signed_post) -> None:
    appointment = appointment_at(TUESDAY, 9, phone=ALLOWED)
    [message] = replies(signed_post("/twilio/sms", inbound("C")))
    assert message.text == ("Bart's Automotive: we found no upcoming appointment to confirm. Please call us at "
                            "(555) 010-0100.")
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.SCHEDULED


def test_c_does_not_confirm_a_reminded_appointment_that_was_cancelled_since(twilio, signed_post) -> None:
    appointment = appointment_at(TUESDAY, 9, phone=ALLOWED)
    reminder_text_send(appointment_id=appointment.pk)
    appointment.status = AppointmentStatus.CANCELLED
    appointment.save()
    [message] = replies(signed_post("/twilio/sms", inbound("C")))
    assert "no upcoming appointment" in (message.text or "")
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CANCELLED


def test_any_other_text_gets_a_pointer_to_the_phone_once_a_day(twilio, signed_post) -> None:
    appointment_at(TUESDAY, 9, phone=ALLOWED)
    [message] = replies(signed_post("/twilio/sms", inbound("can I come at 10 instead?", "1")))
    assert "call us at (555) 010-0100" in (message.text or "")
    assert replies(signed_post("/twilio/sms", inbound("hello??", "2"))) == []  # no loop with an auto-responder
    assert SmsMessage.objects.filter(direction=SmsDirection.INBOUND).count() == 2


def test_a_text_twilio_delivers_twice_is_recorded_and_acted_on_once(twilio, signed_post) -> None:
    appointment_at(TUESDAY, 9, phone=ALLOWED)
    assert len(replies(signed_post("/twilio/sms", inbound("HELP")))) == 1
    assert replies(signed_post("/twilio/sms", inbound("HELP"))) == []
    assert SmsMessage.objects.filter(direction=SmsDirection.INBOUND).count() == 1
    assert SmsMessage.objects.filter(kind="reply_help").count() == 1


def test_a_text_from_an_unknown_number_is_recorded_without_a_customer(twilio, signed_post, settings) -> None:
    settings.REMINDER_SAFE_MODE = False
    [message] = replies(signed_post("/twilio/sms", inbound("HELP", sender=STRANGER)))
    assert "Bart's Automotive" in (message.text or "")
    received = SmsMessage.objects.get(direction=SmsDirection.INBOUND)
    assert received.customer is None and received.from_number == STRANGER


def test_safe_mode_holds_for_replies_too(twilio, signed_post) -> None:
    appointment_at(TUESDAY, 9, phone=STRANGER)
    assert replies(signed_post("/twilio/sms", inbound("HELP", sender=STRANGER))) == []
    assert SmsMessage.objects.get(kind="reply_help").status == SmsStatus.BLOCKED


def test_a_malformed_message_sid_is_a_bad_request(twilio, signed_post) -> None:
    params = inbound("HELP")
    params["MessageSid"] = "not-a-sid"
    assert signed_post("/twilio/sms", params).status_code == 400
    assert not SmsMessage.objects.exists()
