"""`/metrics` on the product as deployed with two web workers on one host (`manage.py serve --workers 2`, the
README's production command): whichever worker a scrape lands on, it shows what every worker counted (a call's
calls in progress, turn latency and dropped frame; requests; event-loop lag) and each worker's own gauges
labelled by pid. A worker killed outright leaves the per-worker gauges and keeps its counts in the totals."""

import asyncio
import os
import signal
import subprocess
import sys
import urllib.error
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.request import Request, urlopen

import pytest
from prometheus_client.parser import text_string_to_metric_families

from voice.tests.live_server import (
    ROOT,
    LiveServer,
    WireCall,
    free_port,
    media_stream,
    serve_command,
    server_env,
    serving,
)

TOKEN = "metrics-wire-test-token-0123456789abcdef"


@dataclass
class Scrape:
    """One scrape's samples: (name, labels, value)."""

    samples: list[tuple[str, dict[str, str], float]]

    def value(self, name: str, **labels: str) -> float:
        """The sum of the samples named `name` whose labels include `labels` (0 if none)."""
        return sum(v for n, sample_labels, v in self.samples
                   if n == name and all(sample_labels.get(k) == want for k, want in labels.items()))

    def pids(self, name: str) -> dict[str, float]:
        """A per-worker gauge: its value by worker pid."""
        return {labels["pid"]: v for n, labels, v in self.samples if n == name and "pid" in labels}


def get(server: LiveServer, path: str = "/metrics", token: str | None = None, timeout: float = 10) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    try:
        with urlopen(Request(server.base_url + path, headers=headers), timeout=timeout) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


async def scrape(server: LiveServer) -> Scrape:
    status, body = await asyncio.to_thread(get, server)
    assert status == 200, body[:500]
    return Scrape([(s.name, dict(s.labels), s.value) for family in text_string_to_metric_families(body)
                   for s in family.samples])


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """`manage.py serve --workers 2` as production runs it (no PROMETHEUS_MULTIPROC_DIR given: the command
    makes the workers' shared one itself)."""
    folder = tmp_path_factory.mktemp("metrics")
    port, database = free_port(), folder / "live.sqlite3"
    env = {**server_env(port, database), "METRICS_TOKEN": TOKEN}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=180)
    with serving(port, env, database, folder / "serve.log", command=serve_command(port, workers=2)) as server:
        assert get(server, "/healthz", timeout=120)[0] == 200  # the socket is open at once; the workers take a while
        yield server


async def test_a_call_moves_the_figures_whichever_worker_the_scrape_lands_on(web) -> None:
    before = await scrape(web)
    call_sid, parameters = web.answer()
    async with media_stream(web) as socket:
        call = WireCall(socket, call_sid=call_sid)
        await call.start(parameters)
        await call.agent_audio()  # the greeting: the call is on one of the workers
        during = await scrape(web)
        assert sum(during.pids("autoshop_calls_in_progress").values()) == 1
        assert during.value("autoshop_calls_total", direction="inbound", stream="new") == before.value(
            "autoshop_calls_total", direction="inbound", stream="new") + 1
        assert during.value("django_http_requests_total_by_method_total", method="POST") >= before.value(
            "django_http_requests_total_by_method_total", method="POST") + 1  # the /twilio/voice webhook

        await socket.send("not a Twilio frame")
        await call.send({"event": "dtmf", "dtmf": {"track": "inbound_track", "digit": "0"}})
        await call.agent_audio(timeout=20)  # the agent answers the key press: a turn with its latency row
        turn = await _until(web, lambda s: s.value("autoshop_turn_latency_seconds_count", stage="total")
                            > before.value("autoshop_turn_latency_seconds_count", stage="total"), "a turn observed")
        assert turn.value("autoshop_protocol_frames_dropped_total", reason="malformed") == before.value(
            "autoshop_protocol_frames_dropped_total", reason="malformed") + 1
        assert 0 < turn.value("autoshop_turn_latency_seconds_sum", stage="total") - before.value(
            "autoshop_turn_latency_seconds_sum", stage="total") < 10
        await call.stop()

    after = await _until(web, lambda s: sum(s.pids("autoshop_calls_in_progress").values()) == 0, "the call to end")
    assert after.value("autoshop_calls_ended_total") == before.value("autoshop_calls_ended_total") + 1
    assert after.value("autoshop_event_loop_lag_seconds_count") > before.value("autoshop_event_loop_lag_seconds_count")
    workers = after.pids("autoshop_worker_cpu_seconds")
    assert workers and set(workers) <= {str(pid) for pid in children(web.process.pid)}  # each series is a worker
    assert all(v > 1.0 for v in workers.values())  # each started its engines
    assert all(v > 50e6 for v in after.pids("autoshop_worker_resident_memory_bytes").values())


async def test_every_scrape_counts_every_workers_requests(web) -> None:
    counts = [(await scrape(web)).value("django_http_requests_total_by_method_total", method="GET")
              for _ in range(12)]  # new connections: the kernel hands them to either worker
    assert counts == [counts[0] + n for n in range(12)]  # each scrape saw all the scrapes before it


async def test_a_killed_worker_leaves_the_per_worker_gauges_and_its_counts_stay(web) -> None:
    before = await _until(web, lambda s: s.pids("autoshop_worker_cpu_seconds"), "a worker's figures")
    victim = int(next(iter(before.pids("autoshop_worker_cpu_seconds"))))
    os.kill(victim, signal.SIGKILL)  # no exit handler runs: the supervisor notices and starts another
    after = await _until(web, lambda s: str(victim) not in s.pids("autoshop_worker_cpu_seconds")
                         and str(victim) not in s.pids("autoshop_calls_in_progress"), "the dead worker's gauges gone")
    assert after.value("autoshop_calls_total") == before.value("autoshop_calls_total")


async def test_the_scrape_is_refused_with_a_wrong_token_and_served_with_the_right_one(web) -> None:
    assert (await asyncio.to_thread(get, web, "/metrics", "wrong"))[0] == 403
    status, body = await asyncio.to_thread(get, web, "/metrics", TOKEN)
    assert status == 200 and "autoshop_turn_latency_seconds" in body


def children(pid: int) -> set[int]:
    return {int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


async def _until(server: LiveServer, predicate, what: str, within: float = 15.0) -> Scrape:
    """Scrape `server` until `predicate` holds for the scrape; that scrape."""
    latest: list[Scrape] = []

    async def holds() -> bool:
        latest[:] = [await scrape(server)]
        return bool(predicate(latest[0]))

    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await holds():
        if loop.time() >= deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.1)
    return latest[0]

