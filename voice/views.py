"""Twilio's HTTP webhooks: answer a call with a media stream, hear how the stream and call ended."""

import logging

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.twiml.voice_response import VoiceResponse

from crm.phones import mask_phone, try_normalize_phone
from crm.selectors import customer_get_by_phone
from crm.services import call_log_start, call_log_status
from telephony.signatures import twilio_only
from telephony.twiml import front_desk_twiml, stream_twiml, twiml_response
from voice.state import session_key

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
    or (if the stream dropped, e.g. a worker restarted) open a new stream that resumes the talk."""
    call_sid = request.POST.get("CallSid", "")
    state = cache.get(session_key(call_sid)) or {}
    response = VoiceResponse()
    if state.get("transfer"):
        return twiml_response(front_desk_twiml(request.POST.get("To") or None))
    reconnects = int(state.get("reconnects", 0))
    if state.get("ended") or reconnects >= MAX_STREAM_RECONNECTS:
        response.hangup()
        return twiml_response(response)
    state["reconnects"] = reconnects + 1
    cache.set(session_key(call_sid), state, 60 * 60 * 2)
    caller = try_normalize_phone(request.POST.get("From", "")) or ""
    direction = "outbound" if request.POST.get("Direction", "").startswith("outbound") else "inbound"
    logger.warning("call %s: media stream dropped, reconnecting (%d)", call_sid, reconnects + 1)
    return twiml_response(stream_twiml(call_sid, caller, direction))


@csrf_exempt
@require_POST
@twilio_only
def status_callback(request: HttpRequest) -> HttpResponse:
    """Twilio's call status callback: record the call's end and billed duration."""
    duration = request.POST.get("CallDuration")
    call_log_status(call_sid=request.POST.get("CallSid", ""), status=request.POST.get("CallStatus", ""),
                    duration_seconds=int(duration) if duration and duration.isdigit() else None)
    return HttpResponse(status=204)
