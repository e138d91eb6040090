"""Writes with side effects on CRM data."""

import contextlib
import logging
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.utils import timezone
from vininfo import Vin

from crm.events import appointment_changed
from crm.models import (
    ACTIVE_STATUSES,
    SERVICE_MENU,
    Appointment,
    AppointmentAction,
    AppointmentStatus,
    CalendarSync,
    CallAppointment,
    CallbackRequest,
    CallDirection,
    CallLog,
    CallOutcome,
    Customer,
    Vehicle,
)
from crm.phones import mask_phone, normalize_phone
from crm.selectors import appointment_intervals_booked, customer_cache_forget, customer_get_for_caller
from crm.vins import normalize_vin, validate_vin
from scheduling.availability import Interval, why_not_bookable
from scheduling.calendars import CalendarEvent, event_id_for, get_calendar, staff_blocks
from scheduling.shop import day_window, shop_timezone

logger = logging.getLogger(__name__)

T = TypeVar("T")


def retry_once_on_lost_connection(write: Callable[[], T], *, what: str) -> T:
    """Run `write`; if the database connection turned out dead (its backend killed, the server restarted),
    run it once more on a fresh connection. For writes that are safe to repeat, and only outside a
    transaction (inside one, it is the whole transaction that has to be redone, by its owner)."""
    try:
        return write()
    except (OperationalError, InterfaceError) as exc:
        if connection.in_atomic_block:
            raise
        logger.warning("%s: the database connection failed (%s); retrying once on a fresh connection",
                       what, type(exc).__name__)
        _drop_connection()
        return write()


def _drop_connection() -> None:
    """Close this thread's connection (a pooled one that is broken is discarded by the pool)."""
    with contextlib.suppress(DatabaseError):
        connection.close()


def call_log_start(*, call_sid: str, direction: str = CallDirection.INBOUND, from_number: str = "",
                   to_number: str = "", customer_id: int | None = None) -> CallLog:
    """Record that a call began (idempotent: a reconnecting stream finds the same row; a lost database
    connection is retried once)."""
    def write() -> CallLog:
        call, _ = CallLog.objects.get_or_create(
            call_sid=call_sid,
            defaults={"direction": direction, "from_number": from_number, "to_number": to_number,
                      "customer_id": customer_id, "started_at": timezone.now()},
        )
        return call

    return retry_once_on_lost_connection(write, what=f"call {call_sid}: call log start")


def call_log_finish(*, call_sid: str, transcript: list[dict[str, Any]], latency: list[dict[str, Any]],
                    outcome: str, ended_at: datetime | None = None, customer_id: int | None = None,
                    protocol_errors: int = 0) -> CallLog:
    """Store what was said, how fast the agent was and how the call ended. `outcome` is the call record's
    own verdict; it replaces what Twilio's status callback wrote, except that "abandoned" (the caller said
    nothing) never hides a more telling outcome already stored. `protocol_errors` (frames a media stream
    dropped) add up over the call's streams. A lost database connection is retried once; a call whose
    start was never logged (the database was away then) gets its row now."""
    def write() -> CallLog:
        with transaction.atomic():
            call, _ = CallLog.objects.select_for_update().get_or_create(
                call_sid=call_sid, defaults={"started_at": _first_turn_at(transcript) or timezone.now()})
            call.transcript = _without_nul(transcript)  # PostgreSQL refuses NUL in text and JSON
            call.latency = latency
            call.protocol_errors += max(protocol_errors, 0)
            if outcome and (call.outcome == CallOutcome.IN_PROGRESS or outcome != CallOutcome.ABANDONED):
                call.outcome = outcome
            if customer_id and not call.customer_id:
                call.customer_id = customer_id
            if call.duration is None:
                call.duration = max((ended_at or timezone.now()) - call.started_at, timedelta(0))
            call.save()
        return call

    return retry_once_on_lost_connection(write, what=f"call {call_sid}: call log finish")


