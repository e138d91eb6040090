"""Twilio's side of one call to a running server: the signed `/twilio/voice` webhook, the media stream its
TwiML names (the signed upgrade, `connected`/`start` with the TwiML's parameters), the caller's audio as
20 ms frames, key presses, and a player that echoes each `mark` once its audio has (virtually, `speed` times
faster) played."""

import asyncio
import base64
import contextlib
import json
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import urlsplit

import httpx
from twilio.request_validator import RequestValidator
from websockets.asyncio.client import ClientConnection, connect

FRAME = 160  # 20 ms of mu-law
SILENCE = b"\xff" * FRAME


class StreamCaller:
    """One call's media stream, driven by the voice-mode evaluator."""

    def __init__(self, port: int, *, call_sid: str, caller: str, attestation: str, auth_token: str,
                 public_base_url: str, shop_number: str, speed: float) -> None:
        self.port, self.validator, self.public_base_url = port, RequestValidator(auth_token), public_base_url
        self.form = {"CallSid": call_sid, "AccountSid": "AC" + "0" * 32, "From": caller, "To": shop_number,
                     "CallStatus": "ringing", "Direction": "inbound", **({"StirVerstat": attestation} if attestation
                                                                         else {})}
        self.call_sid, self.stream_sid, self.speed = call_sid, "MZ" + call_sid[2:], speed
        self.parameters: dict[str, str] = {}
        self.socket: ClientConnection | None = None
        self.audio_messages = 0  # agent media messages received
        self.closed = False
        self._seq = self._chunk = 0
        self._play_until = 0.0
        self._unplayed: list[str] = []
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> bool:
        """Ring (the webhook), open the stream its TwiML names, send `connected` and `start`; False if the server
        refused the call or the stream."""
        webhook = self.public_base_url + "/twilio/voice"
        async with httpx.AsyncClient(timeout=30) as http:
            signature = self.validator.compute_signature(webhook, self.form)
            answer = await http.post(f"http://127.0.0.1:{self.port}/twilio/voice", data=self.form,
                                     headers={"X-Twilio-Signature": signature})
        stream = ET.fromstring(answer.text).find("Connect/Stream") if answer.status_code == 200 else None  # noqa: S314
        if stream is None:
            return False
        url = stream.get("url", "")
        self.parameters = {p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")}
        parts = urlsplit(url)
        try:
            self.socket = await connect(f"ws://127.0.0.1:{self.port}{parts.path}" + (f"?{parts.query}" if parts.query
                                                                                     else ""),
                                        additional_headers={"X-Twilio-Signature":
                                                            self.validator.compute_signature(url, {})},
                                        max_size=2**20, open_timeout=30)
        except Exception:  # noqa: BLE001 - a refused upgrade is the server refusing the stream
            return False
        self._reader = asyncio.create_task(self._read())
        await self._send({"event": "connected", "protocol": "Call", "version": "1.0.0"}, numbered=False)
        await self._send({"event": "start", "start": {
            "streamSid": self.stream_sid, "accountSid": "AC" + "0" * 32, "callSid": self.call_sid,
            "tracks": ["inbound"], "customParameters": self.parameters,
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})
        return True

    async def say(self, mulaw: bytes) -> None:
        """Caller audio, in real time."""
        for offset in range(0, len(mulaw), FRAME):
            if self.closed:
                return
            self._chunk += 1
            await self._send({"event": "media", "media": {
                "track": "inbound", "chunk": str(self._chunk), "timestamp": str(self._chunk * 20),
                "payload": base64.b64encode(mulaw[offset:offset + FRAME].ljust(FRAME, b"\xff")).decode()}})
            await asyncio.sleep(0.02)  # a phone line delivers speech in real time

    async def press(self, digit: str) -> None:
        await self._send({"event": "dtmf", "dtmf": {"track": "inbound_track", "digit": digit}})

    async def until_quiet(self, quiet: float = 2.5, limit: float = 60.0, answer_within: float = 20.0) -> None:
        """Send silence while the agent answers: until its first audio after now (a caller waits for the
        answer, up to `answer_within` seconds), then until that audio has played and nothing new came for
        `quiet` seconds (a caller told "One moment." waits for what follows)."""
        loop = asyncio.get_running_loop()
        before, start = self.audio_messages, loop.time()
        while not self.closed and self.audio_messages == before and loop.time() - start < answer_within:
            await self.say(SILENCE * 2)
        seen, since, deadline = -1, loop.time(), start + limit
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
        if self.socket is not None:
            with contextlib.suppress(Exception):
                await self.socket.close()

    async def _read(self) -> None:
        assert self.socket is not None
        loop = asyncio.get_running_loop()
        with contextlib.suppress(Exception):  # any close ends the call for the caller
            async for raw in self.socket:
                self._heard(loop, json.loads(raw))
        self.closed = True

    def _heard(self, loop: asyncio.AbstractEventLoop, data: dict[str, Any]) -> None:
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
        if self.socket is not None:
            with contextlib.suppress(Exception):
                await self.socket.send(json.dumps(message))
