"""The Twilio media-stream WebSocket: checks who is calling, then hands events to a CallSession."""

import asyncio
import contextlib
import logging
import time
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import DatabaseError

from autoshop import metrics
from crm.phones import mask_phone
from crm.selectors import acustomer_get_by_phone, appointment_for_reminder
from crm.services import call_log_finish, call_log_start
from scheduling.spoken import spoken_time
from telephony.rest import transfer_call
from telephony.signatures import public_url, signature_valid
from telephony.tokens import stream_token_use
from telephony.webhook_fields import attestation
from voice import twilio_protocol as twilio
from voice.agent.shop_tools import registry
from voice.call_record import CallIdentity, SessionStore
from voice.call_script import FIXED_PHRASES
from voice.phrases import PhraseCache
from voice.providers.factory import make_chat, make_stt, make_tts
from voice.recording import CallRecorder, recording_save
from voice.session import CallSession
from voice.stream_limits import CLOSE_PROTOCOL_ERRORS, CLOSE_TOKEN_REFUSED, ProtocolErrors
from voice.twilio_order import StreamOrder

logger = logging.getLogger(__name__)

# Audio of the fixed phrases and the tools' fillers, shared by every call this process handles (not per-call
# state); rendered at start-up (autoshop.startup).
CALL_PHRASES = FIXED_PHRASES | registry.fillers()
PHRASES = PhraseCache(set(CALL_PHRASES))
_SAVING: set[asyncio.Task[str]] = set()  # recordings being written after their calls (held against GC)


