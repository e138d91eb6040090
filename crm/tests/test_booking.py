"""Booking services: the database is the source of truth, capacity is never exceeded, replays are
idempotent, and a calendar outage never loses a booking."""

import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import close_old_connections, connection

from crm.models import Appointment, AppointmentStatus, CalendarSync
from crm.services import (
    BookingError,
    appointment_book,
    appointment_cancel,
    appointment_reschedule,
    appointment_sync_calendar,
)
from crm.tasks import sync_pending_calendar_events
from crm.tests.factories import CustomerFactory, VehicleFactory

NY = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=NY)  # a Monday morning
TUESDAY_10 = datetime(2026, 11, 24, 10, 0, tzinfo=NY)


@pytest.fixture(autouse=True)
def _shop(settings) -> None:
    settings.SHOP_TIMEZONE = "America/New_York"
    settings.SHOP_BAYS = 2
    settings.CALENDAR_BACKEND = "builtin"


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.mark.django_db
def test_booking_creates_a_scheduled_row_priced_from_the_menu(frozen) -> None:
    customer = CustomerFactory.create()
    appointment = appointment_book(customer=customer, service_type="oil_change", start=TUESDAY_10)
    assert appointment.status == AppointmentStatus.SCHEDULED
    assert appointment.duration == timedelta(minutes=30) and str(appointment.total_cost) == "49.99"
    assert appointment.calendar_sync == CalendarSync.PENDING


@pytest.mark.django_db
def test_capacity_is_the_number_of_bays(frozen) -> None:
    for _ in range(2):
        appointment_book(customer=CustomerFactory.create(), service_type="oil_change", start=TUESDAY_10)
    with pytest.raises(BookingError, match="fully booked"):
        appointment_book(customer=CustomerFactory.create(), service_type="oil_change", start=TUESDAY_10)
    # a longer service that would overlap the full half hour is refused too
    with pytest.raises(BookingError):
        appointment_book(customer=CustomerFactory.create(), service_type="brake_pads",
                         start=TUESDAY_10 - timedelta(hours=1))


@pytest.mark.django_db
def test_cancelled_appointments_free_their_bay(frozen) -> None:
    first = appointment_book(customer=CustomerFactory.create(), service_type="oil_change", start=TUESDAY_10)
    appointment_book(customer=CustomerFactory.create(), service_type="oil_change", start=TUESDAY_10)
    appointment_cancel(appointment=first)
    appointment_book(customer=CustomerFactory.create(), service_type="oil_change", start=TUESDAY_10)


@pytest.mark.django_db
def test_replayed_request_returns_the_same_appointment(frozen) -> None:
    customer = CustomerFactory.create()
    first = appointment_book(customer=customer, service_type="oil_change", start=TUESDAY_10, idempotency_key="CA1:k")
    again = appointment_book(customer=customer, service_type="oil_change", start=TUESDAY_10, idempotency_key="CA1:k")
    assert again.pk == first.pk
    assert Appointment.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(("start", "reason"), [
    (datetime(2026, 11, 22, 10, 0, tzinfo=NY), "past"),
    (datetime(2026, 11, 29, 10, 0, tzinfo=NY), "closed"),  # a Sunday
    (datetime(2026, 11, 24, 17, 0, tzinfo=NY), "close"),  # two-hour job at 5 PM, closing at 6
])
def test_impossible_times_are_refused_with_a_reason(frozen, start: datetime, reason: str) -> None:
    with pytest.raises(BookingError, match=f"(?i){reason}"):
        appointment_book(customer=CustomerFactory.create(), service_type="brake_pads", start=start)
    assert not Appointment.objects.exists()


@pytest.mark.django_db
def test_someone_elses_car_cannot_be_booked(frozen) -> None:
    with pytest.raises(BookingError):
        appointment_book(customer=CustomerFactory.create(), service_type="oil_change", start=TUESDAY_10,
                         vehicle=VehicleFactory.create())


@pytest.mark.django_db
def test_reschedule_checks_capacity_without_counting_itself(frozen) -> None:
    mine = appointment_book(customer=CustomerFactory.create(), service_type="oil_change", start=TUESDAY_10)
    appointment_book(customer=CustomerFactory.create(), service_type="oil_change", start=TUESDAY_10)
    moved = appointment_reschedule(appointment=mine, start=TUESDAY_10 + timedelta(minutes=30))
    assert moved.scheduled_at == TUESDAY_10 + timedelta(minutes=30)
    appointment_book(customer=CustomerFactory.create(), service_type="oil_change", start=TUESDAY_10)
    appointment_book(customer=CustomerFactory.create(), service_type="oil_change",
                     start=TUESDAY_10 + timedelta(minutes=30))
    with pytest.raises(BookingError):
        appointment_reschedule(appointment=moved, start=TUESDAY_10)


@pytest.mark.django_db
def test_calendar_outage_keeps_the_booking_and_a_later_sweep_syncs_it(frozen, settings) -> None:
    from scheduling.tests.google_server import FakeGoogleCalendar

    with FakeGoogleCalendar() as google:
        settings.CALENDAR_BACKEND = "google"
        settings.GOOGLE_CLIENT_ID, settings.GOOGLE_CLIENT_SECRET = "client", "secret"
        settings.GOOGLE_REFRESH_TOKEN, settings.GOOGLE_CALENDAR_ID = "refresh", "shop@example.com"
        settings.GOOGLE_CALENDAR_API_URL, settings.GOOGLE_TOKEN_URI = google.api_url, google.token_url
        appointment = appointment_book(customer=CustomerFactory.create(), service_type="oil_change", start=TUESDAY_10)
        google.fail_next(503, times=10)
        assert appointment_sync_calendar(appointment_id=appointment.pk) is False
        appointment.refresh_from_db()
        assert appointment.status == AppointmentStatus.SCHEDULED
        assert appointment.calendar_sync == CalendarSync.FAILED
        google.fail_next(None)
        assert sync_pending_calendar_events() == 1
        appointment.refresh_from_db()
        assert appointment.calendar_sync == CalendarSync.SYNCED and appointment.calendar_event_id
        assert len(google.events) == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locking under concurrency needs PostgreSQL")
def test_many_simultaneous_bookings_for_one_slot_respect_the_bays() -> None:
    customers = [CustomerFactory.create() for _ in range(12)]
    barrier = threading.Barrier(len(customers))
    outcomes: list[str] = []

    def book(customer_id: int) -> None:
        from crm.models import Customer

        try:
            customer = Customer.objects.get(pk=customer_id)
            # Hand the connection back first: more callers than pooled connections must queue for
            # one, not hold one each while waiting for the others.
            connection.close()
            barrier.wait(timeout=30)
            with time_machine.travel(NOW, tick=False):
                appointment_book(customer=customer, service_type="brake_pads", start=TUESDAY_10)
            outcomes.append("booked")
        except BookingError:
            outcomes.append("full")
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=book, args=(c.pk,)) for c in customers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["booked"] * 2 + ["full"] * 10
    assert Appointment.objects.filter(scheduled_at=TUESDAY_10).count() == 2

