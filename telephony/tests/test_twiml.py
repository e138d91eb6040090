"""The TwiML we answer with: a media stream to the agent, or the front desk on the line."""

import xml.etree.ElementTree as ET

import pytest

from telephony.tokens import stream_token_valid
from telephony.twiml import front_desk_twiml, stream_twiml, transfer_twiml, twiml_response


@pytest.fixture(autouse=True)
def _twilio(settings) -> None:
    settings.TWILIO_AUTH_TOKEN = "test-auth-token"
    settings.PUBLIC_BASE_URL = "https://shop.example.com"
    settings.FRONT_DESK_NUMBER = "+15550100199"


def test_the_stream_carries_caller_direction_token_and_extras() -> None:
    root = ET.fromstring(str(stream_twiml("CA111", "+15550102000", "outbound", extra={"appointment": "7"})))
    connect = root.find("Connect")
    assert connect is not None and connect.get("action") == "https://shop.example.com/twilio/stream-ended"
    stream = connect.find("Stream")
    assert stream is not None and stream.get("url") == "wss://shop.example.com/twilio/media"
    params = {p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")}
    assert params["caller"] == "+15550102000" and params["direction"] == "outbound" and params["appointment"] == "7"
    assert stream_token_valid(params["token"], "CA111", params)


def test_twiml_is_answered_as_xml() -> None:
    response = twiml_response(front_desk_twiml(None))
    assert response["Content-Type"] == "text/xml" and response.content.startswith(b"<?xml")


def test_the_transfer_says_so_then_dials_the_number() -> None:
    root = ET.fromstring(str(transfer_twiml("+15550100199")))
    assert [(child.tag, child.text) for child in root] == [
        ("Say", "Connecting you to the front desk now."), ("Dial", "+15550100199")]


def test_the_front_desk_is_dialled_showing_the_number_the_caller_rang() -> None:
    dial = ET.fromstring(str(front_desk_twiml("+15550100100"))).find("Dial")
    assert dial is not None and dial.get("callerId") == "+15550100100"
    assert [number.text for number in dial.findall("Number")] == ["+15550100199"]


def test_without_a_front_desk_the_caller_hears_sorry_and_the_call_ends(settings) -> None:
    settings.FRONT_DESK_NUMBER = ""
    root = ET.fromstring(str(front_desk_twiml("+15550100100")))
    assert [child.tag for child in root] == ["Say", "Hangup"] and "nobody can take your call" in (root[0].text or "")
