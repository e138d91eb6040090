"""`manage.py serve`: the production web server (HTTP webhooks, the admin and the media streams).

Each worker is Uvicorn (uvloop, httptools, the `websockets` protocol) running the Channels application.
Under load the server's work is mostly taking Twilio's WebSocket frames off the wire (50 a second per
call): Daphne's Twisted and autobahn spent 70 % of the server's CPU on it at 100 calls, and bench/load.py
measured 40 % less CPU per call under Uvicorn, which answered and logged 100 calls where Daphne lost
some. `make run` keeps Django's development server (Daphne's `runserver`).

One worker is Uvicorn itself (this process becomes it). Several workers are several Uvicorn processes on
one listening socket that this process opens and hands down (`--fd`, the arrangement of Channels'
deployment docs): the kernel gives each new connection to whichever worker accepts first, so a busy
worker takes fewer. This process only supervises: a worker that dies is started again (a call it carried
resumes on another worker through `<Connect action>`), SIGTERM/SIGINT stop them all.
"""

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from autoshop import metrics

logger = logging.getLogger(__name__)

APPLICATION = "autoshop.asgi:application"
SERVER_OPTIONS = [
    "--loop", "uvloop", "--http", "httptools", "--ws", "websockets-sansio",
    # Twilio's largest frame is under 2 KB; the stream refuses anything over 8 KB itself. A frame whose
    # header announces more than 64 KB closes the socket (1009) before its payload is read.
    "--ws-max-size", "65536",
    "--ws-per-message-deflate", "false",  # mu-law audio does not compress: deflate would only cost CPU
    "--lifespan", "off",  # Django has no lifespan handler
    # Client address and scheme are the application's to judge (TRUSTED_PROXY_COUNT, SECURE_PROXY_SSL_HEADER).
    "--no-proxy-headers",
    "--no-access-log",  # paths carry admin searches (phone numbers); the balancer logs requests
    "--timeout-keep-alive", "75",  # longer than the balancer keeps an idle connection to a worker
]
RESTART_PAUSE = 1.0  # seconds before a dead worker is started again
STOP_GRACE = 10.0  # seconds workers are given to stop before SIGKILL


def worker_argv(*, host: str | None = None, port: int | None = None, fd: int | None = None) -> list[str]:
    """The command line of one worker: on host and port, or on an inherited socket."""
    where = ["--fd", str(fd)] if fd is not None else ["--host", str(host), "--port", str(port)]
    return [sys.executable, "-m", "uvicorn", *where, *SERVER_OPTIONS, APPLICATION]


class Command(BaseCommand):
    help = ("Run the production web server: --workers Uvicorn processes sharing one socket on --host:--port "
            "(default WEB_WORKERS). One worker runs Uvicorn in this process.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="0.0.0.0",  # noqa: S104 - behind the load balancer
                            help="Address to listen on (default 0.0.0.0).")
        parser.add_argument("--port", type=int, default=8000, help="Port to listen on (default 8000).")
        parser.add_argument("--workers", type=int, default=None,
                            help="Worker processes (default WEB_WORKERS: one per core).")

    def handle(self, *args: Any, **options: Any) -> None:
        workers = options["workers"] or settings.WEB_WORKERS
        if workers < 1:
            raise CommandError(f"--workers must be at least 1 (got {workers}).")
        host, port = options["host"], options["port"]
        metrics.prepare_workers_directory(workers)  # several workers: one scrape adds them all up
        if workers == 1:
            argv = worker_argv(host=host, port=port)
            os.execv(argv[0], argv)  # noqa: S606 - nothing to supervise: this process is the worker
        try:
            listener = socket.create_server((host, port), family=_family(host), backlog=2048)
        except OSError as exc:
            raise CommandError(f"cannot listen on {host}:{port}: {exc}") from exc
        listener.set_inheritable(True)
        self.stdout.write(f"{workers} web workers on {host}:{port} (pid {os.getpid()} supervises)")
        sys.exit(Supervisor(listener, workers).run())


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


class Supervisor:
    """Keeps `count` workers running on `listener` until SIGTERM or SIGINT."""

    def __init__(self, listener: socket.socket, count: int) -> None:
        self.listener = listener
        self.argv = worker_argv(fd=listener.fileno())
        self.workers: list[subprocess.Popen[bytes] | None] = [None] * count
        self.stopping = False

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        for slot in range(len(self.workers)):
            self._start(slot)
        while not self.stopping:
            for slot, worker in enumerate(self.workers):
                if worker is not None and worker.poll() is not None and not self.stopping:
                    logger.error("web worker %d (pid %d) exited with %s; starting it again", slot, worker.pid,
                                 worker.returncode)
                    metrics.process_gone(worker.pid)
                    time.sleep(RESTART_PAUSE)
                    self._start(slot)
            time.sleep(0.2)
        return self._stop_all()

    def _start(self, slot: int) -> None:
        if not self.stopping:
            self.workers[slot] = subprocess.Popen(self.argv, pass_fds=(self.listener.fileno(),))  # noqa: S603

    def _stop(self, signum: int, frame: Any) -> None:
        self.stopping = True

    def _stop_all(self) -> int:
        running = [w for w in self.workers if w is not None and w.poll() is None]
        for worker in running:
            worker.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for worker in running:
            try:
                worker.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        self.listener.close()
        return 0
