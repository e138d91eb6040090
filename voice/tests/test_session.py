"""The call loop with providers behind our own interfaces: turns, streaming, barge-in, failures.

Everything runs on virtual time: the session, the fake providers and the fake Twilio share one
clock and sleep, and the test moves time on."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from voice.agent.tool_registry import ToolRegistry, ToolResult
from voice.call_record import CallIdentity, SessionStore, ToolScope
from voice.call_script import APOLOGY, CANT_HEAR, RESUMED
from voice.phrases import PhraseCache
from voice.providers.base import ProviderError, SpeechStarted, TextDelta, TranscriptReceived, UtteranceEnded
from voice.session import CallSession, SessionConfig
from voice.tests.fakes import QueueSTT, TimedChat, TimedTTS, TwilioPlayer, tool_call
from voice.tests.virtual_time import VirtualTime
from voice.turns import TurnConfig

LONG_REPLY = ("We have openings on Tuesday morning at nine and at ten thirty, and on Wednesday afternoon at two. "
              "Which one would suit you best?")


class Call:
    """A session wired to fakes on virtual time, plus handles for the test."""

    def __init__(self, *, chat: Any = None, tts: TimedTTS | None = None, customer: dict[str, Any] | None = None,
                 phrases: PhraseCache | None = None, call_sid: str = "CA1", turn_config: TurnConfig | None = None,
                 speed: float = 4.0, identity: CallIdentity | None = None, tools: ToolRegistry | None = None,
                 time: VirtualTime | None = None) -> None:
        self.time = time or VirtualTime()
        self.stt = QueueSTT()
        self.chat = chat or TimedChat()
        self.chat.sleep = self.time.sleep
        self.tts = tts or TimedTTS(ms_per_char=4)
        self.tts.sleep = self.time.sleep
        self.twilio = TwilioPlayer(speed=speed, clock=self.time.clock, sleep=self.time.sleep)
        self.hung_up = asyncio.Event()

        async def on_hangup() -> None:
            self.hung_up.set()

        self.session = CallSession(
            identity=identity or CallIdentity(call_sid=call_sid, stream_sid="MZ1", caller="+15550102000",
                                              customer=customer),
            send=self.twilio.send, stt=self.stt, chat=self.chat, tts=self.tts, tools=tools or ToolRegistry(),
            store=SessionStore(), phrases=phrases or PhraseCache(), on_hangup=on_hangup,
            clock=self.time.clock, sleep=self.time.sleep,
            config=SessionConfig(lead_ms=100, turns=turn_config or TurnConfig()),
        )
        self.twilio.session = self.session

    async def __aenter__(self) -> "Call":
        await self.session.start()
        await self.idle()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.session.stop()
        self.twilio.close()

    async def idle(self) -> None:
        """Until the agent has said everything and the caller heard it."""
        await self.until(lambda: not self.session.replies.running, what="the agent to finish speaking")

    async def until(self, predicate: Any, limit: float = 30.0, what: str = "condition") -> None:
        await self.time.run_until(predicate, limit=limit, what=what)

    def say(self, text: str) -> None:
        self.stt.stream.emit(SpeechStarted())
        self.stt.stream.emit(TranscriptReceived(text, is_final=True, speech_final=True))

    @property
    def history(self) -> list[dict[str, Any]]:
        return self.session.record.history


async def test_agent_speaks_first_and_greets_a_known_caller_by_name() -> None:
    marge = {"id": 7, "name": "Marge Simpson", "phone": "+15550102000"}
    attested = CallIdentity(call_sid="CA1", stream_sid="MZ1", caller="+15550102000", customer=marge,
                            attestation="TN-Validation-Passed-A")
    async with Call(identity=attested) as call:
        assert call.tts.texts[0] == "Hi Marge, thanks for calling Bart's Automotive. How can I help you today?"
        assert len(call.twilio.audio) > 0
        assert call.chat.requests == []  # no model round trip before the first words


async def test_a_caller_whose_number_the_carrier_did_not_vouch_for_is_not_greeted_by_the_customers_name() -> None:
    marge = {"id": 7, "name": "Marge Simpson", "phone": "+15550102000"}
    unattested = CallIdentity(call_sid="CA1", stream_sid="MZ1", caller="+15550102000", customer=marge)
    async with Call(identity=unattested) as call:  # caller ID can be spoofed: the name would tell whose it is
        assert call.tts.texts[0] == "Thanks for calling Bart's Automotive. How can I help you today?"


async def test_full_turn_records_history_transcript_and_latency() -> None:
    async with Call() as call:
        call.say("I need an oil change")
        await call.until(lambda: len(call.history) == 3, what="a reply")
        await call.idle()
        assert call.chat.requests[0][-1] == {"role": "user", "content": "I need an oil change"}
        assert call.chat.requests[0][0]["role"] == "system" and "It is now" in call.chat.requests[0][0]["content"]
        assert call.history[0]["role"] == "assistant" and "How can I help" in call.history[0]["content"]
        assert call.history[2] == {"role": "assistant", "content": TimedChat().reply}
        speakers = [t["speaker"] for t in call.session.record.transcript]
        assert speakers == ["agent", "caller", "agent"]
        record = call.session.record.latency[0]
        assert set(record) == {"stt_final_ms", "llm_first_token_ms", "tts_first_byte_ms", "first_audio_ms", "total_ms"}
        assert all(value is not None and value >= 0 for value in record.values())


async def test_first_sentence_is_spoken_before_the_model_finishes() -> None:
    chat = TimedChat(reply="Sure thing. " + LONG_REPLY, tokens_per_second=40)
    async with Call(chat=chat) as call:
        started = call.time.now
        call.twilio.first_media_at = None
        call.say("Can I come in this week?")
        await call.until(lambda: call.twilio.first_media_at is not None, what="first audio")
        first_audio = call.time.now - started
        await call.until(lambda: len(call.history) == 3, limit=10, what="the whole reply")
        model_time = len(chat.reply.split(" ")) / 40
        assert first_audio < model_time / 3
        assert call.tts.texts[1] == "Sure thing."


async def test_caller_speech_during_playback_clears_twilio_and_keeps_only_what_was_heard() -> None:
    chat = TimedChat(reply=LONG_REPLY)
    async with Call(chat=chat, tts=TimedTTS(ms_per_char=25), speed=1.0) as call:
        greeting = len(call.twilio.audio)
        call.say("What times do you have?")
        await call.until(lambda: len(call.twilio.audio) - greeting > 8000 * 1.2, what="a second of the reply")
        clears_before = call.twilio.clears
        call.stt.stream.emit(SpeechStarted())
        await call.until(lambda: call.twilio.clears > clears_before, limit=1, what="clear")
        call.stt.stream.emit(TranscriptReceived("wait actually", is_final=False))
        await call.until(lambda: call.session.turns.interruptions >= 1, what="the interruption")
        await call.until(lambda: len(call.history) == 3, what="the truncated reply")
        heard = call.history[-1]["content"]
        assert heard and LONG_REPLY.startswith(heard) and len(heard) < len(LONG_REPLY) / 2
        assert call.session.record.transcript[-1]["interrupted"] is True
        assert call.session.latency.barge_in_ms and max(call.session.latency.barge_in_ms) == 0  # no time passes
        call.stt.stream.emit(TranscriptReceived("wait actually Thursday", is_final=True, speech_final=True))
        await call.until(lambda: call.history[-1]["role"] == "assistant" and len(call.chat.requests) == 2,
                    what="the next turn")
        assert call.chat.requests[1][-1] == {"role": "user", "content": "wait actually Thursday"}
        assert call.chat.requests[1][-2]["content"] == heard


async def test_backchannel_during_playback_does_not_cancel_the_reply() -> None:
    async with Call(chat=TimedChat(reply=LONG_REPLY), tts=TimedTTS(ms_per_char=8), speed=2.0) as call:
        call.say("What times do you have?")
        await call.until(lambda: len(call.twilio.audio) > 8000 * 1, what="some of the reply")
        call.stt.stream.emit(SpeechStarted())
        call.stt.stream.emit(TranscriptReceived("uh-huh", is_final=True, speech_final=True))
        call.stt.stream.emit(UtteranceEnded())
        await call.until(lambda: len(call.history) == 3, limit=10, what="the reply to finish")
        assert call.history[2]["content"] == LONG_REPLY
        assert call.session.turns.interruptions == 0
        assert len(call.chat.requests) == 1


async def test_false_interruption_resumes_and_the_whole_reply_is_heard() -> None:
    turns = TurnConfig(false_interruption_timeout=0.2)
    async with Call(chat=TimedChat(reply=LONG_REPLY), tts=TimedTTS(ms_per_char=8), speed=2.0,
                    turn_config=turns) as call:
        call.say("What times do you have?")
        await call.until(lambda: len(call.twilio.audio) > 8000 * 1, what="some of the reply")
        clears = call.twilio.clears
        call.stt.stream.emit(SpeechStarted())  # a cough: no words follow
        await call.until(lambda: call.twilio.clears == clears + 1, what="the pause")
        await call.until(lambda: len(call.history) == 3, limit=10, what="the resumed reply to finish")
        assert call.history[2]["content"] == LONG_REPLY
        assert call.session.turns.false_interruptions == 1
        assert call.session.output.tracker.heard_text() == LONG_REPLY


async def test_model_failure_is_an_apology_with_a_transfer_offer_not_silence(settings) -> None:
    settings.FRONT_DESK_NUMBER = "+15550100199"
    async with Call(chat=TimedChat(fail=True)) as call:
        call.say("Hello?")
        await call.until(lambda: len(call.history) == 3, what="the apology")
        assert call.history[2]["content"] == APOLOGY
        assert " ".join(call.tts.texts[-2:]) == APOLOGY


async def test_speech_failure_mid_call_plays_the_cached_apology_and_transfers(settings) -> None:
    settings.FRONT_DESK_NUMBER = "+15550100199"
    phrases = PhraseCache()
    tts = TimedTTS(ms_per_char=2, fail_after=2)  # greeting and apology warm-up work, then it breaks
    async with Call(tts=tts, phrases=phrases) as call:
        warm = asyncio.create_task(phrases.warm(tts, APOLOGY))
        await call.until(warm.done, what="the apology warm-up")
        audio_before = len(call.twilio.audio)
        call.say("I need brakes")
        await call.until(call.hung_up.is_set, what="the hang-up")
        assert call.session.record.transfer
        apology = phrases.cached(tts, APOLOGY)
        assert apology is not None and len(call.twilio.audio) - audio_before >= len(apology)


async def test_speech_failure_without_any_audio_hands_over_at_once(settings) -> None:
    settings.FRONT_DESK_NUMBER = "+15550100199"
    async with Call(tts=TimedTTS(ms_per_char=2, fail_after=1)) as call:
        call.say("I need brakes")
        await call.until(call.hung_up.is_set, what="the hang-up")
        assert call.session.record.transfer


async def test_listening_failure_apologises_and_transfers(settings) -> None:
    settings.FRONT_DESK_NUMBER = "+15550100199"
    async with Call() as call:
        call.stt.stream.emit(ProviderError("socket gone"))
        await call.until(call.hung_up.is_set, what="the hang-up")
        assert call.tts.texts[-1] == CANT_HEAR
        assert call.session.record.transfer


@pytest.mark.django_db(transaction=True)
async def test_listening_failure_with_no_front_desk_leaves_a_callback_request(settings) -> None:
    """No person to hand over to: the caller is promised a call back, and the shop has the request to do it."""
    from crm.models import CallbackRequest
    from voice.call_script import CALLING_BACK

    settings.FRONT_DESK_NUMBER = ""
    async with Call(call_sid="CA-deaf") as call:
        call.stt.stream.emit(ProviderError("socket gone"))
        await call.until(call.hung_up.is_set, what="the hang-up")
        assert call.tts.texts[-1] == CALLING_BACK
        assert not call.session.record.transfer and call.session.record.final_outcome() == "callback"
    request = await CallbackRequest.objects.aget()
    assert request.phone == "+15550102000" and request.call_sid == "CA-deaf" and "could not be heard" in request.message


@pytest.mark.django_db(transaction=True)
async def test_a_voice_failure_with_no_front_desk_plays_the_cached_call_back_promise_and_keeps_it(settings) -> None:
    from crm.models import CallbackRequest
    from voice.call_script import CALLING_BACK

    settings.FRONT_DESK_NUMBER = ""
    phrases = PhraseCache()
    tts = TimedTTS(ms_per_char=2, fail_after=2)  # greeting and the promise's warm-up work, then it breaks
    async with Call(tts=tts, phrases=phrases, call_sid="CA-mute") as call:
        warm = asyncio.create_task(phrases.warm(tts, CALLING_BACK))
        await call.until(warm.done, what="the warm-up")
        audio_before = len(call.twilio.audio)
        call.say("I need brakes")
        await call.until(call.hung_up.is_set, what="the hang-up")
        promise = phrases.cached(tts, CALLING_BACK)
        assert promise is not None and len(call.twilio.audio) - audio_before >= len(promise)
        assert not call.session.record.transfer and call.session.record.final_outcome() == "callback"
    request = await CallbackRequest.objects.aget()
    assert request.call_sid == "CA-mute" and "voice failed" in request.message


async def test_a_new_stream_for_the_same_call_resumes_the_conversation() -> None:
    async with Call(call_sid="CA-resume") as call:
        call.say("I need an oil change on Friday")
        await call.until(lambda: len(call.history) == 3, what="a reply")
        await call.idle()
    async with Call(call_sid="CA-resume") as again:
        assert again.tts.texts[0] == RESUMED
        again.say("Still there?")
        await again.until(lambda: len(again.chat.requests) == 1, what="the model")
        sent = again.chat.requests[0]
        assert {"role": "user", "content": "I need an oil change on Friday"} in sent
        assert sent[-1] == {"role": "user", "content": "Still there?"}


async def test_silence_after_the_agent_speaks_prompts_the_caller() -> None:
    turns = TurnConfig(silence_prompt_after=0.2, max_silence_prompts=1)
    async with Call(turn_config=turns) as call:
        await call.until(lambda: "Are you still there?" in call.tts.texts, what="a prompt")
        await call.until(call.hung_up.is_set, what="the hang-up")


@pytest.fixture(autouse=True)
def _no_real_providers(settings) -> None:
    settings.SHOP_NAME = "Bart's Automotive"


async def _drain(iterator: AsyncIterator[Any]) -> list[Any]:
    return [item async for item in iterator]


REMINDER = {"appointment_id": 0, "service": "Oil change", "vehicle": "2018 Honda Civic",
            "when": "Tuesday, November 24 at 10 AM"}


@pytest.mark.django_db(transaction=True)
async def test_reminder_call_states_the_appointment_and_keypad_1_confirms_it() -> None:
    from asgiref.sync import sync_to_async

    from crm.tests.factories import AppointmentFactory

    appointment = await sync_to_async(AppointmentFactory.create)(customer__name="Marge Simpson")
    reminder = {**REMINDER, "appointment_id": appointment.pk}
    identity = CallIdentity(call_sid="CA-rem", stream_sid="MZ1", caller=appointment.customer.phone,
                            direction="outbound", customer={"id": appointment.customer_id, "name": "Marge Simpson"},
                            reminder=reminder)
    call = Call(identity=identity, time=VirtualTime(real_pause=0.002))
    async with call:
        greeting = call.tts.texts[0]
        assert greeting.startswith("Hi Marge, this is Bart's Automotive calling to remind you about your oil change")
        assert "2018 Honda Civic" in greeting and "Tuesday, November 24 at 10 AM" in greeting
        assert "press 1 to confirm" in greeting
        await call.session.on_dtmf("1")
        await call.until(call.hung_up.is_set, what="the hang-up")
        await appointment.arefresh_from_db()
        assert appointment.status == "confirmed"
        assert call.session.record.final_outcome() == "confirmed"
        assert call.chat.requests == []  # the keypad needs no model round trip


async def test_reminder_keypad_2_asks_the_agent_to_reschedule() -> None:
    call = Call(identity=CallIdentity(call_sid="CA-rem2", stream_sid="MZ1", caller="+15550102000",
                                      direction="outbound", reminder=REMINDER))
    async with call:
        await call.session.on_dtmf("2")
        await call.until(lambda: len(call.chat.requests) == 1, what="the agent")
        assert call.chat.requests[0][-1] == {"role": "user", "content": "I need to reschedule the appointment."}
        assert "reminder call WE placed" in call.chat.requests[0][0]["content"]
        assert call.chat.contexts[0] is not None and call.chat.contexts[0].reminder == REMINDER


async def test_keypad_1_on_an_incoming_call_is_a_yes_to_the_agents_read_back() -> None:
    """The booking tools take keypad 1 as the caller's yes; on an incoming call it must reach the agent as one."""
    call = Call(identity=CallIdentity(call_sid="CA-key1", stream_sid="MZ1", caller="+15550102000"))
    async with call:
        await call.session.on_dtmf("1")
        await call.until(lambda: len(call.chat.requests) == 1, what="the agent")
        assert call.chat.requests[0][-1] == {"role": "user", "content": "Yes."}
        assert call.session.record.tool_scope().caller_said == "Yes."


