"""When the model is slow or down the caller still hears something within a breath, and can reach a person.

Session-level, on virtual time with the in-process fakes: a filler after a second of silence, the fallback
past the model's budget, the offer a pending question answered in code, the message taken when there is no
front desk, and a model given up on after two failed turns."""

from typing import Any

import pytest
from asgiref.sync import sync_to_async

from voice.agent.tool_registry import ToolRegistry, ToolResult
from voice.call_record import Offer, ToolScope
from voice.call_script import (
    APOLOGY,
    APOLOGY_MESSAGE,
    ASK_MESSAGE,
    FILLER,
    FIXED_PHRASES,
    MESSAGE_TAKEN,
    NO_HELP_GOODBYE,
    TRANSFERRING,
)
from voice.phrases import PhraseCache
from voice.providers.base import TextDelta
from voice.tests.fakes import TimedChat, tool_call
from voice.tests.test_session import Call
from voice.tests.virtual_time import VirtualTime

FRONT_DESK = "+15550100199"
APOLOGY_FIRST, APOLOGY_OFFER = "I'm sorry, I'm having trouble on my end right now.", APOLOGY.split(". ", 1)[1]


@pytest.fixture(autouse=True)
def _shop(settings) -> None:
    settings.SHOP_NAME = "Bart's Automotive"
    settings.FRONT_DESK_NUMBER = FRONT_DESK
    settings.MODEL_FILLER_AFTER_SECONDS, settings.MODEL_FIRST_TOKEN_BUDGET_SECONDS = 1.0, 5.0
    settings.MODEL_STREAM_GAP_SECONDS = 3.0


async def _first_audio_after(call: Call, text: str) -> float:
    """Say `text`; seconds until the agent's next audio reached Twilio."""
    await call.idle()
    call.twilio.first_media_at = None
    started = call.time.now
    call.say(text)
    await call.until(lambda: call.twilio.first_media_at is not None, what="the agent's next audio")
    assert call.twilio.first_media_at is not None
    return call.twilio.first_media_at - started


def _agent_lines(call: Call) -> list[str]:
    return [turn["text"] for turn in call.session.record.transcript if turn["speaker"] == "agent"]


# --- 1. no dead air: the filler, and the budget -------------------------------------------------------------


async def test_a_model_silent_for_a_second_gets_one_filler_and_its_reply_follows_without_overlap() -> None:
    chat = TimedChat(reply="Sure. Tuesday at ten works.", first_token=3.0)
    async with Call(chat=chat) as call:
        waited = await _first_audio_after(call, "Can I come in Tuesday?")
        assert 1.0 <= waited < 1.2  # the filler, a second after the caller finished, not three
        await call.until(lambda: len(call.history) == 3, what="the reply")
        await call.idle()
        assert call.tts.texts[1:] == [FILLER, "Sure.", "Tuesday at ten works."]  # in order, one after the other
        assert call.history[-1] == {"role": "assistant", "content": "Sure. Tuesday at ten works."}  # not the model's
        assert _agent_lines(call)[-1] == "One moment. Sure. Tuesday at ten works."  # what the caller heard
        assert call.session.record.model_failures == 0


VOICED = bytes([0x10]) * 160  # a loud 20 ms mu-law frame: the caller's last word


async def test_the_filler_is_due_a_second_after_the_callers_last_word_not_after_a_slow_transcript() -> None:
    async with Call(chat=TimedChat(reply="Sure.", first_token=3.0)) as call:
        await call.idle()
        call.twilio.first_media_at = None
        await call.session.on_media(VOICED)
        spoke_at = call.time.now
        await call.time.advance(0.7)  # speech-to-text takes 0.7 s to settle on the words
        call.say("Can I come in Tuesday?")
        await call.until(lambda: call.twilio.first_media_at is not None, what="the filler")
        assert call.twilio.first_media_at is not None
        assert 1.0 <= call.twilio.first_media_at - spoke_at < 1.2  # not 1.7 s
        await call.idle()
        assert call.tts.texts[-2:] == [FILLER, "Sure."]


