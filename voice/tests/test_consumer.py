"""End to end over the wire: a Twilio Media Streams client, the real consumer, and the real Deepgram
and OpenAI SDKs talking to local servers that speak those vendors' protocols."""

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, time, timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from crm.models import CallLog
from crm.tests.factories import CustomerFactory
from scheduling.shop import shop_timezone
from telephony.tokens import stream_token
from voice.call_record import SessionStore
from voice.consumers import PHRASES
from voice.stream_limits import CLOSE_TOKEN_REFUSED
from voice.tests.peers.deepgram_server import FakeDeepgram, results, speech_started, utterance_end
from voice.tests.peers.openai_server import ErrorReply, FakeOpenAI, TextReply, ToolCall, ToolCallsReply
from voice.tests.peers.twilio_client import FakeTwilioCall

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "test-auth-token"
CALL_SID = "CA11111111111111111111111111111111"
VOICE = b"\x10\x20\x30\x40" * 40  # 20 ms of loud mu-law: the caller talking


def short_audio(text: str) -> bytes:
    """Deepgram 'speech' for `text`: 10 ms of audio per character (keeps real-time pacing quick)."""
    return bytes([0x15, 0x25, 0x35, 0x45]) * 20 * len(text)


@pytest.fixture
def application() -> Any:
    from autoshop.asgi import application

    return application


@pytest.fixture
async def peers(settings) -> AsyncIterator[tuple[FakeDeepgram, FakeOpenAI]]:
    PHRASES._audio.clear()  # each test hears its own greeting request
    async with FakeDeepgram(api_key="dg-test", speak_audio=short_audio) as dg, FakeOpenAI(api_key="sk-test") as ai:
        settings.TWILIO_AUTH_TOKEN = TOKEN
        settings.PUBLIC_BASE_URL = "https://shop.example.com"
        settings.STT_PROVIDER, settings.LLM_PROVIDER, settings.TTS_PROVIDER = "deepgram", "openai", "deepgram"
        settings.DEEPGRAM_URL, settings.DEEPGRAM_API_KEY = dg.url, "dg-test"
        settings.OPENAI_BASE_URL, settings.OPENAI_API_KEY = ai.url, "sk-test"
        settings.OPENAI_TIMEOUT_SECONDS = 2.0
        yield dg, ai


def make_call(application: Any, *, caller: str = "+15550102000", call_sid: str = CALL_SID, **kw: Any) -> FakeTwilioCall:
    params = {"caller": caller, "direction": "inbound"}
    params.update(kw.pop("parameters", {}))
    params.setdefault("token", stream_token(call_sid, params))
    return FakeTwilioCall(application, call_sid=call_sid, auth_token=TOKEN, parameters=params, speed=4.0, **kw)


async def talk(call: FakeTwilioCall, dg: FakeDeepgram, text: str, session: int = -1) -> None:
    """The caller says `text`: audio goes out, Deepgram 'hears' it and reports the words."""
    await dg.wait_for_sessions(len(dg.sessions) or 1)
    await call.send_audio(VOICE * 5)
    await dg.send(speech_started(), session=session)
    await dg.send(results(text, is_final=True, speech_final=True), session=session)


async def test_unsigned_upgrade_is_refused_before_any_provider_is_contacted(application, peers) -> None:
    dg, ai = peers
    call = FakeTwilioCall(application, parameters={})
    assert await call.connect() is False
    forged = FakeTwilioCall(application, signature="Zm9yZ2VkIHNpZ25hdHVyZQ==")
    assert await forged.connect() is False
    assert dg.sessions == [] and dg.speak_requests == [] and ai.requests == []


async def test_start_with_a_token_for_another_call_is_refused(application, peers) -> None:
    dg, ai = peers
    call = make_call(application, parameters={"token": stream_token("CAsomeoneelse", {"caller": "+15550102000",
                                                                                      "direction": "inbound"})})
    assert await call.connect()
    await call.start()
    await call.wait_for(lambda: call.closed_code is not None, what="the stream to close")
    assert call.closed_code == CLOSE_TOKEN_REFUSED
    assert dg.sessions == [] and dg.speak_requests == [] and ai.requests == []
    assert not await CallLog.objects.filter(call_sid=CALL_SID).aexists()


