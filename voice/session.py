"""One phone call's live loop: caller audio → STT → turn-taking → agent → TTS → paced audio out.

This is the only module with asyncio tasks. Everything it decides comes from `turns.TurnTaker`
(when to answer, pause, resume or give up a reply) and `playback.PlaybackTracker` (what the caller
has actually heard); this module wires providers to Twilio and keeps the clock.
"""

import asyncio
import audioop
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from crm.phones import mask_phone
from voice import twilio_protocol as twilio
from voice.agent.loop import agent_reply
from voice.agent.prompt import system_prompt
from voice.agent.sentences import SentenceSplitter
from voice.agent.tools import ToolContext, ToolRegistry
from voice.phrases import PhraseCache
from voice.playback import PlaybackTracker
from voice.providers.base import (
    ChatModel,
    ProviderError,
    STTProvider,
    STTStream,
    TranscriptReceived,
    TTSProvider,
    UtteranceEnded,
)
from voice.state import ConversationState, SessionStore
from voice.turns import (
    AgentReplyFinished,
    AgentReplyStarted,
    CancelReply,
    HangUp,
    PausePlayback,
    PromptSilence,
    ResumePlayback,
    StartReply,
    TurnConfig,
    TurnTaker,
)

logger = logging.getLogger(__name__)

APOLOGY = ("I'm sorry, I'm having trouble on my end right now. "
           "Would you like me to transfer you to someone at the front desk?")
CANT_HEAR = "I'm sorry, I'm having trouble hearing you. Let me get you to someone at the front desk."
STILL_THERE = "Are you still there?"
GOODBYE_SILENT = "I'll let you go for now. Call us back any time. Goodbye."
RESUMED = "Sorry about that, the line dropped for a moment. I'm back with you."

# What a key press means, said in words to the agent (which then uses its tools as for speech).
KEYPAD = {"2": "I need to reschedule the appointment.",
          "3": "I want to cancel the appointment.", "0": "I'd like to talk to a person."}
KEYPAD_ANY_CALL = {"0": "I'd like to talk to a person."}

BYTES_PER_MS = 8  # mu-law 8 kHz mono
VOICE_RMS = 500  # linear RMS above which an inbound frame counts as the caller's voice


@dataclass(frozen=True, slots=True)
class CallInfo:
    """Who and what this call is, as Twilio's verified `start` message told us."""

    call_sid: str
    stream_sid: str
    caller: str | None
    direction: str = "inbound"
    customer: dict[str, Any] | None = None
    reminder: dict[str, Any] | None = None  # outbound reminder calls: the appointment it is about


@dataclass(slots=True)
class SessionConfig:
    chunk_ms: int = 100  # audio per media message (and per mark)
    lead_ms: int = 300  # how far ahead of real time Twilio's buffer may be filled
    tick_seconds: float = 0.05
    turns: TurnConfig = field(default_factory=TurnConfig)


@dataclass(slots=True)
class _TurnTimes:
    """Monotonic instants of one caller turn, for the latency record."""

    speech_end: float | None = None
    stt_final: float | None = None
    llm_first_token: float | None = None
    tts_first_byte: float | None = None
    first_audio: float | None = None

    def as_record(self) -> dict[str, float | None]:
        def ms(a: float | None, b: float | None) -> float | None:
            return None if a is None or b is None else round((b - a) * 1000, 1)

        return {
            "stt_final_ms": ms(self.speech_end, self.stt_final),
            "llm_first_token_ms": ms(self.stt_final, self.llm_first_token),
            "tts_first_byte_ms": ms(self.llm_first_token, self.tts_first_byte),
            "first_audio_ms": ms(self.tts_first_byte, self.first_audio),
            "total_ms": ms(self.speech_end, self.first_audio),
        }


Sender = Callable[[str], Awaitable[None]]


