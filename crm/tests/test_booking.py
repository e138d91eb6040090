"""Booking services: the database is the source of truth, capacity is never exceeded, replays are
idempotent, and a calendar outage never loses a booking."""

import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import close_old_connections, connection, transaction
from django_q.models import Schedule

from crm.models import Appointment, AppointmentStatus, CalendarSync, Customer
from crm.services import (
    BookingError,
    appointment_book,
    appointment_book_for_caller,
    appointment_cancel,
    appointment_reschedule,
    appointment_sync_calendar,
)
from crm.tasks import sync_appointment_calendar, sync_pending_calendar_events
from crm.tests.factories import AppointmentFactory, CustomerFactory, VehicleFactory
from scheduling.calendars import BuiltinCalendar

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


@pytest.fixture
def google(settings):
    """The shop calendar is a local fake of Google's API (real client code, a real HTTP server)."""
    from scheduling.tests.google_server import FakeGoogleCalendar

    with FakeGoogleCalendar() as fake:
        settings.CALENDAR_BACKEND = "google"
        settings.GOOGLE_CLIENT_ID, settings.GOOGLE_CLIENT_SECRET = "client", "secret"
        settings.GOOGLE_REFRESH_TOKEN, settings.GOOGLE_CALENDAR_ID = "refresh", "shop@example.com"
        settings.GOOGLE_CALENDAR_API_URL, settings.GOOGLE_TOKEN_URI = fake.api_url, fake.token_url
        yield fake


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
def test_a_replay_after_a_cancellation_books_a_new_live_appointment(frozen) -> None:
    customer = CustomerFactory.create()
    first = appointment_book(customer=customer, service_type="oil_change", start=TUESDAY_10, idempotency_key="CA1:k")
    appointment_cancel(appointment=first)
    again = appointment_book(customer=customer, service_type="oil_change", start=TUESDAY_10, idempotency_key="CA1:k")
    assert again.pk != first.pk and again.status == AppointmentStatus.SCHEDULED
    assert Appointment.objects.get(pk=first.pk).status == AppointmentStatus.CANCELLED


@pytest.mark.django_db
def test_another_customers_request_with_the_same_key_is_never_their_appointment(frozen) -> None:
    first = appointment_book(customer=CustomerFactory.create(), service_type="oil_change", start=TUESDAY_10,
                             idempotency_key="CA1:k")
    other = CustomerFactory.create()
    theirs = appointment_book(customer=other, service_type="oil_change", start=TUESDAY_10, idempotency_key="CA1:k")
    assert theirs.pk != first.pk and theirs.customer_id == other.pk


@pytest.mark.django_db
def test_the_database_allows_one_live_appointment_per_customer_and_key() -> None:
    from django.db import IntegrityError

    appointment = AppointmentFactory.create(idempotency_key="CA1:k", status=AppointmentStatus.CANCELLED)
    AppointmentFactory.create(customer=appointment.customer, idempotency_key="CA1:k")  # the cancelled one is no clash
    AppointmentFactory.create(idempotency_key="CA1:k")  # nor is another customer's
    with pytest.raises(IntegrityError), transaction.atomic():
        AppointmentFactory.create(customer=appointment.customer, idempotency_key="CA1:k")


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



# --- the calendar follows each committed change, once, through one function -------------------------------


