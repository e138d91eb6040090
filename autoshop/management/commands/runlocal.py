"""`manage.py runlocal` (what `make run` runs): the whole product on one laptop, started and stopped as one.

The port is checked before anything else happens: when it is taken (often by an earlier `make run`), the
command says so and exits without touching the database or starting anything. Otherwise it sets up the
embedded defaults (migrations, static files, the demo CRM, the demo advisor, the daily schedules), prints
the commands to use with this host and port, and runs Django's development server and the task cluster
as children. When either stops, or the server never comes up, or the operator presses Ctrl-C, both are
stopped (SIGTERM to each one's process group, SIGKILL after a grace period): nothing is left behind.
"""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

STOP_GRACE = 10.0  # seconds a child gets to stop before SIGKILL
START_TIMEOUT = 90.0  # seconds the development server gets to answer /healthz


def port_in_use(host: str, port: int) -> bool:
    """Whether something already listens on host:port (a bind that fails)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def make_suffix(host: str, port: int) -> str:
    """What to add to `make call` / `make talk` so they reach this server."""
    return "".join([f" HOST={host}" if host != "127.0.0.1" else "", f" PORT={port}" if port != 8000 else ""])


class Command(BaseCommand):
    help = "Check the port, set up the embedded defaults, then run the development server and task cluster."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args: Any, host: str, port: int, **options: Any) -> None:
        if port_in_use(host, port):
            raise CommandError(
                f"Port {port} on {host} is already in use (another `make run`?). Stop that first, or run this one "
                f"on a free port: make run PORT={port + 1}")
        self._setup()
        base, suffix = f"http://{host}:{port}", make_suffix(host, port)
        self.stdout.write(f"Admin: {base}/admin/   Health: {base}/healthz\n"
                          f"Place a simulated phone call (in another terminal): make call{suffix}\n"
                          f"Or type to the agent: make talk{suffix}\n"
                          "Stop with Ctrl-C.")
        sys.exit(self._supervise(host, port))

    def _setup(self) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        call_command("seed_crm", if_empty=True)
        call_command("create_demo_staff")
        call_command("setup_schedules")

    def _supervise(self, host: str, port: int) -> int:
        children = {
            "task cluster": _start([sys.executable, "manage.py", "qcluster"]),
            "server": _start([sys.executable, "manage.py", "runserver", f"{host}:{port}"]),
        }
        stop: list[int] = []

        def on_signal(signum: int, frame: Any) -> None:
            stop.append(signum)

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        started, deadline, code = False, time.monotonic() + START_TIMEOUT, 0
        try:
            while not stop:
                ended = [(name, child.returncode) for name, child in children.items() if child.poll() is not None]
                if ended:
                    name, returned = ended[0]
                    self.stderr.write(f"The {name} stopped (exit code {returned}); stopping the rest.")
                    code = returned or 1
                    break
                if not started:
                    started = _healthy(host, port)
                    if not started and time.monotonic() > deadline:
                        self.stderr.write(f"The server did not answer on {host}:{port} within {START_TIMEOUT:g} s; "
                                          "stopping.")
                        code = 1
                        break
                time.sleep(0.5)
        finally:
            for child in children.values():
                _stop(child)
        return code


def _start(argv: list[str]) -> "subprocess.Popen[bytes]":
    # Its own process group: Ctrl-C reaches this supervisor, which stops each child and everything it forked.
    return subprocess.Popen(argv, start_new_session=True)  # noqa: S603 - our own manage.py


def _healthy(host: str, port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/healthz", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _stop(child: "subprocess.Popen[bytes]") -> None:
    """SIGTERM the child's process group, then SIGKILL what is left after the grace period."""
    for signum, wait in ((signal.SIGTERM, STOP_GRACE), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(child.pid, signum)
        except ProcessLookupError:
            pass
        try:
            child.wait(wait)
        except subprocess.TimeoutExpired:
            continue
        try:
            os.killpg(child.pid, 0)  # the child is gone; are any of its own children left?
        except ProcessLookupError:
            return
