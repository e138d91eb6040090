"""A whole call with no network and no keys: the caller's speech (synthesised, phone quality) goes
over the Twilio media stream, the offline STT hears it, the offline brain books, the offline TTS
answers. This is the product on its embedded defaults."""

import asyncio
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from crm.models import Appointment, CallLog
from crm.tests.factories import VehicleFactory
from telephony.tokens import stream_token
from voice.providers.offline_speech import OfflineTTS
from voice.tests.peers.twilio_client import SILENCE, FakeTwilioCall

pytestmark = pytest.mark.django_db(transaction=True)
NY = ZoneInfo("America/New_York")
TOKEN = "test-auth-token"


async def until_agent_is_quiet(call: FakeTwilioCall, quiet: float = 1.0) -> None:
    """Wait until the agent's audio has played and nothing new came for `quiet` seconds."""
    seen, since = -1, 0.0
    for _ in range(600):
        count = call.received.media_messages
        if count != seen or call.playing:
            seen, since = count, asyncio.get_running_loop().time()
        elif asyncio.get_running_loop().time() - since >= quiet:
            return
        await call.send_silence(0.04)
        await asyncio.sleep(0.04)
    raise AssertionError("the agent never went quiet")


async def speech(text: str) -> bytes:
    return b"".join([chunk async for chunk in OfflineTTS().synthesize(text)])


async def test_an_offline_caller_books_an_oil_change_by_voice(settings) -> None:
    from autoshop.asgi import application

    settings.STT_PROVIDER = settings.LLM_PROVIDER = settings.TTS_PROVIDER = "offline"
    settings.TWILIO_AUTH_TOKEN, settings.PUBLIC_BASE_URL = TOKEN, "https://shop.example.com"
    settings.CALENDAR_BACKEND, settings.SHOP_TIMEZONE = "builtin", "America/New_York"
    # Real time, not a frozen clock: a travelled clock confuses channels-redis's message expiry.
    today = timezone.now().astimezone(NY).date()
    day = today + timedelta(days=2 if (today + timedelta(days=2)).weekday() != 6 else 3)  # not a Sunday
    weekday = day.strftime("%A")
    request, yes = await speech(f"oil change on {weekday} at ten please"), await speech("yes")
    await sync_to_async(VehicleFactory.create)(customer__phone="+15550102000", customer__name="Homer Simpson")
    parameters = {"caller": "+15550102000", "direction": "inbound"}
    parameters["token"] = stream_token("CA" + "7" * 32, parameters)
    call = FakeTwilioCall(application, call_sid="CA" + "7" * 32, auth_token=TOKEN, speed=4.0, parameters=parameters)
    assert await call.connect()
    await call.start()
    await call.wait_for(lambda: call.received.media_messages > 0, timeout=10, what="the greeting")
    await until_agent_is_quiet(call)  # the greeting
    before = call.received.media_messages
    await call.send_audio(SILENCE * 10 + request + SILENCE * 50, realtime=True)
    await call.wait_for(lambda: call.received.media_messages > before, timeout=30, what="the question")
    await until_agent_is_quiet(call)
    await call.send_audio(yes + SILENCE * 50, realtime=True)
    for _ in range(300):  # the booking: poll the database (the ORM is sync-only in a lambda)
        if await Appointment.objects.aexists():
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)
    await call.hang_up()
    log = await CallLog.objects.aget(call_sid="CA" + "7" * 32)
    assert await Appointment.objects.aexists(), f"no booking; the call went: {log.transcript_text}"
    appointment = await Appointment.objects.aget()
    assert appointment.scheduled_at == datetime.combine(day, time(10, 0), tzinfo=NY)
    assert appointment.service_type == "oil_change"
    said = [t["text"] for t in log.transcript if t["speaker"] == "caller"]
    assert said[0] == f"oil change on {weekday.lower()} at ten please" and said[1] in {"yes", "yep", "yeah"}
    assert any("Shall I book it?" in t["text"] for t in log.transcript if t["speaker"] == "agent")
    assert log.outcome == "booked"
