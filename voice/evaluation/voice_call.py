"""Twilio's side of one media stream, spoken to the ASGI application in this process: the signed upgrade,
`connected`/`start` with a valid stream token, the caller's audio as 20 ms frames, key presses, and a player
that echoes each `mark` once its audio has (virtually, `speed` times faster) played."""

import asyncio
import base64
import contextlib
import json
from typing import Any

from channels.testing import WebsocketCommunicator
from twilio.request_validator import RequestValidator

from telephony.tokens import stream_token

FRAME = 160  # 20 ms of mu-law
SILENCE = b"\xff" * FRAME


class StreamCaller:
    """One call's media stream, driven by the voice-mode evaluator."""

    def __init__(self, application: Any, *, call_sid: str, caller: str, attestation: str, auth_token: str,
                 public_ws_url: str, speed: float) -> None:
        signature = RequestValidator(auth_token).compute_signature(public_ws_url, {})
        self.communicator = WebsocketCommunicator(application, "/twilio/media",
                                                  headers=[(b"x-twilio-signature", signature.encode())])
        self.call_sid, self.stream_sid, self.speed = call_sid, "MZ" + call_sid[2:], speed
        parameters = {"caller": caller, "direction": "inbound", "attestation": attestation}
        self.parameters = {**parameters, "token": stream_token(call_sid, parameters)}
        self.audio_messages = 0  # agent media messages received
        self.closed = False
        self._seq = self._chunk = 0
        self._play_until = 0.0
        self._unplayed: list[str] = []
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> bool:
        """Connect and send `connected` and `start`; False if the server refused the stream."""
        connected, _ = await self.communicator.connect(timeout=10)
        if not connected:
            return False
        self._reader = asyncio.create_task(self._read())
        await self._send({"event": "connected", "protocol": "Call", "version": "1.0.0"}, numbered=False)
        await self._send({"event": "start", "start": {
            "streamSid": self.stream_sid, "accountSid": "AC" + "0" * 32, "callSid": self.call_sid,
            "tracks": ["inbound"], "customParameters": self.parameters,
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})
        return True

    async def say(self, mulaw: bytes) -> None:
        """Caller audio at `speed` times real time."""
        for offset in range(0, len(mulaw), FRAME):
            if self.closed:
                return
            self._chunk += 1
            await self._send({"event": "media", "media": {
                "track": "inbound", "chunk": str(self._chunk), "timestamp": str(self._chunk * 20),
                "payload": base64.b64encode(mulaw[offset:offset + FRAME].ljust(FRAME, b"\xff")).decode()}})
            await asyncio.sleep(0.02 / self.speed)

    async def press(self, digit: str) -> None:
        await self._send({"event": "dtmf", "dtmf": {"track": "inbound_track", "digit": digit}})

    async def until_quiet(self, quiet: float = 1.0, limit: float = 60.0) -> None:
        """Send silence until the agent's audio has played and nothing new came for `quiet` seconds."""
        loop = asyncio.get_running_loop()
        seen, since, deadline = -1, loop.time(), loop.time() + limit
        while not self.closed and loop.time() < deadline:
            if self.audio_messages != seen or self._unplayed:
                seen, since = self.audio_messages, loop.time()
            elif loop.time() - since >= quiet:
                return
            await self.say(SILENCE * 2)

    async def hang_up(self) -> None:
        """`stop`, then close the socket, as Twilio does when the caller hangs up."""
        if not self.closed:
            await self._send({"event": "stop", "stop": {"accountSid": "AC" + "0" * 32, "callSid": self.call_sid}})
            await asyncio.sleep(0.2)
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        with contextlib.suppress(Exception):
            await self.communicator.disconnect()

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            message = await self.communicator.receive_output(timeout=3600)
            if message["type"] == "websocket.close":
                self.closed = True
                return
            data = json.loads(message.get("text") or "{}")
            event = data.get("event")
            if event == "media":
                self.audio_messages += 1
                size = len(base64.b64decode(data["media"]["payload"]))
                self._play_until = max(self._play_until, loop.time()) + size / 8000 / self.speed
            elif event == "mark":
                name = data["mark"]["name"]
                self._unplayed.append(name)
                loop.call_later(max(self._play_until - loop.time(), 0), self._played, name)
            elif event == "clear":
                self._play_until = loop.time()
                names, self._unplayed = self._unplayed, []
                for name in names:  # Twilio returns the marks of the audio it dropped
                    self._echo(name)

    def _played(self, name: str) -> None:
        if name in self._unplayed:  # not dropped by a clear since
            self._unplayed.remove(name)
            self._echo(name)

    def _echo(self, name: str) -> None:
        asyncio.get_running_loop().create_task(self._send({"event": "mark", "mark": {"name": name}}))

    async def _send(self, message: dict[str, Any], numbered: bool = True) -> None:
        if numbered:
            self._seq += 1
            message = {"event": message["event"], "sequenceNumber": str(self._seq), "streamSid": self.stream_sid,
                       **{k: v for k, v in message.items() if k != "event"}}
        with contextlib.suppress(Exception):
            await self.communicator.send_to(text_data=json.dumps(message))
