"""Per-call stream tokens bind a media stream to the call whose webhook minted it."""

import pytest

from telephony.tokens import stream_token, stream_token_valid


@pytest.fixture(autouse=True)
def _token(settings) -> None:
    settings.TWILIO_AUTH_TOKEN = "test-auth-token"


def test_token_is_valid_for_its_own_call_only() -> None:
    token = stream_token("CA111", now=1000.0)
    assert stream_token_valid(token, "CA111", now=1010.0)
    assert not stream_token_valid(token, "CA222", now=1010.0)


def test_token_expires() -> None:
    token = stream_token("CA111", now=1000.0)
    assert not stream_token_valid(token, "CA111", now=1000.0 + 121)


@pytest.mark.parametrize("token", [None, "", "garbage", "9999999999.deadbeef", "abc.def"])
def test_forged_tokens_are_refused(token: str | None) -> None:
    assert not stream_token_valid(token, "CA111", now=1000.0)


def test_tampered_expiry_is_refused() -> None:
    expires, mac = stream_token("CA111", now=1000.0).split(".")
    assert not stream_token_valid(f"{int(expires) + 3600}.{mac}", "CA111", now=1000.0)

