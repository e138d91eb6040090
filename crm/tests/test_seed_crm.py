"""`manage.py seed_crm` writes a believable, reproducible demo CRM that respects the shop's calendar."""

import re
from collections import Counter
from datetime import date, datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from crm.models import (
    E164_PATTERN,
    SERVICE_MENU,
    Appointment,
    AppointmentStatus,
    Customer,
    Vehicle,
)
from crm.phones import normalize_phone
from crm.selectors import customer_get_by_phone
from crm.tests.factories import AppointmentFactory, CustomerFactory, VehicleFactory
from crm.vins import is_valid_vin
from scheduling.shop import bays, day_window, opening_window, shop_timezone, slot_length

pytestmark = pytest.mark.django_db

TODAY = "2026-11-23"
SMALL = {"customers": 300, "appointments": 240}
UPCOMING = (AppointmentStatus.SCHEDULED, AppointmentStatus.CONFIRMED)


def seed(*args: str, **options: Any) -> tuple[str, str]:
    """Run seed_crm with the small defaults below; return what it wrote to stdout and stderr."""
    out, err = StringIO(), StringIO()
    merged = {**SMALL, "seed": 7, "today": TODAY, **options}
    call_command("seed_crm", *args, stdout=out, stderr=err, **merged)
    return out.getvalue(), err.getvalue()


def anchor() -> datetime:
    """Midnight at the start of TODAY in the shop's timezone: past is before it, upcoming after."""
    return day_window(date.fromisoformat(TODAY))[0]


def snapshot() -> tuple[list[tuple], list[tuple], list[tuple]]:
    """Every seeded field except ids and timestamps, in a stable order."""
    customers = sorted(
        Customer.objects.values_list("phone", "name", "email", "address", "city", "state", "zip_code", "is_demo")
    )
    vehicles = sorted(
        Vehicle.objects.values_list(
            "customer__phone", "vin", "make", "model", "year", "color", "mileage", "license_plate"
        )
    )
    appointments = sorted(
        Appointment.objects.values_list(
            "customer__phone",
            "vehicle__vin",
            "service_type",
            "scheduled_at",
            "duration",
            "status",
            "notes",
            "total_cost",
        )
    )
    return customers, vehicles, appointments


def most_cars_at_once(appointments: list[Appointment]) -> int:
    """The largest number of appointments that overlap at any instant (a car leaving frees its bay)."""
    events = [(a.scheduled_at, 1) for a in appointments] + [(a.ends_at, -1) for a in appointments]
    busiest = current = 0
    for _, change in sorted(events):  # at equal times -1 sorts first: back-to-back bookings do not overlap
        current += change
        busiest = max(busiest, current)
    return busiest


def test_seeding_creates_the_requested_demo_customers_and_appointments() -> None:
    seed()
    assert Customer.objects.count() == 300
    assert Appointment.objects.count() == 240
    assert not Customer.objects.filter(is_demo=False).exists()
    assert Vehicle.objects.count() == Vehicle.objects.filter(customer__is_demo=True).count() > 300


def test_each_customer_owns_one_to_three_vehicles_about_one_point_six_on_average() -> None:
    seed(customers=1000, appointments=0)
    per_customer = Counter(Vehicle.objects.values_list("customer_id", flat=True))
    assert len(per_customer) == 1000  # nobody without a car
    assert set(per_customer.values()) == {1, 2, 3}
    assert 1.5 <= sum(per_customer.values()) / 1000 <= 1.7


