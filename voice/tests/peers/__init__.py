"""Local servers that speak the real wire protocols of Deepgram, OpenAI and ElevenLabs.

Each peer is an async context manager that listens on 127.0.0.1 on an ephemeral port, exposes `.url`
(the value to put in the matching setting: DEEPGRAM_URL, OPENAI_BASE_URL, ELEVENLABS_URL), records
what the client sent, and replies the way the vendor does. The vendors' SDKs (or plain HTTP) are
pointed at them, so tests exercise real client code over real sockets.
"""

import asyncio
import copy
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from aiohttp import web

FIXTURES_DIR = Path(__file__).resolve().parents[3] / "tests" / "fixtures"


@cache
def _read_fixture(vendor: str, name: str) -> dict[str, Any]:
    with (FIXTURES_DIR / vendor / f"{name}.json").open(encoding="utf-8") as fh:
        return json.load(fh)


def load_fixture(vendor: str, name: str) -> dict[str, Any]:
    """A fresh copy of `tests/fixtures/<vendor>/<name>.json`, safe to modify."""
    return copy.deepcopy(_read_fixture(vendor, name))


async def wait_until(predicate: Callable[[], bool], within: float, what: str) -> None:
    """Poll `predicate` until it holds; fail the test with `what` if it does not `within` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():
        if loop.time() >= deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.005)


async def start_app(app: web.Application) -> tuple[web.AppRunner, int]:
    """Serve `app` on 127.0.0.1 on an ephemeral port; handlers are cancelled when their client goes away."""
    runner = web.AppRunner(app, shutdown_timeout=0.5, handler_cancellation=True, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, runner.addresses[0][1]
