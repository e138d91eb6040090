"""TwiML, what we tell Twilio to do with a call: stream it to the agent, or put the front desk on."""

from django.conf import settings
from django.http import HttpResponse
from twilio.twiml.voice_response import Connect, Dial, Parameter, Stream, VoiceResponse

from telephony.signatures import public_url
from telephony.tokens import TOKEN_PARAMETER, stream_token

TRANSFER_SAY = "Connecting you to the front desk now."
NOBODY_THERE = "Sorry, nobody can take your call right now. Please call us back later. Goodbye."


def twiml_response(response: VoiceResponse) -> HttpResponse:
    """`response` as the answer to a Twilio webhook."""
    return HttpResponse(str(response), content_type="text/xml")


def stream_twiml(call_sid: str, caller: str, direction: str, extra: dict[str, str] | None = None) -> VoiceResponse:
    """`<Connect><Stream>` to the agent, with the caller, direction, `extra` (appointment, attestation)
    and a single-use token over all of them as parameters."""
    response = VoiceResponse()
    connect = Connect(action=public_url("/twilio/stream-ended"))
    stream = Stream(url=public_url("/twilio/media", websocket=True))
    parameters = {"caller": caller, "direction": direction, **(extra or {})}
    parameters[TOKEN_PARAMETER] = stream_token(call_sid, parameters)
    for name, value in parameters.items():
        stream.append(Parameter(name=name, value=value))
    connect.append(stream)
    response.append(connect)
    return response


def transfer_twiml(front_desk_number: str) -> VoiceResponse:
    """Say so, then `<Dial>` the front desk: what a live call is updated to when the agent hands over."""
    response = VoiceResponse()
    response.say(TRANSFER_SAY)
    response.dial(front_desk_number)
    return response


def front_desk_twiml(caller_id: str | None) -> VoiceResponse:
    """`<Dial>` FRONT_DESK_NUMBER showing `caller_id`, or, with no front desk, apologise and hang up."""
    response = VoiceResponse()
    if settings.FRONT_DESK_NUMBER:
        dial = Dial(caller_id=caller_id)
        dial.number(settings.FRONT_DESK_NUMBER)
        response.append(dial)
    else:
        response.say(NOBODY_THERE)
        response.hangup()
    return response
