"""Server time of the service desk's pages with the full demo CRM. Prints figures, asserts nothing.

Starts the production server (`manage.py serve`, DEBUG off, one worker) on a scratch SQLite file seeded with
`seed_crm` at its default counts plus a shop's worth of calls (what the agent booked, moved and cancelled,
with latency rows), callback requests and texts; logs in as the demo advisor and times each page: today's
board, the board of the busiest day, and the main changelists (plain, searched by a number's last 4 digits,
filtered as the board's numbers link them). Each figure is the median and p95 of the time to the last byte
over localhost, after warm-up requests (target ≤ 300 ms each).

    .venv/bin/python bench/admin_pages.py [--rounds 15] [--calls 5000]
"""

import argparse
import http.cookiejar
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from voice.tests.live_server import free_port, serve_command, server_env, wait_for_port  # noqa: E402

TARGET_MS = 300

# Calls, what they did, callbacks and texts, spread over the seeded appointments' days (bulk inserts).
SEED_CALLS = """
import random
from datetime import timedelta
from crm.models import *
rng = random.Random(7)
appointments = list(Appointment.objects.order_by("id").values_list("id", "customer_id", "scheduled_at"))
phones = dict(Customer.objects.values_list("id", "phone"))
outcomes = ["booked"] * 4 + ["rescheduled", "cancelled", "information", "information", "transferred",
            "abandoned", "callback", "booking_failed"]
calls, actions = [], []
for n in range({calls}):
    appointment_id, customer_id, when = rng.choice(appointments)
    started = when - timedelta(days=rng.randint(1, 10), minutes=rng.randint(0, 600))
    outcome = rng.choice(outcomes)
    calls.append(CallLog(call_sid=f"CA{{n:032x}}", customer_id=customer_id, from_number=phones[customer_id],
                         to_number="+15550100100", started_at=started, outcome=outcome,
                         duration=timedelta(seconds=rng.randint(20, 400)),
                         transcript=[{{"speaker": "caller", "text": "I need an oil change."}}] * 6,
                         latency=[{{"total_ms": rng.randint(500, 2500)}} for _ in range(6)]))
    actions.append((n, appointment_id, outcome, started))
calls = CallLog.objects.bulk_create(calls, batch_size=1000)
kinds = {{"booked": "booked", "rescheduled": "moved", "cancelled": "cancelled"}}
CallAppointment.objects.bulk_create([CallAppointment(call=calls[n], appointment_id=a, action=kinds[o], at=t)
                                     for n, a, o, t in actions if o in kinds], batch_size=1000)
CallbackRequest.objects.bulk_create([CallbackRequest(call=c, customer_id=c.customer_id, phone=c.from_number,
                                                     message="Please call me back about a quote.",
                                                     created_at=c.started_at) for c in calls[::10]])
SmsMessage.objects.bulk_create([SmsMessage(customer_id=c.customer_id, to_number=c.from_number, kind="booked",
                                           body="Bart's Automotive: your booking is confirmed.", status="delivered",
                                           created_at=c.started_at) for c in calls[::2]], batch_size=1000)
"""


def manage(*args: str, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=1800)


class LocalhostIsSecure(http.cookiejar.DefaultCookiePolicy):
    """Secure cookies (production's session and CSRF cookies) go back to 127.0.0.1 over http, as browsers do."""

    def return_ok_secure(self, cookie: http.cookiejar.Cookie, request: urllib.request.Request) -> bool:
        return True


def login(base: str) -> urllib.request.OpenerDirector:
    """An opener holding the demo advisor's session."""
    jar = http.cookiejar.CookieJar(policy=LocalhostIsSecure())
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.open(base + "/admin/login/").read()
    token = next(c.value for c in jar if c.name == "csrftoken")
    form = urlencode({"username": "advisor", "password": "bart-demo-2026", "csrfmiddlewaretoken": token,
                      "next": "/admin/"}).encode()
    request = urllib.request.Request(base + "/admin/login/", data=form, headers={"Referer": base + "/admin/login/"})
    page = opener.open(request).read().decode()
    assert "Log out" in page or "log out" in page.lower(), "the demo advisor could not log in"
    return opener


