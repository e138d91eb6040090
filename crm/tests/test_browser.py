"""The service desk as an advisor uses it: Debian's Chromium (driven by Playwright, no browser download) at
1400 px against the production server (`manage.py serve`, DEBUG off) on a seeded database of its own (PostgreSQL
when the run is on PostgreSQL). Log in as the
demo advisor, read today's board, find a customer by the last 4 digits of the number and see the text sent for
her booking, open the call and play its recording.

Screenshots go to $DESK_SHOTS when it is set (to look at them), else to the test's tmp folder."""

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SECRET_KEY = "browser-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
WIDTH = 1400
CUSTOMER_PHONE = "+18005550109"  # found by "0109"; seed_crm never uses area codes like 800 (same 2nd and 3rd digit)

pytest.importorskip("playwright.sync_api", reason="the playwright package is missing (requirements-dev.txt)")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium package is not installed "
                                "(.ci/run installs it; locally: apt-get install -y chromium)")

# What the agent leaves behind on a real day, written into the server's database: a customer who called this
# morning, the booking the call made (and the text confirming it), and a busy 9 o'clock.
SEED_TODAY = f"""
import io, math, struct, wave
from datetime import datetime, time, timedelta
from django.core.files.base import ContentFile
from crm.models import *
from scheduling.shop import shop_timezone, shop_today

tz, today = shop_timezone(), shop_today()
at = lambda hour, minute=0: datetime.combine(today, time(hour, minute), tzinfo=tz)
marge = Customer.objects.create(name="Marge Bouvier", phone="{CUSTOMER_PHONE}", city="Knoxville", state="TN")
car = Vehicle.objects.create(customer=marge, vin="4S4BSANC5K3212345", make="Subaru", model="Outback", year=2019)
alignment = Appointment.objects.create(customer=marge, vehicle=car, service_type="wheel_alignment",
                                       scheduled_at=at(9), duration=timedelta(hours=1), status="confirmed")
other = Customer.objects.create(name="Ned Flanders", phone="+18005550177")
Appointment.objects.create(customer=other, service_type="oil_change", scheduled_at=at(9, 30),
                           duration=timedelta(minutes=30), status="arrived")
Appointment.objects.create(customer=other, service_type="battery", scheduled_at=at(11),
                           duration=timedelta(minutes=30), status="cancelled")
call = CallLog.objects.create(
    call_sid="CA" + "b" * 32, customer=marge, from_number=marge.phone, to_number="+15550100100",
    started_at=at(0, 12), duration=timedelta(minutes=4, seconds=12), outcome="booked",
    transcript=[{{"speaker": "agent", "text": "Bart's Automotive, how can I help?"}},
                {{"speaker": "caller", "text": "My car pulls to the left."}}],
    latency=[{{"total_ms": 840}}, {{"total_ms": 1210}}])
CallAppointment.objects.create(call=call, appointment=alignment, action="booked", at=at(0, 16))
# Its recording, as the call loop writes one: stereo 8 kHz, caller left, agent right, the call's length.
seconds, tone = 252, [int(3000 * math.sin(2 * math.pi * 440 * i / 8000)) for i in range(8000)]
frames = b"".join(struct.pack("<hh", tone[i % 8000] if (i // 8000) % 2 else 0, 0 if (i // 8000) % 2 else tone[i % 8000])
                  for i in range(seconds * 8000))
buffer = io.BytesIO()
with wave.open(buffer, "wb") as out:
    out.setnchannels(2); out.setsampwidth(2); out.setframerate(8000); out.writeframes(frames)
call.recording.save(f"{{call.call_sid}}.wav", ContentFile(buffer.getvalue()))
SmsMessage.objects.create(customer=marge, appointment=alignment, kind="booked", to_number=marge.phone,
                          body="Bart's Automotive: wheel alignment booked for 9:00 AM today.", status="delivered")
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _manage(*args: str, env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=False,  # noqa: S603
                          timeout=180, capture_output=True, text=True)
    assert done.returncode == 0, f"manage.py {args[0]}: {done.stderr[-3000:]}"


@contextlib.contextmanager
def _desk_database(folder: Path) -> Iterator[str]:
    """The server's database: a database of its own on the run's PostgreSQL server when the run is on
    PostgreSQL (created here, dropped on the way out), else a SQLite file."""
    run_on = os.environ.get("DATABASE_URL", "")
    if not run_on.startswith(("postgres://", "postgresql://")):
        yield f"sqlite:///{folder / 'desk.sqlite3'}"
        return
    import psycopg

    name = f"desk_{uuid.uuid4().hex[:12]}"
    server = urlsplit(run_on)._replace(path="/postgres").geturl()
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlsplit(run_on)._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def desk_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The production command (voice/tests/live_server.py starts it the same way) on a free port, DEBUG off,
    on a migrated SQLite file with the demo CRM, the demo advisor and today's seeded call; its base URL."""
    folder = tmp_path_factory.mktemp("desk")
    with _desk_database(folder) as database:
        yield from _desk_server(folder, database)


