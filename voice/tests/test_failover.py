"""Issue 14, point 4: any worker can take any call. Two web workers (the production command, each on a
port of its own) share one Redis (the test's own) and one database (a SQLite file both open, or a
Postgres database of the test's own when the suite runs on Postgres), behind HAProxy running
`deploy/haproxy.cfg` as shipped. A caller books through the load balancer; the worker holding that
call's stream is SIGKILLed; the simulated Twilio follows `<Connect action>` through the balancer to a new
stream, and the call goes on on the other worker with its history and its one-booking guard. A call on
the other worker and a call placed right after the kill are answered too: no call is lost.

Speech goes through the local Deepgram peer (scripted words recognised, short synthetic audio) and the
offline brain decides, so the test is about the switch, not about speech engines' CPU time.
The seconds of silence at the switch are printed (`pytest -s`), not asserted: a figure, not a behaviour."""

import asyncio
import contextlib
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.request import Request, urlopen

import pytest

from voice.call_script import RESUMED
from voice.tests.balancer import CONFIG, PUBLIC_HOST, balancer_env, balancing, haproxy_binary, in_a_thread
from voice.tests.faults import (
    Caller,
    FaultLab,
    OwnRedis,
    log_complete,
    own_postgres_database,
    postgres_server_url,
    running_server,
    template_database,
)
from voice.tests.live_server import LiveServer, bookable_weekday, free_port
from voice.tests.peers.deepgram_server import FakeDeepgram, sample_audio, spoken

CALLER, BYSTANDER, NEWCOMER = "+15550108001", "+15550108002", "+15550108003"


def _brief_audio(text: str) -> bytes:
    """The agent's voice from the peer: 5 ms of audio per character, so a reply plays out in a moment."""
    return sample_audio(text)[:40 * max(len(text), 1)]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FaultLab, list[LiveServer]]]:
    """The balancer (as the lab's server: Twilio's front door) and the two workers behind it."""
    haproxy_binary()
    folder = tmp_path_factory.mktemp("failover")
    with contextlib.ExitStack() as stack:
        redis = OwnRedis(folder)
        stack.callback(redis.kill)
        redis.start()
        server_url = postgres_server_url()
        if server_url is None:  # one SQLite file, which both workers open
            database = template_database(folder)
            database_url, extra = f"sqlite:///{database}", {}
        else:  # a Postgres database of the test's own
            database = folder / "unused.sqlite3"
            database_url = stack.enter_context(own_postgres_database(folder, server_url))
            extra = {"postgres": database_url}
        deepgram = stack.enter_context(in_a_thread(FakeDeepgram(recognise=True, endpointing=0.3, idle_timeout=None,
                                                                 speak_audio=_brief_audio)))
        env = {"STT_PROVIDER": "deepgram", "TTS_PROVIDER": "deepgram", "DEEPGRAM_URL": deepgram.url,
               "DEEPGRAM_API_KEY": deepgram.api_key, "STT_FALLBACK": "none", "TTS_FALLBACKS": "none",
               "LLM_PROVIDER": "offline", "REDIS_URL": redis.url, "DATABASE_URL": database_url,
               "ALLOWED_HOSTS": f"127.0.0.1,localhost,{PUBLIC_HOST}",
               "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto", "TRUSTED_PROXY_COUNT": "1"}
        workers = [stack.enter_context(running_server(folder, f"web{n}", env)) for n in (1, 2)]
        for worker in workers:  # both open the one database (running_server names a file of its own)
            worker.database = database
        front = stack.enter_context(balancing(workers, folder))
        yield FaultLab(server=front, redis=redis, rest=None, folder=folder, extra=extra), workers


def _holding(workers: list[LiveServer], call: Caller) -> list[LiveServer]:
    """The workers whose log shows a media stream of `call` starting."""
    started = f"call {call.call_sid} from "
    return [w for w in workers if any(started in line and line.endswith("stream started")
                                      for line in w.log_text().splitlines())]