def timed(opener: urllib.request.OpenerDirector, url: str, rounds: int) -> list[float]:
    for _ in range(2):
        opener.open(url).read()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        with opener.open(url) as response:
            response.read()
            assert response.status == 200, url
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="Timed requests per page.")
    parser.add_argument("--calls", type=int, default=5000, help="Call logs to add to the demo CRM.")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        port, database = free_port(), Path(folder) / "bench.sqlite3"
        env = {**server_env(port, database), "LOG_LEVEL": "WARNING", "STATIC_ROOT": str(Path(folder) / "static")}
        started = time.perf_counter()
        manage("migrate", "-v0", env=env)
        manage("seed_crm", "--seed", "1", env=env)
        manage("create_demo_staff", env={**env, "DEBUG": "True"})
        manage("shell", "-c", SEED_CALLS.format(calls=options.calls), env=env)
        counts = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c",
             "from crm.models import *; print(', '.join(f'{m.objects.count():,} {m._meta.verbose_name_plural}' "
             "for m in (Customer, Vehicle, Appointment, CallLog, CallAppointment, CallbackRequest, SmsMessage)))"],
            cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        print(f"Seeded in {time.perf_counter() - started:.0f} s: {counts}")
        busiest, busiest_count = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c",
             "from django.db.models import Count; from django.db.models.functions import TruncDate; "
             "from crm.models import Appointment; from scheduling.shop import shop_timezone; "
             "row = Appointment.objects.annotate(d=TruncDate('scheduled_at', tzinfo=shop_timezone())).values('d')"
             ".annotate(n=Count('id')).order_by('-n')[0]; print(row['d'], row['n'])"],
            cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1].split()
        print(f"Busiest day: {busiest} ({busiest_count} appointments)")
        log = Path(folder) / "server.log"
        with log.open("wb") as out:
            process = subprocess.Popen(serve_command(port), cwd=ROOT, env=env, stdout=out,
                                       stderr=subprocess.STDOUT)
        try:
            wait_for_port(port, process, log)
            base = f"http://127.0.0.1:{port}"
            opener = login(base)
            pages = [
                ("Today's board and numbers", "/admin/"),
                (f"Board of the busiest day ({busiest})", f"/admin/?day={busiest}"),
                ("Customers", "/admin/crm/customer/"),
                ("Customers, last 4 digits", "/admin/crm/customer/?q=0109"),
                ("Customers, a name", "/admin/crm/customer/?q=smith"),
                ("Vehicles", "/admin/crm/vehicle/"),
                ("Appointments", "/admin/crm/appointment/"),
                ("Appointments booked by the agent", "/admin/crm/appointment/?agent=booked"),
                ("Appointments waiting for the calendar", "/admin/crm/appointment/?calendar=waiting"),
                ("Call logs", "/admin/crm/calllog/"),
                ("Call logs, last 4 digits", "/admin/crm/calllog/?q=0109"),
                ("Call logs, booking failed", "/admin/crm/calllog/?outcome__exact=booking_failed"),
                ("Callback requests", "/admin/crm/callbackrequest/"),
                ("A customer's page", "/admin/crm/customer/1/change/"),
                ("A call's page", "/admin/crm/calllog/1/change/"),
            ]
            print(f"{'page':<48} {'median':>8} {'p95':>8}   (ms, {options.rounds} requests, target ≤ {TARGET_MS})")
            for label, path in pages:
                times = sorted(timed(opener, base + path, options.rounds))
                p95 = times[min(len(times) - 1, round(0.95 * len(times)) - 1)]
                flag = "" if p95 <= TARGET_MS else "  over target"
                print(f"{label:<48} {statistics.median(times):>8.0f} {p95:>8.0f}{flag}")
        finally:
            process.terminate()
            process.wait(timeout=15)


if __name__ == "__main__":
    main()