def _desk_server(folder: Path, database: str) -> Iterator[str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_SETTINGS_MODULE", "REDIS_URL"))}
    env.update(DEBUG="False", SECRET_KEY=SECRET_KEY, ALLOWED_HOSTS="127.0.0.1", SECURE_SSL_REDIRECT="False",
               DATABASE_URL=database, STATIC_ROOT=str(folder / "static"),
               MEDIA_ROOT=str(folder / "media"),
               CALENDAR_BACKEND="builtin", LOG_LEVEL="WARNING", TWILIO_AUTH_TOKEN="browser-test-token",
               PUBLIC_BASE_URL="https://desk.bart-test.example")
    _manage("migrate", "-v0", env=env)
    _manage("collectstatic", "--noinput", "-v0", env=env)
    # The demo CRM around a day a year ago: customers to search among, and today's board only what is seeded below.
    a_year_ago = (datetime.now(UTC) - timedelta(days=365)).date().isoformat()
    _manage("seed_crm", "--customers", "40", "--appointments", "60", "--seed", "1", "--today", a_year_ago, env=env)
    _manage("create_demo_staff", env={**env, "DEBUG": "True"})  # the demo login is refused with DEBUG off
    _manage("shell", "-c", SEED_TODAY, env=env)
    with (folder / "server.log").open("wb") as log:
        server = subprocess.Popen([sys.executable, "manage.py", "serve", "--host", "127.0.0.1",  # noqa: S603
                                   "--port", str(port), "--workers", "1"], cwd=ROOT, env=env, stdout=log,
                                  stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, (folder / "server.log").read_text(errors="replace")[-3000:]
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not listen within 60 s"
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)


@pytest.fixture
def page(desk_url: str) -> Iterator["Page"]:
    """A Chromium tab 1400 px wide, logged in as the demo advisor."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            tab = browser.new_page(viewport={"width": WIDTH, "height": 1000})
            tab.set_default_timeout(5000)
            tab.goto(desk_url + "/")
            tab.fill("#id_username", "advisor")
            tab.fill("#id_password", "bart-demo-2026")
            tab.click("input[type=submit]")
            yield tab
        finally:
            browser.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("DESK_SHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _fits(tab: "Page") -> bool:
    """The page is no wider than the window (no sideways scrolling)."""
    return bool(tab.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_an_advisor_runs_the_day_from_the_board_finds_a_customer_and_opens_the_call(page: "Page", shots: Path) -> None:
    from playwright.sync_api import expect  # assertions that wait for the page a click leads to

    tab = page
    # `/` led to the login and the login to the desk: today's board, by hour, with the bays in use.
    board = tab.locator("#desk .board")
    assert "Today's board" in board.locator("h2").inner_text()
    nine = board.locator("tbody.board-hour", has_text="9 AM")
    assert "2 of 6 bays" in nine.locator("th.hour").inner_text()
    assert nine.locator("tr.board-row").first.inner_text().startswith("9:00 AM")
    assert "Marge Bouvier" in nine.inner_text() and "2019 Subaru Outback" in nine.inner_text()
    assert not board.locator("details.folded table").is_visible()  # the cancellation is folded away
    assert "1 cancelled or no-show" in board.locator("details.folded summary").inner_text()
    numbers = tab.locator("#desk .numbers")
    assert "840 / 1210 ms" in numbers.inner_text()
    tab.screenshot(path=str(shots / "board.png"), full_page=True)
    assert _fits(tab), "board: wider than the window"

    # The last four digits of her number find her; her page shows the booking's text.
    tab.goto(tab.url.split("/admin/")[0] + "/admin/crm/customer/?q=0109")
    rows = tab.locator("#result_list tbody tr")
    assert all(number.endswith("555-0109") for number in rows.locator("td.field-phone_number").all_inner_texts())
    marge = rows.filter(has_text="Marge Bouvier")
    assert "(800) 555-0109" in marge.inner_text()  # a seeded customer may end in 0109 too
    assert _fits(tab)
    marge.locator("th a").click()
    expect(tab.locator(".breadcrumbs")).to_contain_text("Marge Bouvier · (800) 555-0109")  # waits for the page
    assert "wheel alignment booked" in tab.locator("#texts-group").inner_text()
    tab.screenshot(path=str(shots / "customer.png"), full_page=True)
    assert _fits(tab), "customer: wider than the window"

    # Her call: shop time, its length to the second, and the appointment it booked.
    tab.locator("#calls-group td.original a").first.click()
    content = tab.locator("#content-main")
    expect(content).to_contain_text("4 min 12 s")
    assert "Booked: Wheel alignment" in content.inner_text()
    content.get_by_role("link", name="Wheel alignment", exact=False).first.click()
    expect(tab.locator("#content-main")).to_contain_text("Booked: Inbound call")  # the appointment knows the call
    tab.screenshot(path=str(shots / "appointment.png"), full_page=True)
    assert _fits(tab), "appointment: wider than the window"
    tab.go_back()
    expect(tab.locator("audio")).to_have_count(1)  # back on the call's page
    assert not tab.locator("text=CA" + "b" * 32).is_visible()  # the call SID sits in the folded technical section
    # Hear the call: the player loads the recording (staff only) and it is as long as the call, and it plays.
    player = tab.locator("audio")
    player.evaluate("a => new Promise(done => a.readyState >= 1 ? done() : a.addEventListener('loadedmetadata', done))")
    assert abs(player.evaluate("a => a.duration") - 252) < 0.5
    player.evaluate("a => { a.muted = true; return a.play(); }")
    tab.wait_for_function("document.querySelector('audio').currentTime > 0.2")
    tab.screenshot(path=str(shots / "call.png"), full_page=True)
    assert _fits(tab), "call: wider than the window"

    # The lists behind the numbers fit the window too.
    for path in ("crm/calllog/", "crm/appointment/", "crm/callbackrequest/", "crm/vehicle/"):
        tab.goto(tab.url.split("/admin/")[0] + "/admin/" + path)
        assert _fits(tab), f"{path}: wider than the window"
    tab.screenshot(path=str(shots / "vehicles.png"), full_page=True)