async def test_a_key_press_is_the_end_of_its_turn_for_the_filler_and_the_latency_row() -> None:
    async with Call(chat=TimedChat(reply="Sure.", first_token=3.0)) as call:
        await call.session.on_media(VOICED)  # the caller spoke long before pressing
        await call.time.advance(5.0)
        await call.idle()
        call.twilio.first_media_at = None
        pressed_at = call.time.now
        await call.session.on_dtmf("1")
        await call.until(lambda: call.twilio.first_media_at is not None, what="the filler")
        assert call.twilio.first_media_at is not None
        assert 1.0 <= call.twilio.first_media_at - pressed_at < 1.2  # not at once, as if 5 s had passed
        await call.idle()
        assert call.session.record.latency[-1]["stt_final_ms"] == 0.0  # a key needs no transcript


async def test_a_turn_too_quiet_to_mark_is_timed_from_its_transcript_not_from_the_turn_before() -> None:
    async with Call(chat=TimedChat(reply="Sure.", first_token=3.0)) as call:
        await call.session.on_media(VOICED)
        call.say("Hello?")
        await call.until(lambda: len(call.history) == 2, what="the first reply")
        await call.time.advance(5.0)
        await call.idle()
        waited = await _first_audio_after(call, "can i come in tuesday")  # said too softly to count as voice
        assert 1.0 <= waited < 1.2
        assert call.session.record.latency[-1]["stt_final_ms"] == 0.0


async def test_the_filler_is_a_fixed_phrase_synthesised_once_then_played_from_the_cache() -> None:
    phrases = PhraseCache(set(FIXED_PHRASES))  # as the consumer builds it
    async with Call(chat=TimedChat(reply="Sure.", first_token=2.0), phrases=phrases) as call:
        for question in ("Can I come in Tuesday?", "And Wednesday?"):
            waited = await _first_audio_after(call, question)
            assert 1.0 <= waited < 1.2
            await call.until(lambda: call.history[-1]["content"] == "Sure.", what="the reply")
        await call.idle()
        assert call.tts.texts.count(FILLER) == 1  # the second time, no text-to-speech round trip
        assert _agent_lines(call)[-2:] == ["One moment. Sure."] * 2


async def test_a_model_that_answers_within_the_second_gets_no_filler() -> None:
    async with Call(chat=TimedChat(reply="Sure.", first_token=0.8)) as call:
        waited = await _first_audio_after(call, "Can I come in Tuesday?")
        await call.idle()
        assert 0.79 < waited < 1.0
        assert FILLER not in call.tts.texts


async def test_a_hanging_model_is_cut_off_at_the_budget_and_the_caller_hears_the_offer() -> None:
    chat = TimedChat(first_token=60.0)  # the model never answers
    async with Call(chat=chat) as call:
        started = call.time.now
        call.say("Hello?")
        await call.until(lambda: APOLOGY_FIRST in call.tts.texts, what="the apology")
        assert 5.0 <= call.time.now - started < 5.2  # the budget, not the SDK's 8 s timeout and retry
        assert call.tts.texts.count(FILLER) == 1  # once per turn
        assert chat.cancelled == 1  # the model's request is given up, not left running
        await call.idle()
        assert call.tts.texts[-2:] == [APOLOGY_FIRST, APOLOGY_OFFER]
        assert _agent_lines(call)[-1] == f"{FILLER} {APOLOGY}"
        assert call.session.record.pending_offer is Offer.TRANSFER
        assert call.session.record.model_failures == 1


async def test_a_stream_that_stalls_after_its_first_words_ends_in_the_offer_after_the_gap_budget() -> None:
    chat = TimedChat(reply="Let me see what we have on Tuesday.", tokens_per_second=0.1)  # 10 s between words
    async with Call(chat=chat) as call:
        started = call.time.now
        call.say("Anything Tuesday?")
        await call.until(lambda: APOLOGY_OFFER in call.tts.texts, what="the offer")
        assert 3.0 <= call.time.now - started < 3.5
        await call.idle()
        assert call.history[-1]["content"] == f"Let {APOLOGY}"  # the words heard, then the apology
        assert call.session.record.pending_offer is Offer.TRANSFER