async def test_the_signed_attestation_reaches_the_call_identity(application, peers) -> None:
    call = make_call(application, parameters={"attestation": "TN-Validation-Passed-A"})
    assert await call.connect()
    await call.start()
    await call.wait_for(lambda: call.received.media_messages > 0, what="the greeting")
    record = await SessionStore().load(CALL_SID)
    assert record is not None and record.identity.attestation == "TN-Validation-Passed-A"
    assert record.tool_scope().attestation == "TN-Validation-Passed-A"
    await call.hang_up()


async def test_a_start_naming_another_customer_or_reusing_a_token_is_refused(application, peers) -> None:
    dg, _ = peers
    parameters = {"caller": "+15550102000", "direction": "inbound"}
    token = stream_token(CALL_SID, parameters)
    forged = make_call(application, parameters={**parameters, "caller": "+15550102001", "token": token})
    assert await forged.connect()
    await forged.start()
    await forged.wait_for(lambda: forged.closed_code is not None, what="the stream to close")
    assert forged.closed_code == CLOSE_TOKEN_REFUSED and dg.speak_requests == []
    first = make_call(application, parameters={**parameters, "token": token})
    assert await first.connect()
    await first.start()
    await first.wait_for(lambda: first.received.media_messages > 0, what="the greeting")
    again = make_call(application, parameters={**parameters, "token": token})
    assert await again.connect()
    await again.start()
    await again.wait_for(lambda: again.closed_code is not None, what="the second stream to close")
    assert again.closed_code == CLOSE_TOKEN_REFUSED and first.closed_code is None
    await first.hang_up()


async def test_a_full_turn_greets_by_name_answers_and_logs_the_call(application, peers) -> None:
    dg, ai = peers
    await sync_to_async(CustomerFactory.create)(phone="+15550102000", name="Marge Simpson")
    ai.script(TextReply("Sure thing. What day works for you?", first_token_delay=0.05))
    call = make_call(application, parameters={"attestation": "TN-Validation-Passed-A"})
    assert await call.connect()
    await call.start()
    await call.wait_for(lambda: call.received.media_messages > 0, what="the greeting")
    assert dg.speak_requests[0].text.startswith("Hi Marge, thanks for calling Bart's Automotive.")
    assert dg.speak_requests[0].query == {"model": "aura-asteria-en", "encoding": "mulaw", "sample_rate": "8000",
                                          "container": "none"}
    await talk(call, dg, "I'd like an oil change please.")
    await call.wait_for(lambda: len(dg.speak_requests) >= 3 and not call.playing, what="the reply")
    request = ai.requests[0]
    assert request.messages[-1] == {"role": "user", "content": "I'd like an oil change please."}
    assert request.body["stream"] is True and request.body["model"] == "gpt-4o"
    assert {t["function"]["name"] for t in request.tools} >= {"get_current_time"}
    assert [r.text for r in dg.speak_requests[1:3]] == ["Sure thing.", "What day works for you?"]
    assert dg.listener.query["model"] == "nova-2-phonecall" and dg.listener.query["encoding"] == "mulaw"
    await asyncio.sleep(0.3)
    await call.hang_up()
    log = await CallLog.objects.select_related("customer").aget(call_sid=CALL_SID)
    assert log.customer is not None and log.customer.name == "Marge Simpson"
    assert [t["speaker"] for t in log.transcript] == ["agent", "caller", "agent"]
    assert log.transcript[2]["text"] == "Sure thing. What day works for you?"
    assert log.outcome == "information"
    assert len(log.latency) == 1
    turn = log.latency[0]
    assert turn["llm_first_token_ms"] >= 40  # the model's first-token delay shows up where it belongs
    assert all(turn[k] is not None for k in ("stt_final_ms", "tts_first_byte_ms", "first_audio_ms", "total_ms"))


async def test_tool_calls_stream_in_and_their_results_go_back_to_the_model(application, peers) -> None:
    dg, ai = peers
    ai.script(ToolCallsReply([ToolCall("get_current_time", {})]), TextReply("It's Monday."))
    call = make_call(application)
    assert await call.connect()
    await call.start()
    await talk(call, dg, "What day is it?")
    await call.wait_for(lambda: len(ai.requests) == 2 and any(r.text == "It's Monday." for r in dg.speak_requests),
                        what="the answer after the tool")
    second = ai.requests[1].messages
    assert second[-2]["tool_calls"][0]["function"]["name"] == "get_current_time"
    assert second[-1]["role"] == "tool" and '"weekday"' in second[-1]["content"]
    await call.hang_up()


