"""Twilio's signatures are checked against the public URL Twilio used, and unsigned views answer 403."""

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory
from twilio.request_validator import RequestValidator

from telephony.signatures import public_url, signature_valid, twilio_only

TOKEN = "test-auth-token"
BASE = "https://shop.example.com"


@pytest.fixture(autouse=True)
def _twilio(settings) -> None:
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.PUBLIC_BASE_URL = BASE


@twilio_only
def _ok(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


def test_public_urls_follow_the_configured_origin() -> None:
    assert public_url("/twilio/voice") == "https://shop.example.com/twilio/voice"
    assert public_url("/twilio/media", websocket=True) == "wss://shop.example.com/twilio/media"


def test_a_signature_is_valid_only_for_its_own_url_and_params() -> None:
    params = {"CallSid": "CA111", "From": "+15550102000"}
    signature = RequestValidator(TOKEN).compute_signature(BASE + "/twilio/voice", params)
    assert signature_valid(BASE + "/twilio/voice", params, signature)
    assert not signature_valid(BASE + "/twilio/status", params, signature)
    assert not signature_valid(BASE + "/twilio/voice", {**params, "From": "+15557654321"}, signature)
    assert not signature_valid(BASE + "/twilio/voice", params, None)


def test_without_an_auth_token_nothing_is_checked(settings) -> None:
    settings.TWILIO_AUTH_TOKEN = ""
    assert signature_valid(BASE + "/twilio/voice", {}, None)


def test_a_twilio_only_view_answers_a_signed_request_and_refuses_a_forged_one() -> None:
    params = {"CallSid": "CA111"}
    signature = RequestValidator(TOKEN).compute_signature(BASE + "/twilio/voice", params)
    signed = RequestFactory().post("/twilio/voice", params, HTTP_X_TWILIO_SIGNATURE=signature)
    forged = RequestFactory().post("/twilio/voice", params, HTTP_X_TWILIO_SIGNATURE="forged")
    assert _ok(signed).status_code == 200
    assert _ok(forged).status_code == 403