class CallSession:
    """Runs one call from Twilio's `start` to `stop`. Create it, `await start()`, feed it events."""

    def __init__(self, *, info: CallInfo, send: Sender, stt: STTProvider, chat: ChatModel, tts: TTSProvider,
                 tools: ToolRegistry, store: SessionStore, phrases: PhraseCache,
                 on_hangup: Callable[[], Coroutine[Any, Any, None]] | None = None,
                 clock: Callable[[], float] = time.monotonic, config: SessionConfig | None = None) -> None:
        self.info = info
        self._send = send
        self._stt_provider = stt
        self._chat = chat
        self._tts = tts
        self._tools = tools
        self._store = store
        self._phrases = phrases
        self._on_hangup = on_hangup
        self._clock = clock
        self.config = config or SessionConfig()
        self.turns = TurnTaker(self.config.turns)
        self.tracker = PlaybackTracker()
        self.state: ConversationState = ConversationState.new(info.customer)
        self.context = ToolContext(call_sid=info.call_sid, caller_phone=info.caller,
                                   customer_id=(info.customer or {}).get("id"), direction=info.direction)
        self._stt: STTStream | None = None
        self._tasks: list[asyncio.Task] = []
        self._reply_task: asyncio.Task | None = None
        self._audio: asyncio.Queue[tuple[str, int, int, bytes]] = asyncio.Queue()  # kind, reply, segment, audio
        self._carry: dict[int, bytes] = {}  # partial chunks per segment, waiting for more audio
        self._replay: list[tuple[str, bytes]] = []  # (mark, audio) unheard, to re-send after a false alarm
        self._sentences: asyncio.Queue[str | None] = asyncio.Queue()
        self._playing = asyncio.Event()  # set while audio may flow to Twilio (cleared on pause)
        self._playing.set()
        self._all_played = asyncio.Event()
        self._play_deadline = 0.0  # when the audio already sent will have finished playing
        self._reply_id = 0
        self._reply_sent_all = False
        self._reply_audible = 0  # id of the last reply whose first audio was sent
        self._times = _TurnTimes()
        self._last_voice_at: float | None = None
        self._closed = False
        self.barge_in_ms: list[float] = []  # caller speech event → clear sent, per interruption
        self.transfer_requested = False
        self._hangup_task: asyncio.Task | None = None

    # --- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        """Greet at once (or resume a dropped call) while the speech-to-text stream connects."""
        restored = await self._store.load(self.info.call_sid)
        if restored is not None:
            self.state = restored
            self.context.customer_id = self.context.customer_id or (restored.customer or {}).get("id")
            self.context.collected.update(restored.collected)
        self._tasks.append(asyncio.create_task(self._player(), name="player"))
        self._tasks.append(asyncio.create_task(self._ticker(), name="ticker"))
        opening = RESUMED if restored is not None else self._greeting()
        if not (self.info.customer or {}).get("name"):
            self._phrases.add_phrase(opening)  # the same words for every unknown caller: cache them
        self._begin_reply(self._single(opening), caller_text=None)
        self._tasks.append(asyncio.create_task(self._listen(), name="stt"))

    async def stop(self) -> None:
        """Twilio said stop (or the socket closed): cancel everything, keep the record."""
        if self._closed:
            return
        self._closed = True
        if self._reply_task is not None and not self._reply_task.done():
            self._finish_interrupted_reply()
            self._reply_task.cancel()
        current = asyncio.current_task()
        pending = [t for t in [*self._tasks, self._reply_task] if t is not None and t is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if self._stt is not None:
            with contextlib.suppress(Exception):
                await self._stt.close()
        await self._store.save(self.info.call_sid, self.state)

    async def close_providers(self) -> None:
        """Release the chat and TTS clients' pooled connections."""
        for provider in (self._chat, self._tts):
            aclose = getattr(provider, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()

    def _greeting(self) -> str:
        from django.conf import settings

        name = (self.info.customer or {}).get("name", "").split(" ")[0]
        if self.info.reminder is not None:
            r = self.info.reminder
            return (f"Hi{' ' + name if name else ''}, this is {settings.SHOP_NAME} calling to remind you about your "
                    f"{r['service'].lower()} for your {r['vehicle']} on {r['when']}. Can you still make it? "
                    "You can also press 1 to confirm, 2 to reschedule, or 3 to cancel.")
        if name:
            return f"Hi {name}, thanks for calling {settings.SHOP_NAME}. How can I help you today?"
        return f"Thanks for calling {settings.SHOP_NAME}. How can I help you today?"

    # --- Twilio events ----------------------------------------------------------------------------

    async def on_media(self, payload: bytes) -> None:
        """Caller audio: note when the caller last made voice-like sound, pass it to STT."""
        if audioop.rms(audioop.ulaw2lin(payload, 2), 2) > VOICE_RMS:
            self._last_voice_at = self._clock()
        if self._stt is not None:
            try:
                await self._stt.send_audio(payload)
            except ProviderError:
                logger.warning("call %s: audio could not reach STT", self.info.call_sid)

    async def on_mark(self, name: str) -> None:
        """Twilio played the audio up to this mark."""
        self.tracker.mark_acknowledged(name)
        self._check_reply_played()

    async def on_dtmf(self, digit: str) -> None:
        """Keypad: on a reminder call 1 confirms, 2 reschedules, 3 cancels; 0 asks for a person."""
        self._transcript("caller", f"[pressed {digit}]")
        if digit == "1" and self.info.reminder is not None:
            await self._interrupt_reply()
            await self._confirm_reminder()
            return
        said = KEYPAD.get(digit) if self.info.reminder is not None else KEYPAD_ANY_CALL.get(digit)
        if said is None:
            return
        await self._interrupt_reply()
        self.turns = TurnTaker(self.config.turns)  # the key press takes the turn outright
        self.turns.handle(TranscriptReceived(said, is_final=True), self._clock())
        await self._act(self.turns.handle(UtteranceEnded(), self._clock()), event_at=self._clock())

    async def _confirm_reminder(self) -> None:
        """Keypad 1 on a reminder call: confirm at once, say so, and hang up."""
        from channels.db import database_sync_to_async

        from crm.models import Appointment
        from crm.services import appointment_confirm

        reminder = self.info.reminder or {}

        def confirm() -> None:
            appointment = Appointment.objects.filter(pk=reminder["appointment_id"]).first()
            if appointment is not None:
                appointment_confirm(appointment=appointment)

        await database_sync_to_async(confirm)()
        self.context.outcome = "confirmed"
        self.context.end_call = True
        self._begin_reply(self._single(f"Thank you, you're confirmed for {reminder.get('when')}. "
                                       "We'll see you then. Goodbye!"), caller_text=None)

    # --- the listening side -----------------------------------------------------------------------

    async def _listen(self) -> None:
        try:
            self._stt = await self._stt_provider.open_stream()
            async for event in self._stt.events():
                now = self._clock()
                actions = self.turns.handle(event, now)
                if actions and any(isinstance(a, StartReply) for a in actions):
                    self._times = _TurnTimes(speech_end=self._last_voice_at or now, stt_final=now)
                await self._act(actions, event_at=now)
        except asyncio.CancelledError:
            raise
        except ProviderError:
            logger.warning("call %s: speech-to-text failed", self.info.call_sid)
            await self._fail_over(CANT_HEAR, transfer=True)

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(self.config.tick_seconds)
            await self._act(self.turns.tick(self._clock()), event_at=self._clock())

    async def _act(self, actions: list[Any], event_at: float) -> None:
        for action in actions:
            if isinstance(action, StartReply):
                await self._interrupt_reply()  # a reply still running is superseded
                self._begin_reply(self._agent_text(action.caller_text), caller_text=action.caller_text)
            elif isinstance(action, PausePlayback):
                await self._clear_playback()
                self.barge_in_ms.append(round((self._clock() - event_at) * 1000, 3))
            elif isinstance(action, ResumePlayback):
                self._resume_playback()
            elif isinstance(action, CancelReply):
                await self._interrupt_reply()
                self.barge_in_ms.append(round((self._clock() - event_at) * 1000, 3))
            elif isinstance(action, PromptSilence):
                self._begin_reply(self._single(STILL_THERE), caller_text=None)
            elif isinstance(action, HangUp):
                self.context.end_call = True
                self._begin_reply(self._single(GOODBYE_SILENT), caller_text=None)

    # --- replies ----------------------------------------------------------------------------------

    async def _single(self, text: str) -> AsyncIterator[str]:
        """A fixed phrase, spoken as one piece (so its audio can be cached whole)."""
        yield text

    async def _agent_text(self, caller_text: str) -> AsyncIterator[str]:
        system = system_prompt(timezone.localtime(), (self.state.customer or {}).get("name"),
                               self.state.customer is not None, reminder=self.info.reminder)
        first = True
        try:
            async for delta in agent_reply(self._chat, self._tools, system, self.state.history, self.context,
                                           on_tool_start=self._say_filler):
                if first:
                    self._times.llm_first_token = self._clock()
                    first = False
                yield delta
        except ProviderError:
            logger.warning("call %s: the language model failed", self.info.call_sid)
            yield (" " if not first else "") + APOLOGY

    async def _say_filler(self, text: str) -> None:
        """A slow tool is about to run: say something short so the caller never hears dead air."""
        self._sentences.put_nowait(text)

    def _begin_reply(self, text: AsyncIterator[str], caller_text: str | None) -> None:
        if caller_text is not None:
            self.state.history.append({"role": "user", "content": caller_text})
            self._transcript("caller", caller_text)
        self._reply_id += 1
        self.tracker.reset()
        self._reply_sent_all = False
        self._all_played.clear()
        self._sentences = asyncio.Queue()
        whole = caller_text is None  # fixed phrases are spoken (and cached) whole
        self._reply_task = asyncio.create_task(self._speak(self._reply_id, text, whole),
                                               name=f"reply-{self._reply_id}")

    async def _speak(self, reply_id: int, text: AsyncIterator[str], whole: bool) -> None:
        """Stream text → sentences → TTS → the player, then wait until the caller heard it all."""
        splitter = SentenceSplitter()
        sentences = self._sentences
        spoken: list[str] = []
        synth = asyncio.create_task(self._synthesize(reply_id, sentences))
        try:
            async for delta in text:
                spoken.append(delta)
                for sentence in ([delta] if whole else splitter.feed(delta)):
                    sentences.put_nowait(sentence)
            for sentence in splitter.flush():
                sentences.put_nowait(sentence)
            sentences.put_nowait(None)
            await synth
        except asyncio.CancelledError:
            synth.cancel()
            raise
        full = "".join(spoken).strip()
        self._audio.put_nowait(("done", reply_id, 0, b""))
        await self._all_played.wait()
        if full:
            self.state.history.append({"role": "assistant", "content": full})
            self._transcript("agent", full)
        await self._act(self.turns.handle(AgentReplyFinished(), self._clock()), event_at=self._clock())
        self.state.outcome = self.context.outcome or self.state.outcome
        await self._store.save(self.info.call_sid, self.state)
        if self.context.end_call:
            self.transfer_requested = self.transfer_requested or self.context.transfer
            await self._hang_up()

    async def _synthesize(self, reply_id: int, sentences: "asyncio.Queue[str | None]") -> None:
        while (sentence := await sentences.get()) is not None:
            segment = self.tracker.begin_segment(sentence)
            try:
                async for audio in self._phrases.speak(self._tts, sentence):
                    if self._times.tts_first_byte is None:
                        self._times.tts_first_byte = self._clock()
                    self._audio.put_nowait(("audio", reply_id, segment, audio))
            except ProviderError:
                logger.warning("call %s: text-to-speech failed", self.info.call_sid)
                self._audio.put_nowait(("end", reply_id, segment, b""))
                fallback = self._phrases.cached(self._tts, APOLOGY)
                if fallback is None:
                    await self._fail_over(None, transfer=True)
                    return
                self.transfer_requested = True
                self.context.end_call = True
                segment = self.tracker.begin_segment(APOLOGY)
                self._audio.put_nowait(("audio", reply_id, segment, fallback))
                self._audio.put_nowait(("end", reply_id, segment, b""))
                return
            self._audio.put_nowait(("end", reply_id, segment, b""))

    def _check_reply_played(self) -> None:
        if self._reply_sent_all and self.tracker.all_played():
            self._all_played.set()

    async def _interrupt_reply(self) -> None:
        """The caller took the turn: stop the reply, keep in history only what they heard."""
        if self._reply_task is None or self._reply_task.done():
            return
        await self._clear_playback()
        self._finish_interrupted_reply()
        self._reply_task.cancel()
        await asyncio.wait([self._reply_task])  # unlike awaiting it, never swallows our own cancellation
        self._drain_audio()
        self._playing.set()
        await self._store.save(self.info.call_sid, self.state)

    def _finish_interrupted_reply(self) -> None:
        heard = self.tracker.heard_text().strip()
        if heard:
            self.state.history.append({"role": "assistant", "content": heard})
        self._transcript("agent", heard, interrupted=True)

    async def _clear_playback(self) -> None:
        """Empty Twilio's buffer now and hold further audio (a resume may re-send it)."""
        if not self._playing.is_set():
            return
        self._playing.clear()
        await self._send(twilio.clear_message(self.info.stream_sid))
        self.tracker.cleared()
        self._play_deadline = self._clock()

    def _resume_playback(self) -> None:
        """A false alarm: re-send what the caller did not hear, then carry on where we were."""
        self._replay = self.tracker.replay_unplayed()
        self._playing.set()
        self._audio.put_nowait(("replay", self._reply_id, 0, b""))  # wakes an idle player

    def _drain_audio(self) -> None:
        while not self._audio.empty():
            self._audio.get_nowait()
        self._carry.clear()
        self._replay.clear()

    # --- audio out --------------------------------------------------------------------------------

    async def _player(self) -> None:
        """Send audio to Twilio in `chunk_ms` pieces, a `mark` after each, paced near real time."""
        chunk_bytes = self.config.chunk_ms * BYTES_PER_MS
        while True:
            kind, reply_id, segment, audio = await self._audio.get()
            if reply_id != self._reply_id:
                continue  # left over from a reply the caller interrupted
            if kind == "done":
                self._reply_sent_all = True
                self._check_reply_played()
            elif kind == "replay":
                await self._flush_replay(reply_id)
            elif kind == "end":
                rest = self._carry.pop(segment, b"")
                if rest:
                    await self._send_chunk(reply_id, segment, rest)
                self.tracker.finish_segment(segment)
            else:
                data = self._carry.pop(segment, b"") + audio
                whole = len(data) - len(data) % chunk_bytes
                for offset in range(0, whole, chunk_bytes):
                    await self._send_chunk(reply_id, segment, data[offset:offset + chunk_bytes])
                if whole < len(data):
                    self._carry[segment] = data[whole:]

    async def _flush_replay(self, reply_id: int) -> None:
        replay, self._replay = self._replay, []
        for mark, chunk in replay:
            await self._pace()
            if reply_id != self._reply_id:
                return
            await self._send(twilio.media_message(self.info.stream_sid, chunk))
            await self._send(twilio.mark_message(self.info.stream_sid, mark))
            self._played(chunk)

    async def _pace(self) -> None:
        """Wait until Twilio's buffer holds no more than `lead_ms` of audio (and playback is not paused)."""
        await self._playing.wait()
        wait = self._play_deadline - self._clock() - self.config.lead_ms / 1000
        if wait > 0:
            await asyncio.sleep(wait)
            await self._playing.wait()

    def _played(self, chunk: bytes) -> None:
        self._play_deadline = max(self._play_deadline, self._clock()) + len(chunk) / (BYTES_PER_MS * 1000)

    async def _send_chunk(self, reply_id: int, segment: int, chunk: bytes) -> None:
        await self._playing.wait()
        if self._replay:
            await self._flush_replay(reply_id)  # unheard audio goes back out before anything newer
        await self._pace()
        if reply_id != self._reply_id:
            return
        mark = self.tracker.chunk_sent(segment, chunk)
        await self._send(twilio.media_message(self.info.stream_sid, chunk))
        await self._send(twilio.mark_message(self.info.stream_sid, mark))
        self._played(chunk)
        if self._reply_audible != reply_id:
            self._reply_audible = reply_id
            if self._times.first_audio is None and self._times.stt_final is not None:
                self._times.first_audio = self._clock()
                self.state.latency.append(self._times.as_record())
            await self._act(self.turns.handle(AgentReplyStarted(), self._clock()), event_at=self._clock())

    # --- records ----------------------------------------------------------------------------------

    def _transcript(self, speaker: str, text: str, interrupted: bool = False) -> None:
        turn: dict[str, Any] = {"speaker": speaker, "text": text, "at": timezone.now().isoformat()}
        if interrupted:
            turn["interrupted"] = True
        self.state.transcript.append(turn)

    async def _fail_over(self, say: str | None, *, transfer: bool) -> None:
        """A provider broke: say sorry (if we still can) and hand the caller to a person."""
        self.transfer_requested = transfer
        self.state.outcome = "transferred" if transfer else "failed"
        if say:
            self.context.end_call = True
            self._begin_reply(self._single(say), caller_text=None)
        else:
            await self._hang_up()

    async def _hang_up(self) -> None:
        """Ask the transport to end the stream; runs apart from the reply task, which it will cancel."""
        logger.info("call %s (%s): ending the stream", self.info.call_sid, mask_phone(self.info.caller))
        if self._on_hangup is not None and self._hangup_task is None:
            self._hangup_task = asyncio.create_task(self._on_hangup(), name="hangup")
