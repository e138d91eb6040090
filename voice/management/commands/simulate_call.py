"""`manage.py simulate_call`: phone a running server exactly as Twilio does.

It posts the signed inbound-call webhook, opens the media stream named in the TwiML with a signed
WebSocket upgrade, streams the caller's lines as 20 ms mu-law frames at real-time pace (synthesised
offline from text, or read from WAV files), plays the agent's audio back the way Twilio does
(echoing each mark when its audio has played), can interrupt the agent mid-sentence, records the
agent to a WAV file, and prints the transcript and per-turn latency.
"""

import asyncio
import base64
import json
import time
import uuid
import wave
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit
from urllib.request import Request, urlopen

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from twilio.request_validator import RequestValidator

from voice.audio import Resampler, pcm16_to_ulaw, ulaw_to_pcm16

FRAME = 160  # 20 ms of mu-law
SILENCE = b"\xff" * FRAME


def _sign(url: str, params: dict[str, str]) -> str:
    token = settings.TWILIO_AUTH_TOKEN
    return RequestValidator(token).compute_signature(url, params) if token else ""


def _wav_to_ulaw(path: Path) -> bytes:
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2:
            raise CommandError(f"{path}: only 16-bit PCM WAV files are supported")
        pcm = wav.readframes(wav.getnframes())
        if wav.getnchannels() == 2:
            import audioop

            pcm = audioop.tomono(pcm, 2, 0.5, 0.5)
        return pcm16_to_ulaw(Resampler(wav.getframerate(), 8000).convert(pcm))


