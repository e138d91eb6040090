"""A caller as Twilio presents one: a signed WebSocket upgrade, then Media Streams messages.

`FakeTwilioCall` speaks Twilio's side of the protocol (connected, start, media, mark, dtmf, stop)
to our ASGI application through Channels' `WebsocketCommunicator`, and behaves like Twilio's
player on the way back: audio "plays" in real time (or faster, by `speed`), each `mark` is echoed
when the audio before it has played, and `clear` drops buffered audio and echoes pending marks.
"""

import asyncio
import base64
import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

from channels.testing import WebsocketCommunicator
from twilio.request_validator import RequestValidator

SILENCE = b"\xff" * 160  # 20 ms of mu-law silence


@dataclass
class Received:
    """What the agent sent back, in order."""

    audio: bytearray = field(default_factory=bytearray)
    media_messages: int = 0
    marks_sent: list[str] = field(default_factory=list)
    marks_echoed: list[str] = field(default_factory=list)
    clears: int = 0
    first_media_at: float | None = None
    clear_times: list[float] = field(default_factory=list)
    media_times: list[float] = field(default_factory=list)


class FakeTwilioCall:
    """One call's media stream, driven by a test."""

    def __init__(self, application: Any, *, call_sid: str = "CA00000000000000000000000000000001",
                 stream_sid: str = "MZ00000000000000000000000000000001", auth_token: str | None = None,
                 public_url: str = "wss://shop.example.com/twilio/media", path: str = "/twilio/media",
                 parameters: dict[str, str] | None = None, speed: float = 1.0, signature: str | None = None) -> None:
        headers = []
        if signature is None and auth_token:
            signature = RequestValidator(auth_token).compute_signature(public_url, {})
        if signature:
            headers.append((b"x-twilio-signature", signature.encode()))
        self.communicator = WebsocketCommunicator(application, path, headers=headers)
        self.call_sid = call_sid
        self.stream_sid = stream_sid
        self.parameters = parameters or {}
        self.speed = speed
        self.received = Received()
        self.closed_code: int | None = None
        self._seq = 0
        self._chunk = 0
        self._play_until = 0.0
        self._pending: list[asyncio.TimerHandle] = []
        self._pending_names: list[str] = []
        self._reader: asyncio.Task | None = None

    # --- connection -------------------------------------------------------------------------------

    async def connect(self) -> bool:
        connected, _ = await self.communicator.connect(timeout=5)
        if connected:
            self._reader = asyncio.create_task(self._read())
        return connected

    async def start(self, *, tracks: tuple[str, ...] = ("inbound",)) -> None:
        await self._send({"event": "connected", "protocol": "Call", "version": "1.0.0"}, numbered=False)
        await self._send({
            "event": "start",
            "start": {"streamSid": self.stream_sid, "accountSid": "AC00000000000000000000000000000001",
                      "callSid": self.call_sid, "tracks": list(tracks), "customParameters": self.parameters,
                      "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}},
        })

    async def send_audio(self, mulaw: bytes, realtime: bool = False) -> None:
        """Send caller audio as 20 ms media frames (paced at real time if asked)."""
        for offset in range(0, len(mulaw), 160):
            frame = mulaw[offset:offset + 160]
            self._chunk += 1
            await self._send({"event": "media", "media": {
                "track": "inbound", "chunk": str(self._chunk), "timestamp": str(self._chunk * 20),
                "payload": base64.b64encode(frame).decode()}})
            if realtime:
                await asyncio.sleep(0.02 / self.speed)

    async def send_silence(self, seconds: float, realtime: bool = False) -> None:
        await self.send_audio(SILENCE * int(seconds * 50), realtime=realtime)

    async def press(self, digit: str) -> None:
        await self._send({"event": "dtmf", "dtmf": {"track": "inbound_track", "digit": digit}})

    async def send_raw(self, text: str | None = None, data: bytes | None = None) -> None:
        """Anything at all, for malformed-input tests."""
        if data is not None:
            await self.communicator.send_to(bytes_data=data)
        else:
            await self.communicator.send_to(text_data=text)

    async def stop(self) -> None:
        await self._send({"event": "stop", "stop": {"accountSid": "AC00000000000000000000000000000001",
                                                     "callSid": self.call_sid}})

    async def hang_up(self) -> None:
        """Stop the stream and close the socket, as Twilio does when the caller hangs up."""
        with contextlib.suppress(Exception):
            await self.stop()
        await asyncio.sleep(0.05)
        await self.close()

    async def close(self) -> None:
        for handle in self._pending:
            handle.cancel()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        with contextlib.suppress(Exception):
            await self.communicator.disconnect()

    # --- what came back ---------------------------------------------------------------------------

    async def wait_for(self, predicate: Any, timeout: float = 5.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; received {self.summary()}")
            if self._reader is not None and self._reader.done():
                raise AssertionError(f"the stream closed while waiting for {what}: code {self.closed_code}")
            await asyncio.sleep(0.005)

    def summary(self) -> str:
        r = self.received
        return (f"{len(r.audio)} audio bytes in {r.media_messages} messages, {len(r.marks_sent)} marks sent, "
                f"{len(r.marks_echoed)} echoed, {r.clears} clears")

    @property
    def playing(self) -> bool:
        """True while agent audio is still (virtually) playing to the caller."""
        return bool(self._pending_names)

    async def _read(self) -> None:
        while True:
            try:
                message = await self.communicator.receive_output(timeout=3600)
            except asyncio.CancelledError:
                raise
            if message["type"] == "websocket.close":
                self.closed_code = message.get("code", 1000)
                return
            text = message.get("text")
            if text is None:
                raise AssertionError("the agent sent a binary frame; Twilio accepts only text")
            self._handle(json.loads(text))

    def _handle(self, data: dict[str, Any]) -> None:
        loop = asyncio.get_running_loop()
        event = data.get("event")
        assert data.get("streamSid") == self.stream_sid, data
        if event == "media":
            payload = base64.b64decode(data["media"]["payload"])
            now = loop.time()
            if self.received.first_media_at is None:
                self.received.first_media_at = time.monotonic()
            self.received.media_times.append(time.monotonic())
            self.received.audio.extend(payload)
            self.received.media_messages += 1
            self._play_until = max(self._play_until, now) + len(payload) / 8000 / self.speed
        elif event == "mark":
            name = data["mark"]["name"]
            self.received.marks_sent.append(name)
            self._pending_names.append(name)
            delay = max(self._play_until - loop.time(), 0)
            self._pending.append(loop.call_later(delay, self._echo, name))
        elif event == "clear":
            self.received.clears += 1
            self.received.clear_times.append(time.monotonic())
            for handle in self._pending:
                handle.cancel()
            self._pending.clear()
            self._play_until = loop.time()
            names, self._pending_names = self._pending_names, []
            for name in names:  # Twilio returns the marks of the audio it dropped
                self._echo(name, played=False)
        else:
            raise AssertionError(f"the agent sent an event Twilio does not accept: {event}")

    def _echo(self, name: str, played: bool = True) -> None:
        if played and name in self._pending_names:
            self._pending_names.remove(name)
        self.received.marks_echoed.append(name)
        asyncio.get_running_loop().create_task(self._send({"event": "mark", "mark": {"name": name}}))

    async def _send(self, message: dict[str, Any], numbered: bool = True) -> None:
        if numbered:
            self._seq += 1
            message = {"event": message["event"], "sequenceNumber": str(self._seq), "streamSid": self.stream_sid,
                       **{k: v for k, v in message.items() if k != "event"}}
        with contextlib.suppress(Exception):
            await self.communicator.send_to(text_data=json.dumps(message))