async def test_every_turn_tells_the_model_the_time_it_is_now() -> None:
    """The system message is rebuilt per turn, so a long call never works from a stale clock."""
    from datetime import UTC, datetime, timedelta

    import time_machine
    from django.utils import timezone

    start = datetime(2026, 11, 23, 14, 5, tzinfo=UTC)
    with time_machine.travel(start, tick=True) as clock:
        async with Call() as call:
            call.say("first question")
            await call.until(lambda: len(call.history) == 3, what="the first reply")
            await call.idle()
            clock.shift(timedelta(hours=2))
            call.say("second question")
            await call.until(lambda: len(call.history) == 5, what="the second reply")
            first, second = (request[0]["content"] for request in call.chat.requests[:2])
    assert timezone.localtime(start).strftime("%-I:%M %p") in first
    later = timezone.localtime(start + timedelta(hours=2)).strftime("%-I:%M %p")
    assert later in second and later not in first


async def test_after_a_clear_no_agent_audio_reaches_twilio_until_the_turn_is_decided() -> None:
    """The caller cuts in: `clear` is the last thing Twilio gets until the next reply starts, and a
    false alarm sends nothing either until it is judged one (then the unheard audio goes back out)."""
    turns = TurnConfig(false_interruption_timeout=1.0)
    async with Call(chat=TimedChat(reply=LONG_REPLY), tts=TimedTTS(ms_per_char=25), speed=1.0,
                    turn_config=turns) as call:
        call.say("What times do you have?")
        await call.until(lambda: len(call.twilio.audio) > 8000, what="a second of the reply")
        call.stt.stream.emit(SpeechStarted())  # a cough, or the start of words: not decided yet
        await call.until(lambda: call.twilio.clears == 1, what="the clear")
        cleared = len(call.twilio.messages)
        await call.time.advance(0.9)
        assert "media" not in call.twilio.events_after(cleared)  # undecided: silence
        await call.time.advance(0.2)  # no words came: a false alarm, the reply goes on
        assert "media" in call.twilio.events_after(cleared)

        call.stt.stream.emit(SpeechStarted())
        await call.until(lambda: call.twilio.clears == 2, what="the second clear")
        cleared = len(call.twilio.messages)
        call.stt.stream.emit(TranscriptReceived("wait actually", is_final=False))  # real words: cut in
        await call.until(lambda: call.session.turns.interruptions == 1, what="the interruption")
        await call.time.advance(2.0)
        assert "media" not in call.twilio.events_after(cleared)  # the old reply sends nothing more
        call.stt.stream.emit(TranscriptReceived("wait actually Thursday", is_final=True, speech_final=True))
        await call.until(lambda: "media" in call.twilio.events_after(cleared), what="the next reply")
        assert len(call.chat.requests) == 2