def call_log_recording_attach(*, call_sid: str, content: File, replaces: str = "", keep_replaced: bool = False) -> str:
    """Store the call's recording file and point its call log at it; the stored name. `replaces` is the
    recording the call log held when `content` was made (an earlier stream's part, which `content`
    contains): it is deleted once the row points at the new file, unless `keep_replaced`. "" (and the new
    file deleted) if the call log is missing or now holds another recording."""
    field = CallLog._meta.get_field("recording")
    storage = field.storage
    name = storage.save(field.generate_filename(None, content.name or f"{call_sid}.wav"), content)
    try:
        updated = retry_once_on_lost_connection(
            lambda: CallLog.objects.filter(call_sid=call_sid, recording=replaces).update(recording=name),
            what=f"call {call_sid}: recording")
    except DatabaseError:
        storage.delete(name)  # no row points at it
        raise
    if not updated:
        storage.delete(name)
        return ""
    if replaces and not keep_replaced:
        storage.delete(replaces)
    return name


def call_appointment_record(*, call_sid: str, appointment: Appointment, action: str) -> CallAppointment:
    """Note that call `call_sid` booked, moved, cancelled or confirmed `appointment` (a replayed booking is
    noted once); the call log gains the appointment's customer if it had none (a caller new to the shop).
    Once committed, `appointment_changed` tells the rest of the product (the customer's text)."""
    with transaction.atomic():
        call, _ = CallLog.objects.get_or_create(call_sid=call_sid, defaults={"started_at": timezone.now()})
        if call.customer_id is None:
            CallLog.objects.filter(pk=call.pk, customer__isnull=True).update(customer_id=appointment.customer_id)
        if action == AppointmentAction.BOOKED:
            noted, created = CallAppointment.objects.get_or_create(call=call, appointment=appointment, action=action)
            if not created:
                return noted
        else:
            noted = CallAppointment.objects.create(call=call, appointment=appointment, action=action)
        transaction.on_commit(partial(appointment_changed.send, sender=Appointment, appointment_id=appointment.pk,
                                      action=action, call_sid=call_sid), robust=True)
    return noted