def test_history_is_mostly_completed_and_a_sixth_is_booked_in_the_next_thirty_days() -> None:
    seed()
    start, horizon = anchor(), anchor() + timedelta(days=30)
    rows = list(Appointment.objects.all())
    completed = [a for a in rows if a.status == AppointmentStatus.COMPLETED]
    upcoming = [a for a in rows if a.status in UPCOMING]
    no_shows = [a for a in rows if a.status == AppointmentStatus.NO_SHOW]
    cancelled = [a for a in rows if a.status == AppointmentStatus.CANCELLED]

    assert abs(len(completed) / 240 - 0.70) <= 0.03
    assert abs(len(upcoming) / 240 - 0.15) <= 0.03
    assert abs((len(no_shows) + len(cancelled)) / 240 - 0.15) <= 0.03
    assert no_shows and cancelled
    assert all(a.scheduled_at < start for a in completed + no_shows)
    assert all(start <= a.scheduled_at < horizon for a in upcoming)
    assert sum(a.scheduled_at < start for a in cancelled) > len(cancelled) / 2  # cancellations are mostly past
    assert {a.status for a in upcoming} == set(UPCOMING)


def test_every_vin_passes_the_shops_validation_and_is_unique() -> None:
    seed(customers=500, appointments=0)
    vins = [str(vin) for vin in Vehicle.objects.values_list("vin", flat=True)]
    assert len(vins) == len(set(vins))
    assert [vin for vin in vins if not is_valid_vin(vin)] == []


def test_vin_model_year_code_matches_the_vehicle_year() -> None:
    seed(customers=200, appointments=0)
    year_codes = "ABCDEFGHJKLMNPRSTVWXY123456789"
    for vin, year in Vehicle.objects.values_list("vin", "year"):
        assert str(vin)[9] == year_codes[(year - 1980) % 30]


def test_phones_are_unique_plausible_nanp_numbers_in_e164() -> None:
    seed(customers=500, appointments=0)
    phones = list(Customer.objects.values_list("phone", flat=True))
    assert len(phones) == len(set(phones)) == 500
    for phone in phones:
        assert re.match(E164_PATTERN, phone)
        assert re.fullmatch(r"\+1[2-9]\d{2}[2-9]\d{6}", phone)
        assert normalize_phone(phone) == phone


def test_every_appointment_starts_on_a_slot_and_ends_by_closing_in_shop_time() -> None:
    seed(appointments=600)  # the history spans the November DST change
    tz, slot = shop_timezone(), slot_length()
    for appointment in Appointment.objects.all():
        local = appointment.scheduled_at.astimezone(tz)
        window = opening_window(local.date())
        assert window is not None, f"booked on a closed day: {local}"
        opens, closes = window
        assert opens <= local
        assert local + appointment.duration <= closes
        assert (local - opens) % slot == timedelta(0)


def test_bookings_never_need_more_bays_than_the_shop_has() -> None:
    seed(customers=400, appointments=1500)
    booked = list(Appointment.objects.exclude(status=AppointmentStatus.CANCELLED))
    assert most_cars_at_once(booked) <= bays()


def test_a_one_bay_shop_moves_upcoming_bookings_that_do_not_fit_into_history(settings) -> None:
    settings.SHOP_BAYS = 1
    _, err = seed(appointments=3000)
    booked = list(Appointment.objects.exclude(status=AppointmentStatus.CANCELLED))
    assert most_cars_at_once(booked) == 1
    assert Appointment.objects.count() == 3000
    assert "did not fit the next 30 days" in err
    upcoming = Appointment.objects.filter(status__in=UPCOMING)
    assert 0 < upcoming.count() < 450
    assert not upcoming.filter(scheduled_at__gte=anchor() + timedelta(days=30)).exists()


def test_each_appointment_is_for_a_vehicle_of_its_own_customer() -> None:
    seed()
    rows = Appointment.objects.values_list("customer_id", "vehicle__customer_id")
    assert all(customer == owner for customer, owner in rows)


def test_durations_and_prices_come_from_the_service_menu() -> None:
    seed()
    for appointment in Appointment.objects.all():
        menu = SERVICE_MENU[appointment.service_type]
        assert appointment.duration == menu.duration
        if appointment.status in (AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW):
            assert appointment.total_cost is None
        else:
            assert appointment.total_cost == menu.price


