"""Twilio's Messages API and messaging TwiML: send one text, answer an inbound one."""

from dataclasses import dataclass

from django.http import HttpResponse
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse


@dataclass(frozen=True, slots=True)
class SentText:
    """What Twilio answered to a send: the message's sid and its first status (`queued`, `accepted`)."""

    sid: str
    status: str


def send_text(client: Client, *, to: str, from_: str, body: str, status_callback: str) -> SentText:
    """Ask Twilio to send `body` from `from_` to `to`; Twilio reports progress to `status_callback`.
    Twilio and network errors raise (`TwilioRestException`, `TwilioException`, `requests.RequestException`)."""
    message = client.messages.create(to=to, from_=from_, body=body, status_callback=status_callback)
    return SentText(sid=str(message.sid or ""), status=str(message.status or ""))


def reply_twiml(body: str = "", status_callback: str = "") -> MessagingResponse:
    """`<Response><Message>body</Message></Response>`, or an empty `<Response/>` (no reply) when `body` is empty."""
    response = MessagingResponse()
    if body:
        if status_callback:
            response.message(body, status_callback=status_callback)
        else:
            response.message(body)
    return response


def messaging_response(response: MessagingResponse) -> HttpResponse:
    """`response` as the answer to Twilio's inbound-message webhook."""
    return HttpResponse(str(response), content_type="text/xml")