def _without_nul(value: Any) -> Any:
    """`value` with every NUL character taken out of its strings (a caller's words never need one)."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    if isinstance(value, dict):
        return {key: _without_nul(item) for key, item in value.items()}
    return value


def _first_turn_at(transcript: list[dict[str, Any]]) -> datetime | None:
    try:
        return datetime.fromisoformat(str(transcript[0]["at"])) if transcript else None
    except (KeyError, TypeError, ValueError):
        return None


def call_log_status(*, call_sid: str, status: str, duration_seconds: int | None) -> CallLog | None:
    """Apply Twilio's call status callback: a finished call gets its billed duration and an outcome
    (a lost database connection is retried once)."""
    def write() -> CallLog | None:
        with transaction.atomic():
            call = CallLog.objects.select_for_update().filter(call_sid=call_sid).first()
            if call is None:
                return None
            if duration_seconds is not None:
                call.duration = timedelta(seconds=duration_seconds)
            if call.outcome == CallOutcome.IN_PROGRESS and status in {"completed", "busy", "no-answer", "canceled"}:
                call.outcome = CallOutcome.ABANDONED if status == "completed" else CallOutcome.FAILED
            if status == "failed":
                call.outcome = CallOutcome.FAILED
            call.save()
        return call

    return retry_once_on_lost_connection(write, what=f"call {call_sid}: call status")


def callback_request_create(*, call_sid: str, phone: str, message: str,
                            customer_id: int | None = None) -> CallbackRequest:
    """A caller's message for a call back, tied to their call's log (and their customer record) when known."""
    call = CallLog.objects.filter(call_sid=call_sid).first() if call_sid else None
    if customer_id is None and call is not None:
        customer_id = call.customer_id
    if customer_id is None and phone:
        customer_id = Customer.objects.filter(phone=phone).values_list("id", flat=True).first()
    request = CallbackRequest(call=call, call_sid=call_sid, phone=phone, message=message.strip()[:2000],
                              customer_id=customer_id)
    with transaction.atomic():
        request.full_clean()
        request.save()
    logger.info("call %s: callback requested by %s", call_sid, mask_phone(phone))
    return request


def callback_request_mark_done(*, callback_requests: Iterable[CallbackRequest], user: Any = None) -> int:
    """Mark the still open ones of `callback_requests` done, now, by `user`; returns how many changed."""
    ids = [request.pk for request in callback_requests if request.done_at is None]
    with transaction.atomic():
        return CallbackRequest.objects.filter(pk__in=ids, done_at__isnull=True).update(
            done_at=timezone.now(), done_by=user if getattr(user, "pk", None) else None)


# --- customers and vehicles -------------------------------------------------------------------------


class BookingError(Exception):
    """A booking request the shop cannot honour; the message is short enough to say on the phone."""


def customer_for_phone(*, phone: str, name: str = "") -> Customer:
    """The customer with this (verified) number, created on first contact."""
    customer, created = Customer.objects.get_or_create(phone=normalize_phone(phone), defaults={"name": name})
    if created:
        customer_cache_forget(customer.phone)
    return customer


def customer_for_caller(*, phone: str, customer_id: int | None = None) -> Customer:
    """The caller's own record: the one the call already knows, else the one with their number, created
    on first contact."""
    return customer_get_for_caller(phone=phone, customer_id=customer_id) or customer_for_phone(phone=phone)


def customer_update(*, customer: Customer, name: str | None = None, email: str | None = None) -> Customer:
    """Change what the caller told us about themselves (validated like an admin edit)."""
    if name is not None:
        customer.name = name.strip()[:120]
    if email is not None:
        customer.email = email.strip()
    customer.full_clean(exclude=["phone"])
    customer.save()  # the post_save receiver drops the cached phone lookup
    return customer


def vehicle_add(*, customer: Customer, vin: str = "", year: int | None = None, make: str = "", model: str = "",
                license_plate: str = "", plate_state: str = "", mileage: int | None = None) -> Vehicle:
    """Add a car to the customer's record: by VIN (checked, and decoded for the make and year), or by year and
    make (a caller without the VIN to hand; the plate if they give it). The same car twice is added once."""
    vin = normalize_vin(vin) if vin else ""
    if vin:
        validate_vin(vin)
        if Vehicle.objects.filter(vin=vin).exclude(customer=customer).exists():
            raise ValidationError("That VIN is already on another customer's record; staff will sort it out.")
        existing = Vehicle.objects.filter(vin=vin, customer=customer).first()
        if existing:
            return existing
        decoded = Vin(vin)
        if not make:
            make = str(decoded.manufacturer or "")
        if year is None and decoded.years:
            plausible = [y for y in decoded.years if y <= timezone.now().year + 1]
            year = max(plausible) if plausible else None
    if year is None or not make:
        raise ValidationError("I couldn't tell the car's year and make from that VIN; what are they?" if vin else
                              "I need the car's year and make, or its VIN, to add it.")
    if not vin:
        same = Vehicle.objects.filter(customer=customer, vin__isnull=True, year=year, make__iexact=make,
                                      model__iexact=model[:80]).first()
        if same is not None:
            return same
    vehicle = Vehicle(customer=customer, vin=vin or None, year=year, make=make[:50], model=model[:80],
                      license_plate=license_plate, plate_state=plate_state, mileage=mileage)
    vehicle.full_clean()
    vehicle.save()
    return vehicle


def vehicle_update(*, vehicle: Vehicle, mileage: int | None = None, license_plate: str | None = None,
                   plate_state: str | None = None) -> Vehicle:
    """Record what the customer said about their car now: its mileage (never lower than on record without
    saying so), its plate and the plate's state."""
    if mileage is not None:
        if vehicle.mileage is not None and mileage < vehicle.mileage:
            raise ValidationError(f"That's less than the {vehicle.mileage:,} miles on record; could you check the "
                                  "odometer again?")
        vehicle.mileage = mileage
    if license_plate is not None:
        vehicle.license_plate = license_plate
    if plate_state is not None:
        vehicle.plate_state = plate_state
    vehicle.full_clean()
    vehicle.save()
    return vehicle


