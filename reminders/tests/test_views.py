"""Twilio's webhooks for reminder calls: the agent's TwiML, answering machines, call status, forgeries."""

import xml.etree.ElementTree as ET

import pytest
from django.test import Client

from crm.tests.factories import CallLogFactory
from reminders.models import ReminderAttempt, ReminderOutcome
from reminders.services import send_reminders
from reminders.tests.conftest import ALLOWED, BASE, TUESDAY
from reminders.tests.factories import appointment_at
from telephony.tests.twilio_rest import TwilioError
from telephony.tokens import stream_token_valid

pytestmark = pytest.mark.django_db


@pytest.fixture
def dialled(twilio) -> ReminderAttempt:
    """A reminder call placed to Marge about her 9 o'clock oil change on Tuesday."""
    appointment_at(TUESDAY, 9, phone=ALLOWED, name="Marge Simpson")
    send_reminders(sleep=lambda seconds: None)
    return ReminderAttempt.objects.select_related("appointment").get()


def _outcome(attempt: ReminderAttempt) -> str:
    attempt.refresh_from_db()
    return attempt.outcome


def test_an_answered_call_streams_to_the_agent_as_outbound_with_the_appointment(dialled, signed_post) -> None:
    response = signed_post(f"/twilio/reminder/{dialled.pk}", {"CallSid": dialled.call_sid, "CallStatus": "in-progress"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/xml")
    connect = ET.fromstring(response.content).find("Connect")
    assert connect is not None and connect.get("action") == f"{BASE}/twilio/stream-ended"
    stream = connect.find("Stream")
    assert stream is not None and stream.get("url") == "wss://shop.example.com/twilio/media"
    params = {p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")}
    assert params["direction"] == "outbound" and params["appointment"] == str(dialled.appointment_id)
    assert params["caller"] == ALLOWED
    assert stream_token_valid(params["token"], dialled.call_sid, params)
    assert not stream_token_valid(params["token"], "CA" + "0" * 32, params)


def test_every_webhook_refuses_a_forged_signature(dialled) -> None:
    for suffix in ("", "/status", "/amd"):
        response = Client().post(f"/twilio/reminder/{dialled.pk}{suffix}",
                                 {"CallSid": dialled.call_sid, "CallStatus": "no-answer", "AnsweredBy": "human"},
                                 HTTP_X_TWILIO_SIGNATURE="Zm9yZ2VkIHNpZ25hdHVyZQ==")
        assert response.status_code == 403
    assert _outcome(dialled) == ReminderOutcome.DIALLING


def test_a_signature_for_another_attempt_does_not_carry_over(dialled, signed_post) -> None:
    from twilio.request_validator import RequestValidator

    from reminders.tests.conftest import TOKEN

    params = {"CallSid": dialled.call_sid, "CallStatus": "busy"}
    signature = RequestValidator(TOKEN).compute_signature(f"{BASE}/twilio/reminder/{dialled.pk + 1}/status", params)
    response = Client().post(f"/twilio/reminder/{dialled.pk}/status", params, HTTP_X_TWILIO_SIGNATURE=signature)
    assert response.status_code == 403


def test_the_webhooks_answer_only_post(dialled) -> None:
    assert Client().get(f"/twilio/reminder/{dialled.pk}").status_code == 405


def test_a_callback_about_another_call_is_not_found(dialled, signed_post) -> None:
    response = signed_post(f"/twilio/reminder/{dialled.pk}/status", {"CallSid": "CA" + "9" * 32, "CallStatus": "busy"})
    assert response.status_code == 404
    assert _outcome(dialled) == ReminderOutcome.DIALLING


def test_a_machine_gets_a_voicemail_with_the_shop_number_once(dialled, signed_post, twilio) -> None:
    params = {"CallSid": dialled.call_sid, "AnsweredBy": "machine_end_beep", "MachineDetectionDuration": "4100"}
    assert signed_post(f"/twilio/reminder/{dialled.pk}/amd", params).status_code == 204
    assert signed_post(f"/twilio/reminder/{dialled.pk}/amd", params).status_code == 204  # Twilio retried
    assert len(twilio.updates) == 1
    call_sid, form = twilio.updates[0]
    assert call_sid == dialled.call_sid
    twiml = ET.fromstring(form["Twiml"][0])
    said = twiml.findtext("Say", "")
    assert "Hi Marge, this is Bart's Automotive" in said
    assert "oil change appointment on Tuesday, November 24 at 9 AM" in said
    assert "5 5 5, 0 1 0, 0 1 0 0" in said
    assert [child.tag for child in twiml] == ["Say", "Hangup"]
    dialled.refresh_from_db()
    assert dialled.outcome == ReminderOutcome.VOICEMAIL and dialled.answered_by == "machine_end_beep"


def test_a_machine_detected_after_twilio_said_answered_still_gets_the_voicemail(dialled, signed_post, twilio) -> None:
    signed_post(f"/twilio/reminder/{dialled.pk}/status", {"CallSid": dialled.call_sid, "CallStatus": "in-progress"})
    assert _outcome(dialled) == ReminderOutcome.ANSWERED
    params = {"CallSid": dialled.call_sid, "AnsweredBy": "machine_end_silence"}
    signed_post(f"/twilio/reminder/{dialled.pk}/amd", params)
    assert _outcome(dialled) == ReminderOutcome.VOICEMAIL and len(twilio.updates) == 1


def test_a_person_answering_is_recorded_and_the_call_is_left_to_the_agent(dialled, signed_post, twilio) -> None:
    signed_post(f"/twilio/reminder/{dialled.pk}/amd", {"CallSid": dialled.call_sid, "AnsweredBy": "human"})
    dialled.refresh_from_db()
    assert dialled.outcome == ReminderOutcome.ANSWERED and dialled.answered_by == "human"
    assert twilio.updates == []


@pytest.mark.parametrize("answered_by", ["fax", "unknown"])
def test_fax_or_unknown_counts_as_answered_and_leaves_no_voicemail(dialled, signed_post, twilio, answered_by) -> None:
    signed_post(f"/twilio/reminder/{dialled.pk}/amd", {"CallSid": dialled.call_sid, "AnsweredBy": answered_by})
    assert _outcome(dialled) == ReminderOutcome.ANSWERED and twilio.updates == []


def test_a_voicemail_twilio_refuses_to_play_marks_the_reminder_failed(dialled, signed_post, twilio) -> None:
    twilio.fail_next(TwilioError(400, 21220, "Call is not in-progress. Cannot redirect."), on="update")
    signed_post(f"/twilio/reminder/{dialled.pk}/amd", {"CallSid": dialled.call_sid, "AnsweredBy": "machine_end_beep"})
    dialled.refresh_from_db()
    assert dialled.outcome == ReminderOutcome.FAILED and "voicemail not left" in dialled.detail


@pytest.mark.parametrize(("status", "outcome"), [("no-answer", ReminderOutcome.NO_ANSWER),
                                                  ("busy", ReminderOutcome.BUSY),
                                                  ("failed", ReminderOutcome.FAILED),
                                                  ("canceled", ReminderOutcome.FAILED)])
def test_a_call_that_never_connected_records_why(dialled, signed_post, status, outcome) -> None:
    for _ in range(2):  # Twilio may repeat a callback
        params = {"CallSid": dialled.call_sid, "CallStatus": status}
        response = signed_post(f"/twilio/reminder/{dialled.pk}/status", params)
        assert response.status_code == 204
    dialled.refresh_from_db()
    assert dialled.outcome == outcome and status in dialled.detail


def test_ringing_changes_nothing(dialled, signed_post) -> None:
    signed_post(f"/twilio/reminder/{dialled.pk}/status", {"CallSid": dialled.call_sid, "CallStatus": "ringing"})
    assert _outcome(dialled) == ReminderOutcome.DIALLING


def test_a_completed_call_takes_the_conversations_result(dialled, signed_post) -> None:
    signed_post(f"/twilio/reminder/{dialled.pk}/amd", {"CallSid": dialled.call_sid, "AnsweredBy": "human"})
    CallLogFactory.create(call_sid=dialled.call_sid, direction="outbound", outcome="confirmed")
    signed_post(f"/twilio/reminder/{dialled.pk}/status", {"CallSid": dialled.call_sid, "CallStatus": "completed"})
    assert _outcome(dialled) == ReminderOutcome.CONFIRMED


def test_a_completed_call_without_a_decision_stays_answered(dialled, signed_post) -> None:
    CallLogFactory.create(call_sid=dialled.call_sid, direction="outbound", outcome="information")
    signed_post(f"/twilio/reminder/{dialled.pk}/status", {"CallSid": dialled.call_sid, "CallStatus": "completed"})
    assert _outcome(dialled) == ReminderOutcome.ANSWERED


def test_a_late_no_answer_does_not_undo_a_voicemail(dialled, signed_post) -> None:
    signed_post(f"/twilio/reminder/{dialled.pk}/amd", {"CallSid": dialled.call_sid, "AnsweredBy": "machine_end_beep"})
    signed_post(f"/twilio/reminder/{dialled.pk}/status", {"CallSid": dialled.call_sid, "CallStatus": "completed"})
    signed_post(f"/twilio/reminder/{dialled.pk}/status", {"CallSid": dialled.call_sid, "CallStatus": "no-answer"})
    assert _outcome(dialled) == ReminderOutcome.VOICEMAIL


@pytest.mark.parametrize("path", ["", "/status", "/amd"])
@pytest.mark.parametrize("call_sid", ["", "CA123", "CA" + "g" * 32, "CA" + "0" * 32 + "x" * 5000])
def test_a_malformed_call_sid_gets_400_and_changes_nothing(dialled, signed_post, path, call_sid) -> None:
    response = signed_post(f"/twilio/reminder/{dialled.pk}{path}",
                           {"CallSid": call_sid, "CallStatus": "busy", "AnsweredBy": "machine_end_beep"})
    assert response.status_code == 400
    assert _outcome(dialled) == ReminderOutcome.DIALLING


@pytest.mark.parametrize("answered_by", ["robot", "h" * 5000, "human\n"])
def test_an_answering_machine_verdict_twilio_never_sends_is_ignored(dialled, signed_post, twilio, answered_by) -> None:
    response = signed_post(f"/twilio/reminder/{dialled.pk}/amd",
                           {"CallSid": dialled.call_sid, "AnsweredBy": answered_by})
    assert response.status_code == 204
    dialled.refresh_from_db()
    assert dialled.answered_by == "" and twilio.updates == []
