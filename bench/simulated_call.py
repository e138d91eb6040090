"""End-to-end latency of whole phone calls, measured from the caller's side with `simulate_call`
against a real server process (`make run`'s) on the offline engines. Prints figures, asserts nothing.

    .venv/bin/python bench/simulated_call.py [--calls 3]
"""

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(calls: int) -> None:
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="simcall_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEEPGRAM", "OPENAI", "ELEVENLABS", "REDIS"))}
    env.update(DATABASE_URL=f"sqlite:///{tmp}/bench.sqlite3", TWILIO_AUTH_TOKEN="bench-token", DEBUG="True",
               PUBLIC_BASE_URL=f"http://127.0.0.1:{port}", CALENDAR_BACKEND="builtin")
    env.pop("DJANGO_SETTINGS_MODULE", None)
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    server = subprocess.Popen([*manage, "runserver", f"127.0.0.1:{port}", "--noreload"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    caller_ms: list[float] = []
    server_ms: dict[str, list[float]] = {}
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        for i in range(calls):
            out = subprocess.run(
                [*manage, "simulate_call", "--url", f"http://127.0.0.1:{port}", "--from", f"+1555010{2000 + i}",
                 "--say", "oil change on Tuesday at ten please", "--say", "yes"],
                cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout
            caller_ms += [float(m) for m in re.findall(r"agent audio in (\d+) ms", out)]
            for line in re.findall(r"latency turn \d+: (.*)", out):
                for name, value in re.findall(r"(\w+) ([\d.]+) ms", line):
                    server_ms.setdefault(name, []).append(float(value))
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(f"{calls} calls, {len(caller_ms)} turns, offline engines, one server process")
    print(f"caller's speech end → agent audio (measured by the caller): median {statistics.median(caller_ms):.0f} ms")
    for name, values in server_ms.items():
        print(f"  server stage {name:<16} median {statistics.median(values):7.1f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3)
    main(parser.parse_args().calls)