# --- appointments -------------------------------------------------------------------------------------


def _lock_day(start: datetime) -> None:
    """Serialise bookings for one shop day. Postgres: a transaction-scoped advisory lock; SQLite:
    transactions are IMMEDIATE (settings), so writers already queue for the database lock."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)",
                           [BOOKING_LOCK_NAMESPACE, _shop_day(start).toordinal()])


BOOKING_LOCK_NAMESPACE = 4242  # first key of the advisory lock pair: "appointment booking"


def _shop_day(start: datetime) -> date:
    return start.astimezone(shop_timezone()).date()


def _day_of(start: datetime) -> tuple[datetime, datetime]:
    """The shop day `start` falls on, as aware bounds."""
    return day_window(_shop_day(start))


def _blocks_on_day_of(start: datetime) -> list[Interval]:
    """The staff blocks on the day of `start`: a network call, so made before any transaction opens
    (it must not hold the booking lock)."""
    return staff_blocks(*_day_of(start))


def _check_bookable(start: datetime, duration: timedelta, blocked: list[Interval],
                    exclude_id: int | None = None) -> None:
    day_start, day_end = _day_of(start)
    booked = appointment_intervals_booked(start=day_start, end=day_end, exclude_id=exclude_id)
    reason = why_not_bookable(start, duration, booked=booked, blocked=blocked, now=timezone.now())
    if reason:
        raise BookingError(reason)


def _live_replay(customer: Customer, key: str) -> Appointment | None:
    """The customer's live appointment booked under this idempotency key, if any."""
    return (Appointment.objects.select_related("vehicle").filter(customer=customer, idempotency_key=key)
            .exclude(status=AppointmentStatus.CANCELLED).first())


def appointment_book(*, customer: Customer, service_type: str, start: datetime, vehicle: Vehicle | None = None,
                     notes: str = "", idempotency_key: str = "") -> Appointment:
    """Book a service, never beyond the shop's bays nor into a staff block; the calendar follows once the
    row is committed. The same `idempotency_key` returns the same customer's live (not cancelled) row, so
    a replay never hands back someone else's booking nor reports a cancelled one as booked."""
    if service_type not in SERVICE_MENU:
        raise BookingError("We don't offer that service; I can read you the service menu.")
    if vehicle is not None and vehicle.customer_id != customer.pk:
        raise BookingError("That car isn't on your record.")
    key = idempotency_key[:128]
    if key and (replayed := _live_replay(customer, key)) is not None:
        return replayed
    blocked = _blocks_on_day_of(start)
    info = SERVICE_MENU[service_type]
    with transaction.atomic():
        _lock_day(start)
        if key and (replayed := _live_replay(customer, key)) is not None:
            return replayed  # the same request, booked by another worker while we fetched the blocks
        _check_bookable(start, info.duration, blocked)
        appointment = Appointment(customer=customer, vehicle=vehicle, service_type=service_type, scheduled_at=start,
                                  duration=info.duration, total_cost=info.price, notes=notes[:2000],
                                  idempotency_key=key, status=AppointmentStatus.SCHEDULED,
                                  calendar_sync=CalendarSync.PENDING)
        appointment.full_clean()
        appointment.save()
        appointment_sync_calendar_on_commit(appointment_id=appointment.pk)
    return appointment


BOOKING_UNCONFIRMED = ("Our booking system isn't answering right now, so I can't confirm that booking went "
                       "through. The front desk can check and book it for you.")


