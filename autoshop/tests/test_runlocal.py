"""`make run` (`manage.py runlocal`) as a newcomer meets it: a taken port is said and nothing starts; a free
one gets the commands for that port, each log line once, and Ctrl-C leaves no process behind."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path, mark: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    return {**env, "DATABASE_URL": f"sqlite:///{tmp_path / 'run.sqlite3'}", "RUNLOCAL_TEST_MARK": mark,
            "STATIC_ROOT": str(tmp_path / "static"), "PYTHONUNBUFFERED": "1"}


def _marked(mark: str) -> list[int]:
    """Processes still running with this test's mark in their environment."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if f"RUNLOCAL_TEST_MARK={mark}".encode() in (proc / "environ").read_bytes().split(b"\0"):
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def _spare_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_taken_port_is_said_at_once_and_nothing_is_set_up_or_started(tmp_path: Path) -> None:
    mark = uuid.uuid4().hex
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        started = time.monotonic()
        result = subprocess.run(  # noqa: S603
            [sys.executable, "manage.py", "runlocal", "--port", str(port)], cwd=ROOT, env=_env(tmp_path, mark),
            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode != 0
    assert f"Port {port} on 127.0.0.1 is already in use" in result.stderr
    assert f"make run PORT={port + 1}" in result.stderr
    assert time.monotonic() - started < 20
    assert not (tmp_path / "run.sqlite3").exists()  # no migrations, no seeding: nothing was touched
    assert _marked(mark) == []


def test_a_free_port_prints_its_own_commands_logs_each_line_once_and_ctrl_c_leaves_nothing(tmp_path: Path) -> None:
    mark, port = uuid.uuid4().hex, _spare_port()
    log = (tmp_path / "out.log").open("w+")
    runner = subprocess.Popen(  # noqa: S603
        [sys.executable, "manage.py", "runlocal", "--port", str(port)], cwd=ROOT, env=_env(tmp_path, mark),
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 150
        while True:
            assert runner.poll() is None, Path(log.name).read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, Path(log.name).read_text()[-3000:]
            time.sleep(0.5)
        time.sleep(1.0)  # the request's log line
        os.killpg(runner.pid, signal.SIGINT)  # Ctrl-C in the terminal: the foreground group
        runner.wait(40)
        output = Path(log.name).read_text()
    finally:
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGKILL)
    assert f"make call PORT={port}" in output and f"make talk PORT={port}" in output
    assert "make call\n" not in output
    assert output.count("GET /healthz") >= 1
    assert output.count("Watching for file changes") == 1  # Django's lines came out twice, plain and formatted
    lines = [line for line in output.splitlines() if "GET /healthz" in line]
    assert len(lines) == len(set(lines))
    time.sleep(1.0)
    assert _marked(mark) == []  # the server, its reloader child and the task cluster's workers all stopped