def test_same_seed_gives_same_data() -> None:
    seed()
    first = snapshot()
    seed("--wipe")
    assert snapshot() == first


def test_a_different_seed_gives_different_data() -> None:
    seed()
    first = snapshot()
    seed("--wipe", seed=8)
    second = snapshot()
    assert first[0] != second[0]
    assert first[1] != second[1]
    assert first[2] != second[2]


def test_wipe_removes_earlier_demo_rows_but_keeps_real_customers() -> None:
    real = CustomerFactory.create(name="Real Person")
    car = VehicleFactory.create(customer=real)
    visit = AppointmentFactory.create(customer=real, vehicle=car)
    seed()
    seed("--wipe", seed=9)
    assert Customer.objects.filter(is_demo=True).count() == 300
    assert Customer.objects.get(pk=real.pk).name == "Real Person"
    assert Vehicle.objects.filter(pk=car.pk, customer=real).exists()
    assert Appointment.objects.get(pk=visit.pk).vehicle_id == car.pk


def test_seeding_again_without_wipe_adds_rows_that_do_not_clash() -> None:
    seed()
    seed(seed=8)
    assert Customer.objects.count() == 600
    assert Customer.objects.values("phone").distinct().count() == 600
    assert Vehicle.objects.values("vin").distinct().count() == Vehicle.objects.count()


def test_if_empty_skips_when_any_customer_exists() -> None:
    CustomerFactory.create()
    out, _ = seed("--if-empty")
    assert Customer.objects.count() == 1
    assert not Appointment.objects.exists()
    assert "not seeding" in out


def test_if_empty_seeds_an_empty_crm() -> None:
    seed("--if-empty")
    assert Customer.objects.count() == 300


def test_summary_reports_counts_seed_and_seconds() -> None:
    out, _ = seed()
    assert re.search(r"Seeded 300 customers, \d+ vehicles, 240 appointments \(168 completed, 36 upcoming", out)
    assert re.search(r"in \d+\.\d s \(seed 7, today 2026-11-23\)", out)


def test_without_a_seed_the_summary_names_one_that_replays_the_data() -> None:
    out = StringIO()
    call_command("seed_crm", customers=50, appointments=40, today=TODAY, stdout=out)
    first = snapshot()
    named = re.search(r"\(seed (\d+),", out.getvalue())
    assert named is not None, out.getvalue()
    used = int(named[1])
    seed("--wipe", customers=50, appointments=40, seed=used)
    assert snapshot() == first


def test_seeding_forgets_a_cached_miss_for_a_number_it_creates(django_capture_on_commit_callbacks) -> None:
    seed(customers=5, appointments=0)
    phone = Customer.objects.values_list("phone", flat=True)[0]
    seed("--wipe", customers=0, appointments=0)
    assert customer_get_by_phone(phone) is None  # the miss is now cached
    with django_capture_on_commit_callbacks(execute=True):
        seed(customers=5, appointments=0)
    assert customer_get_by_phone(phone) == {**Customer.objects.values("id", "name", "phone", "email").get(phone=phone)}


def test_bulk_create_returns_primary_keys_on_this_database() -> None:
    created = Customer.objects.bulk_create([Customer(phone="+12025550100"), Customer(phone="+12025550101")])
    assert connection.features.can_return_rows_from_bulk_insert
    assert all(customer.pk is not None for customer in created)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"customers": -1}, "0 or more"),
        ({"appointments": -5}, "0 or more"),
        ({"batch_size": 0}, "--batch-size"),
        ({"today": "23/11/2026"}, "--today"),
        ({"customers": 0, "appointments": 10}, "need customers"),
        ({"wipe": True, "if_empty": True}, "contradict"),
        ({"customers": 70_000, "appointments": 0}, "fictional phone numbers"),
    ],
)
def test_invalid_options_are_refused_and_write_nothing(options: dict[str, Any], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        seed(**options)
    assert not Customer.objects.exists()
