"""The shop's tools: what the phone agent can look up and change.

Each tool parses what the model sent, calls crm's selectors and services, and sums up the result for
the model. It acts for the caller in its `ToolScope` (the verified number from Twilio), never for a
number or customer id the model writes: the model can only reach the caller's own records. Blocking
work (database, calendar) runs in worker threads, never on the event loop.
"""

from datetime import date, datetime
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.core.exceptions import ValidationError

from crm.models import ACTIVE_STATUSES, SERVICE_MENU, CallOutcome, ServiceType
from crm.selectors import (
    appointment_count_upcoming,
    appointment_free_starts,
    appointment_list_upcoming,
    vehicle_list_for_customer,
)
from crm.services import (
    BookingError,
    appointment_book_for_caller,
    appointment_cancel,
    appointment_confirm,
    appointment_reschedule,
    customer_for_caller,
    customer_update,
    vehicle_add,
)
from scheduling.shop import WEEKDAY_KEYS, opening_hours, shop_now, shop_timezone, shop_today
from scheduling.spoken import spoken_day
from voice.agent import tool_arguments as arg
from voice.agent.caller_data import clean
from voice.agent.confirmation import require_agreement
from voice.agent.speech import spoken_price
from voice.agent.tool_registry import ToolError, ToolRegistry, ToolResult
from voice.call_record import CallIntent, ToolScope

registry = ToolRegistry()

MAX_DAYS_PER_QUERY = 7
CHECKING = "Let me check the calendar."


# --- the tools ---------------------------------------------------------------------------------------------


@registry.register("get_current_time", "The current date and time at the shop.")
async def get_current_time(scope: ToolScope, args: dict[str, Any]) -> ToolResult:
    """The shop's wall clock, so the model never guesses today's date."""
    now = shop_now()
    return ToolResult({"date": now.date().isoformat(), "weekday": now.strftime("%A"), "time": now.strftime("%H:%M"),
                       "timezone": str(now.tzinfo)})


@registry.register("get_shop_info", "The shop's name, address, phone number and opening hours.")
async def get_shop_info(scope: ToolScope, args: dict[str, Any]) -> ToolResult:
    """Name, address, phone and the week's opening hours, from settings."""
    hours = {}
    for weekday in range(len(WEEKDAY_KEYS)):
        window = opening_hours(weekday)
        day = date(2024, 1, 1 + weekday).strftime("%A")  # 2024-01-01 was a Monday
        hours[day] = "closed" if window is None else (
            f"{window.opens.strftime('%-I:%M %p')} to {window.closes.strftime('%-I:%M %p')}")
    return ToolResult({"name": settings.SHOP_NAME, "address": settings.SHOP_ADDRESS, "phone": settings.SHOP_PHONE,
                       "hours": hours, "timezone": settings.SHOP_TIMEZONE})


