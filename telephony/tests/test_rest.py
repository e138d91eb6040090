"""The one Twilio REST client: settings read when called, a timeout on every request, no retries;
and the live-call updates made through it, against a local Twilio API server."""

import time

import pytest
from requests import RequestException
from twilio.base.exceptions import TwilioRestException

from telephony import rest
from telephony.rest import transfer_call, twilio_client, update_call
from telephony.tests.twilio_rest import FakeTwilioREST, TwilioError

ACCOUNT, TOKEN = "AC" + "1" * 32, "test-auth-token"
CALL_SID = "CA" + "2" * 32
UNAVAILABLE = TwilioError(503, 20500, "Service Unavailable")


@pytest.fixture
def twilio(settings):
    """The fake Twilio API with settings pointing at it and a front desk to hand callers to."""
    with FakeTwilioREST(ACCOUNT, TOKEN) as fake:
        settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = ACCOUNT, TOKEN
        settings.TWILIO_API_BASE_URL = fake.url
        settings.FRONT_DESK_NUMBER = "+15550100199"
        yield fake


def test_the_client_reads_the_api_base_url_when_called(settings) -> None:
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = ACCOUNT, "token"
    settings.TWILIO_API_BASE_URL = "http://127.0.0.1:9/"
    local = twilio_client()
    assert local is not None and local.api.base_url == "http://127.0.0.1:9"
    settings.TWILIO_API_BASE_URL = ""
    default = twilio_client()
    assert default is not None and default.api.base_url == "https://api.twilio.com"


@pytest.mark.parametrize("missing", ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"])
def test_without_an_account_sid_and_auth_token_there_is_no_client(settings, missing: str) -> None:
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = ACCOUNT, TOKEN
    setattr(settings, missing, "")
    assert twilio_client() is None


def test_every_request_has_the_one_timeout(settings) -> None:
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = ACCOUNT, TOKEN
    client = twilio_client()
    assert client is not None and client.http_client.timeout == rest.TIMEOUT_SECONDS == 10.0


def test_a_failed_request_is_not_retried(twilio) -> None:
    twilio.fail_next(UNAVAILABLE, on="update")
    client = twilio_client()
    assert client is not None
    with pytest.raises(TwilioRestException):
        update_call(client, CALL_SID, "<Response><Hangup/></Response>")
    assert len(twilio.rejected) == 1 and twilio.updates == []


def test_a_twilio_that_does_not_answer_in_time_raises_instead_of_hanging(settings, monkeypatch) -> None:
    monkeypatch.setattr(rest, "TIMEOUT_SECONDS", 0.2)  # the policy's value, shortened so the test is quick
    with FakeTwilioREST(ACCOUNT, TOKEN, delay=2.0) as slow:
        settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = ACCOUNT, TOKEN
        settings.TWILIO_API_BASE_URL = slow.url
        client = twilio_client()
        assert client is not None
        started = time.monotonic()
        with pytest.raises(RequestException):
            update_call(client, CALL_SID, "<Response><Hangup/></Response>")
        assert time.monotonic() - started < 1.5


def test_update_call_replaces_what_the_live_call_does(twilio) -> None:
    client = twilio_client()
    assert client is not None
    update_call(client, CALL_SID, "<Response><Hangup/></Response>")
    assert twilio.updates == [(CALL_SID, {"Twiml": ["<Response><Hangup/></Response>"]})]


def test_transfer_updates_the_live_call_to_say_so_and_dial_the_front_desk(twilio) -> None:
    assert transfer_call(CALL_SID)
    [(sid, form)] = twilio.updates
    assert sid == CALL_SID
    assert "<Say>Connecting you to the front desk now.</Say><Dial>+15550100199</Dial>" in form["Twiml"][0]


def test_transfer_is_not_possible_without_a_front_desk_number(twilio, settings) -> None:
    settings.FRONT_DESK_NUMBER = ""
    assert not transfer_call(CALL_SID)
    assert twilio.updates == []


def test_transfer_is_not_possible_without_twilio_settings(settings) -> None:
    settings.TWILIO_ACCOUNT_SID, settings.FRONT_DESK_NUMBER = "", "+15550100199"
    assert not transfer_call(CALL_SID)


def test_a_transfer_twilio_refuses_falls_back(twilio) -> None:
    twilio.fail_next(UNAVAILABLE, on="update")
    assert not transfer_call(CALL_SID)


def test_a_transfer_twilio_is_too_slow_for_falls_back(settings, monkeypatch) -> None:
    monkeypatch.setattr(rest, "TIMEOUT_SECONDS", 0.2)
    with FakeTwilioREST(ACCOUNT, TOKEN, delay=2.0) as slow:
        settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = ACCOUNT, TOKEN
        settings.TWILIO_API_BASE_URL, settings.FRONT_DESK_NUMBER = slow.url, "+15550100199"
        assert not transfer_call(CALL_SID)
