"""`manage.py serve --workers 2`, the production web command, as real processes: two Uvicorn workers on one
socket, a dead worker replaced while the other serves, SIGTERM stopping them all."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.request import urlopen

import pytest

from voice.tests.faults import template_database
from voice.tests.live_server import ROOT, free_port, server_env, wait_for_port


def children(pid: int) -> set[int]:
    return {int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


def healthz(port: int, timeout: float = 15) -> int:
    with urlopen(f"http://127.0.0.1:{port}/healthz", timeout=timeout) as response:
        return int(response.status)


def wait_until(predicate: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {what}")
        time.sleep(0.1)


@pytest.fixture
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    folder = tmp_path_factory.mktemp("serve")
    database = folder / "serve.sqlite3"
    shutil.copyfile(template_database(folder), database)
    port = free_port()
    log = folder / "serve.log"
    with log.open("wb") as out:
        supervisor = subprocess.Popen(  # noqa: S603 - our own manage.py
            [sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
            cwd=ROOT, env=server_env(port, database), stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, supervisor, log)
        assert healthz(port, timeout=120) == 200  # the socket is open at once; a worker answers once started
        yield supervisor, port
    finally:
        if supervisor.poll() is None:
            for child in children(supervisor.pid):
                os.kill(child, signal.SIGKILL)
            supervisor.kill()
            supervisor.wait(timeout=10)


def test_two_workers_share_the_port_a_dead_one_is_replaced_and_sigterm_stops_them_all(two_workers) -> None:
    supervisor, port = two_workers
    wait_until(lambda: len(children(supervisor.pid)) == 2, 30, "two workers")
    first, second = sorted(children(supervisor.pid))

    os.kill(first, signal.SIGKILL)

    assert [healthz(port) for _ in range(5)] == [200] * 5  # the other worker answers at once
    wait_until(lambda: len(children(supervisor.pid)) == 2 and first not in children(supervisor.pid), 30,
               "the dead worker replaced")
    workers = children(supervisor.pid)
    assert second in workers

    supervisor.send_signal(signal.SIGTERM)

    assert supervisor.wait(timeout=20) == 0
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
