"""One phone call's live loop: caller audio → STT → turn-taking → agent → TTS → Twilio.

Glue only. When to answer, pause, resume or give up a reply is decided by `turns.TurnTaker`; what the
caller heard by `playback.PlaybackTracker`; audio out by `twilio_output`; replies by `replies`; the
fixed words and keys by `call_script`. Everything the call knows lives in one `CallRecord`.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field, replace
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from autoshop import metrics
from crm.models import CallOutcome
from crm.phones import mask_phone
from crm.services import appointment_confirm_for_reminder, callback_request_create
from voice import call_script as script
from voice import fallback
from voice.agent.deadlines import ModelTimings
from voice.agent.dictation import asks_for_dictation
from voice.agent.tool_registry import ToolRegistry
from voice.agent.turn import model_reply
from voice.audio import is_voice
from voice.call_record import CallIdentity, CallIntent, CallRecord, SessionStore
from voice.latency import LatencyRecorder
from voice.phrases import PhraseCache
from voice.playback import PlaybackTracker
from voice.providers.base import ChatModel, ProviderError, STTProvider, STTStream, TTSProvider
from voice.providers.fallback import expect_dictation
from voice.replies import ReplyEnded, ReplyRunner
from voice.turns import (
    AgentReplyFinished,
    AgentReplyStarted,
    CancelReply,
    HangUp,
    PausePlayback,
    PromptSilence,
    ReplyFailed,
    ResumePlayback,
    StartReply,
    TurnConfig,
    TurnTaker,
)
from voice.twilio_output import Sender, TwilioOutput

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class SessionConfig:
    chunk_ms: int = 100  # audio per media message (and per mark)
    lead_ms: int = 300  # how far ahead of real time Twilio's buffer may be filled
    tick_seconds: float = 0.05
    turns: TurnConfig = field(default_factory=lambda: TurnConfig(dictation_hold=settings.DICTATION_HOLD_SECONDS))
    model: ModelTimings | None = None  # None: from settings (MODEL_FILLER_AFTER_SECONDS, ...)


class CallSession:
    """Runs one call from Twilio's `start` to `stop`. Create it, `await start()`, feed it events."""

    def __init__(self, *, identity: CallIdentity, send: Sender, stt: STTProvider, chat: ChatModel, tts: TTSProvider,
                 tools: ToolRegistry, store: SessionStore, phrases: PhraseCache,
                 on_hangup: Callable[[], Coroutine[Any, Any, None]] | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 config: SessionConfig | None = None) -> None:
        self.record = CallRecord.new(identity)
        self.config = config or SessionConfig()
        self.turns = TurnTaker(self.config.turns)
        self._timings = self.config.model or ModelTimings.from_settings()
        self.latency = LatencyRecorder(clock)
        self.output = TwilioOutput(stream_sid=identity.stream_sid, send=send, tracker=PlaybackTracker(), clock=clock,
                                   sleep=sleep, on_audible=self._reply_audible, chunk_ms=self.config.chunk_ms,
                                   lead_ms=self.config.lead_ms)
        self.replies = ReplyRunner(output=self.output, tts=tts, phrases=phrases, latency=self.latency,
                                   apology=fallback.speech_apology(self.record), on_ended=self._reply_ended)
        self._stt_provider, self._chat, self._tts, self._tools = stt, chat, tts, tools
        self._store, self._phrases, self._on_hangup = store, phrases, on_hangup
        self._clock, self._sleep = clock, sleep
        self._stt: STTStream | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._last_voice_at: float | None = None
        self._model_heard_last = False  # the model's reply was the last thing the caller heard, to its end
        self._closed = False
        self._counted = False  # this stream is among the worker's calls in progress
        self._hangup_task: asyncio.Task[None] | None = None

    # --- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        """Greet at once (or resume a dropped call) while the speech-to-text stream connects."""
        identity = self.record.identity
        earlier = await self._store.load(identity.call_sid)
        self._counted = True
        metrics.call_started(identity.direction, resumed=earlier is not None)
        if earlier is not None:  # a new stream for a call in progress: carry on with what it knew
            self.record = earlier
            self.record.identity = replace(earlier.identity, stream_sid=identity.stream_sid)
        await self._store.save(self.record)
        self._tasks.append(asyncio.create_task(self.output.run(), name="player"))
        self._tasks.append(asyncio.create_task(self._ticker(), name="ticker"))
        opening = script.RESUMED if earlier is not None else script.greeting(self.record.identity)
        if not script.first_name(identity.customer):
            self._phrases.add_phrase(opening)  # the same words for every unknown caller: cache them
        self._say(opening)
        self._tasks.append(asyncio.create_task(self._listen(), name="stt"))

    async def stop(self) -> None:
        """Twilio said stop (or the socket closed): cancel everything, keep the record."""
        if self._closed:
            return
        self._closed = True
        if self._counted:
            metrics.call_ended(self.record.final_outcome())
        await self._interrupt_reply(save=False)
        current = asyncio.current_task()
        pending = [t for t in self._tasks if t is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if self._stt is not None:
            with contextlib.suppress(Exception):
                await self._stt.close()
        await self._store.save(self.record)

    async def close_providers(self) -> None:
        """Release the chat and TTS clients' pooled connections."""
        for provider in (self._chat, self._tts):
            with contextlib.suppress(Exception):
                await provider.aclose()

    # --- Twilio events ----------------------------------------------------------------------------

    async def on_media(self, payload: bytes) -> None:
        """Caller audio: note when the caller last made voice-like sound, pass it to STT."""
        if is_voice(payload):
            self._last_voice_at = self._clock()
        if self._stt is not None:
            try:
                await self._stt.send_audio(payload)
            except ProviderError:
                logger.warning("call %s: audio could not reach STT", self.record.call_sid)

    async def on_mark(self, name: str) -> None:
        """Twilio played the audio up to this mark."""
        self.output.mark(name)

    async def on_dtmf(self, digit: str) -> None:
        """A key press is a turn event; on a reminder call, 1 is answered by the script itself."""
        self.record.add_turn("caller", f"[pressed {digit}]")
        event = script.key_pressed(digit, self.record.identity)
        if event is None:
            return
        now = self._clock()
        self._last_voice_at = now  # the turn ends with the key, not with words said before it
        await self._act(self.turns.handle(event, now), event_at=now)
        if event.said is None:
            await self._confirm_reminder()

    async def _confirm_reminder(self) -> None:
        reminder = self.record.identity.reminder or {}
        confirmed = await database_sync_to_async(appointment_confirm_for_reminder)(
            appointment_id=reminder["appointment_id"], phone=self.record.identity.caller or "",
            call_sid=self.record.call_sid)
        if confirmed is None:  # cancelled (or moved to someone else) since the call was placed
            self._say(script.REMINDER_GONE)
            return
        self.record.note(outcome=CallOutcome.CONFIRMED, intent=CallIntent.END)
        self._say(script.reminder_confirmed(reminder))

    # --- listening and turn-taking ------------------------------------------------------------------

    async def _listen(self) -> None:
        try:
            self._stt = await self._stt_provider.open_stream()
            async for event in self._stt.events():
                now = self._clock()
                await self._act(self.turns.handle(event, now), event_at=now)
        except ProviderError:
            logger.warning("call %s: speech-to-text failed", self.record.call_sid)
            metrics.provider_failed("stt", self._stt or self._stt_provider)
            lost = fallback.speech_lost(self.record, fallback.STT_LOST)
            self._say(lost.text if lost.message is None else await self._take_message(lost))

    async def _ticker(self) -> None:
        while True:
            await self._sleep(self.config.tick_seconds)
            now = self._clock()
            await self._act(self.turns.tick(now), event_at=now)

    async def _act(self, actions: list[Any], event_at: float) -> None:
        for action in actions:
            if isinstance(action, StartReply):
                await self._interrupt_reply()  # a reply still running is superseded
                await self._answer(action.caller_text)
            elif isinstance(action, PausePlayback):
                if await self.output.pause():
                    self.latency.barge_in(event_at)
            elif isinstance(action, ResumePlayback):
                self.output.resume()
            elif isinstance(action, CancelReply):
                await self._interrupt_reply()
                self.latency.barge_in(event_at)
            elif isinstance(action, PromptSilence):
                self._say(script.STILL_THERE)
            elif isinstance(action, HangUp):
                self.record.note(intent=CallIntent.END)
                self._say(script.GOODBYE_SILENT)

    # --- replies ----------------------------------------------------------------------------------

    def _say(self, text: str) -> None:
        async def phrase() -> AsyncIterator[str]:
            yield text

        self.replies.start(phrase(), whole=True)

    async def _answer(self, caller_text: str) -> None:
        self.record.history.append({"role": "user", "content": caller_text})
        self.record.add_turn("caller", caller_text)
        turn = self.latency.turn_started(self._last_voice_at)
        self._last_voice_at = None  # a quiet next turn is timed from its transcript, not from these words
        scripted = fallback.answer(self.record, caller_text)  # a pending offer's answer, or a model given up on
        if scripted is not None:
            self._say(scripted.text if scripted.message is None else await self._take_message(scripted))
            return
        text = model_reply(chat=self._chat, tools=self._tools, record=self.record,
                           apology=lambda: fallback.offer(self.record), last_reply_heard=self._model_heard_last,
                           on_first_token=self.latency.first_token, on_filler=self._filler, sleep=self._sleep,
                           timings=self._timings, filler=script.FILLER,
                           waited=turn.stt_final - turn.speech_end)  # the transcript's own delay counts
        self.replies.start(text, whole=False)

    async def _take_message(self, scripted: fallback.Scripted) -> str:
        """Save the caller's message for a call back; the words that confirm it (or admit it failed)."""
        identity = self.record.identity
        try:
            await database_sync_to_async(callback_request_create)(
                call_sid=identity.call_sid, phone=identity.caller or "", message=scripted.message or "",
                customer_id=self.record.facts.customer_id)
        except Exception:
            logger.exception("call %s: the callback request could not be saved", identity.call_sid)
            return fallback.message_saved_failed(self.record)
        return scripted.text

    async def _filler(self, text: str) -> None:
        self.replies.interject(text)

    async def _reply_audible(self) -> None:
        row = self.latency.first_audio()
        if row is not None:
            self.record.latency.append(row)
            metrics.turn_latency(row)
        now = self._clock()
        await self._act(self.turns.handle(AgentReplyStarted(), now), event_at=now)

    async def _reply_ended(self, ended: ReplyEnded) -> None:
        self._model_heard_last = not ended.scripted
        self.turns.dictating = asks_for_dictation(ended.text)  # a VIN, plate or mileage: wait out the pauses
        expect_dictation(self._stt, self.turns.dictating)  # and the offline recogniser listens for spelled runs
        if ended.text:
            self.record.history.append({"role": "assistant", "content": ended.text})
        if ended.text or ended.fillers:  # the transcript has the filler the caller heard; the model's history not
            self.record.add_turn("agent", " ".join([*ended.fillers, ended.text]).strip())
        now = self._clock()
        over = ReplyFailed() if ended.speech_failed else AgentReplyFinished()
        await self._act(self.turns.handle(over, now), event_at=now)
        if ended.speech_failed:  # the pre-rendered apology was played: act on what it said
            lost = fallback.speech_lost(self.record, fallback.TTS_LOST)
            if lost.message is not None:
                await self._take_message(lost)
        await self._store.save(self.record)
        if self.record.ended:
            self._hang_up()

    async def _interrupt_reply(self, save: bool = True) -> None:
        """The caller took the turn: stop the reply, keep in history only what they heard."""
        heard = await self.replies.interrupt()
        if heard is None:
            return
        self._model_heard_last = False
        if heard:
            self.record.history.append({"role": "assistant", "content": heard})
        self.record.add_turn("agent", heard, interrupted=True)
        if save:
            await self._store.save(self.record)

    def _hang_up(self) -> None:
        """Ask the transport to end the stream; runs apart from the reply task, which it will cancel."""
        logger.info("call %s (%s): ending the stream", self.record.call_sid, mask_phone(self.record.identity.caller))
        if self._on_hangup is not None and self._hangup_task is None:
            self._hangup_task = asyncio.create_task(self._on_hangup(), name="hangup")
