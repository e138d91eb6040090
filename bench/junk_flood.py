"""Does one call's junk slow the other calls on the worker? Prints figures, asserts nothing.

Starts the production server (`daphne autoshop.asgi:application`, offline engines, one process) and
measures a caller's reply latency (the caller's speech end → the agent's first audio, measured by the
caller, as `manage.py simulate_call` does) on quiet calls, then on calls during which another live
call floods the same server with junk frames (10,000 by default, as fast as the socket takes them,
starting the moment the measured caller stops speaking). Prints both medians and their ratio (target ≤ 1.2x),
and what the server did with the flood (close code, frames it took, log lines it wrote).

    .venv/bin/python bench/junk_flood.py [--calls 5] [--frames 10000]
"""

import argparse
import asyncio
import contextlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from voice.tests.live_server import (  # noqa: E402
    LiveServer,
    WireCall,
    daphne_command,
    free_port,
    media_stream,
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
    log = folder / "daphne.log"
    with log.open("wb") as out:
        process = subprocess.Popen(daphne_command(port), cwd=ROOT, env=env, stdout=out,
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


async def flood(server: LiveServer, frames: int, go: asyncio.Event) -> dict[str, object]:
    """Another live call that, once `go` is set, sends `frames` junk frames as fast as it can."""
    call_sid, parameters = server.answer(caller="+15550102001")
    sent, code = 0, None
    async with media_stream(server) as socket:
        call = WireCall(socket, call_sid=call_sid)
        await call.start(parameters)
        await call.agent_audio()  # a live call, greeting under way
        await go.wait()
        started = time.monotonic()
        with contextlib.suppress(Exception):
            for index in range(frames):
                await socket.send(f"junk {index} " + "x" * 40)
                sent += 1
        took = time.monotonic() - started
        code = await call.closed_code(timeout=10)
    for _ in range(100):  # the server writes the call log as it closes the stream
        rows = server.query("SELECT protocol_errors FROM crm_calllog WHERE call_sid = ?", call_sid)
        if rows and rows[0][0]:
            break
        await asyncio.sleep(0.05)
    lines = sum(1 for line in server.log_text().splitlines() if call_sid in line)
    return {"sent": sent, "seconds": took, "close": code, "counted": rows[0][0] if rows else None, "lines": lines}


async def run(server: LiveServer, calls: int, frames: int) -> None:
    from voice.providers.offline_speech import OfflineTTS

    speech = b"".join([chunk async for chunk in OfflineTTS().synthesize(LINE)])
    await measured_call(server, speech, None)  # warm-up: phrase cache, models, connections
    quiet = [await measured_call(server, speech, None) for _ in range(calls)]
    flooded, floods = [], []
    for _ in range(calls):
        go = asyncio.Event()
        flooding = asyncio.create_task(flood(server, frames, go))
        await asyncio.sleep(1.0)  # the flood's call is up before the measured call starts
        flooded.append(await measured_call(server, speech, go))
        floods.append(await flooding)
    q, f = statistics.median(quiet), statistics.median(flooded)
    print(f"reply latency, caller's speech end → first agent audio, {calls} calls each, one Daphne process:")
    print(f"  quiet:                        median {q:6.0f} ms   ({', '.join(f'{v:.0f}' for v in quiet)})")
    print(f"  during a {frames}-frame flood: median {f:6.0f} ms   ({', '.join(f'{v:.0f}' for v in flooded)})")
    print(f"  ratio flooded / quiet: {f / q:.2f}x (target ≤ 1.2x)")
    for index, result in enumerate(floods, 1):
        print(f"  flood {index}: {result['sent']} frames sent in {result['seconds']:.2f} s before the server closed "
              f"with {result['close']}; call log protocol_errors={result['counted']}; "
              f"{result['lines']} log line(s) for that call")


def main(calls: int, frames: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="junkflood_"))
    server = start_server(folder)
    try:
        setup_django(server.env)
        asyncio.run(run(server, calls, frames))
    finally:
        server.process.terminate()
        server.process.wait(timeout=10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--frames", type=int, default=10_000)
    options = parser.parse_args()
    main(options.calls, options.frames)
