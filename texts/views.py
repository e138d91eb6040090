"""Twilio's messaging webhooks: a customer's text (answered with messaging TwiML) and the status callbacks
of the texts we send. Signed by Twilio (403 otherwise); fields read strictly (a malformed MessageSid: 400)."""

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from crm.models import SmsDirection, SmsMessage
from telephony import webhook_fields as fields
from telephony.signatures import twilio_only
from telephony.sms import messaging_response, reply_twiml
from texts.services import status_callback_url, text_receive, text_status_update


def _bad_message_sid() -> HttpResponse:
    return HttpResponseBadRequest("MessageSid missing or malformed")


@csrf_exempt
@require_POST
@twilio_only
def text_received(request: HttpRequest) -> HttpResponse:
    """A customer texted the shop's number: record it, act on it, and reply (or not) in TwiML."""
    message_sid = fields.message_sid(request.POST.get("MessageSid"))
    if not message_sid:
        return _bad_message_sid()
    received = text_receive(message_sid=message_sid, from_number=fields.phone(request.POST.get("From")),
                            to_number=fields.phone(request.POST.get("To")),
                            body=fields.message_body(request.POST.get("Body")))
    reply = received.reply
    if reply is None:
        return messaging_response(reply_twiml())
    return messaging_response(reply_twiml(reply.body, status_callback_url(reply)))


@csrf_exempt
@require_POST
@twilio_only
def text_status(request: HttpRequest, message_id: int) -> HttpResponse:
    """Progress of a text we sent: sent, delivered, undelivered or failed (with Twilio's error code)."""
    message_sid = fields.message_sid(request.POST.get("MessageSid"))
    if not message_sid:
        return _bad_message_sid()
    message = SmsMessage.objects.filter(pk=message_id, direction=SmsDirection.OUTBOUND).first()
    if message is None or (message.message_sid and message.message_sid != message_sid):
        raise Http404("no such text")
    status = fields.message_status(request.POST.get("MessageStatus") or request.POST.get("SmsStatus"))
    text_status_update(message=message, message_sid=message_sid, status=status,
                       error_code=fields.error_code(request.POST.get("ErrorCode")))
    return HttpResponse(status=204)