async def test_a_call_resumes_on_the_other_worker_when_its_worker_is_killed(cluster) -> None:
    lab, workers = cluster
    day = bookable_weekday()
    book, book_again = spoken(f"oil change on {day} at ten please"), spoken(f"oil change on {day} at two please")
    async with Caller(lab.server, CALLER) as call:
        await call.heard()
        await call.quiet()
        await call.say(book)
        await call.heard()
        await call.quiet()
        await call.press("1")  # yes to the read-back: booked
        await call.heard()
        await call.quiet()
        async with Caller(lab.server, BYSTANDER) as bystander:  # the balancer gives it the other worker
            await bystander.heard()
            [doomed] = _holding(workers, call)
            [survivor] = [w for w in workers if w is not doomed]
            assert _holding(workers, bystander) == [survivor]

            killed_at = time.monotonic()
            doomed.process.send_signal(signal.SIGKILL)
            assert await call.until_closed(timeout=10)
            dropped_at = time.monotonic()
            await call.follow_connect_action()  # through the balancer, to whichever worker is alive
            reopened_at = time.monotonic()
            await call.heard()
            heard_at = next(t for t in call.audio_at if t > killed_at)
            print(f"\nsilence at the switch: {heard_at - killed_at:.2f} s (kill -> stream closed "
                  f"{dropped_at - killed_at:.2f} s, -> new stream open {reopened_at - dropped_at:.2f} s, "
                  f"-> agent audio {heard_at - reopened_at:.2f} s)")

            async with Caller(lab.server, NEWCOMER) as newcomer:  # a new call right after the kill
                await newcomer.heard()
                await newcomer.quiet()
            await call.quiet()
            await call.say(book_again)  # a second booking, asked for: the history on record says one was made
            await call.heard()
            await call.quiet()
            await call.press("1")
            await call.heard()
            await call.quiet()
            assert not bystander.closed.is_set()  # its stream never dropped
            await bystander.press("1")
            await bystander.heard()
            await bystander.quiet()

    assert _holding(workers, call) == workers  # its first stream on one, the resumed one on the other
    for each, replies in ((call, 5), (bystander, 2), (newcomer, 1)):  # every call logged, whole
        complete, outcome = await asyncio.to_thread(log_complete, lab, each, replies=replies)
        assert complete, (each.number, outcome, lab.call_log(each.call_sid))
    outcome, transcript = lab.call_log(call.call_sid) or ("missing", [])
    agent = [turn["text"] for turn in transcript if turn["speaker"] == "agent"]
    assert outcome == "booked"
    assert agent[0].startswith("Thanks for calling") and sum(a.startswith("Thanks for calling") for a in agent) == 1
    resumed = agent.index(RESUMED)  # said once, on the new stream, after what the first worker said
    assert agent.count(RESUMED) == 1 and any(a.startswith("You're all set") for a in agent[:resumed])
    # The history and facts came over with the record: the second booking goes through as one asked for on top
    # of the first (with the first forgotten, the brain would not know to say so and the guard would refuse it).
    assert any(a.startswith("You're all set") and "2 PM" in a for a in agent[resumed:]), agent
    booked = lab.query("SELECT count(*) FROM crm_appointment a JOIN crm_customer c ON c.id = a.customer_id"
                       " WHERE c.phone = ?", CALLER)
    assert booked == [(2,)]  # the ten o'clock once (never doubled by the switch), and the two o'clock
    assert "Traceback" not in survivor.log_text()


def test_the_balancer_overwrites_the_scheme_a_client_claims(cluster) -> None:
    """Behind the balancer the app trusts X-Forwarded-Proto (SECURE_PROXY_SSL_HEADER): only because the
    balancer sets it itself. A plain-http request claiming https is still http to the app (no HSTS header),
    while the same claim made straight to a worker is believed."""
    lab, workers = cluster
    alive = next(w for w in workers if w.process.poll() is None)

    def hsts(base_url: str) -> str | None:
        request = Request(base_url + "/healthz", headers={"X-Forwarded-Proto": "https"})  # noqa: S310
        with urlopen(request, timeout=5) as response:  # noqa: S310 - our own test servers
            return response.headers.get("Strict-Transport-Security")

    assert hsts(alive.base_url) is not None
    assert hsts(lab.server.base_url) is None


def test_the_balancer_logs_requests_without_their_query_strings(cluster) -> None:
    """An admin search carries what was searched for (a phone number, a name) in its query string; the
    balancer's request log keeps the method and path only."""
    lab, _ = cluster
    with contextlib.suppress(OSError):
        urlopen(lab.server.base_url + "/admin/crm/customer/?q=%2B15557654321", timeout=5).read()  # noqa: S310
    deadline = time.monotonic() + 5
    while "/admin/crm/customer/" not in lab.server.log_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    logged = [line for line in lab.server.log_text().splitlines() if "/admin/crm/customer/" in line]
    assert logged and "GET /admin/crm/customer/ HTTP/1.1" in logged[-1]
    assert "5557654321" not in lab.server.log_text()


def test_the_shipped_configuration_holds_with_tls_terminated_here(tmp_path: Path) -> None:
    """What the fail-over test does not run of `deploy/haproxy.cfg` (TLS on its own listener, the redirect
    to https, the admin socket) as production sets it, read by HAProxy's own configuration check."""
    key, cert, pem = tmp_path / "key.pem", tmp_path / "cert.pem", tmp_path / "site.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",  # noqa: S603,S607
                    "-subj", f"/CN={PUBLIC_HOST}", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    pem.write_bytes(cert.read_bytes() + key.read_bytes())
    env = {**balancer_env([free_port(), free_port()], free_port()), "LB_TLS_CERT": str(pem),
           "LB_TLS_BIND": f"127.0.0.1:{free_port()}", "LB_ADMIN_SOCKET": str(tmp_path / "admin.sock")}
    checked = subprocess.run([haproxy_binary(), "-c", "-f", str(CONFIG)], env=env, capture_output=True,  # noqa: S603
                             text=True, timeout=30, check=False)
    assert checked.returncode == 0 and "Configuration file is valid" in checked.stdout, checked.stdout + checked.stderr
