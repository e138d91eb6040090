"""Twilio webhooks of reminder calls: the TwiML when the customer answers, the call's status and
the answering-machine verdict. All signed by Twilio (403 otherwise), all safe to receive twice; every form
field is read strictly (`telephony.webhook_fields`): a malformed CallSid gets 400, other bad values are ignored."""

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from reminders.models import ReminderAttempt
from reminders.services import reminder_call_status, reminder_machine_detected
from telephony import webhook_fields as fields
from telephony.signatures import twilio_only
from telephony.twiml import stream_twiml, twiml_response


class MalformedCallSid(Exception):
    pass


def _attempt(attempt_id: int, request: HttpRequest) -> ReminderAttempt:
    """The attempt in the URL, if the CallSid Twilio sends is the one we placed for it."""
    call_sid = fields.call_sid(request.POST.get("CallSid"))
    if not call_sid:
        raise MalformedCallSid
    attempt = ReminderAttempt.objects.select_related("appointment__customer").filter(pk=attempt_id).first()
    if attempt is None or (attempt.call_sid and call_sid != attempt.call_sid):
        raise Http404("no such reminder call")
    return attempt


def _bad_call_sid() -> HttpResponse:
    return HttpResponseBadRequest("CallSid missing or malformed")


@csrf_exempt
@require_POST
@twilio_only
def reminder_answered(request: HttpRequest, attempt_id: int) -> HttpResponse:
    """The customer picked up: connect the agent, told this is an outbound call about which appointment."""
    try:
        attempt = _attempt(attempt_id, request)
    except MalformedCallSid:
        return _bad_call_sid()
    twiml = stream_twiml(fields.call_sid(request.POST.get("CallSid")), attempt.to_number, "outbound",
                         extra={"appointment": str(attempt.appointment_id)})
    return twiml_response(twiml)


@csrf_exempt
@require_POST
@twilio_only
def reminder_status(request: HttpRequest, attempt_id: int) -> HttpResponse:
    """Call progress: ringing, answered, completed, or never connected (no-answer, busy, failed)."""
    try:
        attempt = _attempt(attempt_id, request)
    except MalformedCallSid:
        return _bad_call_sid()
    reminder_call_status(attempt=attempt, status=fields.call_status(request.POST.get("CallStatus")))
    return HttpResponse(status=204)


@csrf_exempt
@require_POST
@twilio_only
def reminder_amd(request: HttpRequest, attempt_id: int) -> HttpResponse:
    """Async answering-machine detection: a person, or a machine whose greeting has ended."""
    try:
        attempt = _attempt(attempt_id, request)
    except MalformedCallSid:
        return _bad_call_sid()
    reminder_machine_detected(attempt=attempt, answered_by=fields.answered_by(request.POST.get("AnsweredBy")))
    return HttpResponse(status=204)