@pytest.mark.django_db
def test_a_booking_reaches_the_calendar_once_and_only_after_it_commits(
        frozen, google, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        appointment = appointment_book(customer=CustomerFactory.create(), service_type="oil_change", start=TUESDAY_10)
        assert google.events == {}  # not before the row is committed
    assert len(callbacks) == 1
    appointment.refresh_from_db()
    assert appointment.calendar_sync == CalendarSync.SYNCED
    assert list(google.events) == [appointment.calendar_event_id]


@pytest.mark.django_db
def test_a_rolled_back_booking_never_reaches_the_calendar(frozen, google, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            appointment_book(customer=CustomerFactory.create(), service_type="oil_change", start=TUESDAY_10)
            raise RuntimeError("the surrounding transaction fails after the booking")
    assert callbacks == []
    assert google.events == {} and not Appointment.objects.exists()


@pytest.mark.django_db
def test_a_replayed_booking_queues_no_second_sync(frozen, django_capture_on_commit_callbacks) -> None:
    customer = CustomerFactory.create()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        first = appointment_book(customer=customer, service_type="oil_change", start=TUESDAY_10, idempotency_key="k")
        again = appointment_book(customer=customer, service_type="oil_change", start=TUESDAY_10, idempotency_key="k")
    assert again.pk == first.pk and len(callbacks) == 1


@pytest.mark.django_db
def test_reschedule_and_cancel_each_queue_one_sync_and_no_ops_queue_none(
        frozen, django_capture_on_commit_callbacks) -> None:
    appointment = appointment_book(customer=CustomerFactory.create(), service_type="oil_change", start=TUESDAY_10)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        appointment_reschedule(appointment=appointment, start=TUESDAY_10)  # the same time: nothing changes
        appointment_reschedule(appointment=appointment, start=TUESDAY_10 + timedelta(hours=1))
        appointment_cancel(appointment=appointment)
        appointment_cancel(appointment=appointment)  # already cancelled
    assert len(callbacks) == 2
    appointment.refresh_from_db()
    assert appointment.calendar_sync == CalendarSync.SYNCED


@pytest.mark.django_db
def test_a_calendar_outage_schedules_one_retry_and_the_retry_and_sweep_add_none(frozen, google) -> None:
    appointment = appointment_book(customer=CustomerFactory.create(), service_type="oil_change", start=TUESDAY_10)
    google.fail_next(400, times=10)  # refused outright: no backoff
    assert appointment_sync_calendar(appointment_id=appointment.pk) is False
    retries = Schedule.objects.filter(func="crm.tasks.sync_appointment_calendar")
    assert [retry.args for retry in retries] == [str(appointment.pk)]
    assert sync_appointment_calendar(appointment.pk) is False  # the retry itself, calendar still down
    assert sync_pending_calendar_events() == 0
    assert retries.count() == 1
    appointment.refresh_from_db()
    assert (appointment.status, appointment.calendar_sync) == (AppointmentStatus.SCHEDULED, CalendarSync.FAILED)
    google.fail_next(None)
    assert sync_appointment_calendar(appointment.pk) is True


# --- a phone caller books ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_first_time_caller_gets_a_record_with_the_booking(frozen) -> None:
    appointment = appointment_book_for_caller(phone="+15550102000", customer_id=None, service_type="oil_change",
                                              start=TUESDAY_10, notes="rattle", idempotency_key="CA1:oil")
    customer = Customer.objects.get(phone="+15550102000")
    assert appointment.customer_id == customer.pk and appointment.notes == "rattle"


@pytest.mark.django_db
def test_a_known_caller_books_for_their_own_record_and_car(frozen) -> None:
    vehicle = VehicleFactory.create(customer__phone="+15550102000")
    appointment = appointment_book_for_caller(phone="+15550102000", customer_id=vehicle.customer_id,
                                              service_type="oil_change", start=TUESDAY_10, vehicle_id=vehicle.pk)
    assert (appointment.customer_id, appointment.vehicle_id) == (vehicle.customer_id, vehicle.pk)
    assert Customer.objects.count() == 1


@pytest.mark.django_db
def test_a_caller_cannot_book_someone_elses_car(frozen) -> None:
    theirs = VehicleFactory.create()
    with pytest.raises(BookingError, match="record"):
        appointment_book_for_caller(phone="+15550102000", customer_id=None, service_type="oil_change",
                                    start=TUESDAY_10, vehicle_id=theirs.pk)
    assert not Appointment.objects.exists()


@pytest.mark.django_db
def test_staff_blocks_on_the_calendar_close_the_shop_to_callers(frozen, google) -> None:
    google.blocks = [{"start": "2026-11-24T09:00:00-05:00", "end": "2026-11-24T12:00:00-05:00"}]
    with pytest.raises(BookingError, match="closed to bookings"):
        appointment_book_for_caller(phone="+15550102000", customer_id=None, service_type="oil_change",
                                    start=TUESDAY_10)
    moved_from = appointment_book(customer=CustomerFactory.create(), service_type="oil_change",
                                  start=TUESDAY_10 + timedelta(hours=3))
    with pytest.raises(BookingError, match="closed to bookings"):
        appointment_reschedule(appointment=moved_from, start=TUESDAY_10)


@pytest.mark.django_db
def test_a_calendar_down_while_booking_still_books_on_the_shops_records(frozen, google) -> None:
    google.fail_next(400, times=10)
    appointment = appointment_book_for_caller(phone="+15550102000", customer_id=None, service_type="oil_change",
                                              start=TUESDAY_10)
    assert Appointment.objects.get() == appointment


@pytest.mark.django_db(transaction=True)
def test_staff_blocks_are_read_before_the_booking_transaction_opens(frozen, monkeypatch) -> None:
    """A network call inside the transaction would hold the day's booking lock while it waits."""
    in_transaction: list[bool] = []

    def blocked(self, start, end):
        in_transaction.append(connection.in_atomic_block)
        return []

    monkeypatch.setattr(BuiltinCalendar, "blocked", blocked)
    appointment = appointment_book_for_caller(phone="+15550102000", customer_id=None, service_type="oil_change",
                                              start=TUESDAY_10)
    appointment_reschedule(appointment=appointment, start=TUESDAY_10 + timedelta(hours=1))
    assert in_transaction == [False, False]
    appointment.refresh_from_db()
    assert appointment.calendar_sync == CalendarSync.SYNCED  # committed, then synced, with no test help