class MediaStreamConsumer(AsyncWebsocketConsumer):
    """One Twilio media stream. Malformed or out-of-order frames are dropped and counted (logged
    rate-limited); too many of them end the stream, as does a `start` without its valid token."""

    session: CallSession | None = None
    recorder: CallRecorder | None = None  # RECORD_CALLS: both sides as heard, saved when the stream ends
    recorded_from = 0.0  # time.monotonic() at the stream's start: the recording's zero
    closing = False  # we closed the stream: what is still in flight is dropped unread
    # A call's stream talks only to Twilio and its providers: it needs no channel-layer inbox, and
    # a Redis read timeout in one (e.g. while the offline engines keep the CPU busy) must not end it.
    channel_layer_alias = None

    async def connect(self) -> None:
        headers = dict(self.scope.get("headers", []))
        signature = headers.get(b"x-twilio-signature", b"").decode("latin-1") or None
        query = self.scope.get("query_string", b"").decode()
        url = public_url(self.scope["path"] + (f"?{query}" if query else ""), websocket=True)
        if not signature_valid(url, {}, signature):
            logger.warning("rejected a media-stream upgrade with a missing or forged Twilio signature")
            await self.close()  # before accept: the handshake gets 403
            return
        self.order = StreamOrder()
        self.errors = ProtocolErrors()
        await self.accept()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Channels' loop (`await_many_dispatch`) makes a task for every message it waits for and waits on it
        with `asyncio.wait`: for 50 media frames a second per call, a task, a wait and their loop turns each
        time. A stream with no channel-layer inbox has one source of messages, so it reads them in turn."""
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        with contextlib.suppress(StopConsumer):
            while True:
                await self.dispatch(await receive())

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Frames go straight to `receive`. Channels' own dispatch first awaits `aclose_old_connections()`, a
        hop to the process's one sync thread, for every message: 50 media frames a second per call, which at
        a few dozen calls is most of what the event loop does. Every database call of the stream goes through
        `database_sync_to_async` (or closes its connections itself), so nothing here holds a stale one.
        Frames still arriving after we closed the stream (a flood cut off at its limit: thousands) are dropped
        unread. Connect and disconnect keep Channels' dispatch."""
        if message.get("type") == "websocket.receive":
            if not self.closing:
                await self.websocket_receive(message)
            return
        await super().dispatch(message)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            event = twilio.parse_message(text_data if text_data is not None else (bytes_data or b""))
        except twilio.ProtocolError as exc:
            await self._protocol_error(f"malformed: {exc}")
            return
        reason = self.order.accept(event)
        if reason is not None:
            await self._protocol_error(f"out of order: {reason}")
            return
        try:
            await self._dispatch(event)
        except Exception:
            logger.exception("error handling a %s frame; the call goes on", type(event).__name__)

    async def _dispatch(self, event: Any) -> None:
        if isinstance(event, twilio.StreamStarted):
            await self._start(event)
        elif self.session is None:
            return
        elif isinstance(event, twilio.MediaReceived):
            if self.recorder is not None:
                self.recorder.caller_audio(event.timestamp_ms, event.payload, self._recording_ms())
            await self.session.on_media(event.payload)
        elif isinstance(event, twilio.MarkReceived):
            await self.session.on_mark(event.name)
        elif isinstance(event, twilio.DtmfReceived):
            await self.session.on_dtmf(event.digit)
        elif isinstance(event, twilio.StreamStopped):
            await self._finish()
            await self.close()

    async def close(self, code: int | bool | None = None, reason: str | None = None) -> None:
        """Close the stream. Twilio may drop the socket right after `stop`; closing one the other side has
        already dropped is done (the ASGI server says so with an OSError), not an error."""
        with contextlib.suppress(OSError):
            await super().close(code=code, reason=reason)

    async def _protocol_error(self, reason: str) -> None:
        if self.errors.note(reason):
            self.errors.flush(f"limit of {self.errors.limit} reached, closing the stream")
            await self._end(CLOSE_PROTOCOL_ERRORS)

    async def _end(self, code: int) -> None:
        """Close the stream with `code` now; the call (if it started) is logged as it stands."""
        self.closing = True
        metrics.stream_closed(code)
        await self.close(code=code)
        await self._finish()

    async def _start(self, event: twilio.StreamStarted) -> None:
        params = event.custom_parameters
        if not await sync_to_async(stream_token_use, thread_sensitive=False)(params.get("token"), event.call_sid,
                                                                             params):
            logger.warning("call %s: media stream without its valid, unused token, closing", event.call_sid)
            await self._end(CLOSE_TOKEN_REFUSED)
            return
        caller = params.get("caller") or None
        self.errors.call_sid, self.errors.caller = event.call_sid, caller
        direction = params.get("direction", "inbound")
        customer = await acustomer_get_by_phone(caller) if caller else None
        shop, other = settings.TWILIO_PHONE_NUMBER, caller or ""
        try:
            await database_sync_to_async(call_log_start)(
                call_sid=event.call_sid, direction=direction, customer_id=(customer or {}).get("id"),
                from_number=shop if direction == "outbound" else other,
                to_number=other if direction == "outbound" else "")
        except DatabaseError:  # already retried once: answer the caller anyway, the finish writes the row
            logger.exception("call %s: the call log could not be started; the call goes on", event.call_sid)
        logger.info("call %s from %s: stream started", event.call_sid, mask_phone(caller))
        reminder = None
        appointment_id = params.get("appointment", "")
        if direction == "outbound" and appointment_id.isdigit():
            reminder = await database_sync_to_async(appointment_for_reminder)(int(appointment_id), caller)
            if reminder is not None:
                reminder["when"] = spoken_time(reminder.pop("scheduled_at"))
        identity = CallIdentity(call_sid=event.call_sid, stream_sid=event.stream_sid, caller=caller,
                                direction=direction, customer=customer, reminder=reminder,
                                attestation=attestation(params.get("attestation")))
        if settings.RECORD_CALLS:
            self.recorder, self.recorded_from = CallRecorder(), time.monotonic()
        self.session = CallSession(identity=identity, send=self._send_text, stt=make_stt(), chat=make_chat(),
                                   tts=make_tts(), tools=registry, store=SessionStore(), phrases=PHRASES,
                                   on_hangup=self._hang_up)
        await self.session.start()

    async def _send_text(self, text: str) -> None:
        if not self.closing:  # a session winding down after the close has nobody to talk to
            await self.send(text_data=text)
            if self.recorder is not None:
                self.recorder.sent(text, self._recording_ms())

    async def _hang_up(self) -> None:
        """The agent is done (goodbye, transfer): close the stream; Twilio runs `<Connect action>`,
        which dials the front desk if the REST transfer could not be made."""
        session = self.session
        if session is not None and session.record.transfer:
            await sync_to_async(transfer_call, thread_sensitive=False)(session.record.call_sid)
        await self._finish()
        await self.close()

    async def _finish(self) -> None:
        session, self.session = self.session, None
        if session is None:
            return
        try:
            await session.stop()
            await session.close_providers()
        except Exception:
            logger.exception("call %s: winding the session down failed; logging the call anyway",
                             session.record.call_sid)
        record = session.record  # the call's own memory: the call log never depends on the cache
        try:
            await database_sync_to_async(call_log_finish)(
                call_sid=record.call_sid, transcript=record.transcript, latency=record.latency,
                outcome=record.final_outcome(), customer_id=record.facts.customer_id,
                protocol_errors=self.errors.take_unrecorded())
        except DatabaseError:  # already retried once on a fresh connection; the stream must still close
            logger.exception("call %s: the call log could not be written", record.call_sid)
        self._save_recording(record.call_sid)

    def _recording_ms(self) -> float:
        return (time.monotonic() - self.recorded_from) * 1000

    def _save_recording(self, call_sid: str) -> None:
        """Write the recording in a thread of its own, after the call: the stream's close never waits for it."""
        recorder, self.recorder = self.recorder, None
        if recorder is None:
            return
        save = database_sync_to_async(recording_save, thread_sensitive=False)
        task = asyncio.create_task(save(call_sid=call_sid, caller=self.errors.caller, recorder=recorder,
                                        end_ms=self._recording_ms()))
        _SAVING.add(task)
        task.add_done_callback(_SAVING.discard)

    async def disconnect(self, code: int) -> None:
        self.closing = True
        if hasattr(self, "errors"):
            self.errors.flush()
        await self._finish()
