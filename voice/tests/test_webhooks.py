"""Twilio's HTTP webhooks: signed requests get TwiML, forged or unsigned ones get 403."""

import xml.etree.ElementTree as ET
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from django.test import Client
from django.utils import timezone
from twilio.request_validator import RequestValidator

from crm.models import CallLog
from crm.tests.factories import AppointmentFactory, CallLogFactory, CustomerFactory
from telephony.tokens import stream_token_valid
from voice.call_record import CallIdentity, CallIntent, CallRecord, SessionStore

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

pytestmark = pytest.mark.django_db

TOKEN = "test-auth-token"
BASE = "https://shop.example.com"


@pytest.fixture(autouse=True)
def _twilio(settings) -> None:
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.PUBLIC_BASE_URL = BASE
    settings.FRONT_DESK_NUMBER = "+15550100199"


def _post(path: str, params: dict[str, str], signature: str | None = "sign") -> "TestResponse":
    headers: dict[str, Any] = {}
    if signature == "sign":
        headers["HTTP_X_TWILIO_SIGNATURE"] = RequestValidator(TOKEN).compute_signature(BASE + path, params)
    elif signature is not None:
        headers["HTTP_X_TWILIO_SIGNATURE"] = signature
    return Client().post(path, params, **headers)


CALL = {"CallSid": "CA0123456789abcdef0123456789abcdef", "From": "+15550102000", "To": "+15550100100",
        "CallStatus": "ringing", "Direction": "inbound", "AccountSid": "AC0123456789abcdef0123456789abcdef"}


