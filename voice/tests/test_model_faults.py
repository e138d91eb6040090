"""Model faults over the wire: the real consumer and CallSession, the real openai SDK against FakeOpenAI
(a model that hangs, one that answers 500), the real Deepgram SDK against FakeDeepgram, and the real
Twilio REST client against FakeTwilioREST for the hand-over. Real time: each test takes a few seconds.

What a fault suite can watch: the words the agent asked the TTS for (and when), the model requests made,
the call log's transcript and outcome, the REST transfer, and the callback request in the database."""

import asyncio
import contextlib
import time
from collections.abc import Iterator

import pytest
from asgiref.sync import sync_to_async

from crm.models import CallbackRequest, CallLog
from telephony.tests.twilio_rest import FakeTwilioREST
from voice.call_script import (
    APOLOGY,
    APOLOGY_MESSAGE,
    ASK_MESSAGE,
    FILLER,
    MESSAGE_TAKEN,
    TALK_TO_A_PERSON,
    TRANSFERRING,
)
from voice.tests import test_consumer as wire
from voice.tests.peers.deepgram_server import FakeDeepgram
from voice.tests.peers.openai_server import ErrorReply, HangReply
from voice.tests.test_consumer import CALL_SID, TOKEN, heard_to_the_end, make_call, talk

pytestmark = pytest.mark.django_db(transaction=True)
application, peers = wire.application, wire.peers  # the wire harness's fixtures: ASGI app, FakeDeepgram + FakeOpenAI

FRONT_DESK = "+15550100199"
ACCOUNT = "AC" + "1" * 32
APOLOGY_FIRST = "I'm sorry, I'm having trouble on my end right now."


async def said_at(dg: FakeDeepgram, text: str, within: float = 10.0) -> float:
    """Wait until the agent asks the TTS for `text`; the monotonic time it did."""
    deadline = time.monotonic() + within
    while not any(r.text == text for r in dg.speak_requests):
        assert time.monotonic() < deadline, f"the agent never said {text!r}"
        await asyncio.sleep(0.01)
    return time.monotonic()


@contextlib.contextmanager
def front_desk(settings) -> Iterator[FakeTwilioREST]:
    """Twilio's REST API (a local peer) and a front desk to transfer to."""
    with FakeTwilioREST(ACCOUNT, TOKEN) as twilio:
        settings.TWILIO_ACCOUNT_SID, settings.TWILIO_API_BASE_URL = ACCOUNT, twilio.url
        settings.FRONT_DESK_NUMBER = FRONT_DESK
        yield twilio


async def test_a_hanging_model_gets_a_filler_then_the_offer_at_the_budget_and_yes_transfers(
        application, peers, settings) -> None:
    dg, ai = peers
    settings.OPENAI_TIMEOUT_SECONDS = 8.0  # the SDK alone would wait 8 s, then retry: 16+ s of silence
    settings.MODEL_FILLER_AFTER_SECONDS, settings.MODEL_FIRST_TOKEN_BUDGET_SECONDS = 0.5, 2.0
    ai.script(HangReply(seconds=30))
    with front_desk(settings) as twilio:
        call = make_call(application)
        assert await call.connect()
        await call.start()
        await heard_to_the_end(call)
        await talk(call, dg, "Hello? Can I book a brake check?")
        asked = time.monotonic()
        filler = await said_at(dg, FILLER) - asked
        apology = await said_at(dg, APOLOGY_FIRST) - asked
        assert 0.4 <= filler < 1.4  # no dead air: a breath after the caller finished
        assert 2.0 <= apology < 3.5  # the budget, not the SDK's timeout
        await ai.wait_for_disconnect(0)  # the hung request was given up
        assert len(ai.requests) == 1
        await heard_to_the_end(call)
        await talk(call, dg, "Yes please.")
        await call.wait_for(lambda: call.closed_code is not None, timeout=8, what="the hand-over")
        assert any(r.text == TRANSFERRING for r in dg.speak_requests)
        assert len(ai.requests) == 1  # the yes never went to the broken model
        assert [sid for sid, _ in twilio.updates] == [CALL_SID]
        assert f"<Dial>{FRONT_DESK}</Dial>" in twilio.updates[0][1]["Twiml"][0]
    log = await CallLog.objects.aget(call_sid=CALL_SID)
    assert log.outcome == "transferred"
    agent = [t["text"] for t in log.transcript if t["speaker"] == "agent"]
    assert agent[1:] == [f"{FILLER} {APOLOGY}", TRANSFERRING]


async def test_a_model_answering_500_is_retried_once_then_keypad_0_transfers(application, peers, settings) -> None:
    dg, ai = peers
    ai.script(ErrorReply(500), ErrorReply(500), ErrorReply(500))
    with front_desk(settings) as twilio:
        call = make_call(application)
        assert await call.connect()
        await call.start()
        await talk(call, dg, "Hello?")
        await said_at(dg, APOLOGY_FIRST)
        assert len(ai.requests) == 2  # the SDK's one retry, inside the budget
        await heard_to_the_end(call)
        await call.press("0")
        await call.wait_for(lambda: call.closed_code is not None, timeout=8, what="the hand-over")
        assert len(ai.requests) == 2
        assert [sid for sid, _ in twilio.updates] == [CALL_SID]
    log = await CallLog.objects.aget(call_sid=CALL_SID)
    assert log.outcome == "transferred"
    assert [t["text"] for t in log.transcript][-4:] == [APOLOGY, "[pressed 0]", TALK_TO_A_PERSON, TRANSFERRING]


async def test_with_no_front_desk_a_500ing_model_ends_in_a_callback_request(application, peers, settings) -> None:
    dg, ai = peers
    settings.FRONT_DESK_NUMBER = ""
    ai.script(ErrorReply(500), ErrorReply(500))
    call = make_call(application)
    assert await call.connect()
    await call.start()
    await talk(call, dg, "Hello?")
    await said_at(dg, "Would you like me to take a message so someone calls you back?")
    await heard_to_the_end(call)
    await talk(call, dg, "Yes.")
    await said_at(dg, ASK_MESSAGE)
    await heard_to_the_end(call)
    await talk(call, dg, "My brakes squeal. Please call me after five.")
    await call.wait_for(lambda: call.closed_code is not None, timeout=8, what="the goodbye")
    assert any(r.text.startswith("Thank you, I've passed that on") for r in dg.speak_requests)
    assert len(ai.requests) == 2
    log = await CallLog.objects.aget(call_sid=CALL_SID)
    assert log.outcome == "callback"
    assert [t["text"] for t in log.transcript if t["speaker"] == "agent"][1:] == [
        APOLOGY_MESSAGE, ASK_MESSAGE, MESSAGE_TAKEN]
    request = await sync_to_async(CallbackRequest.objects.select_related("call").get)()
    assert request.call == log and request.phone == "+15550102000" and request.done_at is None
    assert request.message == "My brakes squeal. Please call me after five."