async def test_barge_in_clears_twilio_cancels_the_reply_and_keeps_only_what_was_heard(application, peers) -> None:
    dg, ai = peers
    long_reply = ("We have openings on Tuesday at nine, at ten thirty and at noon, on Wednesday at two, "
                  "and on Thursday morning at eight. Which would you like?")
    ai.script(TextReply(long_reply), TextReply("Thursday at eight it is."))
    dg.speak_audio = lambda text: short_audio(text) * 4  # 40 ms per character: a long answer
    call = make_call(application)
    call.speed = 1.0
    assert await call.connect()
    await call.start()
    await call.wait_for(lambda: not call.playing and call.received.media_messages > 0, what="the greeting")
    greeting_bytes = len(call.received.audio)
    await talk(call, dg, "What times do you have?")
    await call.wait_for(lambda: len(call.received.audio) - greeting_bytes > 8000, timeout=8, what="a second of reply")
    await dg.send(speech_started())
    await call.wait_for(lambda: call.received.clears == 1, timeout=1, what="clear")
    await dg.send(results("wait", is_final=False))
    await dg.send(results("wait, Thursday at eight please", is_final=True, speech_final=True))
    await call.wait_for(lambda: len(ai.requests) == 2, what="the next turn")
    messages = ai.requests[1].messages
    heard = messages[-2]
    assert heard["role"] == "assistant"
    assert long_reply.startswith(heard["content"]) and len(heard["content"]) < len(long_reply) / 2
    assert messages[-1] == {"role": "user", "content": "wait, Thursday at eight please"}
    await call.hang_up()
    log = await CallLog.objects.aget(call_sid=CALL_SID)
    assert any(t.get("interrupted") for t in log.transcript)


async def test_backchannel_while_the_agent_speaks_is_not_an_interruption(application, peers) -> None:
    dg, ai = peers
    ai.script(TextReply("Your car will be ready at five. We will call you when it is done."))
    call = make_call(application)
    assert await call.connect()
    await call.start()
    await call.wait_for(lambda: call.received.media_messages > 0 and not call.playing, what="the greeting")
    await asyncio.sleep(0.3)
    greeted = len(call.received.audio)
    await talk(call, dg, "When will it be ready?")
    await call.wait_for(lambda: call.playing and len(dg.speak_requests) >= 2, what="the reply to play")
    await dg.send(speech_started())
    await dg.send(results("uh-huh", is_final=True, speech_final=True))
    await dg.send(utterance_end())
    def reply_heard() -> bool:
        reply_bytes = sum(len(short_audio(r.text)) for r in dg.speak_requests[1:])
        return len(dg.speak_requests) >= 3 and not call.playing and len(call.received.audio) - greeted >= reply_bytes

    await call.wait_for(reply_heard, timeout=8, what="the reply to finish")
    await asyncio.sleep(0.3)
    assert len(ai.requests) == 1  # "uh-huh" started no new turn
    await call.hang_up()
    log = await CallLog.objects.aget(call_sid=CALL_SID)
    assert log.transcript[-1]["text"] == "Your car will be ready at five. We will call you when it is done."
    assert not any(t.get("interrupted") for t in log.transcript)


async def test_malformed_and_out_of_order_frames_are_dropped_and_the_call_goes_on(application, peers) -> None:
    dg, ai = peers
    ai.script(TextReply("Sure."))
    call = make_call(application)
    assert await call.connect()
    await call.send_raw(text='{"event": "media", "sequenceNumber": "1", "streamSid": "MZ1", "media": {}}')
    await call.start()
    await call.send_raw(data=b"\x00\x01binary")
    await call.send_raw(text="{not json")
    await call.send_raw(text='{"event": "teleport"}')
    await call.send_raw(text='{"event": "media", "media": {"payload": "' + "A" * 70000 + '"}}')
    await call.send_raw(text='{"event": "media", "sequenceNumber": "99", "streamSid": "MZwrong", '
                             '"media": {"track": "inbound", "chunk": "1", "timestamp": "1", "payload": "AAAA"}}')
    await talk(call, dg, "Are you open Saturday?")
    await call.wait_for(lambda: any(r.text == "Sure." for r in dg.speak_requests), what="the answer")
    await call.hang_up()


