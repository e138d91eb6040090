"""Does one call's junk slow the other calls on the worker? Prints figures, asserts nothing.

Starts the production server (`manage.py serve`, offline engines, one worker) and
measures a caller's reply latency (the caller's speech end → the agent's first audio, measured by the
caller, as `manage.py simulate_call` does) on quiet calls, then on calls during which another live
call floods the same server with junk frames (10,000 by default, as fast as the socket takes them,
starting the moment the measured caller stops speaking). Prints both medians and their ratio (target ≤ 1.2x),
and what the server did with the flood (close code, frames it took, log lines it wrote).

    .venv/bin/python bench/junk_flood.py [--calls 5] [--frames 10000] [--frame-bytes 60000]
"""

import argparse
import asyncio
import contextlib
import io
import multiprocessing
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from voice.tests.live_server import (  # noqa: E402
    LiveServer,
    WireCall,
    free_port,
    media_stream,
    serve_command,
    server_env,
    wait_for_port,
)

LINE = "What are your hours on Saturday?"


def start_server(folder: Path) -> LiveServer:
    port, database = free_port(), folder / "bench.sqlite3"
    env = server_env(port, database)
    env["LOG_LEVEL"] = "WARNING"  # what production logs; the flood's own warnings are the point
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([*manage, "seed_crm", "--customers", "10", "--appointments", "3", "--seed", "1"],
                   cwd=ROOT, env=env, check=True, capture_output=True)
    log = folder / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(serve_command(port), cwd=ROOT, env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    wait_for_port(port, process, log)
    return LiveServer(port=port, env=env, database=database, log=log, process=process)


def setup_django(env: dict[str, str]) -> None:
    """This process signs its requests as Twilio would: same settings as the server."""
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "autoshop.settings"
    import django

    django.setup()


async def measured_call(server: LiveServer, speech: bytes, speaking: asyncio.Event | None) -> float:
    """One call with one caller line; the caller-side reply latency in ms."""
    from voice.management.commands.simulate_call import SimulatedCall

    class Caller(SimulatedCall):
        async def _speak(self, ulaw: bytes) -> None:
            await super()._speak(ulaw)
            if speaking is not None:  # the caller stopped talking: the measured wait begins, so does the flood
                speaking.set()

    call = Caller(server.base_url, "+15550102000", "CA" + uuid.uuid4().hex, io.StringIO())
    await call.run([speech], None)
    assert call.first_audio_after, "no reply came"
    return call.first_audio_after[0]


def junk(index: int, size: int) -> str:
    """A junk frame: short invalid JSON, or (size > 0) a JSON object of about `size` bytes that is no message."""
    return f'{{"event": "media", "junk": "{index} {"x" * size}"}}' if size else f"junk {index} {'x' * 40}"


def flood_process(port: int, call_sid: str, parameters: dict[str, str], frames: int, size: int,
                  ready: Any, go: Any, results: Any) -> None:
    """Another live call, in its own process (its sending must not slow the measured caller): once `go`
    is set, it sends `frames` junk frames as fast as the socket takes them."""

    async def flood() -> None:
        sent, took, code = 0, 0.0, None
        async with media_stream(port) as socket:
            call = WireCall(socket, call_sid=call_sid)
            await call.start(parameters)
            await call.agent_audio()  # a live call, greeting under way
            ready.set()
            while not go.is_set():
                await call.media()  # Twilio's 50 frames a second until the flood
                await asyncio.sleep(0.02)
            started = time.monotonic()
            with contextlib.suppress(Exception):
                for index in range(frames):
                    await socket.send(junk(index, size))
                    sent += 1
            took = time.monotonic() - started
            code = await call.closed_code(timeout=15)
        results.put({"sent": sent, "seconds": took, "close": code})

    asyncio.run(flood())


async def flooded_call(server: LiveServer, speech: bytes, frames: int, size: int) -> tuple[float, dict[str, Any]]:
    """A measured call while another call floods the server from the measured caller's speech end."""
    context = multiprocessing.get_context("spawn")
    ready, go, results = context.Event(), context.Event(), context.Queue()
    call_sid, parameters = server.answer(caller="+15550102001")
    child = context.Process(target=flood_process, args=(server.port, call_sid, parameters, frames, size, ready,
                                                        go, results))
    child.start()
    await asyncio.to_thread(ready.wait, 60)
    speaking = asyncio.Event()
    speaking_done = asyncio.create_task(speaking.wait())
    speaking_done.add_done_callback(lambda _: go.set())
    latency = await measured_call(server, speech, speaking)
    result = await asyncio.to_thread(results.get, True, 60)
    child.join(timeout=10)
    rows: list[tuple[Any, ...]] = [("no such column (an older schema)",)]
    with contextlib.suppress(sqlite3.OperationalError):
        for _ in range(100):  # the server writes the call log as it closes the stream
            rows = server.query("SELECT protocol_errors FROM crm_calllog WHERE call_sid = ?", call_sid)
            if rows and rows[0][0]:
                break
            await asyncio.sleep(0.05)
    result["counted"] = rows[0][0] if rows else None
    result["lines"] = sum(1 for line in server.log_text().splitlines() if "dropped" in line and "frame" in line)
    return latency, result


async def run(server: LiveServer, calls: int, frames: int, size: int) -> None:
    from voice.providers.offline_speech import OfflineTTS

    speech = b"".join([chunk async for chunk in OfflineTTS().synthesize(LINE)])
    await measured_call(server, speech, None)  # warm-up: phrase cache, models, connections
    quiet = [await measured_call(server, speech, None) for _ in range(calls)]
    flooded, floods = [], []
    for _ in range(calls):
        latency, result = await flooded_call(server, speech, frames, size)
        flooded.append(latency)
        floods.append(result)
    q, f = statistics.median(quiet), statistics.median(flooded)
    kind = f"{size}-byte JSON" if size else "short invalid-JSON"
    print(f"reply latency, caller's speech end → first agent audio, {calls} calls each, one server process:")
    print(f"  quiet:                      median {q:6.0f} ms   ({', '.join(f'{v:.0f}' for v in quiet)})")
    print(f"  during {frames} {kind} junk frames on another call:")
    print(f"                              median {f:6.0f} ms   ({', '.join(f'{v:.0f}' for v in flooded)})")
    print(f"  ratio flooded / quiet: {f / q:.2f}x (target ≤ 1.2x)")
    for index, result in enumerate(floods, 1):
        print(f"  flood {index}: {result['sent']} frames sent in {result['seconds']:.2f} s; the server closed with "
              f"{result['close']}; call log protocol_errors={result['counted']}; "
              f"'dropped ... frame' log lines so far: {result['lines']}")


def main(calls: int, frames: int, size: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="junkflood_"))
    server = start_server(folder)
    try:
        setup_django(server.env)
        asyncio.run(run(server, calls, frames, size))
    finally:
        server.process.terminate()
        server.process.wait(timeout=10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--frame-bytes", type=int, default=0,
                        help="0: short invalid JSON; N: valid JSON of about N bytes that is no Twilio message")
    options = parser.parse_args()
    main(options.calls, options.frames, options.frame_bytes)