@registry.register("get_service_menu", "Services the shop offers, with how long each takes and its price.")
async def get_service_menu(scope: ToolScope, args: dict[str, Any]) -> ToolResult:
    """Every service with its length and price (also as spoken words)."""
    return ToolResult({"services": [
        {"service": code, "name": label, "minutes": int(SERVICE_MENU[code].duration.total_seconds() // 60),
         "price": str(SERVICE_MENU[code].price), "spoken_price": spoken_price(SERVICE_MENU[code].price)}
        for code, label in ServiceType.choices
    ]})


@registry.register("lookup_customer", "The caller's own record (found by their phone number): name, email, cars, "
                   "and upcoming appointments.")
@database_sync_to_async
def lookup_customer(scope: ToolScope, args: dict[str, Any]) -> ToolResult:
    """The caller's own record, whatever number or id the model asks about."""
    customer = arg.caller_customer(scope)
    if customer is None:
        return ToolResult({"known": False, "note": "New caller; ask for their name when it is needed."})
    return ToolResult({"known": True, "name": clean(customer.name), "email": clean(customer.email),
                       "vehicles": [arg.vehicle_summary(v) for v in vehicle_list_for_customer(customer_id=customer.pk)],
                       "upcoming_appointments": appointment_count_upcoming(customer_id=customer.pk)})


@registry.register("update_customer", "Save the caller's name and/or email (creates their record if new).",
                   arg.params({"name": {"type": "string"}, "email": {"type": "string"}}), writes=True)
@database_sync_to_async
def update_customer_tool(scope: ToolScope, args: dict[str, Any]) -> ToolResult:
    """Save what the caller said about themselves on their own record."""
    if not scope.caller_phone:
        raise ToolError("The caller's number is hidden, so I can't save a record; offer a transfer to staff.")
    name, email = arg.text_arg(args, "name"), arg.text_arg(args, "email")
    customer = customer_for_caller(phone=scope.caller_phone, customer_id=scope.customer_id)
    scope.customer_id = customer.pk
    try:
        customer_update(customer=customer, name=name, email=email)
    except ValidationError as exc:
        raise ToolError(" ".join(exc.messages)) from exc
    return ToolResult({"saved": True, "name": clean(customer.name), "email": clean(customer.email)})


@registry.register("list_vehicles", "The caller's cars on record.")
@database_sync_to_async
def list_vehicles(scope: ToolScope, args: dict[str, Any]) -> ToolResult:
    """The caller's own cars."""
    customer = arg.require_customer(scope)
    vehicles = vehicle_list_for_customer(customer_id=customer.pk)
    return ToolResult({"vehicles": [arg.vehicle_summary(v) for v in vehicles]})


@registry.register("add_vehicle", "Add a car to the caller's record. The VIN is checked and decoded for make "
                   "and year.", arg.params({"vin": {"type": "string"}, "model": {"type": "string"},
                                            "license_plate": {"type": "string"}, "mileage": {"type": "integer"}},
                                           ["vin"]), writes=True)
@database_sync_to_async
def add_vehicle(scope: ToolScope, args: dict[str, Any]) -> ToolResult:
    """Add a car, by VIN, to the caller's own record."""
    customer = arg.require_customer(scope)
    mileage = args.get("mileage")
    try:
        vehicle = vehicle_add(customer=customer, vin=str(args.get("vin", "")), model=str(args.get("model", "")),
                              license_plate=str(args.get("license_plate", "")),
                              mileage=int(mileage) if isinstance(mileage, int | float) and mileage >= 0 else None)
    except ValidationError as exc:
        raise ToolError(" ".join(exc.messages)) from exc
    return ToolResult({"added": True, **arg.vehicle_summary(vehicle)})


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
    try:
        appointment = appointment_book_for_caller(
            phone=scope.caller_phone, customer_id=scope.customer_id, service_type=service, start=start,
            vehicle_id=vehicle_id, notes=str(args.get("notes", "")), idempotency_key=key)
    except BookingError as exc:
        raise ToolError(str(exc)) from exc
    scope.customer_id = appointment.customer_id
    if appointment.pk not in facts.booked_ids:
        facts.booked_ids.append(appointment.pk)
        facts.idempotency_keys.append(key)
    cost = appointment.total_cost
    price = spoken_price(cost) if cost is not None else None
    return ToolResult({"booked": True, **arg.appointment_summary(appointment), "price": price},
                      outcome=CallOutcome.BOOKED)


@registry.register("list_appointments", "The caller's own upcoming appointments.")
@database_sync_to_async
def list_appointments(scope: ToolScope, args: dict[str, Any]) -> ToolResult:
    """The caller's own upcoming appointments, soonest first."""
    customer = arg.caller_customer(scope)
    if customer is None:
        return ToolResult({"appointments": []})
    rows = appointment_list_upcoming(customer_id=customer.pk, limit=10)
    return ToolResult({"appointments": [arg.appointment_summary(a) for a in rows]})


@registry.register(
    "reschedule_appointment", "Move one of the caller's appointments to a new start (shop local time).",
    arg.params({"appointment_id": {"type": "integer"}, "new_start": {"type": "string"},
                "caller_confirmed": arg.CONFIRMED}, ["appointment_id", "new_start", "caller_confirmed"]),
    filler=CHECKING,
    writes=True,
)
@database_sync_to_async
def reschedule_appointment(scope: ToolScope, args: dict[str, Any]) -> ToolResult:
    """Move one of the caller's own appointments, under the same rules as a booking."""
    appointment = arg.own_appointment(scope, args)
    start = arg.parse_start(args.get("new_start"))
    require_agreement(scope, args, "reschedule", appointment.service_type, start)
    try:
        appointment = appointment_reschedule(appointment=appointment, start=start)
    except BookingError as exc:
        raise ToolError(str(exc)) from exc
    arg.changed(scope, appointment)
    return ToolResult({"rescheduled": True, **arg.appointment_summary(appointment)}, outcome=CallOutcome.RESCHEDULED)


@registry.register(
    "cancel_appointment", "Cancel one of the caller's appointments.",
    arg.params({"appointment_id": {"type": "integer"}, "caller_confirmed": arg.CONFIRMED},
               ["appointment_id", "caller_confirmed"]),
    writes=True,
)
@database_sync_to_async
def cancel_appointment(scope: ToolScope, args: dict[str, Any]) -> ToolResult:
    """Cancel one of the caller's own appointments, once they said yes."""
    appointment = arg.own_appointment(scope, args)
    require_agreement(scope, args, "cancel", appointment.service_type, appointment.scheduled_at)
    try:
        appointment = appointment_cancel(appointment=appointment)
    except BookingError as exc:
        raise ToolError(str(exc)) from exc
    arg.changed(scope, appointment)
    return ToolResult({"cancelled": True, **arg.appointment_summary(appointment)}, outcome=CallOutcome.CANCELLED)


@registry.register("confirm_appointment", "Mark one of the caller's appointments as confirmed (they will come).",
                   arg.params({"appointment_id": {"type": "integer"}}, ["appointment_id"]), writes=True)
@database_sync_to_async
def confirm_appointment(scope: ToolScope, args: dict[str, Any]) -> ToolResult:
    """The caller says they will come to one of their own appointments."""
    appointment = appointment_confirm(appointment=arg.own_appointment(scope, args))
    if appointment.status not in ACTIVE_STATUSES:
        raise ToolError("That appointment is no longer active.")
    arg.changed(scope, appointment)
    return ToolResult({"confirmed": True, **arg.appointment_summary(appointment)}, outcome=CallOutcome.CONFIRMED)


@registry.register("transfer_to_human", "Hand the caller to a person at the front desk after your next sentence.",
                   arg.params({"reason": {"type": "string"}}))
async def transfer_to_human(scope: ToolScope, args: dict[str, Any]) -> ToolResult:
    """Ask for the front desk once the agent's next sentence has been heard (the call record ends the call)."""
    return ToolResult({"transferring": True, "say": "Tell the caller you're connecting them to the front desk now."},
                      intent=CallIntent.TRANSFER)


@registry.register("end_call", "Hang up after your goodbye, once the caller has nothing else.")
async def end_call(scope: ToolScope, args: dict[str, Any]) -> ToolResult:
    """Hang up once the goodbye has been heard."""
    return ToolResult({"ending": True, "say": "Say a short goodbye."}, intent=CallIntent.END)