def test_signed_call_gets_a_media_stream_with_caller_and_token() -> None:
    customer = CustomerFactory.create(phone="+15550102000")
    response = _post("/twilio/voice", CALL)
    assert response.status_code == 200
    root = ET.fromstring(response.content)
    connect = root.find("Connect")
    assert connect is not None and connect.get("action") == f"{BASE}/twilio/stream-ended"
    stream = connect.find("Stream")
    assert stream is not None and stream.get("url") == "wss://shop.example.com/twilio/media"
    assert "?" not in (stream.get("url") or "")
    params = {p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")}
    assert params["caller"] == "+15550102000"
    assert stream_token_valid(params["token"], CALL["CallSid"], params)
    call = CallLog.objects.get(call_sid=CALL["CallSid"])
    assert call.customer == customer and call.outcome == "in_progress"


@pytest.mark.parametrize("signature", [None, "", "Zm9yZ2Vk"])
def test_unsigned_or_forged_webhooks_are_refused(signature: str | None) -> None:
    response = _post("/twilio/voice", CALL, signature=signature)
    assert response.status_code == 403
    assert not CallLog.objects.exists()


def test_signature_over_other_parameters_is_refused() -> None:
    good = RequestValidator(TOKEN).compute_signature(BASE + "/twilio/voice", CALL)
    response = _post("/twilio/voice", {**CALL, "From": "+15559999999"}, signature=good)
    assert response.status_code == 403


def test_status_callback_records_duration_and_a_hangup() -> None:
    CallLogFactory.create(call_sid=CALL["CallSid"], duration=None, outcome="in_progress")
    response = _post("/twilio/status", {**CALL, "CallStatus": "completed", "CallDuration": "42"})
    assert response.status_code == 204
    call = CallLog.objects.get(call_sid=CALL["CallSid"])
    assert call.duration == timedelta(seconds=42)
    assert call.outcome == "abandoned"


def test_status_callback_keeps_an_outcome_the_agent_recorded() -> None:
    CallLogFactory.create(call_sid=CALL["CallSid"], outcome="booked")
    _post("/twilio/status", {**CALL, "CallStatus": "completed", "CallDuration": "90"})
    assert CallLog.objects.get(call_sid=CALL["CallSid"]).outcome == "booked"


def _record(**kwargs: Any) -> CallRecord:
    record = CallRecord.new(CallIdentity(call_sid=CALL["CallSid"], caller="+15550102000", **kwargs))
    return record


def test_stream_end_with_transfer_dials_the_front_desk() -> None:
    record = _record()
    record.note(intent=CallIntent.TRANSFER)
    SessionStore().save_sync(record)
    root = ET.fromstring(_post("/twilio/stream-ended", CALL).content)
    assert root.findtext("Dial/Number") == "+15550100199"


def test_stream_end_after_goodbye_hangs_up() -> None:
    record = _record()
    record.note(intent=CallIntent.END)
    SessionStore().save_sync(record)
    root = ET.fromstring(_post("/twilio/stream-ended", CALL).content)
    assert root.find("Hangup") is not None


def test_dropped_stream_reconnects_a_bounded_number_of_times() -> None:
    record = _record()
    record.history.append({"role": "user", "content": "hi"})
    SessionStore().save_sync(record)
    for _ in range(3):
        root = ET.fromstring(_post("/twilio/stream-ended", CALL).content)
        assert root.find("Connect/Stream") is not None
    root = ET.fromstring(_post("/twilio/stream-ended", CALL).content)
    assert root.find("Hangup") is not None
    again = SessionStore().load_sync(CALL["CallSid"])
    assert again is not None and again.history == [{"role": "user", "content": "hi"}] and again.reconnects == 3


def test_an_outbound_reminder_call_reconnects_as_the_customer_about_the_same_appointment() -> None:
    """Twilio's `From` on an outbound call is the shop's own number: the record says who was called."""
    record = _record(direction="outbound", reminder={"appointment_id": 12, "service": "Oil change"})
    SessionStore().save_sync(record)
    outbound = {**CALL, "From": "+15550100100", "To": "+15550102000", "Direction": "outbound-api"}
    root = ET.fromstring(_post("/twilio/stream-ended", outbound).content)
    params = {p.get("name", ""): p.get("value", "") for p in root.iter("Parameter")}
    assert params["caller"] == "+15550102000" and params["direction"] == "outbound"
    assert params["appointment"] == "12"


def test_a_session_save_after_the_drop_does_not_undo_the_reconnect_count() -> None:
    store = SessionStore()
    store.save_sync(_record())
    _post("/twilio/stream-ended", CALL)
    stale = _record()  # the dropped stream's last save arrives late, without the count
    store.save_sync(stale)
    again = store.load_sync(CALL["CallSid"])
    assert again is not None and again.reconnects == 1


def test_stream_end_is_refused_without_signature() -> None:
    assert _post("/twilio/stream-ended", CALL, signature=None).status_code == 403


# --- who an outbound call is, across reconnects -------------------------------------------------------

OUTBOUND = {**CALL, "From": "+15550100100", "To": "+15550102000", "Direction": "outbound-api"}


def _stream_params(response: "TestResponse") -> dict[str, str]:
    assert response.status_code == 200, response.content
    return {p.get("name", ""): p.get("value", "") for p in ET.fromstring(response.content).iter("Parameter")}


def _dialled_reminder(call_sid: str, phone: str = "+15550102000") -> Any:
    """The row the reminder dialler writes when Twilio accepts the call (reminders' model, not imported:
    voice and reminders never import each other)."""
    from django.apps import apps

    appointment = AppointmentFactory.create(customer__phone=phone, scheduled_at=timezone.now() + timedelta(days=2))
    attempt_model = apps.get_model("reminders", "ReminderAttempt")
    return attempt_model.objects.create(appointment=appointment, reminder_date=timezone.localdate(),
                                        to_number=phone, call_sid=call_sid, outcome="dialling")


def test_an_outbound_stream_dropped_before_start_reconnects_as_the_callee_about_the_dialled_appointment() -> None:
    attempt = _dialled_reminder(CALL["CallSid"])
    params = _stream_params(_post("/twilio/stream-ended", OUTBOUND))
    assert params["caller"] == "+15550102000" and params["direction"] == "outbound"
    assert params["appointment"] == str(attempt.appointment_id)
    assert stream_token_valid(params["token"], CALL["CallSid"], params)
    record = SessionStore().load_sync(CALL["CallSid"])
    assert record is not None and record.identity.reminder is not None
    assert record.identity.reminder["appointment_id"] == attempt.appointment_id and record.identity.reminder["when"]


def test_an_outbound_stream_with_no_dialled_reminder_reconnects_without_an_appointment() -> None:
    params = _stream_params(_post("/twilio/stream-ended", OUTBOUND))
    assert params["caller"] == "+15550102000" and params["direction"] == "outbound" and "appointment" not in params


def test_a_reminder_row_for_another_number_gives_no_appointment() -> None:
    _dialled_reminder(CALL["CallSid"], phone="+15550102999")
    params = _stream_params(_post("/twilio/stream-ended", OUTBOUND))
    assert "appointment" not in params


def test_the_record_path_carries_caller_appointment_and_attestation_whatever_the_form_says() -> None:
    record = _record(direction="outbound", reminder={"appointment_id": 12, "service": "Oil change"},
                     attestation="TN-Validation-Passed-B")
    SessionStore().save_sync(record)
    params = _stream_params(_post("/twilio/stream-ended", {**OUTBOUND, "To": "+15550109999",
                                                           "StirVerstat": "TN-Validation-Passed-A"}))
    assert params["caller"] == "+15550102000" and params["direction"] == "outbound"
    assert params["appointment"] == "12" and params["attestation"] == "TN-Validation-Passed-B"
    assert stream_token_valid(params["token"], CALL["CallSid"], params)


# --- STIR/SHAKEN attestation ------------------------------------------------------------------------------


@pytest.mark.parametrize("verstat", ["TN-Validation-Passed-A", "TN-Validation-Passed-C", "TN-Validation-Failed-B",
                                     "No-TN-Validation"])
def test_the_carriers_attestation_rides_in_the_signed_stream_parameters(verstat: str) -> None:
    params = _stream_params(_post("/twilio/voice", {**CALL, "StirVerstat": verstat}))
    assert params["attestation"] == verstat
    assert stream_token_valid(params["token"], CALL["CallSid"], params)
    better = "TN-Validation-Passed-A" if verstat != "TN-Validation-Passed-A" else "TN-Validation-Passed-B"
    assert not stream_token_valid(params["token"], CALL["CallSid"], {**params, "attestation": better})


@pytest.mark.parametrize("verstat", ["", "TN-Validation-Passed-Z", "passed", "x" * 500])
def test_an_absent_or_unknown_attestation_is_none(verstat: str) -> None:
    params = _stream_params(_post("/twilio/voice", {**CALL, "StirVerstat": verstat}))
    assert "attestation" not in params


def test_an_inbound_stream_dropped_before_start_keeps_twilios_attestation() -> None:
    _post("/twilio/stream-ended", {**CALL, "StirVerstat": "TN-Validation-Passed-A"})
    record = SessionStore().load_sync(CALL["CallSid"])
    assert record is not None and record.identity.attestation == "TN-Validation-Passed-A"


# --- fields are read strictly: 400 or ignored, never 500 ---------------------------------------------------


@pytest.mark.parametrize("duration", ["9" * 30, "86401", "-5", "4.5", "1e9", "٣", " 42"])
def test_an_absurd_call_duration_is_ignored(duration: str) -> None:
    CallLogFactory.create(call_sid=CALL["CallSid"], duration=None, outcome="in_progress")
    response = _post("/twilio/status", {**CALL, "CallStatus": "completed", "CallDuration": duration})
    assert response.status_code == 204
    call = CallLog.objects.get(call_sid=CALL["CallSid"])
    assert call.duration is None and call.outcome == "abandoned"


def test_a_day_long_call_duration_is_kept() -> None:
    CallLogFactory.create(call_sid=CALL["CallSid"], duration=None)
    _post("/twilio/status", {**CALL, "CallStatus": "completed", "CallDuration": "86400"})
    assert CallLog.objects.get(call_sid=CALL["CallSid"]).duration == timedelta(days=1)


@pytest.mark.parametrize("status", ["", "done", "COMPLETED", "completed " * 20])
def test_an_unknown_call_status_changes_nothing(status: str) -> None:
    CallLogFactory.create(call_sid=CALL["CallSid"], outcome="in_progress")
    assert _post("/twilio/status", {**CALL, "CallStatus": status}).status_code == 204
    assert CallLog.objects.get(call_sid=CALL["CallSid"]).outcome == "in_progress"


@pytest.mark.parametrize("path", ["/twilio/voice", "/twilio/stream-ended", "/twilio/status"])
@pytest.mark.parametrize("call_sid", ["", "CA123", "CA" + "G" * 32, "CA" + "0" * 33, "XX" + "0" * 32,
                                      "CA" + "0" * 32 + "\n", "CA" + "0" * 10000])
def test_a_malformed_call_sid_gets_400(path: str, call_sid: str) -> None:
    response = _post(path, {**CALL, "CallSid": call_sid})
    assert response.status_code == 400
    assert not CallLog.objects.exists()


@pytest.mark.parametrize("caller", ["anonymous", "client:alice", "sip:bob@example.com", "+1555", "1" * 40, "+" * 9])
def test_a_caller_that_is_no_phone_number_is_unknown(caller: str) -> None:
    params = _stream_params(_post("/twilio/voice", {**CALL, "From": caller}))
    assert params["caller"] == ""
    call = CallLog.objects.get(call_sid=CALL["CallSid"])
    assert call.from_number == "" and call.customer is None


def test_an_unknown_direction_on_a_stream_with_no_record_gets_400() -> None:
    assert _post("/twilio/stream-ended", {**CALL, "Direction": "sideways"}).status_code == 400
    assert SessionStore().load_sync(CALL["CallSid"]) is None