class SimulatedCall:
    """One call: the webhook, the media stream, the caller's lines, the agent's audio."""

    def __init__(self, base_url: str, caller: str, call_sid: str, out: Any) -> None:
        self.base_url = base_url.rstrip("/")
        self.caller = caller
        self.call_sid = call_sid
        self.out = out
        self.stream_sid = "MZ" + uuid.uuid4().hex
        self.agent_audio = bytearray()
        self.play_until = 0.0
        self.last_media_at = 0.0
        self.first_audio_after: list[float] = []
        self.clears = 0
        self.media_after_clear = 0  # agent audio that came after a clear while the caller was still talking
        self._speaking = False
        self._cleared_while_speaking = False
        self._waiting_first_audio_since: float | None = None
        self._pending: list[asyncio.TimerHandle] = []
        self._echoes: set[asyncio.Task[None]] = set()
        self._seq = 0
        self._chunk = 0

    def webhook(self) -> tuple[str, dict[str, str]]:
        """POST /twilio/voice as Twilio would; returns the stream URL and its parameters."""
        params = {"CallSid": self.call_sid, "AccountSid": settings.TWILIO_ACCOUNT_SID or "AC" + "0" * 32,
                  "From": self.caller, "To": settings.TWILIO_PHONE_NUMBER or settings.SHOP_PHONE,
                  "CallStatus": "ringing", "Direction": "inbound"}
        public = settings.PUBLIC_BASE_URL.rstrip("/") + "/twilio/voice"
        request = Request(self.base_url + "/twilio/voice", data=urlencode(params).encode(), method="POST",  # noqa: S310
                          headers={"X-Twilio-Signature": _sign(public, params),
                                   "Content-Type": "application/x-www-form-urlencoded"})
        with urlopen(request, timeout=10) as response:  # noqa: S310 - the operator's own server
            twiml = response.read().decode()
        stream = ET.fromstring(twiml).find("Connect/Stream")  # noqa: S314 - our own server's TwiML
        if stream is None:
            raise CommandError(f"the webhook did not answer with a media stream: {twiml}")
        return stream.get("url", ""), {p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")}

    async def run(self, lines: list[bytes], interrupt_after: float | None) -> None:
        import websockets

        stream_url, parameters = self.webhook()
        target = urlsplit(self.base_url)
        ws_url = f"{'wss' if target.scheme == 'https' else 'ws'}://{target.netloc}{urlsplit(stream_url).path}"
        headers = {"X-Twilio-Signature": _sign(stream_url, {})}
        async with websockets.connect(ws_url, additional_headers=headers, max_size=2**20) as socket:
            self.socket = socket
            reader = asyncio.create_task(self._read())
            try:
                await self._converse(lines, parameters, interrupt_after)
            except websockets.ConnectionClosed:
                self.out.write("the agent ended the call")
            reader.cancel()

    async def _converse(self, lines: list[bytes], parameters: dict[str, str], interrupt_after: float | None) -> None:
        """Twilio's side of the stream: connected, start, the caller's lines in turn, stop."""
        await self._send({"event": "connected", "protocol": "Call", "version": "1.0.0"}, numbered=False)
        await self._send({"event": "start", "start": {
            "streamSid": self.stream_sid, "accountSid": "AC" + "0" * 32, "callSid": self.call_sid,
            "tracks": ["inbound"], "customParameters": parameters,
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})
        await self._wait_for_agent_audio()  # the greeting
        for line in lines:
            if interrupt_after is not None and self.play_until > time.monotonic():
                await self._silence(interrupt_after)  # talk over the agent after this long
            else:
                await self._wait_until_agent_done()
            await self._speak(line)
            await self._wait_for_agent_audio()  # the answer (or a timeout if none comes)
        await self._wait_until_agent_done(limit=30)
        await self._send({"event": "stop", "stop": {"accountSid": "AC" + "0" * 32, "callSid": self.call_sid}})

    async def _speak(self, ulaw: bytes) -> None:
        self._speaking, self._cleared_while_speaking = True, False
        for offset in range(0, len(ulaw), FRAME):
            await self._media(ulaw[offset:offset + FRAME].ljust(FRAME, b"\xff"))
        self._speaking = False
        self._waiting_first_audio_since = time.monotonic()  # the caller's speech ends here

    async def _silence(self, seconds: float) -> None:
        for _ in range(int(seconds * 50)):
            await self._media(SILENCE)

    async def _media(self, frame: bytes) -> None:
        self._chunk += 1
        await self._send({"event": "media", "media": {"track": "inbound", "chunk": str(self._chunk),
                                                       "timestamp": str(self._chunk * 20),
                                                       "payload": base64.b64encode(frame).decode()}})
        await asyncio.sleep(0.02)

    async def _wait_until_agent_done(self, limit: float = 20.0) -> None:
        """The agent has spoken and gone quiet: its audio has played and nothing new came for 1 s."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            now = time.monotonic()
            if self.agent_audio and now > self.play_until + 1.0 and now > self.last_media_at + 1.0:
                return
            await self._media(SILENCE)

    async def _wait_for_agent_audio(self, limit: float = 20.0) -> None:
        start = len(self.agent_audio)
        deadline = time.monotonic() + limit
        while len(self.agent_audio) == start and time.monotonic() < deadline:
            await self._media(SILENCE)

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        async for raw in self.socket:
            message = json.loads(raw)
            event = message.get("event")
            now = time.monotonic()
            if event == "media":
                if self._cleared_while_speaking and self._speaking:
                    self.media_after_clear += 1  # the turn is not decided before the caller stops: a leak
                payload = base64.b64decode(message["media"]["payload"])
                if self._waiting_first_audio_since is not None:
                    self.first_audio_after.append((now - self._waiting_first_audio_since) * 1000)
                    self._waiting_first_audio_since = None
                self.agent_audio.extend(payload)
                self.last_media_at = now
                self.play_until = max(self.play_until, now) + len(payload) / 8000
            elif event == "mark":
                name = message["mark"]["name"]
                delay = max(self.play_until - now, 0)
                self._pending.append(loop.call_later(delay, self._echo_mark, name))
            elif event == "clear":
                self.clears += 1
                self._cleared_while_speaking = self._speaking
                for handle in self._pending:
                    handle.cancel()
                self._pending.clear()
                self.play_until = now

    def _echo_mark(self, name: str) -> None:
        """The phone has played the audio up to this mark: say so, as Twilio does."""
        task = asyncio.get_running_loop().create_task(self._send({"event": "mark", "mark": {"name": name}}))
        self._echoes.add(task)
        task.add_done_callback(self._echoes.discard)

    async def _send(self, message: dict[str, Any], numbered: bool = True) -> None:
        if numbered:
            self._seq += 1
            message = {"event": message["event"], "sequenceNumber": str(self._seq), "streamSid": self.stream_sid,
                       **{k: v for k, v in message.items() if k != "event"}}
        await self.socket.send(json.dumps(message))


class Command(BaseCommand):
    help = ("Phone a running server the way Twilio does and talk to the agent: lines from text (spoken by the "
            "offline voice) or WAV files. Prints the transcript and latency; can record the agent.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="The running server.")
        parser.add_argument("--from", dest="caller", default="+15550100001", help="The caller's number.")
        parser.add_argument("--say", action="append", default=[], help="A caller line (repeat for more).")
        parser.add_argument("--wav", action="append", default=[], type=Path, help="A caller line as a WAV file.")
        parser.add_argument("--interrupt-after", type=float, default=None,
                            help="Speak each line after the first this many seconds into the agent's reply.")
        parser.add_argument("--record", type=Path, help="Write the agent's audio to this WAV file.")

    def handle(self, *args: Any, **options: Any) -> None:
        lines = [asyncio.run(self._synthesise(text)) for text in options["say"]]
        lines += [_wav_to_ulaw(path) for path in options["wav"]]
        if not lines:
            lines = [asyncio.run(self._synthesise(t)) for t in ("What are your hours?", "Thanks, bye.")]
        call = SimulatedCall(options["url"], options["caller"], "CA" + uuid.uuid4().hex, self.stdout)
        started = time.monotonic()
        try:
            asyncio.run(call.run(lines, options["interrupt_after"]))
        except OSError as exc:
            raise CommandError(f"cannot reach {options['url']}: {exc}. Is the server running (make run)?") from exc
        self.stdout.write(f"call {call.call_sid}: {time.monotonic() - started:.1f} s, "
                          f"{len(call.agent_audio) / 8000:.1f} s of agent audio, {call.clears} clear(s), "
                          f"{call.media_after_clear} media after a clear while the caller spoke")
        for index, ms in enumerate(call.first_audio_after, 1):
            self.stdout.write(f"turn {index}: caller stopped → agent audio in {ms:.0f} ms (measured by the caller)")
        if options["record"]:
            with wave.open(str(options["record"]), "wb") as wav:
                wav.setnchannels(1)
                wav.setsampwidth(2)
                wav.setframerate(8000)
                wav.writeframes(ulaw_to_pcm16(bytes(call.agent_audio)))
            self.stdout.write(f"agent audio written to {options['record']}")
        self._print_log(call.call_sid)

    def _print_log(self, call_sid: str) -> None:
        from crm.models import CallLog

        for _ in range(50):
            log = CallLog.objects.filter(call_sid=call_sid).first()
            if log is not None and log.transcript:
                break
            time.sleep(0.1)
        else:
            self.stdout.write("(the call log is not in this database: is the server using another DATABASE_URL?)")
            return
        self.stdout.write(f"outcome: {log.outcome}")
        self.stdout.write(log.transcript_text)
        for index, turn in enumerate(log.latency, 1):
            parts = ", ".join(f"{k.removesuffix('_ms')} {v} ms" for k, v in turn.items() if v is not None)
            self.stdout.write(f"latency turn {index}: {parts}")

    @staticmethod
    async def _synthesise(text: str) -> bytes:
        from voice.providers.offline_speech import OfflineTTS

        return b"".join([chunk async for chunk in OfflineTTS().synthesize(text)])
