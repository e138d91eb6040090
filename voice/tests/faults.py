"""Fault injection against the product as deployed: the production command (`manage.py serve`), its own
Redis on a spare port (never the shared one), a local Twilio REST peer, and faults made the way they
happen (a process SIGKILLed, a port nobody listens on, a peer answering 500), never by patching code.

A fault is one short async function (a `Scenario`) that places a call as Twilio would, injects its
fault, and returns what the simulated caller experienced (`FaultResult`): the longest silence before
the agent's next sound, whether they reached a person (or left a message), and whether the call log
holds the whole transcript with the right outcome. `test_faults.py` asserts the targets on each;
`bench/faults.py` prints the table.
"""

import asyncio
import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import websockets

from voice.tests.live_server import (
    AUTH_TOKEN,
    ROOT,
    SHOP_NUMBER,
    SILENCE,
    LiveServer,
    bookable_weekday,
    free_port,
    media_stream,
    serve_command,
    server_env,
    serving,
    stream_parameters,
)

FRONT_DESK = "+15550100199"
TWILIO_ACCOUNT = "AC" + "f" * 32
SILENCE_TARGET = 2.0  # seconds: the most a caller may wait for the agent's next sound, whatever failed


# --- the services the server stands on --------------------------------------------------------------


class OwnRedis:
    """A `redis-server` of our own on a spare port: no persistence, killed with SIGKILL, restarted on
    the same port. The machine's shared Redis is never touched."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or "redis-server"
        with (self.folder / f"redis-{self.port}.log").open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603
                [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", str(self.folder)], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not answer on {self.port}")

    def kill(self) -> None:
        """SIGKILL: what a crashed or OOM-killed Redis looks like to its clients."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=5)

    def pause(self) -> None:
        """SIGSTOP: a Redis that is up but answers nothing (a hung host, a full network buffer)."""
        if self.process is not None:
            self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)

    def command(self, *args: str) -> str:
        """One command over a plain socket (RESP), e.g. `EXISTS key`; the raw first reply line."""
        with socket.create_connection(("127.0.0.1", self.port), 1.0) as s:
            parts = [f"*{len(args)}\r\n".encode()] + [f"${len(a.encode())}\r\n{a}\r\n".encode() for a in args]
            s.sendall(b"".join(parts))
            return s.recv(4096).decode(errors="replace").split("\r\n")[0]


@dataclass
class FaultLab:
    """One running server with everything a fault needs around it."""

    server: LiveServer
    redis: OwnRedis
    rest: Any  # telephony.tests.twilio_rest.FakeTwilioREST, or None once it is gone
    folder: Path
    extra: dict[str, Any] = field(default_factory=dict)

    def healthz(self) -> tuple[int, dict[str, Any], float]:
        started = time.monotonic()
        try:
            with urlopen(self.server.base_url + "/healthz", timeout=10) as response:  # noqa: S310 - our server
                status, body = response.status, response.read()
        except Exception as exc:  # noqa: BLE001 - urllib raises HTTPError for 503, with the body
            status, body = getattr(exc, "code", 0), getattr(exc, "read", lambda: b"{}")()
        return status, json.loads(body or b"{}"), time.monotonic() - started

    def query(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        """Read the server's database directly (SQLite file, or its own Postgres database); `?` placeholders."""
        dsn = self.extra.get("postgres")
        if dsn is None:
            return self.server.query(sql, *args)
        import psycopg

        with psycopg.connect(dsn, autocommit=True) as db:
            return db.execute(sql.replace("?", "%s").encode(), args).fetchall()

    def call_log(self, call_sid: str) -> tuple[str, list[dict[str, Any]]] | None:
        rows = self.query("SELECT outcome, transcript FROM crm_calllog WHERE call_sid = ?", call_sid)
        if not rows:
            return None
        transcript = rows[0][1]
        return rows[0][0], json.loads(transcript or "[]") if isinstance(transcript, str) else transcript

    def kill_database_connections(self) -> int:
        """`pg_terminate_backend` on every connection to the server's own database (never anyone else's):
        what a Postgres restart or failover does to the pooled connections. How many were ended."""
        import psycopg

        with psycopg.connect(self.extra["postgres"], autocommit=True) as db:
            rows = db.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                              " WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchall()
        return len(rows)


def template_database(folder: Path) -> Path:
    """A migrated, seeded SQLite database to copy for each server (migrating once saves seconds per server)."""
    database = folder / "template.sqlite3"
    if not database.exists():
        migrate_and_seed(server_env(0, database))
    return database


def migrate_and_seed(env: dict[str, str]) -> None:
    """`migrate` and a small seeded CRM on the database `env` names, as the servers' own process would."""
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=180)  # noqa: S603
    subprocess.run([*manage, "seed_crm", "--customers", "10", "--appointments", "3", "--seed", "1"],  # noqa: S603
                   cwd=ROOT, env=env, check=True, timeout=180, capture_output=True)
    subprocess.run([*manage, "shell", "-c", KNOWN_CALLERS], cwd=ROOT, env=env, check=True,  # noqa: S603
                   timeout=180, capture_output=True)