def _slow_calendar_call() -> Call:
    """A call whose model looks at the calendar first (a tool with its own filler) and the calendar takes 2 s;
    then the model says "Ten works."."""
    tools = ToolRegistry()
    call = Call(chat=TimedChat(script=[[tool_call("check_availability")], [TextDelta("Ten works.")]]), tools=tools)

    @tools.register("check_availability", "Free slots.", filler="Let me check the calendar.")
    async def check(scope: ToolScope, args: dict[str, Any]) -> ToolResult:
        await call.time.sleep(2.0)
        return ToolResult({"slots": ["10:00"]})

    return call


async def test_a_slow_tools_filler_is_the_turns_filler_the_caller_never_hears_two() -> None:
    call = _slow_calendar_call()
    async with call:
        call.say("Anything Tuesday?")
        await call.until(lambda: len(call.chat.requests) == 2, what="the second model step")
        await call.idle()
        assert "Let me check the calendar." in call.tts.texts and FILLER not in call.tts.texts


async def test_a_filler_due_while_a_tool_runs_is_that_tools_own_words() -> None:
    call = _slow_calendar_call()
    async with call:
        await call.idle()
        call.twilio.first_media_at = None
        await call.session.on_media(VOICED)
        spoke_at = call.time.now
        await call.time.advance(0.8)  # a slow transcript: the filler is due before the tool's own 0.4 s
        call.say("Anything Tuesday?")
        await call.until(lambda: call.twilio.first_media_at is not None, what="the filler")
        assert call.twilio.first_media_at is not None
        assert 1.0 <= call.twilio.first_media_at - spoke_at < 1.2
        await call.until(lambda: len(call.chat.requests) == 2, what="the second model step")
        await call.idle()
        assert call.tts.texts[-2:] == ["Let me check the calendar.", "Ten works."]  # not "One moment."


async def test_the_caller_cutting_into_the_filler_cancels_the_turn_like_any_reply() -> None:
    chat = TimedChat(reply="Sure.", first_token=4.0)
    async with Call(chat=chat, speed=0.5) as call:
        call.say("Hello?")
        await call.until(lambda: FILLER in call.tts.texts and call.twilio.first_media_at is not None,
                         what="the filler playing")
        clears = call.twilio.clears
        call.say("actually, are you open Saturday?")
        await call.until(lambda: len(chat.requests) == 2, what="the next turn")
        assert call.twilio.clears > clears and chat.cancelled == 1
        assert call.session.record.transcript[-2]["interrupted"] is True


# --- 2. the fallback leads somewhere ------------------------------------------------------------------------


async def _fail_once(call: Call) -> None:
    call.say("Hello?")
    await call.until(lambda: call.session.record.pending_offer is not None and len(call.history) == 3,
                     what="the apology")
    await call.idle()


@pytest.mark.parametrize("answer", ["yes please", "key 0"])
async def test_yes_to_the_offer_transfers_without_asking_the_broken_model(answer: str) -> None:
    async with Call(chat=TimedChat(fail=True)) as call:
        await _fail_once(call)
        assert call.history[-1]["content"] == APOLOGY
        if answer == "key 0":
            await call.session.on_dtmf("0")
        else:
            call.say(answer)
        await call.until(call.hung_up.is_set, what="the hand-over")
        assert len(call.chat.requests) == 1  # the yes never went back to the model
        assert call.tts.texts[-1] == TRANSFERRING
        record = call.session.record
        assert record.transfer and record.final_outcome() == "transferred" and record.pending_offer is None


