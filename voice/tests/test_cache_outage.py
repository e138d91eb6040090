"""Redis down (the shared cache refuses connections): calls are still answered and logged in full.

The cache here is Django's real Redis backend pointed at a port nothing listens on: every cache
operation fails the way a dead Redis makes it fail (connection refused), no internals patched."""

import logging
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from django.test import Client
from twilio.request_validator import RequestValidator

from crm.models import CallLog
from crm.tests.factories import CustomerFactory
from voice.call_record import CallIdentity, CallIntent, CallRecord, SessionStore
from voice.tests.live_server import free_port

pytestmark = pytest.mark.django_db

TOKEN = "test-auth-token"
BASE = "https://shop.example.com"
CALL = {"CallSid": "CA0123456789abcdef0123456789abcdef", "From": "+15550102000", "To": "+15550100100",
        "CallStatus": "ringing", "Direction": "inbound", "AccountSid": "AC0123456789abcdef0123456789abcdef"}



@pytest.fixture(autouse=True)
def _twilio(settings) -> None:
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.PUBLIC_BASE_URL = BASE
    settings.FRONT_DESK_NUMBER = "+15550100199"


def _post(path: str, params: dict[str, str]) -> Any:
    signature = RequestValidator(TOKEN).compute_signature(BASE + path, params)
    return Client().post(path, params, HTTP_X_TWILIO_SIGNATURE=signature)


def _record() -> CallRecord:
    return CallRecord.new(CallIdentity(call_sid=CALL["CallSid"], caller="+15550102000"))


@pytest.mark.usefixtures("redis_down")
async def test_the_session_store_never_raises_into_the_call_and_logs_the_outage_once(caplog) -> None:
    store = SessionStore()
    record = _record()
    with caplog.at_level(logging.WARNING, logger="voice.call_record"):
        assert await store.load(record.call_sid) is None
        for _ in range(5):
            await store.save(record)
        assert store.failing
    assert len([r for r in caplog.records if record.call_sid in r.getMessage()]) == 1


@pytest.mark.usefixtures("redis_down")
def test_the_sync_store_and_the_reconnect_count_never_raise() -> None:
    store = SessionStore()
    store.save_sync(_record())
    assert store.load_sync(CALL["CallSid"]) is None
    assert store.count_reconnect(CALL["CallSid"]) == 1
    assert store.failing


def test_the_store_notices_the_cache_working_again(settings, caplog) -> None:
    store = SessionStore()
    live = settings.CACHES
    settings.CACHES = {**live, "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                           "LOCATION": f"redis://127.0.0.1:{free_port()}/0"}}
    store.save_sync(_record())
    assert store.failing
    settings.CACHES = live
    store.save_sync(_record())
    assert not store.failing and store.load_sync(CALL["CallSid"]) is not None


@pytest.mark.usefixtures("redis_down")
def test_a_new_call_is_answered_with_a_media_stream_while_redis_is_down() -> None:
    customer = CustomerFactory.create(phone="+15550102000")
    response = _post("/twilio/voice", CALL)
    assert response.status_code == 200
    assert ET.fromstring(response.content).find("Connect/Stream") is not None
    assert CallLog.objects.get(call_sid=CALL["CallSid"]).customer == customer  # looked up in the database


@pytest.mark.usefixtures("redis_down")
def test_a_stream_ending_while_redis_is_down_dials_the_front_desk() -> None:
    """The record is unreadable, so whether the agent ended, transferred or lost the call is unknown:
    the front desk is right for a caller still on the line, and cannot loop like a reconnect."""
    response = _post("/twilio/stream-ended", CALL)
    assert response.status_code == 200
    assert ET.fromstring(response.content).findtext("Dial/Number") == "+15550100199"


def test_a_stream_ending_with_no_record_while_redis_works_still_reconnects() -> None:
    response = _post("/twilio/stream-ended", CALL)
    assert ET.fromstring(response.content).find("Connect/Stream") is not None


@pytest.mark.usefixtures("redis_down")
def test_a_status_callback_while_redis_is_down_is_recorded() -> None:
    CallLog.objects.create(call_sid=CALL["CallSid"])
    response = _post("/twilio/status", {**CALL, "CallStatus": "completed", "CallDuration": "12"})
    assert response.status_code == 204


def test_the_store_keeps_a_transfer_readable_for_the_stream_end_when_redis_works() -> None:
    record = _record()
    record.note(intent=CallIntent.TRANSFER)
    SessionStore().save_sync(record)
    assert ET.fromstring(_post("/twilio/stream-ended", CALL).content).findtext("Dial/Number") == "+15550100199"