# The callers who book in the scenarios are returning customers with a car on record (a new caller would first
# be asked their name and car, which is not what these faults are about).
KNOWN_CALLERS = """
from crm.models import Customer, Vehicle
for number in ("+15550107003", "+15550107007", "+15550108001", "+15550108002", "+15550108003"):
    customer, _ = Customer.objects.get_or_create(phone=number, defaults={"name": "Lab Caller"})
    Vehicle.objects.get_or_create(customer=customer, year=2018, make="Honda", model="Civic")
"""


@contextlib.contextmanager
def running_server(folder: Path, name: str, extra_env: dict[str, str], workers: int = 1) -> Iterator[LiveServer]:
    """The production command (`workers` web worker processes) on a copy of the template database, with `extra_env`."""
    port = free_port()
    database = folder / f"{name}.sqlite3"
    if "DATABASE_URL" not in extra_env:
        shutil.copyfile(template_database(folder), database)
    env = {**server_env(port, database), "FRONT_DESK_NUMBER": FRONT_DESK, **extra_env}
    with serving(port, env, database, folder / f"{name}.log", serve_command(port, workers)) as server:
        yield server


def closed_port_url() -> str:
    """An http URL where nothing listens: a service that is down."""
    return f"http://127.0.0.1:{free_port()}"


class BlackHole:
    """A TCP server that accepts connections and never answers: a service that is up but hung."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self._held: list[socket.socket] = []
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                self._held.append(self._server.accept()[0])

    def close(self) -> None:
        for held in self._held:
            held.close()
        self._server.close()


@contextlib.contextmanager
def fault_lab(folder: Path, calendar: str | None = None, name: str = "lab") -> Iterator[FaultLab]:
    """The shared lab: own Redis, a live Twilio REST peer, a Google Calendar at `calendar` (default: down,
    a closed port), front desk configured; one server for every fault that needs nothing else."""
    from telephony.tests.twilio_rest import FakeTwilioREST

    redis = OwnRedis(folder)
    redis.start()
    rest = FakeTwilioREST(account_sid=TWILIO_ACCOUNT, auth_token=AUTH_TOKEN).__enter__()
    calendar = calendar or closed_port_url()
    env = {"REDIS_URL": redis.url, "TWILIO_ACCOUNT_SID": TWILIO_ACCOUNT, "TWILIO_API_BASE_URL": rest.url,
           "CALENDAR_BACKEND": "google", "GOOGLE_CLIENT_ID": "client", "GOOGLE_CLIENT_SECRET": "secret",
           "GOOGLE_REFRESH_TOKEN": "refresh", "GOOGLE_CALENDAR_ID": "shop@example.com",
           "GOOGLE_CALENDAR_API_URL": calendar + "/", "GOOGLE_TOKEN_URI": calendar + "/token"}
    try:
        with running_server(folder, name, env) as server:
            yield FaultLab(server=server, redis=redis, rest=rest, folder=folder)
    finally:
        with contextlib.suppress(Exception):
            rest.__exit__(None, None, None)
        redis.kill()


def postgres_server_url() -> str | None:
    """The Postgres server the test run's own database is on (its `postgres` database), or None when the
    run is on SQLite: the Postgres faults and servers need one."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    params = connection.settings_dict
    user = params["USER"] + (f":{params['PASSWORD']}" if params["PASSWORD"] else "")
    return f"postgres://{user}@{params['HOST'] or '127.0.0.1'}:{params['PORT'] or 5432}/postgres"


@contextlib.contextmanager
def own_postgres_database(folder: Path, server_url: str) -> Iterator[str]:
    """A Postgres database of our own on the server at `server_url` (created, migrated, seeded; dropped on
    the way out), so faults can end its connections without touching anyone else's. Its URL."""
    import psycopg

    name = f"faults_{os.urandom(4).hex()}"
    base, _, _ = server_url.rpartition("/")
    dsn = f"{base}/{name}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"'.encode())
    try:
        migrate_and_seed({**server_env(0, folder / "unused.sqlite3"), "DATABASE_URL": dsn})
        yield dsn
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


