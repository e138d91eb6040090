"""Twilio webhooks of reminder calls: the TwiML when the customer answers, the call's status and
the answering-machine verdict. All signed by Twilio (403 otherwise), all safe to receive twice."""

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from reminders.models import ReminderAttempt
from reminders.services import reminder_call_status, reminder_machine_detected
from telephony.signatures import twilio_only
from telephony.twiml import stream_twiml, twiml_response


def _attempt(attempt_id: int, request: HttpRequest) -> ReminderAttempt:
    """The attempt in the URL, if the CallSid Twilio sends is the one we placed for it."""
    attempt = ReminderAttempt.objects.select_related("appointment__customer").filter(pk=attempt_id).first()
    call_sid = request.POST.get("CallSid", "")
    if attempt is None or (attempt.call_sid and call_sid != attempt.call_sid):
        raise Http404("no such reminder call")
    return attempt


@csrf_exempt
@require_POST
@twilio_only
def reminder_answered(request: HttpRequest, attempt_id: int) -> HttpResponse:
    """The customer picked up: connect the agent, told this is an outbound call about which appointment."""
    attempt = _attempt(attempt_id, request)
    call_sid = request.POST.get("CallSid", "")
    if not call_sid:
        return HttpResponse("CallSid missing", status=400)
    twiml = stream_twiml(call_sid, attempt.to_number, "outbound", extra={"appointment": str(attempt.appointment_id)})
    return twiml_response(twiml)


@csrf_exempt
@require_POST
@twilio_only
def reminder_status(request: HttpRequest, attempt_id: int) -> HttpResponse:
    """Call progress: ringing, answered, completed, or never connected (no-answer, busy, failed)."""
    reminder_call_status(attempt=_attempt(attempt_id, request), status=request.POST.get("CallStatus", ""))
    return HttpResponse(status=204)


@csrf_exempt
@require_POST
@twilio_only
def reminder_amd(request: HttpRequest, attempt_id: int) -> HttpResponse:
    """Async answering-machine detection: a person, or a machine whose greeting has ended."""
    reminder_machine_detected(attempt=_attempt(attempt_id, request), answered_by=request.POST.get("AnsweredBy", ""))
    return HttpResponse(status=204)
