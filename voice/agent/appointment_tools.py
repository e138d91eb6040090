"""The shop's calendar and booking tools: free times, booking, and the caller's own appointments.

Booking, moving and cancelling need the caller's own yes (`confirmation`); moving and cancelling also need
a caller whose number the carrier vouched for, or who answered the security question (`verification`).
Blocking work (database, calendar) runs in worker threads, never on the event loop.
"""

import logging
from datetime import date, datetime
from typing import Any

from channels.db import database_sync_to_async

from crm.models import ACTIVE_STATUSES, SERVICE_MENU, Appointment, AppointmentAction, CallOutcome, ServiceType
from crm.selectors import appointment_free_starts, appointment_list_upcoming
from crm.services import (
    BookingError,
    appointment_book_for_caller,
    appointment_cancel,
    appointment_confirm,
    appointment_reschedule,
    call_appointment_record,
)
from scheduling.shop import shop_timezone, shop_today
from scheduling.spoken import spoken_day
from voice.agent import tool_arguments as arg
from voice.agent.confirmation import require_agreement
from voice.agent.shop_registry import registry
from voice.agent.speech import spoken_price
from voice.agent.tool_registry import ToolError, ToolResult
from voice.agent.verification import require_verified
from voice.call_record import ToolScope

logger = logging.getLogger(__name__)

MAX_DAYS_PER_QUERY = 7
CHECKING = "Let me check the calendar."


