"""Several web workers behind the load balancer we ship: HAProxy (Debian's package) running
`deploy/haproxy.cfg` as it is, its addresses and timings from the environment, in front of servers
started by `voice.tests.faults.running_server`. Seen from Twilio's side it is one more `LiveServer`
(signed webhooks, signed media-stream upgrades), whose port is the balancer's."""

import asyncio
import contextlib
import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import pytest

from voice.tests.live_server import PUBLIC_BASE_URL, ROOT, LiveServer, free_port, serving

CONFIG = ROOT / "deploy" / "haproxy.cfg"
PUBLIC_HOST = PUBLIC_BASE_URL.removeprefix("https://")


def haproxy_binary() -> str:
    """The haproxy program; skipped locally when it is not installed, a failure in CI (which installs it)."""
    binary = shutil.which("haproxy", path=os.environ.get("PATH", "") + os.pathsep + "/usr/sbin")
    if binary is None:
        reason = "haproxy is not installed (apt-get install -y haproxy): the load-balancer tests need it"
        if os.environ.get("CI"):
            pytest.fail(reason + "; CI installs it in .ci/run")
        pytest.skip(reason)
    return binary


def balancer_env(worker_ports: list[int], listen_port: int) -> dict[str, str]:
    """What `deploy/haproxy.cfg` reads: the two workers, the public host its health check names, the listener;
    health checks fast enough for a test (a dead worker is out within about half a second)."""
    return {**os.environ, "WEB_1": f"127.0.0.1:{worker_ports[0]}", "WEB_2": f"127.0.0.1:{worker_ports[1]}",
            "PUBLIC_HOST": PUBLIC_HOST, "LB_BIND": f"127.0.0.1:{listen_port}", "LB_CHECK_INTER": "200ms",
            "LB_CHECK_FALL": "2", "LB_CHECK_RISE": "1"}


@contextlib.contextmanager
def balancing(workers: list[LiveServer], folder: Path) -> Iterator[LiveServer]:
    """HAProxy with the shipped configuration in front of `workers`, in the foreground, its log in `folder`:
    the front door Twilio calls."""
    port = free_port()
    env, command = balancer_env([w.port for w in workers], port), [haproxy_binary(), "-db", "-f", str(CONFIG)]
    with serving(port, env, workers[0].database, folder / "haproxy.log", command) as front:
        _wait_until_healthy(front)
        yield front


def _wait_until_healthy(front: LiveServer, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), urlopen(front.base_url + "/healthz", timeout=2) as response:  # noqa: S310
            if response.status == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"the balancer answered no 200 on /healthz within {timeout} s: {front.log_text()[-2000:]}")


@contextlib.contextmanager
def in_a_thread(peer: Any) -> Iterator[Any]:
    """An async provider peer (FakeDeepgram, FakeOpenAI) served from an event loop of its own in a thread,
    so servers a sync fixture starts can use it across the module's tests."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="provider-peer", daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(peer.__aenter__(), loop).result(timeout=10)
        try:
            yield peer
        finally:
            asyncio.run_coroutine_threadsafe(peer.__aexit__(None, None, None), loop).result(timeout=10)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()
