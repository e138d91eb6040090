"""`/metrics` on the product as deployed with two web workers on one host: two Daphne processes (the README's
production command) sharing a PROMETHEUS_MULTIPROC_DIR. A call placed on one worker moves the figures a scrape
of the other one shows: calls in progress (per worker, labelled pid), the turn's latency, a dropped frame,
request counts, event-loop lag and each worker's CPU and memory. A worker that stops leaves the per-worker
gauges and keeps its counts in the totals."""

import asyncio
import contextlib
import subprocess
import sys
import urllib.error
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.request import Request, urlopen

import pytest
from prometheus_client.parser import text_string_to_metric_families

from voice.tests.live_server import ROOT, LiveServer, WireCall, free_port, media_stream, server_env, serving

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


def get(server: LiveServer, path: str = "/metrics", token: str | None = None) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    try:
        with urlopen(Request(server.base_url + path, headers=headers), timeout=10) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


async def scrape(server: LiveServer) -> Scrape:
    status, body = await asyncio.to_thread(get, server)
    assert status == 200, body[:500]
    return Scrape([(s.name, dict(s.labels), s.value) for family in text_string_to_metric_families(body)
                   for s in family.samples])


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Two production web workers on one database and one (empty) PROMETHEUS_MULTIPROC_DIR. The second keeps
    production's https redirect on: the scraper calls a worker over plain http on its own host."""
    folder = tmp_path_factory.mktemp("metrics")
    database, multiproc = folder / "live.sqlite3", folder / "prometheus"
    multiproc.mkdir()
    ports = free_port(), free_port()
    envs = [{**server_env(port, database), "PROMETHEUS_MULTIPROC_DIR": str(multiproc), "METRICS_TOKEN": TOKEN}
            for port in ports]
    del envs[1]["SECURE_SSL_REDIRECT"]
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=envs[0], check=True,
                   timeout=180)
    with contextlib.ExitStack() as stack:
        contexts = [serving(port, env, database, folder / f"daphne-{port}.log") for port, env in zip(ports, envs,
                                                                                                       strict=True)]
        with ThreadPoolExecutor(2) as pool:  # both start at once: half the wait
            futures = [pool.submit(context.__enter__) for context in contexts]
        for context, future in zip(contexts, futures, strict=True):
            if future.exception() is None:
                stack.push(context.__exit__)  # stopped on the way out, even if the other failed to start
        a, b = (future.result() for future in futures)
        yield a, b


async def test_a_call_on_one_worker_moves_the_figures_a_scrape_of_the_other_shows(workers) -> None:
    a, b = workers
    pid_a, pid_b = str(a.process.pid), str(b.process.pid)
    before = await scrape(b)
    call_sid, parameters = a.answer()
    async with media_stream(a) as socket:
        call = WireCall(socket, call_sid=call_sid)
        await call.start(parameters)
        await call.agent_audio()  # the greeting: the call is on worker a
        during = await scrape(b)
        assert during.pids("autoshop_calls_in_progress")[pid_a] == 1
        assert during.value("autoshop_calls_total", direction="inbound", stream="new") == before.value(
            "autoshop_calls_total", direction="inbound", stream="new") + 1
        assert during.value("django_http_requests_total_by_method_total", method="POST") >= before.value(
            "django_http_requests_total_by_method_total", method="POST") + 1  # a's /twilio/voice webhook

        await socket.send("not a Twilio frame")
        await call.send({"event": "dtmf", "dtmf": {"track": "inbound_track", "digit": "0"}})
        await call.agent_audio(timeout=20)  # the agent answers the key press: a turn with its latency row
        turn = await _until(b, lambda s: s.value("autoshop_turn_latency_seconds_count", stage="total")
                            > before.value("autoshop_turn_latency_seconds_count", stage="total"), "a turn observed")
        assert turn.value("autoshop_protocol_frames_dropped_total", reason="malformed") == before.value(
            "autoshop_protocol_frames_dropped_total", reason="malformed") + 1
        assert 0 < turn.value("autoshop_turn_latency_seconds_sum", stage="total") - before.value(
            "autoshop_turn_latency_seconds_sum", stage="total") < 10
        await call.stop()

    after = await _until(b, lambda s: s.pids("autoshop_calls_in_progress").get(pid_a) == 0, "the call to end")
    assert after.value("autoshop_calls_ended_total") == before.value("autoshop_calls_ended_total") + 1
    for gauge in ("autoshop_worker_cpu_seconds", "autoshop_event_loop_lag_max_seconds"):
        assert set(after.pids(gauge)) == {pid_a, pid_b}, gauge  # one series per live worker
    assert all(v > 1.0 for v in after.pids("autoshop_worker_cpu_seconds").values())  # each started its engines
    assert all(v > 50e6 for v in after.pids("autoshop_worker_resident_memory_bytes").values())
    assert after.value("autoshop_event_loop_lag_seconds_count") > before.value("autoshop_event_loop_lag_seconds_count")

    a.process.terminate()  # worker a stops (as systemd stops it): its gauges go, its counts stay
    a.process.wait(timeout=10)
    gone = await scrape(b)
    assert set(gone.pids("autoshop_calls_in_progress")) == {pid_b}
    assert set(gone.pids("autoshop_worker_cpu_seconds")) == {pid_b}
    assert gone.value("autoshop_calls_total") == after.value("autoshop_calls_total")


async def test_the_scrape_is_refused_with_a_wrong_token_and_served_with_the_right_one(workers) -> None:
    _, b = workers
    assert (await asyncio.to_thread(get, b, "/metrics", "wrong"))[0] == 403
    status, body = await asyncio.to_thread(get, b, "/metrics", TOKEN)
    assert status == 200 and "autoshop_calls_total" in body


async def _until(server: LiveServer, predicate, what: str, within: float = 10.0) -> Scrape:
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