async def test_media_frames_reach_the_speech_socket_while_the_sync_thread_is_busy(application, peers) -> None:
    """Channels' dispatch waits for the process's one sync thread before every message. A media frame
    must not: at 50 frames a second per call that wait is the server's ceiling, and one slow database call
    would stall every caller's audio."""
    import threading

    dg, _ = peers
    call = make_call(application)
    assert await call.connect()
    await call.start()
    await dg.wait_for_sessions(1)
    release = threading.Event()
    busy = asyncio.ensure_future(sync_to_async(release.wait)(5.0))  # thread-sensitive: the one sync thread
    try:
        await asyncio.sleep(0.05)
        await call.send_audio(VOICE * 12)  # 240 ms: four whole sends to Deepgram
        await dg.wait_for_audio(len(VOICE) * 12, within=2.0)
        assert not busy.done()  # the audio got through while the sync thread was still held
    finally:
        release.set()
        await busy
    await call.hang_up()


async def test_model_outage_gives_a_spoken_apology_not_silence(application, peers, settings) -> None:
    dg, ai = peers
    settings.FRONT_DESK_NUMBER = "+15550100199"  # with none, the apology offers to take a message instead
    ai.script(*[ErrorReply(status=500) for _ in range(4)])
    call = make_call(application)
    assert await call.connect()
    await call.start()
    await talk(call, dg, "Hello?")
    await call.wait_for(lambda: any("transfer you" in r.text for r in dg.speak_requests), timeout=8,
                        what="the apology")
    await call.hang_up()


async def test_a_new_stream_for_the_same_call_resumes_instead_of_starting_over(application, peers) -> None:
    dg, ai = peers
    ai.script(TextReply("Friday works."), TextReply("Yes, still Friday."))
    first = make_call(application)
    assert await first.connect()
    await first.start()
    await talk(first, dg, "Can I come Friday?")
    await first.wait_for(lambda: any(r.text == "Friday works." for r in dg.speak_requests) and not first.playing,
                         what="the first answer")
    await asyncio.sleep(0.2)
    await first.close()  # the worker went away: no `stop`, just a dropped socket
    second = make_call(application)
    assert await second.connect()
    await second.start()
    await second.wait_for(lambda: any("line dropped" in r.text for r in dg.speak_requests), what="the resume")
    await dg.wait_for_sessions(2)
    await talk(second, dg, "Still Friday?", session=1)
    await second.wait_for(lambda: len(ai.requests) == 2, what="the model")
    messages = ai.requests[1].messages
    assert {"role": "user", "content": "Can I come Friday?"} in messages
    assert {"role": "assistant", "content": "Friday works."} in messages
    await second.hang_up()


async def heard_to_the_end(call: FakeTwilioCall, quiet: float = 0.3) -> None:
    """Wait until the agent's audio has stopped coming and has played to the caller."""
    loop = asyncio.get_running_loop()
    seen, since = -1, loop.time()
    for _ in range(200):
        if call.received.media_messages != seen or call.playing:
            seen, since = call.received.media_messages, loop.time()
        elif loop.time() - since >= quiet:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the agent never went quiet")


def _next_weekday_at_ten() -> datetime:
    day = timezone.now().astimezone(shop_timezone()).date() + timedelta(days=2)
    while day.weekday() > 4:
        day += timedelta(days=1)
    return datetime.combine(day, time(10, 0), tzinfo=shop_timezone())


