"""Twilio's HTTP webhooks: answer a call with a media stream, hear how the stream and call ended."""

import logging

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.twiml.voice_response import VoiceResponse

from crm.phones import mask_phone, try_normalize_phone
from crm.selectors import customer_get_by_phone
from crm.services import call_log_start, call_log_status
from telephony.signatures import twilio_only
from telephony.twiml import front_desk_twiml, stream_twiml, twiml_response
from voice.call_record import CallIdentity, CallRecord, SessionStore

logger = logging.getLogger(__name__)

MAX_STREAM_RECONNECTS = 3


@csrf_exempt
@require_POST
@twilio_only
def voice_webhook(request: HttpRequest) -> HttpResponse:
    """Inbound call: open a bidirectional media stream to the agent."""
    call_sid = request.POST.get("CallSid", "")
    caller = try_normalize_phone(request.POST.get("From", "")) or ""
    if not call_sid:
        return HttpResponse("CallSid missing", status=400)
    customer = customer_get_by_phone(caller) if caller else None  # also warms the cache for the stream
    call_log_start(call_sid=call_sid, direction="inbound", from_number=caller,
                   to_number=request.POST.get("To", ""), customer_id=(customer or {}).get("id"))
    logger.info("call %s from %s: answering", call_sid, mask_phone(caller))
    return twiml_response(stream_twiml(call_sid, caller, "inbound"))


@csrf_exempt
@require_POST
@twilio_only
def stream_ended(request: HttpRequest) -> HttpResponse:
    """`<Connect action>`: the media stream closed while the call is still up. Transfer, hang up,
    or (if the stream dropped, e.g. a worker restarted) open a new stream that resumes the talk,
    as the same caller, direction and appointment the call record holds."""
    call_sid = request.POST.get("CallSid", "")
    store = SessionStore()
    record = store.load_sync(call_sid)
    if record is not None and record.transfer:
        return twiml_response(front_desk_twiml(request.POST.get("To") or None))
    response = VoiceResponse()
    if record is not None and (record.ended or record.reconnects >= MAX_STREAM_RECONNECTS):
        response.hangup()
        return twiml_response(response)
    if record is None:  # the stream dropped before it started: the call is who Twilio says it is
        outbound = request.POST.get("Direction", "").startswith("outbound")
        caller = try_normalize_phone(request.POST.get("To" if outbound else "From", "")) or ""
        record = CallRecord.new(CallIdentity(call_sid=call_sid, caller=caller,
                                             direction="outbound" if outbound else "inbound"))
        store.save_sync(record)
    count = store.count_reconnect(call_sid)
    identity = record.identity
    extra = {"appointment": str(identity.reminder["appointment_id"])} if identity.reminder else None
    logger.warning("call %s: media stream dropped, reconnecting (%d)", call_sid, count)
    return twiml_response(stream_twiml(call_sid, identity.caller or "", identity.direction, extra=extra))


@csrf_exempt
@require_POST
@twilio_only
def status_callback(request: HttpRequest) -> HttpResponse:
    """Twilio's call status callback: record the call's end and billed duration."""
    duration = request.POST.get("CallDuration")
    call_log_status(call_sid=request.POST.get("CallSid", ""), status=request.POST.get("CallStatus", ""),
                    duration_seconds=int(duration) if duration and duration.isdigit() else None)
    return HttpResponse(status=204)
