"""Per-call stream tokens bind a media stream to the call, and to every parameter, that the webhook
answered with; each opens one stream, for a short while."""

import pytest

from telephony.tokens import STREAM_TOKEN_TTL, stream_token, stream_token_use, stream_token_valid

CALL = "CA" + "1" * 32
PARAMS = {"caller": "+15550102000", "direction": "outbound", "appointment": "7",
          "attestation": "TN-Validation-Passed-A"}


@pytest.fixture(autouse=True)
def _token(settings) -> None:
    settings.TWILIO_AUTH_TOKEN = "test-auth-token"


def test_token_is_valid_for_its_own_call_only() -> None:
    token = stream_token(CALL, PARAMS, now=1000.0)
    assert stream_token_valid(token, CALL, PARAMS, now=1010.0)
    assert not stream_token_valid(token, "CA" + "2" * 32, PARAMS, now=1010.0)


def test_token_expires_within_a_minute() -> None:
    assert STREAM_TOKEN_TTL <= 60
    token = stream_token(CALL, PARAMS, now=1000.0)
    assert stream_token_valid(token, CALL, PARAMS, now=1000.0 + STREAM_TOKEN_TTL)
    assert not stream_token_valid(token, CALL, PARAMS, now=1000.0 + STREAM_TOKEN_TTL + 1)


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_an_altered_parameter_is_refused(name: str) -> None:
    token = stream_token(CALL, PARAMS, now=1000.0)
    assert not stream_token_valid(token, CALL, {**PARAMS, name: PARAMS[name] + "1"}, now=1000.0)


def test_another_customers_number_is_refused() -> None:
    token = stream_token(CALL, PARAMS, now=1000.0)
    assert not stream_token_valid(token, CALL, {**PARAMS, "caller": "+15550102001"}, now=1000.0)


def test_an_added_or_dropped_parameter_is_refused() -> None:
    token = stream_token(CALL, {"caller": "+15550102000", "direction": "inbound"}, now=1000.0)
    added = {"caller": "+15550102000", "direction": "inbound", "appointment": "7"}
    assert not stream_token_valid(token, CALL, added, now=1000.0)
    assert not stream_token_valid(token, CALL, {"caller": "+15550102000"}, now=1000.0)


def test_the_token_itself_and_empty_values_are_not_part_of_what_it_signs() -> None:
    token = stream_token(CALL, {"caller": "", "direction": "inbound"}, now=1000.0)
    assert stream_token_valid(token, CALL, {"direction": "inbound", "token": token}, now=1000.0)


def test_a_token_is_used_once() -> None:
    token = stream_token(CALL, PARAMS)
    assert stream_token_use(token, CALL, PARAMS)
    assert not stream_token_use(token, CALL, PARAMS)
    assert stream_token_use(stream_token(CALL, PARAMS), CALL, PARAMS)  # a reconnect's fresh token


def test_a_refused_token_is_not_used_up() -> None:
    token = stream_token(CALL, PARAMS)
    assert not stream_token_use(token, CALL, {**PARAMS, "caller": "+15550102001"})
    assert stream_token_use(token, CALL, PARAMS)


@pytest.mark.parametrize("token", [None, "", "garbage", "9999999999.deadbeef", "abc.def.0", "1.2.3.4",
                                   "99999999999999999999.ab.cd"])
def test_forged_tokens_are_refused(token: str | None) -> None:
    assert not stream_token_valid(token, CALL, PARAMS, now=1000.0)


def test_tampered_expiry_is_refused() -> None:
    expires, nonce, mac = stream_token(CALL, PARAMS, now=1000.0).split(".")
    assert not stream_token_valid(f"{int(expires) + 3600}.{nonce}.{mac}", CALL, PARAMS, now=1000.0)


@pytest.mark.django_db
def test_with_the_cache_down_a_valid_token_is_accepted_and_a_forged_one_still_refused(settings) -> None:
    """Redis down: the single use cannot be marked. Refusing would turn every caller away for the whole
    outage, so a token is accepted on its signature and expiry alone (and that is logged)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings.CACHES = {**settings.CACHES, "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                                      "LOCATION": f"redis://127.0.0.1:{port}/0"}}
    token = stream_token(CALL, PARAMS)
    assert stream_token_use(token, CALL, PARAMS)
    assert not stream_token_use(token[:-1] + ("0" if token[-1] != "0" else "1"), CALL, PARAMS)
    assert not stream_token_use(token, "CA" + "2" * 32, PARAMS)