async def test_a_caller_books_an_appointment_end_to_end(application, peers, settings) -> None:
    from crm.models import Appointment
    from crm.tests.factories import VehicleFactory
    from scheduling.tests.google_server import FakeGoogleCalendar

    dg, ai = peers
    vehicle = await sync_to_async(VehicleFactory.create)(customer__phone="+15550102000", customer__name="Marge Simpson")
    start = _next_weekday_at_ten()
    local = start.strftime("%Y-%m-%dT%H:%M")
    ai.script(
        ToolCallsReply([ToolCall("check_availability", {"service": "oil_change", "date": start.date().isoformat()})]),
        TextReply(f"I can do {start:%A} at ten in the morning. Shall I book your oil change then?"),
        ToolCallsReply([ToolCall("book_appointment", {"service": "oil_change", "start": local,
                                                      "vehicle_id": vehicle.pk, "caller_confirmed": True})]),
        TextReply("You're all set. See you then!"),
    )
    with FakeGoogleCalendar() as google:
        settings.CALENDAR_BACKEND = "google"
        settings.GOOGLE_CLIENT_ID, settings.GOOGLE_CLIENT_SECRET = "client", "secret"
        settings.GOOGLE_REFRESH_TOKEN, settings.GOOGLE_CALENDAR_ID = "refresh", "shop@example.com"
        settings.GOOGLE_CALENDAR_API_URL, settings.GOOGLE_TOKEN_URI = google.api_url, google.token_url
        call = make_call(application)
        assert await call.connect()
        await call.start()
        await talk(call, dg, "I need an oil change.")
        await call.wait_for(lambda: len(ai.requests) == 2, what="availability to reach the model")
        availability = ai.requests[1].messages[-1]
        assert availability["role"] == "tool" and start.date().isoformat() in availability["content"]
        await call.wait_for(lambda: any("Shall I book" in r.text for r in dg.speak_requests), what="the offer")
        await heard_to_the_end(call)  # a yes that cuts the read-back short books nothing
        await talk(call, dg, "Yes please.")
        await call.wait_for(lambda: any("all set" in r.text for r in dg.speak_requests), what="the confirmation")
        await call.hang_up()
        appointment = await Appointment.objects.aget()
        assert appointment.scheduled_at == start and appointment.vehicle_id == vehicle.pk
        assert appointment.calendar_sync == "synced"
        assert len(google.events) == 1
    log = await CallLog.objects.aget(call_sid=CALL_SID)
    assert log.outcome == "booked"
    assert [t["speaker"] for t in log.transcript] == ["agent", "caller", "agent", "caller", "agent"]


async def test_a_reminder_call_states_the_appointment_and_the_keypad_confirms_it(application, peers) -> None:
    from crm.models import Appointment
    from crm.tests.factories import AppointmentFactory

    dg, ai = peers
    start = _next_weekday_at_ten()
    appointment = await sync_to_async(AppointmentFactory.create)(
        customer__phone="+15550102000", customer__name="Marge Simpson", scheduled_at=start,
        vehicle__year=2018, vehicle__make="Honda", vehicle__model="Civic")
    call = make_call(application, parameters={"direction": "outbound", "appointment": str(appointment.pk)})
    assert await call.connect()
    await call.start()
    await call.wait_for(lambda: dg.speak_requests, what="the greeting")
    greeting = dg.speak_requests[0].text
    assert greeting.startswith("Hi Marge, this is Bart's Automotive calling to remind you about your oil change")
    assert "2018 Honda Civic" in greeting and "press 1 to confirm" in greeting
    await call.press("1")
    await call.wait_for(lambda: call.closed_code is not None, timeout=8, what="the goodbye and hang-up")
    assert any("you're confirmed" in r.text for r in dg.speak_requests)
    assert ai.requests == []
    assert (await Appointment.objects.aget(pk=appointment.pk)).status == "confirmed"
    log = await CallLog.objects.aget(call_sid=CALL_SID)
    assert log.direction == "outbound" and log.outcome == "confirmed" and log.to_number == "+15550102000"


async def test_transfer_to_a_person_updates_the_live_call_to_dial_the_front_desk(application, peers, settings) -> None:
    from telephony.tests.twilio_rest import FakeTwilioREST

    dg, ai = peers
    ai.script(ToolCallsReply([ToolCall("transfer_to_human", {"reason": "asked for a person"})]),
              TextReply("Sure, connecting you to the front desk now."))
    with FakeTwilioREST("AC" + "1" * 32, TOKEN) as twilio:
        settings.TWILIO_ACCOUNT_SID, settings.TWILIO_API_BASE_URL = "AC" + "1" * 32, twilio.url
        settings.FRONT_DESK_NUMBER = "+15550100199"
        call = make_call(application)
        assert await call.connect()
        await call.start()
        await talk(call, dg, "Can I talk to a person?")
        await call.wait_for(lambda: call.closed_code is not None, timeout=8, what="the hand-over")
        assert [sid for sid, _ in twilio.updates] == [CALL_SID]
        twiml = twilio.updates[0][1]["Twiml"][0]
        assert "<Dial>+15550100199</Dial>" in twiml
    log = await CallLog.objects.aget(call_sid=CALL_SID)
    assert log.outcome == "transferred"