async def test_facts_tools_collected_survive_a_new_stream_for_the_same_call() -> None:
    """What a tool wrote into the call's facts (a booking's id and key) is there after a reconnect, so
    the "already booked in this call" guard and the idempotency keys still hold."""
    seen: list[list[int]] = []
    tools = ToolRegistry()

    @tools.register("book", "Books.", writes=True)
    async def book(scope: ToolScope, args: dict[str, Any]) -> ToolResult:
        seen.append(list(scope.facts.booked_ids))
        scope.facts.booked_ids.append(7)
        scope.facts.idempotency_keys.append("CA-facts:oil_change:2026-12-08T10:00")
        return ToolResult({"booked": True})

    def chat() -> TimedChat:
        return TimedChat(script=[[tool_call("book")], [TextDelta("Booked.")]])

    async with Call(call_sid="CA-facts", chat=chat(), tools=tools) as call:
        call.say("Book an oil change")
        await call.until(lambda: call.history[-1].get("content") == "Booked.", what="the booking")
        await call.idle()
    async with Call(call_sid="CA-facts", chat=chat(), tools=tools) as again:
        again.say("And another one")
        await again.until(lambda: len(seen) == 2, what="the second booking attempt")
    assert seen == [[], [7]]
    assert again.session.record.facts.idempotency_keys == ["CA-facts:oil_change:2026-12-08T10:00"] * 2


