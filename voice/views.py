"""Twilio's HTTP webhooks: answer a call with a media stream, hear how the stream and call ended.
Every form field is read strictly (`telephony.webhook_fields`): a bad value is ignored or gets 400."""

import logging
from collections.abc import Mapping

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.twiml.voice_response import VoiceResponse

from crm.phones import mask_phone
from crm.selectors import appointment_for_reminder, appointment_id_for_outbound_call, customer_get_by_phone
from crm.services import call_log_start, call_log_status
from scheduling.spoken import spoken_time
from telephony import webhook_fields as fields
from telephony.signatures import twilio_only
from telephony.twiml import front_desk_twiml, stream_twiml, twiml_response
from voice.call_record import CallIdentity, CallRecord, SessionStore

logger = logging.getLogger(__name__)

MAX_STREAM_RECONNECTS = 3


def _bad_call_sid() -> HttpResponse:
    return HttpResponse("CallSid missing or malformed", status=400)


@csrf_exempt
@require_POST
@twilio_only
def voice_webhook(request: HttpRequest) -> HttpResponse:
    """Inbound call: open a bidirectional media stream to the agent. The carrier's STIR/SHAKEN verdict
    on the caller's number (`StirVerstat`) rides along in the stream's signed parameters."""
    call_sid = fields.call_sid(request.POST.get("CallSid"))
    if not call_sid:
        return _bad_call_sid()
    caller = fields.phone(request.POST.get("From"))
    attestation = fields.attestation(request.POST.get("StirVerstat"))
    customer = customer_get_by_phone(caller) if caller else None  # also warms the cache for the stream
    call_log_start(call_sid=call_sid, direction="inbound", from_number=caller,
                   to_number=fields.phone(request.POST.get("To")), customer_id=(customer or {}).get("id"))
    logger.info("call %s from %s: answering", call_sid, mask_phone(caller))
    extra = {"attestation": attestation} if attestation else None
    return twiml_response(stream_twiml(call_sid, caller, "inbound", extra=extra))


@csrf_exempt
@require_POST
@twilio_only
def stream_ended(request: HttpRequest) -> HttpResponse:
    """`<Connect action>`: the media stream closed while the call is still up. Transfer, hang up,
    or (if the stream dropped, e.g. a worker restarted) open a new stream that resumes the talk,
    as the same caller, direction, appointment and attestation the call record holds."""
    call_sid = fields.call_sid(request.POST.get("CallSid"))
    if not call_sid:
        return _bad_call_sid()
    store = SessionStore()
    record = store.load_sync(call_sid)
    if record is None and store.failing:
        # The cache is down: whether the agent ended, transferred or lost this call is unknown. The front
        # desk is right for a caller still on the line in every case, and cannot loop like a reconnect.
        logger.warning("call %s: media stream ended with the call record unreadable; dialling the front desk",
                       call_sid)
        return twiml_response(front_desk_twiml(fields.phone(request.POST.get("To")) or None))
    if record is not None and record.transfer:
        return twiml_response(front_desk_twiml(fields.phone(request.POST.get("To")) or None))
    response = VoiceResponse()
    if record is not None and (record.ended or record.reconnects >= MAX_STREAM_RECONNECTS):
        response.hangup()
        return twiml_response(response)
    if record is None:  # the stream dropped before it started: the call is who Twilio and our rows say
        record = _record_before_start(call_sid, request.POST)
        if record is None:
            return HttpResponse("Direction missing or unknown", status=400)
        store.save_sync(record)
    count = store.count_reconnect(call_sid)
    identity = record.identity
    extra = {"appointment": str(identity.reminder["appointment_id"])} if identity.reminder else {}
    if identity.attestation:
        extra["attestation"] = identity.attestation
    logger.warning("call %s: media stream dropped, reconnecting (%d)", call_sid, count)
    return twiml_response(stream_twiml(call_sid, identity.caller or "", identity.direction, extra=extra))


def _record_before_start(call_sid: str, form: Mapping[str, str]) -> CallRecord | None:
    """A call record for a stream that never started. Outbound, the caller is who we dialled (`To`; `From`
    is the shop) and the appointment is the one our dialler placed this call sid for; inbound, `From`."""
    direction = fields.direction(form.get("Direction"))
    if not direction:
        return None
    if not direction.startswith("outbound"):
        return CallRecord.new(CallIdentity(call_sid=call_sid, caller=fields.phone(form.get("From")) or None,
                                           attestation=fields.attestation(form.get("StirVerstat"))))
    caller = fields.phone(form.get("To")) or None
    appointment_id = appointment_id_for_outbound_call(call_sid)
    reminder = appointment_for_reminder(appointment_id, caller) if appointment_id is not None else None
    if reminder is not None:
        reminder["when"] = spoken_time(reminder.pop("scheduled_at"))
    return CallRecord.new(CallIdentity(call_sid=call_sid, caller=caller, direction="outbound", reminder=reminder))


@csrf_exempt
@require_POST
@twilio_only
def status_callback(request: HttpRequest) -> HttpResponse:
    """Twilio's call status callback: record the call's end and billed duration."""
    call_sid = fields.call_sid(request.POST.get("CallSid"))
    if not call_sid:
        return _bad_call_sid()
    call_log_status(call_sid=call_sid, status=fields.call_status(request.POST.get("CallStatus")),
                    duration_seconds=fields.duration_seconds(request.POST.get("CallDuration")))
    return HttpResponse(status=204)