def appointment_book_for_caller(*, phone: str, customer_id: int | None, service_type: str, start: datetime,
                                vehicle_id: int | None = None, notes: str = "",
                                idempotency_key: str = "") -> Appointment:
    """A phone caller books: their own record (created on first contact), one of their own cars, then
    `appointment_book`. Raises `BookingError` with a reason fit to say on the phone.

    If the database connection dies meanwhile, whether the booking committed is unknown: with an
    `idempotency_key` it is tried once more on a fresh connection, which first looks for a row the lost
    attempt committed (and returns it) before booking. Otherwise, or if that fails too, `BookingError`
    says the booking could not be confirmed: the caller is never told both "booked" and "not booked"."""
    def book() -> Appointment:
        customer = customer_for_caller(phone=phone, customer_id=customer_id)
        vehicle = None
        if vehicle_id is not None:
            vehicle = Vehicle.objects.filter(pk=vehicle_id, customer=customer).first()
            if vehicle is None:
                raise BookingError("That car isn't on the caller's record; pick one of their cars.")
        return appointment_book(customer=customer, service_type=service_type, start=start, vehicle=vehicle,
                                notes=notes, idempotency_key=idempotency_key)

    if connection.in_atomic_block:  # someone else's transaction: theirs to redo
        return book()
    try:
        return retry_once_on_lost_connection(book, what="booking") if idempotency_key else book()
    except (OperationalError, InterfaceError) as exc:
        logger.warning("booking for a caller: the database failed (%s); the caller is told it is unconfirmed",
                       type(exc).__name__)
        _drop_connection()
        raise BookingError(BOOKING_UNCONFIRMED) from exc


def _locked(appointment_id: int) -> Appointment:
    """The appointment row, locked for this transaction, with its vehicle (callers describe the car)."""
    return Appointment.objects.select_for_update(of=("self",)).select_related("vehicle").get(pk=appointment_id)


def appointment_reschedule(*, appointment: Appointment, start: datetime) -> Appointment:
    """Move an active appointment to a new start, with the same capacity rules as a booking."""
    blocked = _blocks_on_day_of(start)
    with transaction.atomic():
        _lock_day(start)
        appointment = _locked(appointment.pk)
        if appointment.status not in ACTIVE_STATUSES:
            raise BookingError("That appointment is no longer active.")
        if appointment.scheduled_at == start:
            return appointment
        _check_bookable(start, appointment.duration, blocked, exclude_id=appointment.pk)
        appointment.scheduled_at = start
        appointment.status = AppointmentStatus.SCHEDULED
        appointment.calendar_sync = CalendarSync.PENDING
        appointment.save(update_fields=["scheduled_at", "status", "calendar_sync", "updated_at"])
        appointment_sync_calendar_on_commit(appointment_id=appointment.pk)
    return appointment


def appointment_cancel(*, appointment: Appointment) -> Appointment:
    """Cancel an active appointment (idempotent); its calendar event goes once the change is committed."""
    with transaction.atomic():
        appointment = _locked(appointment.pk)
        if appointment.status == AppointmentStatus.CANCELLED:
            return appointment
        if appointment.status not in ACTIVE_STATUSES:
            raise BookingError("That appointment can't be cancelled any more.")
        appointment.status = AppointmentStatus.CANCELLED
        appointment.calendar_sync = CalendarSync.PENDING
        appointment.save(update_fields=["status", "calendar_sync", "updated_at"])
        appointment_sync_calendar_on_commit(appointment_id=appointment.pk)
    return appointment


def appointment_confirm(*, appointment: Appointment) -> Appointment:
    """The customer confirmed they are coming."""
    Appointment.objects.filter(pk=appointment.pk, status=AppointmentStatus.SCHEDULED).update(
        status=AppointmentStatus.CONFIRMED, updated_at=timezone.now())
    appointment.refresh_from_db()
    return appointment


# --- the calendar mirror ------------------------------------------------------------------------------


