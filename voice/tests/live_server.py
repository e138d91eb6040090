"""The product as deployed, for tests of what crosses the wire: `manage.py serve --host 127.0.0.1 --port PORT`
(the README's production command) in its own process, on a SQLite file
database migrated and seeded for the test, with Twilio signatures checked. And a Twilio-side client
for it: signed webhooks, a signed media-stream upgrade, Media Streams frames.

Use the `web_server` fixture (import it into a test module, or a conftest)."""

import asyncio
import base64
import contextlib
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from urllib.request import Request, urlopen

import pytest
import websockets
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parents[2]
AUTH_TOKEN = "live-auth-token"
SECRET_KEY = "live-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
SHOP_NUMBER = "+15550100100"
SILENCE = b"\xff" * 160  # 20 ms of mu-law silence
# What Twilio is told the server is (production refuses a local or plain-http PUBLIC_BASE_URL); requests go to
# 127.0.0.1 and are signed over this origin, as Twilio signs the public URL it called.
PUBLIC_BASE_URL = "https://voice.bart-test.example"


def bookable_weekday() -> str:
    """A weekday the seeded shop is open, two to eight days ahead in shop time, by name ("Thursday"): what a
    test caller asks for, so a booking never depends on the hour the suite runs (on a Tuesday after nine,
    "Tuesday at ten" is inside the shop's one-hour lead time)."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    today = datetime.now(ZoneInfo("America/New_York")).date()
    day = next(today + timedelta(days=n) for n in range(2, 9) if (today + timedelta(days=n)).weekday() < 5)
    return day.strftime("%A")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(port: int, database: Path) -> dict[str, str]:
    """The environment of a production-like web process: DEBUG off, offline engines, no Redis."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DEEPGRAM", "OPENAI", "ELEVENLABS", "DJANGO_SETTINGS_MODULE", "REDIS_URL"))}
    env.update(DEBUG="False", SECRET_KEY=SECRET_KEY, ALLOWED_HOSTS="127.0.0.1,localhost", SECURE_SSL_REDIRECT="False",
               DATABASE_URL=f"sqlite:///{database}", TWILIO_AUTH_TOKEN=AUTH_TOKEN, TWILIO_PHONE_NUMBER=SHOP_NUMBER,
               PUBLIC_BASE_URL=PUBLIC_BASE_URL, CALENDAR_BACKEND="builtin", LOG_LEVEL="INFO")
    return env


def serve_command(port: int, workers: int = 1) -> list[str]:
    """The README's production command (`manage.py serve`), from this interpreter's environment. One worker
    is Uvicorn itself, in the same process (exec), with the production frame limits."""
    return [sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers)]


@dataclass
class LiveServer:
    """A running server process and how to reach it as Twilio does."""

    port: int
    env: dict[str, str]
    database: Path
    log: Path
    process: subprocess.Popen[bytes]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def post(self, path: str, form: dict[str, str], *, signed: bool = True) -> tuple[int, str]:
        """POST a Twilio webhook form (signed over the server's PUBLIC_BASE_URL); the status and body."""
        url = self.base_url + path
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if signed:
            headers["X-Twilio-Signature"] = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC_BASE_URL + path, form)
        request = Request(url, data=urlencode(form).encode(), method="POST", headers=headers)  # noqa: S310
        try:
            with urlopen(request, timeout=10) as response:  # noqa: S310 - our own test server
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")

    def answer(self, caller: str = "+15550102000", call_sid: str | None = None) -> tuple[str, dict[str, str]]:
        """Ring the shop: the signed `/twilio/voice` webhook; the call sid and the stream's `<Parameter>`s."""
        call_sid = call_sid or new_call_sid()
        status, twiml = self.post("/twilio/voice", {"CallSid": call_sid, "From": caller, "To": SHOP_NUMBER,
                                                    "CallStatus": "ringing", "Direction": "inbound",
                                                    "AccountSid": "AC" + "0" * 32})
        assert status == 200, twiml
        return call_sid, stream_parameters(twiml)

    def query(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        """Read the server's database directly (the test process has its own test database)."""
        with sqlite3.connect(self.database, timeout=20) as db:
            return db.execute(sql, args).fetchall()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def new_call_sid() -> str:
    return "CA" + uuid.uuid4().hex


def stream_parameters(twiml: str) -> dict[str, str]:
    stream = ET.fromstring(twiml).find("Connect/Stream")
    assert stream is not None, twiml
    return {p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")}


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The production server on the project on a free port; migrated, seeded, terminated after the module's tests."""
    folder = tmp_path_factory.mktemp("web")
    port, database = free_port(), folder / "live.sqlite3"
    env = server_env(port, database)
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=180)  # noqa: S603
    subprocess.run([*manage, "seed_crm", "--customers", "10", "--appointments", "3", "--seed", "1"],  # noqa: S603
                   cwd=ROOT, env=env, check=True, timeout=180, capture_output=True)
    with serving(port, env, database, folder / "server.log") as server:
        yield server


@contextlib.contextmanager
def serving(port: int, env: dict[str, str], database: Path, log: Path,
            command: list[str] | None = None) -> Iterator[LiveServer]:
    """The production command (or `command`, e.g. a load balancer in front of such servers) on `port` with
    `env`, its output in `log`; stopped on the way out."""
    with log.open("wb") as out:
        process = subprocess.Popen(command or serve_command(port), cwd=ROOT, env=env, stdout=out,  # noqa: S603
                                   stderr=subprocess.STDOUT)
    server = LiveServer(port=port, env=env, database=database, log=log, process=process)
    try:
        wait_for_port(port, process, log)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}: "
                               f"{log.read_text(errors='replace')[-3000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the server did not listen on {port} within {timeout} s")