@contextlib.contextmanager
def postgres_lab(folder: Path, server_url: str = "postgres://postgres@127.0.0.1:5432/postgres") -> Iterator[FaultLab]:
    """A lab whose server runs on a Postgres database of its own, so its connections can be killed without
    touching anyone else's. Builtin calendar."""
    from telephony.tests.twilio_rest import FakeTwilioREST

    with own_postgres_database(folder, server_url) as dsn:
        redis = OwnRedis(folder)
        rest = FakeTwilioREST(account_sid=TWILIO_ACCOUNT, auth_token=AUTH_TOKEN).__enter__()
        try:
            redis.start()
            env = {"DATABASE_URL": dsn, "REDIS_URL": redis.url, "TWILIO_ACCOUNT_SID": TWILIO_ACCOUNT,
                   "TWILIO_API_BASE_URL": rest.url}
            with running_server(folder, dsn.rpartition("/")[2], env) as server:
                yield FaultLab(server=server, redis=redis, rest=rest, folder=folder, extra={"postgres": dsn})
        finally:
            with contextlib.suppress(Exception):
                rest.__exit__(None, None, None)
            redis.kill()


# --- the caller -------------------------------------------------------------------------------------


class CallerStuck(AssertionError):
    """The caller waited for the agent and heard nothing: `waited` seconds of silence, and counting."""

    def __init__(self, waited: float, message: str) -> None:
        super().__init__(message)
        self.waited = waited


