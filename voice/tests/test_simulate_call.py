"""`manage.py simulate_call` against a real running server (`runserver` in another process), as Twilio
would call it: signed webhook, signed WebSocket upgrade, real-time media. Offline engines, no keys."""

import os
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlencode
from urllib.request import Request, urlopen

import pytest
from twilio.request_validator import RequestValidator

from voice.tests.live_server import bookable_weekday, wait_for_port

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path: Path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEEPGRAM", "OPENAI", "ELEVENLABS"))}
    env.pop("REDIS_URL", None)  # the two processes share the database file; the cache is per process
    env.update(DATABASE_URL=f"sqlite:///{tmp_path}/call.sqlite3", TWILIO_AUTH_TOKEN="sim-token", DEBUG="True",
               PUBLIC_BASE_URL=f"http://127.0.0.1:{port}", CALENDAR_BACKEND="builtin", DJANGO_SETTINGS_MODULE="")
    env.pop("DJANGO_SETTINGS_MODULE")
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=120)  # noqa: S603
    subprocess.run([*manage, "seed_crm", "--customers", "20", "--appointments", "5", "--seed", "1"],  # noqa: S603
                   cwd=ROOT, env=env, check=True, timeout=120, capture_output=True)
    log = tmp_path / "runserver.log"
    with log.open("wb") as out:
        process = subprocess.Popen([*manage, "runserver", f"127.0.0.1:{port}", "--noreload"], cwd=ROOT,  # noqa: S603
                                   env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, process, log)  # start-up renders the fixed phrases first: seconds on a busy machine
        yield port, env
    finally:
        process.terminate()
        process.wait(timeout=10)


def _simulate(port: int, env: dict[str, str], *args: str) -> str:
    result = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "simulate_call", "--url", f"http://127.0.0.1:{port}", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_a_simulated_call_books_and_an_interruption_clears_the_agent(server, tmp_path: Path) -> None:
    port, env = server
    out = _simulate(port, env, "--from", "+18655550100", "--say", f"oil change on {bookable_weekday()} at ten please",
                    "--say", "yes", "--record", str(tmp_path / "agent.wav"))
    assert "outcome: booked" in out
    assert "Shall I book it?" in out and "You're all set" in out
    assert "latency turn 1: stt_final" in out and (tmp_path / "agent.wav").stat().st_size > 16000
    interrupted = _simulate(port, env, "--say", "What are your hours?", "--say", "thanks bye",
                            "--interrupt-after", "0.5")
    clears = int(interrupted.split(" clear(s)")[0].rsplit(", ", 1)[1])
    assert clears >= 1
    assert "0 media after a clear while the caller spoke" in interrupted  # nothing leaks past a clear

    # The first call's stream "drops": Twilio asks `<Connect action>` what next. The server answers from the
    # call record its media-stream consumer wrote: the same caller and direction, whatever the form says.
    call_sid = out.split("call ", 1)[1].split(":", 1)[0]
    form = {"CallSid": call_sid, "From": "+15550100100", "To": "+18655550100", "Direction": "outbound-api"}
    twiml = _post_signed(port, "/twilio/stream-ended", form)
    params = {p.get("name"): p.get("value") for p in ET.fromstring(twiml).iter("Parameter")}
    assert params["caller"] == "+18655550100" and params["direction"] == "inbound" and params["token"]


def _post_signed(port: int, path: str, form: dict[str, str]) -> str:
    """POST a form to the running server, signed as Twilio signs it (the server's PUBLIC_BASE_URL)."""
    url = f"http://127.0.0.1:{port}{path}"
    signature = RequestValidator("sim-token").compute_signature(url, form)
    request = Request(url, data=urlencode(form).encode(), method="POST",
                      headers={"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"})
    with urlopen(request, timeout=10) as response:  # noqa: S310
        return response.read().decode()
