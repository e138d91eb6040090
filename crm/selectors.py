"""Reads of CRM data, tuned for the phone path."""

import logging
from datetime import date, datetime, timedelta
from typing import Any

from asgiref.sync import sync_to_async
from django.core.cache import cache, caches
from django.db import close_old_connections
from django.db.models import QuerySet
from django.utils import timezone

from crm.models import (
    ACTIVE_STATUSES,
    BAY_STATUSES,
    SERVICE_MENU,
    Appointment,
    CalendarSync,
    CallLog,
    Customer,
    Vehicle,
)
from scheduling.availability import Interval, free_starts
from scheduling.calendars import staff_blocks
from scheduling.shop import day_window

CUSTOMER_CACHE_TTL = 300  # seconds in the shared cache (edits drop the entry at once)
LOCAL_TTL = 30  # seconds in each process's own cache: another worker's edit shows within this
_MISSING = "__none__"

logger = logging.getLogger(__name__)


def customer_cache_key(phone: str) -> str:
    return f"customer:{phone}"


def customer_row_by_phone(phone: str) -> dict[str, Any] | None:
    """The database half of `customer_get_by_phone`: one indexed query, no cache."""
    rows = list(Customer.objects.filter(phone=phone).order_by().values("id", "name", "phone", "email")[:1])
    return dict(rows[0]) if rows else None


def customer_get_by_phone(phone: str) -> dict[str, Any] | None:
    """The customer with this E.164 number as a small dict: from this process's cache (30 s), the
    shared cache (5 minutes, dropped when the customer is edited), or else the database. A shared cache
    that errors (Redis down) is skipped: the answer comes from the database and the call is answered."""
    key = customer_cache_key(phone)
    local = caches["local"]
    cached = local.get(key)
    if cached is None:
        cached = _shared_get(key)
        if cached is not None:
            local.set(key, cached, LOCAL_TTL)
    if cached is not None:
        return None if cached == _MISSING else cached
    summary = customer_row_by_phone(phone)
    _shared_set(key, summary if summary else _MISSING)
    local.set(key, summary if summary else _MISSING, LOCAL_TTL)
    return summary


def _shared_get(key: str) -> Any:
    try:
        return cache.get(key)
    except Exception as exc:  # noqa: BLE001 - any cache failure: read the database instead
        logger.warning("shared cache unreadable (%s); looking the caller up in the database", type(exc).__name__)
        return None


def _shared_set(key: str, value: Any) -> None:
    try:
        cache.set(key, value, CUSTOMER_CACHE_TTL)
    except Exception as exc:  # noqa: BLE001 - any cache failure: the next lookup reads the database again
        logger.debug("shared cache unwritable (%s)", type(exc).__name__)


def _customer_get_by_phone_in_thread(phone: str) -> dict[str, Any] | None:
    try:
        return customer_get_by_phone(phone)
    finally:
        close_old_connections()  # worker threads must not hold database connections open


async def acustomer_get_by_phone(phone: str) -> dict[str, Any] | None:
    """Async form of `customer_get_by_phone` for the call loop."""
    return await sync_to_async(_customer_get_by_phone_in_thread, thread_sensitive=False)(phone)


def customer_cache_forget(phone: str) -> None:
    """Drop the cached entry after the customer's record changed. With the shared cache failing the change
    still stands (an entry left there expires within CUSTOMER_CACHE_TTL)."""
    caches["local"].delete(customer_cache_key(phone))
    try:
        cache.delete(customer_cache_key(phone))
    except Exception as exc:  # noqa: BLE001 - any cache failure must not undo a saved change
        logger.warning("shared cache unwritable (%s); a cached caller lookup may be stale for up to %d s",
                       type(exc).__name__, CUSTOMER_CACHE_TTL)


def customer_get_for_caller(*, phone: str | None, customer_id: int | None = None) -> Customer | None:
    """The caller's own record: the one the call already knows (by id), else the one with their verified number."""
    if customer_id:
        return Customer.objects.filter(pk=customer_id).first()
    if phone:
        return Customer.objects.filter(phone=phone).first()
    return None


def vehicle_list_for_customer(*, customer_id: int) -> list[Vehicle]:
    """The customer's cars on record, oldest entry first."""
    return list(Vehicle.objects.filter(customer_id=customer_id).order_by("pk"))


