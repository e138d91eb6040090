"""Redis down or a Postgres connection killed: the phone path's reads and writes carry on.

Redis: Django's real Redis backend pointed at a port nothing listens on. Postgres: the server-side
backend of the connection in use is ended with `pg_terminate_backend` from a second connection
(what a failover, a restart or an idle-connection reaper does), never a patched driver."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
import time_machine
from django.db import connection

from crm.models import Appointment, CallLog, Customer
from crm.selectors import customer_cache_forget, customer_get_by_phone
from crm.services import (
    BOOKING_UNCONFIRMED,
    BookingError,
    appointment_book_for_caller,
    call_log_finish,
    call_log_start,
    call_log_status,
)
from crm.tests.factories import CustomerFactory

NY = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=NY)  # a Monday morning
TUESDAY_10 = datetime(2026, 11, 24, 10, 0, tzinfo=NY)

on_postgres = pytest.mark.skipif(connection.vendor != "postgresql",
                                 reason="pg_terminate_backend needs PostgreSQL (run with DATABASE_URL=postgres://...)")



@pytest.fixture(autouse=True)
def _shop(settings) -> None:
    settings.SHOP_TIMEZONE = "America/New_York"
    settings.CALENDAR_BACKEND = "builtin"


# --- Redis down ----------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.usefixtures("redis_down")
def test_the_caller_lookup_falls_back_to_the_database_when_the_shared_cache_errors() -> None:
    customer = CustomerFactory.create(phone="+15550102000", name="Ned Flanders")
    found = customer_get_by_phone("+15550102000")
    assert found is not None and found["id"] == customer.pk
    assert customer_get_by_phone("+15550109999") is None


@pytest.mark.django_db
@pytest.mark.usefixtures("redis_down")
def test_editing_a_customer_while_redis_is_down_saves_the_edit() -> None:
    customer = CustomerFactory.create(phone="+15550102000")
    customer.name = "Maude Flanders"
    customer.save()  # the post_save receiver forgets the cached lookup
    customer_cache_forget("+15550102000")
    assert Customer.objects.get(pk=customer.pk).name == "Maude Flanders"


@pytest.mark.django_db
@pytest.mark.usefixtures("redis_down")
def test_a_first_time_caller_books_while_redis_is_down() -> None:
    with time_machine.travel(NOW, tick=False):
        appointment = appointment_book_for_caller(phone="+15550102000", customer_id=None, service_type="oil_change",
                                                  start=TUESDAY_10, idempotency_key="CA1:oil")
    assert appointment.customer.phone == "+15550102000"


# --- Postgres blips ------------------------------------------------------------------------------


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def _terminate(pid: int) -> None:
    """End one server-side backend from a second, plain connection (this test's own connection only)."""
    params = connection.get_connection_params()
    conninfo = {k: v for k, v in params.items() if k in {"host", "port", "user", "password", "dbname"} and v}
    with psycopg.connect(**conninfo, autocommit=True) as other:
        assert other.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone() == (True,)


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_call_log_writes_survive_their_connection_being_killed_between_two_writes() -> None:
    call_log_start(call_sid="CA-blip", from_number="+15550102000")
    _terminate(_backend_pid())
    transcript = [{"speaker": "caller", "text": "hello", "at": "2026-11-23T13:00:00+00:00"}]
    call_log_finish(call_sid="CA-blip", transcript=transcript, latency=[], outcome="information")
    _terminate(_backend_pid())
    call_log_status(call_sid="CA-blip", status="completed", duration_seconds=30)
    row = CallLog.objects.get(call_sid="CA-blip")
    assert (row.transcript, row.outcome, row.duration) == (transcript, "information", timedelta(seconds=30))


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_a_booking_whose_connection_was_killed_is_made_on_a_fresh_one() -> None:
    with time_machine.travel(NOW, tick=False):
        _terminate(_backend_pid())
        appointment = appointment_book_for_caller(phone="+15550102000", customer_id=None, service_type="oil_change",
                                                  start=TUESDAY_10, idempotency_key="CA1:oil")
    assert Appointment.objects.get().pk == appointment.pk


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_a_booking_retried_after_its_connection_died_finds_the_committed_row_and_books_nothing_more() -> None:
    """The booking committed, then the connection died (the caller's answer unknown to the agent, which
    asks again with the same key): the retry on a fresh connection finds the row; one appointment."""
    with time_machine.travel(NOW, tick=False):
        first = appointment_book_for_caller(phone="+15550102000", customer_id=None, service_type="oil_change",
                                            start=TUESDAY_10, idempotency_key="CA2:oil")
        _terminate(_backend_pid())
        again = appointment_book_for_caller(phone="+15550102000", customer_id=None, service_type="oil_change",
                                            start=TUESDAY_10, idempotency_key="CA2:oil")
    assert first.pk == again.pk and Appointment.objects.filter(idempotency_key="CA2:oil").count() == 1


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_a_booking_without_a_key_is_not_retried_blind_and_the_caller_hears_it_is_unconfirmed() -> None:
    """No idempotency key: a retry could book twice, so none is made; the caller is told the booking
    could not be confirmed (never a flat "not booked" that a committed row would contradict)."""
    with time_machine.travel(NOW, tick=False):
        _terminate(_backend_pid())
        with pytest.raises(BookingError) as refused:
            appointment_book_for_caller(phone="+15550102000", customer_id=None, service_type="oil_change",
                                        start=TUESDAY_10)
    assert str(refused.value) == BOOKING_UNCONFIRMED
    assert not Appointment.objects.exists()