@registry.register(
    "check_availability",
    "Free start times for a service on a day or a range of days (at most 7). Dates are YYYY-MM-DD; give time "
    "(HH:MM) too when the caller asked for one, to learn whether exactly that start is free.",
    arg.params({"service": arg.SERVICE_ENUM, "date": {"type": "string"}, "end_date": {"type": "string"},
                "time": {"type": "string"}}, ["service", "date"]),
    filler=CHECKING,
)
@database_sync_to_async
def check_availability(scope: ToolScope, args: dict[str, Any]) -> ToolResult:
    """Free start times over a few days, a handful per day, and whether the asked-for time is free."""
    service = arg.service_arg(args)
    first = arg.parse_day(args.get("date"), "date")
    last = arg.parse_day(args.get("end_date"), "end_date") if args.get("end_date") else first
    today = shop_today()
    if last < today:
        raise ToolError("Those dates are in the past; ask the caller for a day from today on.")
    first = max(first, today)
    if last < first or (last - first).days >= MAX_DAYS_PER_QUERY:
        raise ToolError(f"Ask for at most {MAX_DAYS_PER_QUERY} days at a time, end_date not before date.")
    starts = appointment_free_starts(service_type=service, first_day=first, last_day=last)
    tz = shop_timezone()
    days: dict[date, list[datetime]] = {}
    for start in starts:
        days.setdefault(start.astimezone(tz).date(), []).append(start)
    answer: dict[str, Any] = {
        "service": ServiceType(service).label,
        "minutes": int(SERVICE_MENU[service].duration.total_seconds() // 60),
        "days": [{"date": day.isoformat(), "day": spoken_day(day),
                  "times": [s.astimezone(tz).strftime("%H:%M") for s in arg.spread(times)]}
                 for day, times in sorted(days.items())],
        "note": "No free times in that range." if not starts else "Offer two or three of these, not the whole list.",
    }
    if args.get("time"):
        wanted = str(args["time"])[:5]
        free = any(s.astimezone(tz).date() == first and s.astimezone(tz).strftime("%H:%M") == wanted for s in starts)
        answer["requested"] = {"date": first.isoformat(), "time": wanted, "free": free}
    return ToolResult(answer)


@registry.register(
    "book_appointment",
    "Book a service for the caller. start is the shop's local time, YYYY-MM-DDTHH:MM.",
    arg.params({"service": arg.SERVICE_ENUM, "start": {"type": "string"}, "vehicle_id": {"type": "integer"},
                "notes": {"type": "string"}, "caller_confirmed": arg.CONFIRMED,
                "additional_booking_requested": {
                    "type": "boolean", "description": "True only if the caller asked for another booking."}},
               ["service", "start", "caller_confirmed"]),
    filler="One moment while I book that.",
    writes=True,
)
@database_sync_to_async
def book_appointment(scope: ToolScope, args: dict[str, Any]) -> ToolResult:
    """Book for the caller, once per call unless they ask for another; a replayed request finds the same row."""
    service = arg.service_arg(args)
    start = arg.parse_start(args.get("start"))
    require_agreement(scope, args, "book", service, start)
    facts = scope.facts
    key = f"{scope.call_sid}:{service}:{start.isoformat()}"
    if facts.booked_ids and not args.get("additional_booking_requested") and key not in facts.idempotency_keys:
        raise ToolError("This call already booked an appointment. Only book another if the caller asked for one.")
    if not scope.caller_phone:
        raise ToolError("The caller's number is hidden, so I can't book; offer a transfer to staff.")
    vehicle_id = None if args.get("vehicle_id") is None else arg.id_arg(args, "vehicle_id", "list_vehicles")
    new_caller = arg.caller_customer(scope) is None
    try:
        appointment = appointment_book_for_caller(
            phone=scope.caller_phone, customer_id=scope.customer_id, service_type=service, start=start,
            vehicle_id=vehicle_id, notes=str(args.get("notes", "")), idempotency_key=key)
    except BookingError as exc:
        raise ToolError(str(exc), outcome=CallOutcome.BOOKING_FAILED, for_caller=True) from exc
    finally:
        facts.caller_verified |= new_caller  # the record was made on this call: everything on it is theirs
    scope.customer_id = appointment.customer_id
    _noted(scope, appointment, AppointmentAction.BOOKED)
    if appointment.pk not in facts.booked_ids:
        facts.booked_ids.append(appointment.pk)
        facts.idempotency_keys.append(key)
    cost = appointment.total_cost
    price = spoken_price(cost) if cost is not None else None
    return ToolResult({"booked": True, **arg.appointment_summary(appointment, scope), "price": price},
                      outcome=CallOutcome.BOOKED)


@registry.register("list_appointments", "The caller's own upcoming appointments.")
@database_sync_to_async
def list_appointments(scope: ToolScope, args: dict[str, Any]) -> ToolResult:
    """The caller's own upcoming appointments, soonest first."""
    customer = arg.caller_customer(scope)
    if customer is None:
        return ToolResult({"appointments": []})
    rows = appointment_list_upcoming(customer_id=customer.pk, limit=10)
    return ToolResult({"appointments": [arg.appointment_summary(a, scope) for a in rows]})


@registry.register(
    "reschedule_appointment", "Move one of the caller's appointments to a new start (shop local time).",
    arg.params({"appointment_id": {"type": "integer"}, "new_start": {"type": "string"},
                "caller_confirmed": arg.CONFIRMED, "verification": arg.VERIFICATION},
               ["appointment_id", "new_start", "caller_confirmed"]),
    filler=CHECKING,
    writes=True,
)
@database_sync_to_async
def reschedule_appointment(scope: ToolScope, args: dict[str, Any]) -> ToolResult:
    """Move one of the caller's own appointments, under the same rules as a booking."""
    appointment = arg.own_appointment(scope, args)
    start = arg.parse_start(args.get("new_start"))
    require_verified(scope, args, arg.cars_of(appointment))
    require_agreement(scope, args, "reschedule", appointment.service_type, start)
    try:
        moved = appointment_reschedule(appointment=appointment, start=start)
    except BookingError as exc:
        raise ToolError(str(exc), for_caller=True) from exc
    arg.changed(scope, moved)
    if moved.scheduled_at != appointment.scheduled_at:
        _noted(scope, moved, AppointmentAction.MOVED)
    appointment = moved
    return ToolResult({"rescheduled": True, **arg.appointment_summary(appointment, scope)},
                      outcome=CallOutcome.RESCHEDULED)


@registry.register(
    "cancel_appointment", "Cancel one of the caller's appointments.",
    arg.params({"appointment_id": {"type": "integer"}, "caller_confirmed": arg.CONFIRMED,
                "verification": arg.VERIFICATION}, ["appointment_id", "caller_confirmed"]),
    writes=True,
)
@database_sync_to_async
def cancel_appointment(scope: ToolScope, args: dict[str, Any]) -> ToolResult:
    """Cancel one of the caller's own appointments, once they said yes."""
    appointment = arg.own_appointment(scope, args)
    require_verified(scope, args, arg.cars_of(appointment))
    require_agreement(scope, args, "cancel", appointment.service_type, appointment.scheduled_at)
    try:
        cancelled = appointment_cancel(appointment=appointment)
    except BookingError as exc:
        raise ToolError(str(exc), for_caller=True) from exc
    arg.changed(scope, cancelled)
    if appointment.status != cancelled.status:
        _noted(scope, cancelled, AppointmentAction.CANCELLED)
    appointment = cancelled
    if appointment.pk in scope.facts.booked_ids:  # booked and cancelled on this call: it no longer counts
        scope.facts.booked_ids.remove(appointment.pk)
    return ToolResult({"cancelled": True, **arg.appointment_summary(appointment, scope)},
                      outcome=CallOutcome.CANCELLED)


@registry.register("confirm_appointment", "Mark one of the caller's appointments as confirmed (they will come).",
                   arg.params({"appointment_id": {"type": "integer"}}, ["appointment_id"]), writes=True)
@database_sync_to_async
def confirm_appointment(scope: ToolScope, args: dict[str, Any]) -> ToolResult:
    """The caller says they will come to one of their own appointments."""
    appointment = appointment_confirm(appointment=arg.own_appointment(scope, args))
    if appointment.status not in ACTIVE_STATUSES:
        raise ToolError("That appointment is no longer active.", for_caller=True)
    arg.changed(scope, appointment)
    _noted(scope, appointment, AppointmentAction.CONFIRMED)
    return ToolResult({"confirmed": True, **arg.appointment_summary(appointment, scope)},
                      outcome=CallOutcome.CONFIRMED)


def _noted(scope: ToolScope, appointment: Appointment, action: str) -> None:
    """Tie the change to this call's log (and so the customer's text); the change itself stands if this fails."""
    try:
        call_appointment_record(call_sid=scope.call_sid, appointment=appointment, action=action)
    except Exception:
        logger.exception("call %s: the %s appointment could not be tied to the call log", scope.call_sid, action)
