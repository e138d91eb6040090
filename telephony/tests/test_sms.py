"""Texts through Twilio's Messages API (the real SDK against a local server) and messaging TwiML."""

import xml.etree.ElementTree as ET

import pytest
from twilio.base.exceptions import TwilioRestException

from telephony.rest import twilio_client
from telephony.sms import reply_twiml, send_text
from telephony.tests.twilio_rest import MESSAGE_NO_BODY, SERVER_ERROR, FakeTwilioREST

ACCOUNT, TOKEN = "AC" + "1" * 32, "test-auth-token"
CALLBACK = "https://shop.example.com/twilio/sms/7/status"


@pytest.fixture
def twilio(settings):
    with FakeTwilioREST(ACCOUNT, TOKEN) as fake:
        settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = ACCOUNT, TOKEN
        settings.TWILIO_API_BASE_URL = fake.url
        yield fake


def test_a_text_is_posted_to_the_messages_api_with_its_status_callback(twilio) -> None:
    sent = send_text(twilio_client(), to="+15550102000", from_="+15550100100", body="See you Tuesday.",
                     status_callback=CALLBACK)
    assert sent.sid.startswith("SM") and len(sent.sid) == 34 and sent.status == "queued"
    assert twilio.texts == [{"To": ["+15550102000"], "From": ["+15550100100"], "Body": ["See you Tuesday."],
                             "StatusCallback": [CALLBACK]}]
    assert twilio.messages[sent.sid]["body"] == "See you Tuesday."


def test_twilios_refusals_and_server_errors_raise_and_are_not_retried(twilio) -> None:
    client = twilio_client()
    twilio.fail_next(SERVER_ERROR, on="message")
    with pytest.raises(TwilioRestException) as refused:
        send_text(client, to="+15550102000", from_="+15550100100", body="Hi", status_callback=CALLBACK)
    assert (refused.value.status, refused.value.code) == (500, 20500)
    with pytest.raises(TwilioRestException) as no_body:
        send_text(client, to="+15550102000", from_="+15550100100", body="", status_callback=CALLBACK)
    assert no_body.value.code == MESSAGE_NO_BODY.code
    assert twilio.texts == [] and len(twilio.rejected) == 2


def test_a_reply_is_a_message_with_its_status_callback_and_no_reply_is_an_empty_response() -> None:
    root = ET.fromstring(str(reply_twiml("Call us & ask", CALLBACK)))
    [message] = root.findall("Message")
    assert (message.text, message.get("statusCallback")) == ("Call us & ask", CALLBACK)
    empty = ET.fromstring(str(reply_twiml()))
    assert empty.tag == "Response" and list(empty) == []