def _calendar_event(appointment: Appointment) -> CalendarEvent:
    customer = appointment.customer
    vehicle = appointment.vehicle
    car = vehicle.label if vehicle else "vehicle not given"
    return CalendarEvent(
        event_id=event_id_for(appointment.pk),
        summary=f"{appointment.get_service_type_display()}: {customer.name or customer.phone}",
        description=f"{car}\nPhone: {customer.phone}\n{appointment.notes}".strip(),
        start=appointment.scheduled_at, end=appointment.ends_at,
        attendees=[customer.email] if customer.email else [], location=settings.SHOP_ADDRESS,
    )


def _calendar_retry_schedule(appointment_id: int) -> None:
    """One more try in a minute (django-q2 runs `crm.tasks.sync_appointment_calendar`)."""
    from django_q.models import Schedule

    Schedule.objects.create(name=f"calendar-sync-{appointment_id}-{timezone.now().timestamp():.0f}",
                            func="crm.tasks.sync_appointment_calendar", args=str(appointment_id),
                            schedule_type=Schedule.ONCE, next_run=timezone.now() + CALENDAR_RETRY_AFTER)


CALENDAR_RETRY_AFTER = timedelta(minutes=1)


def appointment_sync_calendar(*, appointment_id: int, retry_later: bool = True) -> bool:
    """Bring the calendar in line with the appointment row (the source of truth). The only path to the
    calendar: services (on commit), the admin's save, the retry and the five-minute sweep all come here.
    False: the calendar failed; the row stays unsynced for the sweep and, with `retry_later`, a retry in
    a minute is scheduled (the retry and the sweep pass False: they are the retry)."""
    appointment = Appointment.objects.select_related("customer", "vehicle").filter(pk=appointment_id).first()
    if appointment is None:  # deleted by staff before its sync ran: nothing to mirror
        return True
    try:
        calendar = get_calendar(retries=not retry_later)  # the first sync is one quick try: the retry follows
        if appointment.status in ACTIVE_STATUSES:
            event_id = calendar.upsert_event(_calendar_event(appointment))
        else:
            calendar.delete_event(appointment.calendar_event_id or event_id_for(appointment.pk))
            event_id = appointment.calendar_event_id
    except Exception as exc:  # noqa: BLE001 - any calendar failure: keep the booking, retry later
        logger.warning("calendar sync of appointment %s failed (%s); will retry", appointment_id, type(exc).__name__)
        Appointment.objects.filter(pk=appointment_id).update(calendar_sync=CalendarSync.FAILED)
        if retry_later:
            _calendar_retry_schedule(appointment_id)
        return False
    Appointment.objects.filter(pk=appointment_id, updated_at=appointment.updated_at).update(
        calendar_event_id=event_id, calendar_sync=CalendarSync.SYNCED)
    return True


def appointment_sync_calendar_on_commit(*, appointment_id: int) -> None:
    """Queue `appointment_sync_calendar` for when the current transaction commits (never on a rollback):
    the row is in the database before the calendar hears of it. A failure there is logged, never raised
    into the caller whose change already stands."""
    transaction.on_commit(partial(appointment_sync_calendar, appointment_id=appointment_id), robust=True)


def appointment_confirm_for_reminder(*, appointment_id: int, phone: str, call_sid: str = "") -> Appointment | None:
    """Keypad 1 on a reminder call: confirm the appointment the call is about, if it is still active and
    belongs to the number called (noted on call `call_sid`'s log). None when there is nothing (any more)
    to confirm."""
    appointment = (Appointment.objects.select_related("customer")
                   .filter(pk=appointment_id, status__in=ACTIVE_STATUSES, customer__phone=phone).first())
    if appointment is None:
        return None
    confirmed = appointment_confirm(appointment=appointment)
    if call_sid:
        call_appointment_record(call_sid=call_sid, appointment=confirmed, action=AppointmentAction.CONFIRMED)
    return confirmed
