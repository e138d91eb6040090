"""Voice mode's shop: the production command (`manage.py serve`, one worker) on the evaluation's database,
with the offline speech engines and the configured brain, its clock set to the suite's "today".

The server is a process of its own, so the evaluator's clock travel cannot reach it: libfaketime (Debian's
`faketime` package) starts its clock at the scenario's `now`, from where it runs at the normal rate. One
server per scenario: each call meets a shop that has just opened (no customer cached from another
scenario, the scenario's own front desk, a clock that has not drifted).
"""

import contextlib
import glob
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote
from urllib.request import urlopen
from zoneinfo import ZoneInfo

from django.conf import settings

AUTH_TOKEN = "eval-auth-token"  # noqa: S105 - signs the evaluator's own calls to its own server; no Twilio account
PUBLIC_BASE_URL = "https://eval.bart.example"
SHOP_NUMBER = "+15550100100"
FAKETIME_LIBRARIES = "/usr/lib/*/faketime/libfaketime.so.1"
START_TIMEOUT = 120.0  # seconds: imports, the offline models, the fixed phrases rendered at start-up


class ServerError(RuntimeError):
    """The shop could not be started (the message says why)."""


def faketime_library() -> str:
    found = sorted(glob.glob(FAKETIME_LIBRARIES))
    if not found:
        raise ServerError("voice mode needs libfaketime to set the server's clock: apt-get install faketime")
    return found[0]


def database_url(database: dict[str, Any]) -> str:
    """A DATABASE_URL for the database Django is connected to now (the evaluation's throwaway one)."""
    engine, name = database["ENGINE"], str(database["NAME"])
    if engine.endswith("sqlite3"):
        if name == ":memory:" or name.startswith("file:"):
            raise ServerError("voice mode needs a database file the server can open, not an in-memory one")
        return f"sqlite:///{name}"
    if engine.endswith("postgresql"):
        user = quote(str(database.get("USER") or ""), safe="")
        password = quote(str(database.get("PASSWORD") or ""), safe="")
        login = f"{user}:{password}@" if password else (f"{user}@" if user else "")
        return f"postgres://{login}{database.get('HOST') or '127.0.0.1'}:{database.get('PORT') or 5432}/{quote(name)}"
    raise ServerError(f"voice mode cannot hand a {engine} database to the server")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _environment(port: int, now: datetime, front_desk: str, database: str) -> dict[str, str]:
    dropped = ("DEEPGRAM", "ELEVENLABS", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "DATABASE_URL", "FAKETIME",
               "FRONT_DESK")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    env.update(
        DEBUG="False", SECRET_KEY=os.environ.get("SECRET_KEY") or secrets.token_urlsafe(40),
        ALLOWED_HOSTS="127.0.0.1,localhost", SECURE_SSL_REDIRECT="False", DATABASE_URL=database,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN, TWILIO_ACCOUNT_SID="", TWILIO_PHONE_NUMBER=SHOP_NUMBER,
        PUBLIC_BASE_URL=PUBLIC_BASE_URL, CALENDAR_BACKEND="builtin", FRONT_DESK_NUMBER=front_desk,
        STT_PROVIDER="offline", TTS_PROVIDER="offline", STT_FALLBACK="none", TTS_FALLBACKS="none",
        LLM_PROVIDER=str(settings.LLM_PROVIDER), RECORD_CALLS="False", SMS_CONFIRMATIONS="False",
        LOG_LEVEL="WARNING", LD_PRELOAD=faketime_library(),
        # libfaketime reads FAKETIME in the process's local zone whenever it first needs it, and Django sets
        # the zone to TIME_ZONE as it starts: give both the shop's zone so either reading is the same moment.
        TZ=str(settings.TIME_ZONE), FAKETIME="@" + now.astimezone(ZoneInfo(settings.TIME_ZONE)).strftime(
            "%Y-%m-%d %H:%M:%S"))
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL"):  # the brain configured for this run
        value = getattr(settings, name, "")
        if value:
            env[name] = str(value)
    return env


@contextlib.contextmanager
def shop_server(*, now: datetime, front_desk: str, database: str, log: Path) -> Iterator[int]:
    """The shop's server, answering on the port it yields; stopped on the way out."""
    port = _free_port()
    command = [sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    with log.open("ab") as out:
        process = subprocess.Popen(command, cwd=settings.BASE_DIR, stdout=out, stderr=subprocess.STDOUT,  # noqa: S603 - our own command
                                   env=_environment(port, now, front_desk, database))
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                raise ServerError(f"the server exited with {process.returncode}; its log: {log}")
            with contextlib.suppress(OSError):
                with urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
                    if response.status == 200:
                        break
            if time.monotonic() > deadline:
                raise ServerError(f"the server did not answer /healthz in {START_TIMEOUT:.0f} s; its log: {log}")
            time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