def appointment_get_for_customer(*, customer_id: int, appointment_id: int) -> Appointment | None:
    """One appointment, only if it is this customer's (with its vehicle)."""
    return (Appointment.objects.select_related("vehicle")
            .filter(pk=appointment_id, customer_id=customer_id).first())


def _upcoming(customer_id: int) -> QuerySet[Appointment]:
    return Appointment.objects.filter(customer_id=customer_id, status__in=ACTIVE_STATUSES,
                                      scheduled_at__gte=timezone.now())


def appointment_list_upcoming(*, customer_id: int, limit: int = 10) -> list[Appointment]:
    """The customer's active appointments from now on, soonest first (with their vehicles)."""
    return list(_upcoming(customer_id).select_related("vehicle").order_by("scheduled_at")[:limit])


def appointment_count_upcoming(*, customer_id: int) -> int:
    """How many active appointments the customer has from now on."""
    return _upcoming(customer_id).count()


def appointment_free_starts(*, service_type: str, first_day: date, last_day: date) -> list[datetime]:
    """Every bookable start for a service between two shop days (inclusive): the shop's hours and bays,
    what is booked, and the staff blocks on the shared calendar (none when it is unreachable)."""
    start, end = day_window(first_day)[0], day_window(last_day)[1]
    return free_starts(start_day=first_day, end_day=last_day, duration=SERVICE_MENU[service_type].duration,
                       booked=appointment_intervals_booked(start=start, end=end), blocked=staff_blocks(start, end),
                       now=timezone.now())


def appointment_for_reminder(appointment_id: int, phone: str | None) -> dict[str, Any] | None:
    """The appointment a reminder call is about, only if it belongs to the number being called."""
    from crm.models import ACTIVE_STATUSES, Appointment

    appointment = (Appointment.objects.select_related("customer", "vehicle")
                   .filter(pk=appointment_id, status__in=ACTIVE_STATUSES).first())
    if appointment is None or appointment.customer.phone != phone:
        return None
    vehicle = appointment.vehicle
    return {
        "appointment_id": appointment.pk,
        "service": appointment.get_service_type_display(),
        "scheduled_at": appointment.scheduled_at,
        "vehicle": vehicle.label if vehicle else "car",
    }


def appointment_id_for_outbound_call(call_sid: str) -> int | None:
    """The appointment an outbound (reminder) call was placed for, from the row the dialler wrote with
    Twilio's call sid: trusted, unlike anything a webhook form says. Queried through the relation's
    name only, so crm imports nothing of the reminders app."""
    if not call_sid:
        return None
    return Appointment.objects.filter(reminder_attempts__call_sid=call_sid).values_list("pk", flat=True).first()


# How far back an appointment can start and still reach into a window (the longest service, with slack
# for a duration an advisor lengthened by hand).
LONGEST_APPOINTMENT = max(info.duration for info in SERVICE_MENU.values()) + timedelta(hours=4)


def appointment_intervals_booked(*, start: datetime, end: datetime, exclude_id: int | None = None) -> list[Interval]:
    """The shop's active appointments overlapping [start, end), as intervals (one index range scan)."""
    rows = Appointment.objects.filter(status__in=BAY_STATUSES, scheduled_at__lt=end,
                                      scheduled_at__gte=start - LONGEST_APPOINTMENT)
    if exclude_id is not None:
        rows = rows.exclude(pk=exclude_id)
    return [Interval(at, at + duration) for at, duration in rows.values_list("scheduled_at", "duration")
            if at + duration > start]


def appointment_ids_calendar_unsynced(*, limit: int = 200) -> list[int]:
    """Appointments whose calendar event is not in step with the row (waiting, or the calendar failed), oldest
    change first."""
    return list(Appointment.objects.exclude(calendar_sync=CalendarSync.SYNCED).order_by("updated_at")
                .values_list("pk", flat=True)[:limit])


def call_log_recording_name(*, call_sid: str) -> str:
    """The stored name of the call's recording ("" if it has none yet, or no call log)."""
    return CallLog.objects.filter(call_sid=call_sid).values_list("recording", flat=True).first() or ""