class Caller:
    """Twilio's side of one call over real sockets: the signed webhook, the media stream with caller
    silence every 20 ms (as Twilio sends), key presses and speech, and the agent's audio played back
    the way Twilio plays it (each mark echoed once its audio has played). Times what the caller hears."""

    def __init__(self, server: LiveServer, caller: str = "+15550102000") -> None:
        self.server = server
        self.number = caller
        self.call_sid = ""
        self.stream_sid = "MZ" + os.urandom(16).hex()
        self.audio_at: list[float] = []  # when each agent media message arrived
        self.play_until = 0.0
        self.play_until_before = 0.0  # when the agent audio already sent runs out (a clear does not move it)
        self.longest_silence = 0.0  # the longest wait from a caller action (or the start) to agent sound
        self.last_wait = 0.0
        self.presses = 0  # keys pressed: each is a "[pressed N]" line the call log must hold
        self.closed = asyncio.Event()
        self._waiting_since: float | None = None
        self._socket: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        self._speaking = False
        self._seq = 0
        self._chunk = 0

    async def __aenter__(self) -> "Caller":
        self.call_sid, parameters = await asyncio.to_thread(self.server.answer, self.number)
        await self._open_stream(parameters)
        return self

    async def follow_connect_action(self) -> None:
        """What Twilio does when the stream closed with the caller still on the line: request the
        `<Connect action>` URL and open the stream its TwiML names (a new stream sid, the new token)."""
        await self.hang_up()  # the old stream's socket and tasks (it closed: nothing is sent)
        status, twiml = await asyncio.to_thread(self.connect_action)
        assert status == 200, f"call {self.call_sid}: stream-ended answered {status}: {twiml}"
        self.stream_sid = "MZ" + os.urandom(16).hex()
        self.closed = asyncio.Event()
        self._seq = self._chunk = 0  # a new stream numbers its messages and audio chunks from 1
        await self._open_stream(stream_parameters(twiml))

    def connect_action(self) -> tuple[int, str]:
        """Twilio's request of `<Connect action>` (`/twilio/stream-ended`) for this call: status, TwiML."""
        return self.server.post("/twilio/stream-ended", {"CallSid": self.call_sid, "From": self.number,
                                                          "To": SHOP_NUMBER, "Direction": "inbound",
                                                          "AccountSid": "AC" + "0" * 32})

    async def _open_stream(self, parameters: dict[str, str]) -> None:
        self._socket = await media_stream(self.server).__aenter__()
        await self._send({"event": "connected", "protocol": "Call", "version": "1.0.0"}, numbered=False)
        self._expect_sound()
        await self._send({"event": "start", "start": {
            "streamSid": self.stream_sid, "accountSid": "AC" + "0" * 32, "callSid": self.call_sid,
            "tracks": ["inbound"], "customParameters": parameters,
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})
        self._tasks = [asyncio.create_task(self._read()), asyncio.create_task(self._pace())]

    async def __aexit__(self, *exc: object) -> None:
        await self.hang_up()

    async def hang_up(self) -> None:
        """The caller hangs up: `stop`, then the socket closes (nothing, if the agent closed it first)."""
        pacer, reader = self._tasks or (None, None)
        if pacer is not None:
            pacer.cancel()
            await asyncio.gather(pacer, return_exceptions=True)
        if not self.closed.is_set():
            with contextlib.suppress(Exception):
                await self._send({"event": "stop", "stop": {"accountSid": "AC" + "0" * 32, "callSid": self.call_sid}})
            await asyncio.sleep(0.1)
        if reader is not None:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self._socket.close()

    async def press(self, digit: str) -> None:
        self.presses += 1
        self._expect_sound()
        await self._send({"event": "dtmf", "dtmf": {"track": "inbound_track", "digit": digit}})

    async def say(self, ulaw: bytes) -> None:
        """Speak `ulaw` in real time, then wait for the agent (timed from the end of the speech)."""
        self._speaking = True
        try:
            for offset in range(0, len(ulaw), 160):
                await self._media(ulaw[offset:offset + 160].ljust(160, b"\xff"))
                await asyncio.sleep(0.02)
        finally:
            self._speaking = False
        self._expect_sound()

    async def heard(self, timeout: float = 20.0) -> float:
        """Wait for the agent's next sound after the caller's last action; the seconds it took."""
        deadline = time.monotonic() + timeout
        while self._waiting_since is not None:
            if time.monotonic() > deadline:
                raise CallerStuck(time.monotonic() - self._waiting_since,
                                  f"call {self.call_sid}: no agent sound within {timeout} s")
            if self.closed.is_set():
                raise AssertionError(f"call {self.call_sid}: the stream closed with the caller waiting")
            await asyncio.sleep(0.01)
        return self.last_wait

    async def quiet(self, gap: float = 0.8, timeout: float = 30.0) -> None:
        """Wait until the agent has finished talking (its audio played, nothing new for `gap` s)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.closed.is_set():
            now = time.monotonic()
            if self.audio_at and now > self.play_until + gap and now > self.audio_at[-1] + gap:
                return
            await asyncio.sleep(0.02)

    async def sound_after(self, moment: float, timeout: float = 15.0) -> None:
        """Wait for agent sound that arrives after `moment` (a `time.monotonic()`)."""
        deadline = time.monotonic() + timeout
        while not (self.audio_at and self.audio_at[-1] > moment):
            if time.monotonic() > deadline or self.closed.is_set():
                raise AssertionError(f"call {self.call_sid}: no agent sound after the moment awaited")
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.5)

    async def until_closed(self, timeout: float = 30.0) -> bool:
        """Wait for the agent to close the stream (a goodbye or a hand-over); whether it did."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.closed.wait(), timeout)
        return self.closed.is_set()

    def _expect_sound(self) -> None:
        self._waiting_since = time.monotonic()

    async def _pace(self) -> None:
        while True:
            if not self._speaking:
                with contextlib.suppress(Exception):
                    await self._media(SILENCE)
            await asyncio.sleep(0.02)

    async def _media(self, frame: bytes) -> None:
        self._chunk += 1
        await self._send({"event": "media", "media": {"track": "inbound", "chunk": str(self._chunk),
                                                      "timestamp": str(self._chunk * 20),
                                                      "payload": base64.b64encode(frame).decode()}})

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            async for raw in self._socket:
                message = json.loads(raw)
                now = time.monotonic()
                if message.get("event") == "media":
                    payload = base64.b64decode(message["media"]["payload"])
                    self.audio_at.append(now)
                    self.play_until = max(self.play_until, now) + len(payload) / 8000
                    if self._waiting_since is not None:
                        self.last_wait = now - self._waiting_since
                        self.longest_silence = max(self.longest_silence, self.last_wait)
                        self._waiting_since = None
                    elif self.audio_at[:-1] and now > self.play_until_before:  # dead air inside the agent's turn
                        self.longest_silence = max(self.longest_silence, now - self.play_until_before)
                    self.play_until_before = self.play_until
                elif message.get("event") == "mark":
                    name = message["mark"]["name"]
                    loop.call_later(max(self.play_until - now, 0), self._echo, name)
                elif message.get("event") == "clear":
                    self.play_until = now
        except (websockets.ConnectionClosed, OSError):  # any close ends the call for the caller
            return
        finally:
            self.closed.set()

    def _echo(self, name: str) -> None:
        if not self.closed.is_set():
            asyncio.get_running_loop().create_task(self._send({"event": "mark", "mark": {"name": name}}))

    async def _send(self, message: dict[str, Any], numbered: bool = True) -> None:
        if numbered:
            self._seq += 1
            message = {"event": message["event"], "sequenceNumber": str(self._seq), "streamSid": self.stream_sid,
                       **{k: v for k, v in message.items() if k != "event"}}
        with contextlib.suppress(Exception):
            await self._socket.send(json.dumps(message))


def speech(text: str) -> bytes:
    """A caller's line as phone audio (mu-law 8 kHz), spoken by the offline voice, with a little lead-in."""
    from voice.providers.offline_speech import OfflineTTS

    return SILENCE * 10 + b"".join(OfflineTTS._render(text)) + SILENCE * 5


# --- what the caller got --------------------------------------------------------------------------


@dataclass
class FaultResult:
    """One fault as the caller lived it, and what the call log says."""

    fault: str
    silence: float  # seconds: the longest wait for the agent's next sound
    person: bool  # reached the front desk (a REST hand-over or the `<Connect action>` fallback dialled it)
    message: bool  # left a message / callback request for staff
    log_complete: bool  # the call log holds every turn the caller heard and said, and a final outcome
    outcome: str
    notes: str = ""

    @property
    def reached_someone(self) -> bool:
        return self.person or self.message


def log_complete(lab: FaultLab, call: Caller, *, replies: int) -> tuple[bool, str]:
    """The call's log row: every key press the caller made, at least `replies` agent lines (what the caller
    heard), and an outcome other than in progress. (complete?, outcome)."""
    row = None
    for _ in range(100):  # the server writes the log as the stream closes
        row = lab.call_log(call.call_sid)
        if row is not None and row[0] != "in_progress":
            break
        time.sleep(0.05)
    if row is None:
        return False, "missing"
    outcome, transcript = row
    pressed = sum(1 for turn in transcript if turn.get("speaker") == "caller" and "[pressed" in turn.get("text", ""))
    agent = sum(1 for turn in transcript if turn.get("speaker") == "agent")
    return outcome != "in_progress" and pressed == call.presses and agent >= replies, outcome


def front_desk_reached(lab: FaultLab, call: Caller) -> tuple[bool, str]:
    """What Twilio does when the stream ends with the caller still on the line: a call the REST API
    already redirected to `<Dial>` is with the front desk; otherwise it requests `<Connect action>`."""
    rest = lab.rest
    if rest is not None and any(sid == call.call_sid and FRONT_DESK in (form.get("Twiml") or [""])[0]
                                for sid, form in rest.updates):
        return True, "REST hand-over"
    status, twiml = call.connect_action()
    if status != 200:
        return False, f"stream-ended answered {status}"
    number = ET.fromstring(twiml).findtext("Dial/Number")
    return number == FRONT_DESK, "<Connect action> dialled the front desk" if number == FRONT_DESK else twiml


Scenario = Callable[[FaultLab], Awaitable[FaultResult]]


# --- the faults -------------------------------------------------------------------------------------


async def _exchange(call: Caller, digit: str) -> None:
    """The caller presses `digit` and hears the agent out."""
    await call.press(digit)
    await call.heard()
    await call.quiet()


async def _ask_for_a_person(lab: FaultLab, call: Caller) -> tuple[bool, str]:
    """Keypad 0 ("I'd like to talk to a person"): the agent hands over and closes the stream."""
    await call.press("0")
    await call.heard()
    if not await call.until_closed():
        return False, "the agent never handed the call over"
    return await asyncio.to_thread(front_desk_reached, lab, call)


async def redis_killed_mid_call(lab: FaultLab) -> FaultResult:
    """Point 5: Redis SIGKILLed after the greeting (the call's record was loaded and saved there); the
    caller talks on, then asks for a person while the agent is still answering."""
    async with Caller(lab.server) as call:
        await call.heard()
        await call.quiet()
        lab.redis.kill()
        await call.press("1")
        await call.heard()
        person, how = await _ask_for_a_person(lab, call)
    complete, outcome = await asyncio.to_thread(log_complete, lab, call, replies=3)
    return FaultResult("Redis killed mid-call", call.longest_silence, person, False, complete, outcome, how)


async def new_call_while_redis_is_down(lab: FaultLab) -> FaultResult:
    """Point 5: with Redis dead, /healthz says so, and a new caller is answered and reaches a person."""
    lab.redis.kill()
    status, body, took = await asyncio.to_thread(lab.healthz)
    async with Caller(lab.server, "+15550107001") as call:
        await call.heard()
        person, how = await _ask_for_a_person(lab, call)
    complete, outcome = await asyncio.to_thread(log_complete, lab, call, replies=2)
    notes = f"/healthz {status} cache={body.get('cache')} in {took:.2f} s; {how}"
    ok = status == 503 and body.get("cache") == "failing" and took < SILENCE_TARGET
    return FaultResult("new call, Redis down", call.longest_silence, person, False, complete and ok, outcome, notes)


async def redis_comes_back(lab: FaultLab) -> FaultResult:
    """Point 5: Redis restarted on the same port: /healthz is 200 and calls are saved there again, no restart."""
    lab.redis.kill()
    lab.redis.start()
    status = 0
    for _ in range(50):
        status, _, _ = await asyncio.to_thread(lab.healthz)
        if status == 200:
            break
        await asyncio.sleep(0.1)
    async with Caller(lab.server, "+15550107002") as call:
        await call.heard()
        saved = await asyncio.to_thread(lab.redis.command, "EXISTS", f"autoshop:1:call-record:{call.call_sid}")
    complete, outcome = await asyncio.to_thread(log_complete, lab, call, replies=1)
    notes = f"/healthz {status} after the restart; the new call's record in Redis: {saved == ':1'}"
    return FaultResult("Redis back (same port)", call.longest_silence, False, False,
                       complete and status == 200 and saved == ":1", outcome, notes)


async def redis_hung_mid_call(lab: FaultLab) -> FaultResult:
    """Point 5: Redis stops answering (SIGSTOP, connections stay open) after the greeting: every cache
    operation waits out its timeout, and the caller must not hear that."""
    async with Caller(lab.server, "+15550107008") as call:
        await call.heard()
        await call.quiet()
        lab.redis.pause()
        try:
            await call.press("1")
            await call.heard()
            person, how = await _ask_for_a_person(lab, call)
        finally:
            lab.redis.resume()
    complete, outcome = await asyncio.to_thread(log_complete, lab, call, replies=3)
    return FaultResult("Redis hung mid-call", call.longest_silence, person, False, complete, outcome, how)


async def calendar_down_while_booking(lab: FaultLab) -> FaultResult:
    """Point 7: Google Calendar unreachable: the booking is made on the shop's records, synced later."""
    line = await asyncio.to_thread(speech, f"oil change on {bookable_weekday()} at ten please")
    async with Caller(lab.server, "+15550107003") as call:
        await call.heard()
        await call.quiet()
        await call.say(line)
        await call.heard()
        await call.quiet(gap=SILENCE_TARGET)  # the read-back may follow a filler after a slow calendar
        await call.press("1")  # "yes" to the read-back
        await call.heard()  # a filler ("one moment"), or the confirmation itself
        synced = await asyncio.to_thread(_calendar_tried, lab, call.number)
        await call.sound_after(synced)  # the confirmation follows the booking (and its calendar attempt)
    complete, outcome = await asyncio.to_thread(log_complete, lab, call, replies=3)
    rows = lab.query("SELECT a.calendar_sync FROM crm_appointment a JOIN crm_customer c ON c.id = a.customer_id"
                     " WHERE c.phone = ?", call.number)
    notes = f"appointment calendar_sync={rows[0][0] if rows else 'no appointment'}"
    return FaultResult("calendar down, booking", call.longest_silence, False, False,
                       complete and outcome == "booked" and bool(rows) and rows[0][0] != "synced", outcome, notes)


def _calendar_tried(lab: FaultLab, phone: str, timeout: float = 15.0) -> float:
    """Wait until the caller's appointment exists and its calendar sync was attempted; when that was."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = lab.query("SELECT a.calendar_sync FROM crm_appointment a JOIN crm_customer c"
                                " ON c.id = a.customer_id WHERE c.phone = ?", phone)
        if rows and rows[0][0] != "pending":
            break
        time.sleep(0.05)
    return time.monotonic()


async def twilio_rest_500_on_transfer(lab: FaultLab) -> FaultResult:
    """Point 8: the REST redirect to the front desk answers 500: the stream ends and `<Connect action>` dials."""
    from telephony.tests.twilio_rest import TwilioError

    if lab.rest is not None:
        lab.rest.fail_next(TwilioError(500, 20500, "Internal Server Error"), on="update")
    async with Caller(lab.server, "+15550107004") as call:
        await call.heard()
        person, how = await _ask_for_a_person(lab, call)
    complete, outcome = await asyncio.to_thread(log_complete, lab, call, replies=2)
    return FaultResult("Twilio REST 500 on transfer", call.longest_silence, person, False, complete, outcome, how)


async def twilio_rest_down_on_transfer(lab: FaultLab) -> FaultResult:
    """Point 8: the REST API unreachable (its port closed): the same fallback."""
    if lab.rest is not None:
        lab.rest.__exit__(None, None, None)
        lab.rest = None
    async with Caller(lab.server, "+15550107005") as call:
        await call.heard()
        person, how = await _ask_for_a_person(lab, call)
    complete, outcome = await asyncio.to_thread(log_complete, lab, call, replies=2)
    return FaultResult("Twilio REST down on transfer", call.longest_silence, person, False, complete, outcome, how)


async def postgres_connections_killed_mid_call(lab: FaultLab) -> FaultResult:
    """Point 6: every connection of the server to its database killed (a restart) between two turns, and
    again before the call's end: the call goes on, its log is written on a fresh connection."""
    async with Caller(lab.server, "+15550107006") as call:
        await call.heard()
        await call.quiet()
        killed = await asyncio.to_thread(lab.kill_database_connections)
        await call.press("1")
        await call.heard()
        killed += await asyncio.to_thread(lab.kill_database_connections)
        person, how = await _ask_for_a_person(lab, call)
    complete, outcome = await asyncio.to_thread(log_complete, lab, call, replies=3)
    return FaultResult("Postgres connections killed mid-call", call.longest_silence, person, False, complete,
                       outcome, f"{killed} backends ended; {how}")


async def postgres_connections_killed_before_booking(lab: FaultLab) -> FaultResult:
    """Point 6: the connections killed just before the caller's "yes": booked once, and the caller hears so."""
    line = await asyncio.to_thread(speech, f"oil change on {bookable_weekday()} at ten please")
    async with Caller(lab.server, "+15550107007") as call:
        await call.heard()
        await call.quiet()
        await call.say(line)
        await call.heard()
        await call.quiet()
        killed = await asyncio.to_thread(lab.kill_database_connections)
        await call.press("1")
        await call.heard()
        synced = await asyncio.to_thread(_calendar_tried, lab, call.number)
        await call.sound_after(synced)
    complete, outcome = await asyncio.to_thread(log_complete, lab, call, replies=3)
    rows = lab.query("SELECT count(*) FROM crm_appointment a JOIN crm_customer c ON c.id = a.customer_id"
                     " WHERE c.phone = ?", call.number)
    booked = rows[0][0]
    return FaultResult("Postgres killed before booking", call.longest_silence, False, False,
                       complete and booked == 1, outcome, f"{killed} backends ended; {booked} appointment(s)")


# Faults for a server on its own Postgres database (`postgres_lab`).
POSTGRES_FAULTS: dict[str, "Fault"] = {}


@dataclass(frozen=True)
class Fault:
    """A row of the fault table: the scenario, the outcome its call log must show, and whether the caller
    must end up with a person."""

    run: Scenario
    outcome: str
    needs_person: bool


# In order: the lab's faults build on each other (Redis dies, then returns; the REST peer goes last).
LAB_FAULTS: dict[str, Fault] = {
    "redis-killed-mid-call": Fault(redis_killed_mid_call, "transferred", needs_person=True),
    "new-call-redis-down": Fault(new_call_while_redis_is_down, "transferred", needs_person=True),
    "redis-back": Fault(redis_comes_back, "abandoned", needs_person=False),
    "redis-hung-mid-call": Fault(redis_hung_mid_call, "transferred", needs_person=True),
    "calendar-down-booking": Fault(calendar_down_while_booking, "booked", needs_person=False),
    "twilio-rest-500-transfer": Fault(twilio_rest_500_on_transfer, "transferred", needs_person=True),
    "twilio-rest-down-transfer": Fault(twilio_rest_down_on_transfer, "transferred", needs_person=True),
}

POSTGRES_FAULTS.update({
    "postgres-killed-mid-call": Fault(postgres_connections_killed_mid_call, "transferred", needs_person=True),
    "postgres-killed-before-booking": Fault(postgres_connections_killed_before_booking, "booked", needs_person=False),
})


# --- provider faults (points 1-4): a server whose providers are the local peers --------------------


@contextlib.asynccontextmanager
async def peer_lab(folder: Path, name: str, peer: Any, env: Callable[[Any], dict[str, str]]) -> Any:
    """`peer` (a provider peer: FakeOpenAI, FakeDeepgram, FakeElevenLabs) running, and a server whose
    provider settings (`env(peer)`) point at it; a live Twilio REST peer; no Redis (local memory)."""
    from telephony.tests.twilio_rest import FakeTwilioREST

    async with peer:
        with FakeTwilioREST(account_sid=TWILIO_ACCOUNT, auth_token=AUTH_TOKEN) as rest:
            extra = {"TWILIO_ACCOUNT_SID": TWILIO_ACCOUNT, "TWILIO_API_BASE_URL": rest.url, **env(peer)}
            with running_server(folder, name, extra) as server:
                yield FaultLab(server=server, redis=OwnRedis(folder), rest=rest, folder=folder,
                               extra={"peer": peer})


async def _after_the_greeting_then_ask_for_a_person(lab: FaultLab, name: str, number: str,
                                                    fault: Callable[[], None]) -> FaultResult:
    """The common shape of a provider fault: greeting, the fault, the caller presses 1 (a turn the
    model must answer), then 0 for a person. Measures silence after each action."""
    async with Caller(lab.server, number) as call:
        await call.heard()
        await call.quiet()
        fault()
        await call.press("1")
        person, how = False, "no answer to the key press"
        try:
            await call.heard(timeout=15)
            await call.quiet(gap=2.5)  # a filler may come first: let the agent finish its answer (gaps are timed)
            how = "no answer to keypad 0"
            person, how = await _ask_for_a_person(lab, call)
        except CallerStuck as stuck:  # the silence the caller sat through before giving up
            call.longest_silence = max(call.longest_silence, stuck.waited)
        except AssertionError as exc:
            how = f"{how}: {exc}"
        if not person and call.closed.is_set():  # the agent handed over on its own: follow Twilio
            person, how = await asyncio.to_thread(front_desk_reached, lab, call)
    complete, outcome = await asyncio.to_thread(log_complete, lab, call, replies=1)
    return FaultResult(name, call.longest_silence, person, False, complete, outcome, how)


def _openai_env(peer: Any) -> dict[str, str]:
    return {"LLM_PROVIDER": "openai", "OPENAI_API_KEY": peer.api_key, "OPENAI_BASE_URL": peer.url}


async def model_answers_500(lab: FaultLab) -> FaultResult:
    """Point 1: the chat model answers 500 to every request from the first turn on."""
    return await _after_the_greeting_then_ask_for_a_person(lab, "model 500", "+15550107011", lambda: None)


async def model_hangs(lab: FaultLab) -> FaultResult:
    """Point 1: the chat model accepts each request and sends nothing."""
    return await _after_the_greeting_then_ask_for_a_person(lab, "model hangs", "+15550107012", lambda: None)


async def model_500_leave_a_message(lab: FaultLab) -> FaultResult:
    """Point 2 with no front desk: the apology offers to take a message, the caller's yes is answered by the
    script, their next words become a callback request for staff, and the agent says goodbye."""
    line = await asyncio.to_thread(speech, "please call me back about my brakes")
    async with Caller(lab.server, "+15550107015") as call:
        await call.heard()
        await call.quiet()
        await call.press("1")  # a turn the broken model must answer: the apology offers to take a message
        await call.heard(timeout=15)
        await call.quiet(gap=2.5)
        await _exchange(call, "1")  # yes: "What would you like me to pass on?"
        await call.say(line)
        await call.heard()
        closed = await call.until_closed()
    rows = lab.query("SELECT message FROM crm_callbackrequest WHERE call_sid = ?", call.call_sid)
    complete, outcome = await asyncio.to_thread(log_complete, lab, call, replies=4)
    notes = f"callback request: {rows[0][0][:50]!r}" if rows else "no callback request"
    return FaultResult("model 500, no front desk: message", call.longest_silence, False, bool(rows) and closed,
                       complete, outcome, notes)


async def stt_socket_dropped(lab: FaultLab) -> FaultResult:
    """Point 2: the speech-to-text socket is cut (no close frame) after the greeting."""
    peer = lab.extra["peer"]
    return await _after_the_greeting_then_ask_for_a_person(lab, "STT socket dropped", "+15550107013", peer.drop)


async def tts_fails(lab: FaultLab) -> FaultResult:
    """Point 3/4: text-to-speech answers 500 from the first reply after the greeting."""
    peer = lab.extra["peer"]
    return await _after_the_greeting_then_ask_for_a_person(
        lab, "TTS 500", "+15550107014", lambda: setattr(peer, "fail_status", 500))


@dataclass(frozen=True)
class PeerFault:
    """A provider fault: the peer to run (made fresh), the server settings pointing at it, the scenario."""

    peer: Callable[[], Any]
    env: Callable[[Any], dict[str, str]]
    run: Scenario
    outcome: str
    needs_person: bool = True


def _openai(default: Any) -> Callable[[], Any]:
    def make() -> Any:
        from voice.tests.peers.openai_server import FakeOpenAI

        return FakeOpenAI(default=default)
    return make


def _deepgram() -> Any:
    from voice.tests.peers.deepgram_server import FakeDeepgram

    return FakeDeepgram(idle_timeout=None)


def _elevenlabs() -> Any:
    from voice.tests.peers.elevenlabs_server import FakeElevenLabs

    return FakeElevenLabs()


def _model_error() -> Any:
    from voice.tests.peers.openai_server import ErrorReply

    return ErrorReply(500)


def _model_hang() -> Any:
    from voice.tests.peers.openai_server import HangReply

    return HangReply(60)


PEER_FAULTS: dict[str, PeerFault] = {
    "model-500": PeerFault(lambda: _openai(_model_error())(), _openai_env, model_answers_500, "transferred"),
    "model-500-message": PeerFault(lambda: _openai(_model_error())(),
                                   lambda p: {**_openai_env(p), "FRONT_DESK_NUMBER": ""},
                                   model_500_leave_a_message, "callback"),
    "model-hangs": PeerFault(lambda: _openai(_model_hang())(), _openai_env, model_hangs, "transferred"),
    "stt-dropped": PeerFault(_deepgram, lambda p: {"STT_PROVIDER": "deepgram", "DEEPGRAM_API_KEY": p.api_key,
                                                   "DEEPGRAM_URL": p.url, "TTS_PROVIDER": "offline"},
                             stt_socket_dropped, "transferred"),
    "tts-500": PeerFault(_elevenlabs, lambda p: {"TTS_PROVIDER": "elevenlabs", "ELEVENLABS_API_KEY": p.api_key,
                                                 "ELEVENLABS_URL": p.url}, tts_fails, "transferred"),
}