@dataclass
class WireCall:
    """Twilio's side of one media stream over a real socket: numbered frames, agent audio counted."""

    socket: Any
    call_sid: str
    stream_sid: str = field(default_factory=lambda: "MZ" + uuid.uuid4().hex)
    media_received: int = 0
    _seq: int = 0
    _chunk: int = 0

    async def send(self, message: dict[str, Any], numbered: bool = True) -> None:
        if numbered:
            self._seq += 1
            message = {"event": message["event"], "sequenceNumber": str(self._seq), "streamSid": self.stream_sid,
                       **{k: v for k, v in message.items() if k != "event"}}
        await self.socket.send(json.dumps(message))

    async def start(self, parameters: dict[str, str]) -> None:
        await self.send({"event": "connected", "protocol": "Call", "version": "1.0.0"}, numbered=False)
        await self.send({"event": "start", "start": {
            "streamSid": self.stream_sid, "accountSid": "AC" + "0" * 32, "callSid": self.call_sid,
            "tracks": ["inbound"], "customParameters": parameters,
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})

    async def media(self, frame: bytes = SILENCE) -> None:
        await self.socket.send(self.media_message(frame))

    def media_message(self, frame: bytes, payload: str | None = None) -> str:
        """The next numbered `media` message as Twilio words it (`payload`: the frame in base64, if the
        sender has it already). Built as text: a load of hundreds of streams sends 50 of these a second each."""
        self._seq += 1
        self._chunk += 1
        payload = payload if payload is not None else base64.b64encode(frame).decode()
        return (f'{{"event": "media", "sequenceNumber": "{self._seq}", "streamSid": "{self.stream_sid}", '
                f'"media": {{"track": "inbound", "chunk": "{self._chunk}", "timestamp": "{self._chunk * 20}", '
                f'"payload": "{payload}"}}}}')

    async def stop(self) -> None:
        await self.send({"event": "stop", "stop": {"accountSid": "AC" + "0" * 32, "callSid": self.call_sid}})

    async def agent_audio(self, timeout: float = 15.0) -> int:
        """Wait for the next agent `media` frame (sending caller silence meanwhile); how many came so far."""
        deadline = time.monotonic() + timeout
        seen = self.media_received
        while time.monotonic() < deadline:
            try:
                raw = await asyncio.wait_for(self.socket.recv(), 0.02)
            except TimeoutError:
                await self.media()
                continue
            if json.loads(raw).get("event") == "media":
                self.media_received += 1
                if self.media_received > seen:
                    return self.media_received
        raise AssertionError(f"no agent audio within {timeout} s")

    async def closed_code(self, timeout: float = 1.0) -> int | None:
        """The close code the server sends within `timeout` seconds (reading what else comes), or None."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                await asyncio.wait_for(self.socket.recv(), deadline - time.monotonic())
            except websockets.ConnectionClosed as closed:
                return closed.rcvd.code if closed.rcvd is not None else None
            except TimeoutError:
                return None
        return None


def media_stream(server: LiveServer | int, *, signed: bool = True) -> Any:
    """Open the media-stream WebSocket of a server (or port) as Twilio does: `X-Twilio-Signature` over the
    public wss:// URL, no params."""
    url = f"ws://127.0.0.1:{server if isinstance(server, int) else server.port}/twilio/media"
    public = PUBLIC_BASE_URL.replace("https://", "wss://") + "/twilio/media"
    headers = {"X-Twilio-Signature": RequestValidator(AUTH_TOKEN).compute_signature(public, {})} if signed else {}
    return websockets.connect(url, additional_headers=headers, max_size=2**20, open_timeout=10)