@pytest.mark.django_db(transaction=True)
async def test_keypad_1_for_an_appointment_cancelled_since_the_call_was_placed_confirms_nothing() -> None:
    from asgiref.sync import sync_to_async

    from crm.tests.factories import AppointmentFactory
    from voice.call_script import REMINDER_GONE

    appointment = await sync_to_async(AppointmentFactory.create)(customer__name="Marge Simpson", status="cancelled")
    identity = CallIdentity(call_sid="CA-rem-gone", stream_sid="MZ1", caller=appointment.customer.phone,
                            direction="outbound", customer={"id": appointment.customer_id, "name": "Marge Simpson"},
                            reminder={**REMINDER, "appointment_id": appointment.pk})
    call = Call(identity=identity, time=VirtualTime(real_pause=0.002))
    async with call:
        await call.session.on_dtmf("1")
        await call.until(lambda: REMINDER_GONE in call.tts.texts, what="the explanation")
        await call.idle()
        await appointment.arefresh_from_db()
        assert appointment.status == "cancelled"
        assert not call.hung_up.is_set() and call.session.record.final_outcome() != "confirmed"


async def test_the_model_is_told_whether_its_last_reply_was_heard_to_the_end() -> None:
    """A question the caller cut off, or one a silence prompt followed, was not heard: the model hears so
    (the offline brain then drops its pending question instead of taking the next yes as an answer)."""
    turns = TurnConfig(silence_prompt_after=5.0, max_silence_prompts=2)
    async with Call(chat=TimedChat(reply=LONG_REPLY), tts=TimedTTS(ms_per_char=25), speed=1.0,
                    turn_config=turns) as call:
        call.say("What times do you have?")
        await call.until(lambda: len(call.chat.requests) == 1, what="the first request")
        await call.idle()
        call.say("Tuesday")  # the whole reply was heard
        await call.until(lambda: len(call.twilio.audio) > 16000 * 2, what="the second reply playing")
        call.say("wait")  # cut short
        await call.until(lambda: len(call.chat.requests) == 3, what="the third request")
        await call.idle()
        await call.time.advance(5.5)  # a silence prompt follows the (heard) third reply
        await call.idle()
        call.say("yes")
        await call.until(lambda: len(call.chat.requests) == 4, what="the fourth request")
    assert [c.last_reply_heard for c in call.chat.contexts if c is not None] == [False, True, False, False]
