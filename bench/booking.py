"""Front-desk operations on a seeded CRM (10,000 customers), printed as p50/p99 (no assertions):
customer lookup cold (cache miss: shared-cache read, database, cache fill), the database query alone,
the same cold lookup from the event loop as the call loop makes it (thread hop included), cached,
availability for a day, and booking (built-in calendar), with the reasons bookings were refused.
Targets (issue 4): cached p99 <= 1 ms, cold <= 5 ms, availability <= 20 ms, booking <= 50 ms.

    .venv/bin/python bench/booking.py                      # SQLite scratch file, local-memory cache
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/2 \\
        .venv/bin/python bench/booking.py

Like bench/seed_crm.py it works in a scratch database (never the one DATABASE_URL names).
"""

import asyncio
import os
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from io import StringIO
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from seed_crm import drop_postgres, scratch_postgres  # noqa: E402


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def timed(label: str, runs: int, step: Callable[[int], object],
          before: Callable[[int], object] | None = None) -> None:
    figures = []
    for i in range(runs):
        if before is not None:
            before(i)  # untimed preparation
        started = time.perf_counter()
        step(i)
        figures.append((time.perf_counter() - started) * 1000)
    print(f"{label:<40} p50 {pct(figures, 50):7.3f} ms   p99 {pct(figures, 99):7.3f} ms   n={runs}")


def run() -> None:
    import django
    from django.core.management import call_command

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "autoshop.settings")
    os.environ.setdefault("CALENDAR_BACKEND", "builtin")
    django.setup()
    from django.core.cache import cache
    from django.db import connection
    from django.utils import timezone

    from crm.models import SERVICE_MENU, Appointment, Customer
    from crm.selectors import (
        acustomer_get_by_phone,
        appointment_intervals_booked,
        customer_cache_forget,
        customer_get_by_phone,
        customer_row_by_phone,
    )
    from crm.services import BookingError, appointment_book
    from scheduling.availability import free_starts
    from scheduling.shop import day_window, shop_today

    call_command("migrate", interactive=False, verbosity=0)
    call_command("seed_crm", "--seed", "7", stdout=StringIO(), stderr=StringIO())
    print(f"database: {connection.vendor}; cache: {type(cache).__name__}; "
          f"{Customer.objects.count():,} customers, {Appointment.objects.count():,} appointments")
    phones = list(Customer.objects.values_list("phone", flat=True))
    rng = random.Random(1)
    sample = [rng.choice(phones) for _ in range(2000)]

    timed("customer lookup, cold (cache miss)", 1000, lambda i: customer_get_by_phone(sample[i]),
          before=lambda i: customer_cache_forget(sample[i]))
    timed("customer lookup, database query only", 1000, lambda i: customer_row_by_phone(sample[i]))
    timed("customer lookup, cached", 1000, lambda i: customer_get_by_phone(sample[i % 1000]))

    async def from_event_loop() -> None:
        # What the call loop awaits: the lookup runs in a worker thread with its own connection.
        figures = []
        for phone in sample[1000:1500]:
            customer_cache_forget(phone)
            started = time.perf_counter()
            await acustomer_get_by_phone(phone)
            figures.append((time.perf_counter() - started) * 1000)
        print(f"{'customer lookup, cold, from event loop':<40} p50 {pct(figures, 50):7.3f} ms   "
              f"p99 {pct(figures, 99):7.3f} ms   n={len(figures)}")

    asyncio.run(from_event_loop())

    today = shop_today()
    days = [today + timedelta(days=d) for d in range(1, 15) if (today + timedelta(days=d)).weekday() < 5]

    def availability(i: int) -> None:
        day = days[i % len(days)]
        start, end = day_window(day)
        booked = appointment_intervals_booked(start=start, end=end)
        free_starts(start_day=day, end_day=day, duration=SERVICE_MENU["oil_change"].duration, booked=booked,
                    blocked=[], now=timezone.now())

    timed("availability for one day", 500, availability)

    customers = list(Customer.objects.order_by("?")[:400])
    slots = [day_window(day)[0].replace(hour=h, minute=m)
             for day in days for h in range(8, 17) for m in (0, 30)]
    refused: Counter[str] = Counter()

    def book(i: int) -> None:
        try:
            appointment_book(customer=customers[i], service_type="tire_rotation", start=slots[i % len(slots)],
                             idempotency_key=f"bench-{i}")
        except BookingError as refusal:
            refused[str(refusal)] += 1

    timed("booking (built-in calendar)", 400, book)
    for reason, count in refused.most_common():
        print(f"  refused {count:>3} of 400: {reason}")
    connection.close()


def main() -> None:
    url = os.environ.get("DATABASE_URL", "")
    if urlsplit(url).scheme.startswith("postgres"):
        scratch_url, admin_url = scratch_postgres(url)
        os.environ["DATABASE_URL"] = scratch_url
        try:
            run()
        finally:
            drop_postgres(admin_url)
    else:
        tmp = tempfile.mkdtemp(prefix="booking_bench_")
        os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
        try:
            run()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