async def test_no_to_the_offer_clears_it_and_the_next_turn_goes_to_the_model() -> None:
    async with Call(chat=TimedChat(fail=True)) as call:
        await _fail_once(call)
        call.chat.fail = False  # the model is back
        call.say("no thanks, what are your hours?")
        await call.until(lambda: len(call.chat.requests) == 2 and len(call.history) == 5, what="the model's answer")
        record = call.session.record
        assert not record.transfer and record.pending_offer is None and record.model_failures == 0


async def test_after_two_failed_model_turns_the_call_stops_asking_the_model() -> None:
    async with Call(chat=TimedChat(fail=True)) as call:
        await _fail_once(call)
        call.say("what are your hours?")  # not an answer to the offer: the model gets one more try
        await call.until(lambda: len(call.chat.requests) == 2 and len(call.history) == 5, what="the second apology")
        await call.idle()
        call.say("hello, can you hear me?")
        await call.until(lambda: len(call.history) == 7, what="the scripted offer")
        await call.idle()
        assert len(call.chat.requests) == 2
        assert call.history[-1]["content"] == APOLOGY and call.session.record.pending_offer is Offer.TRANSFER
        call.say("no")  # nothing left to try: a polite goodbye
        await call.until(call.hung_up.is_set, what="the goodbye")
        assert call.tts.texts[-1] == NO_HELP_GOODBYE and len(call.chat.requests) == 2


async def test_a_pending_offer_survives_a_new_stream_for_the_same_call() -> None:
    async with Call(call_sid="CA-offer", chat=TimedChat(fail=True)) as call:
        await _fail_once(call)
    async with Call(call_sid="CA-offer", chat=TimedChat(fail=True)) as again:
        assert again.session.record.pending_offer is Offer.TRANSFER
        again.say("yes")
        await again.until(again.hung_up.is_set, what="the hand-over")
        assert again.chat.requests == [] and again.session.record.transfer


@pytest.mark.django_db(transaction=True)
async def test_with_no_front_desk_the_agent_takes_a_message_for_a_call_back(settings) -> None:
    from crm.models import CallbackRequest

    settings.FRONT_DESK_NUMBER = ""
    call = Call(call_sid="CA-msg", chat=TimedChat(fail=True), time=VirtualTime(real_pause=0.002))
    async with call:
        await _fail_once(call)
        assert call.history[-1]["content"] == APOLOGY_MESSAGE
        call.say("yes")
        await call.until(lambda: call.tts.texts[-1] == ASK_MESSAGE, what="the question")
        await call.idle()
        call.say("My brakes squeal, please call me after five")
        await call.until(call.hung_up.is_set, what="the goodbye")
        assert call.tts.texts[-1] == MESSAGE_TAKEN
        assert len(call.chat.requests) == 1
        record = call.session.record
        assert record.final_outcome() == "callback" and not record.transfer
    request = await sync_to_async(CallbackRequest.objects.get)()
    assert request.call_sid == "CA-msg" and request.phone == "+15550102000"
    assert request.message == "My brakes squeal, please call me after five"
    assert request.done_at is None


# --- the caller's answer, read in code ------------------------------------------------------------------


@pytest.mark.parametrize(("said", "transfers"), [
    ("yes", True), ("Yes please.", True), ("sure, go ahead", True), ("1", True),
    ("I'd like to talk to a person.", True), ("can I speak to someone", True),
    ("no", False), ("no thanks, I don't want a person", False), ("what are your hours?", False), ("hmm", False),
])
def test_the_answer_to_a_transfer_offer_is_read_in_code(said: str, transfers: bool) -> None:
    from voice import fallback
    from voice.call_record import CallIdentity, CallRecord

    record = CallRecord.new(CallIdentity(call_sid="CA-x"))
    assert fallback.offer(record) == APOLOGY and record.pending_offer is Offer.TRANSFER
    scripted = fallback.answer(record, said)
    assert (scripted is not None and scripted.text == TRANSFERRING) is transfers
    assert record.transfer is transfers
    assert scripted is not None or record.pending_offer is None  # not a yes: cleared, and the model answers
