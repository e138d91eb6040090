"""The shop's tools: what the phone agent can look up and change.

Every tool acts for the caller's own verified phone number (from Twilio, in `ToolContext`), never
for a number or customer id the model writes: the model can only reach the caller's own records.
Blocking work (database, calendar) runs in worker threads, never on the event loop.
"""

import logging
from datetime import date, datetime, timedelta
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from crm.models import ACTIVE_STATUSES, SERVICE_MENU, Appointment, Customer, ServiceType, Vehicle
from crm.selectors import appointment_intervals_booked, customer_cache_forget
from crm.services import (
    BookingError,
    appointment_book,
    appointment_cancel,
    appointment_confirm,
    appointment_reschedule,
    appointment_sync_calendar,
    customer_for_phone,
    customer_update,
    vehicle_add,
)
from scheduling.availability import Interval, free_starts
from scheduling.calendars import get_calendar
from scheduling.shop import WEEKDAY_KEYS, opening_hours, shop_timezone
from scheduling.spoken import spoken_day, spoken_time
from voice.agent.speech import spoken_price
from voice.agent.tools import ToolContext, ToolError, ToolRegistry

logger = logging.getLogger(__name__)

registry = ToolRegistry()

SERVICE_ENUM = {"type": "string", "enum": list(ServiceType.values),
                "description": "Service code from get_service_menu."}
CONFIRMED = {"type": "boolean", "description": "True only after you read the details back and the caller said yes."}
MAX_DAYS_PER_QUERY = 7
MAX_TIMES_PER_DAY = 8
CHECKING = "Let me check the calendar."


def _obj(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required or [], "additionalProperties": False}


# --- helpers -------------------------------------------------------------------------------------------


def _customer(context: ToolContext) -> Customer | None:
    if context.customer_id:
        return Customer.objects.filter(pk=context.customer_id).first()
    if context.caller_phone:
        customer = Customer.objects.filter(phone=context.caller_phone).first()
        if customer:
            context.customer_id = customer.pk
        return customer
    return None


def _require_customer(context: ToolContext) -> Customer:
    customer = _customer(context)
    if customer is None:
        raise ToolError("This caller has no record yet. Ask for their name and save it with update_customer first.")
    return customer


def _id_arg(args: dict[str, Any], field: str, source: str) -> int:
    """A record id the model passed back: a whole number (or its digits as text), nothing else."""
    value = args.get(field)
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip().isdecimal():
        raise ToolError(f"{field} must be a number from {source}.")
    return int(value)


def _text_arg(args: dict[str, Any], field: str) -> str | None:
    value = args.get(field)
    if value is not None and not isinstance(value, str):
        raise ToolError(f"{field} must be text.")
    return value


def _parse_day(text: Any, field: str) -> date:
    try:
        return date.fromisoformat(str(text))
    except ValueError as exc:
        raise ToolError(f"{field} must be a date like 2026-11-24.") from exc


def _parse_start(text: Any) -> datetime:
    """A start time the model wrote, read in the shop's timezone when it carries no offset."""
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError as exc:
        raise ToolError("start must be a date and time like 2026-11-24T09:30, in the shop's local time.") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=shop_timezone())
    return moment


def _service(args: dict[str, Any]) -> str:
    service = str(args.get("service", ""))
    if service not in SERVICE_MENU:
        raise ToolError(f"Unknown service {service!r}; use one of: {', '.join(ServiceType.values)}.")
    return service


def _blocked(start: datetime, end: datetime) -> list[Interval]:
    """Staff blocks on the shared calendar; if the calendar is unreachable, book on the database alone."""
    try:
        return get_calendar().blocked(start, end)
    except Exception as exc:  # noqa: BLE001 - availability must not die with the calendar
        logger.warning("calendar unavailable for availability (%s); using the shop's own records", type(exc).__name__)
        return []


def _appointment_summary(appointment: Appointment) -> dict[str, Any]:
    vehicle = appointment.vehicle
    return {
        "appointment_id": appointment.pk,
        "service": appointment.get_service_type_display(),
        "when": spoken_time(appointment.scheduled_at),
        "start": appointment.scheduled_at.astimezone(shop_timezone()).strftime("%Y-%m-%dT%H:%M"),
        "vehicle": f"{vehicle.year} {vehicle.make} {vehicle.model}".strip() if vehicle else None,
        "status": appointment.status,
    }


def _own_appointment(context: ToolContext, args: dict[str, Any]) -> Appointment:
    customer = _require_customer(context)
    appointment_id = _id_arg(args, "appointment_id", "list_appointments")
    appointment = Appointment.objects.select_related("vehicle").filter(pk=appointment_id, customer=customer).first()
    if appointment is None:
        raise ToolError("No such appointment on this caller's record; use list_appointments.")
    return appointment


def _require_confirmation(args: dict[str, Any], what: str) -> None:
    if args.get("caller_confirmed") is not True:
        raise ToolError(f"Before you {what}, read the details back to the caller and ask them to confirm; "
                        "then call again with caller_confirmed true.")


def _sync(appointment_id: int) -> None:
    """Put the change in the calendar now; if the calendar is down it stays pending for the sync task."""
    if not appointment_sync_calendar(appointment_id=appointment_id):
        from crm.tasks import schedule_calendar_retry

        schedule_calendar_retry(appointment_id)


# --- the tools ---------------------------------------------------------------------------------------------


@registry.register("get_current_time", "The current date and time at the shop.")
async def get_current_time(context: ToolContext, args: dict[str, Any]) -> dict[str, str]:
    now = timezone.now().astimezone(shop_timezone())
    return {"date": now.date().isoformat(), "weekday": now.strftime("%A"), "time": now.strftime("%H:%M"),
            "timezone": str(now.tzinfo)}


@registry.register("get_shop_info", "The shop's name, address, phone number and opening hours.")
async def get_shop_info(context: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    hours = {}
    for weekday in range(len(WEEKDAY_KEYS)):
        window = opening_hours(weekday)
        day = date(2024, 1, 1 + weekday).strftime("%A")  # 2024-01-01 was a Monday
        hours[day] = "closed" if window is None else (
            f"{window.opens.strftime('%-I:%M %p')} to {window.closes.strftime('%-I:%M %p')}")
    return {"name": settings.SHOP_NAME, "address": settings.SHOP_ADDRESS, "phone": settings.SHOP_PHONE,
            "hours": hours, "timezone": settings.SHOP_TIMEZONE}


@registry.register("get_service_menu", "Services the shop offers, with how long each takes and its price.")
async def get_service_menu(context: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    return {"services": [
        {"service": code, "name": label, "minutes": int(SERVICE_MENU[code].duration.total_seconds() // 60),
         "price": str(SERVICE_MENU[code].price), "spoken_price": spoken_price(SERVICE_MENU[code].price)}
        for code, label in ServiceType.choices
    ]}


@registry.register("lookup_customer", "The caller's own record (found by their phone number): name, email, cars, "
                   "and upcoming appointments.")
@database_sync_to_async
def lookup_customer(context: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    customer = _customer(context)
    if customer is None:
        return {"known": False, "note": "New caller; ask for their name when it is needed."}
    upcoming = customer.appointments.filter(status__in=ACTIVE_STATUSES, scheduled_at__gte=timezone.now())
    return {"known": True, "name": customer.name, "email": customer.email,
            "vehicles": [_vehicle_summary(v) for v in customer.vehicles.all()],
            "upcoming_appointments": upcoming.count()}


def _vehicle_summary(vehicle: Vehicle) -> dict[str, Any]:
    return {"vehicle_id": vehicle.pk, "description": f"{vehicle.year} {vehicle.make} {vehicle.model}".strip(),
            "license_plate": vehicle.license_plate, "vin_last6": vehicle.vin[-6:]}


@registry.register("update_customer", "Save the caller's name and/or email (creates their record if new).",
                   _obj({"name": {"type": "string"}, "email": {"type": "string"}}))
@database_sync_to_async
def update_customer_tool(context: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    if not context.caller_phone:
        raise ToolError("The caller's number is hidden, so I can't save a record; offer a transfer to staff.")
    customer = _customer(context) or customer_for_phone(phone=context.caller_phone)
    context.customer_id = customer.pk
    try:
        customer_update(customer=customer, name=_text_arg(args, "name"), email=_text_arg(args, "email"))
    except ValidationError as exc:
        raise ToolError(" ".join(exc.messages)) from exc
    customer_cache_forget(customer.phone)
    return {"saved": True, "name": customer.name, "email": customer.email}


@registry.register("list_vehicles", "The caller's cars on record.")
@database_sync_to_async
def list_vehicles(context: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    customer = _require_customer(context)
    return {"vehicles": [_vehicle_summary(v) for v in customer.vehicles.all()]}


@registry.register("add_vehicle", "Add a car to the caller's record. The VIN is checked and decoded for make "
                   "and year.", _obj({"vin": {"type": "string"}, "model": {"type": "string"},
                                      "license_plate": {"type": "string"}, "mileage": {"type": "integer"}},
                                     ["vin"]))
@database_sync_to_async
def add_vehicle(context: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    customer = _require_customer(context)
    mileage = args.get("mileage")
    try:
        vehicle = vehicle_add(customer=customer, vin=str(args.get("vin", "")), model=str(args.get("model", "")),
                              license_plate=str(args.get("license_plate", "")),
                              mileage=int(mileage) if isinstance(mileage, int | float) and mileage >= 0 else None)
    except ValidationError as exc:
        raise ToolError(" ".join(exc.messages)) from exc
    return {"added": True, **_vehicle_summary(vehicle)}


@registry.register(
    "check_availability",
    "Free start times for a service on a day or a range of days (at most 7). Dates are YYYY-MM-DD; give time "
    "(HH:MM) too when the caller asked for one, to learn whether exactly that start is free.",
    _obj({"service": SERVICE_ENUM, "date": {"type": "string"}, "end_date": {"type": "string"},
          "time": {"type": "string"}}, ["service", "date"]),
    filler=CHECKING,
)
@database_sync_to_async
def check_availability(context: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    service = _service(args)
    first = _parse_day(args.get("date"), "date")
    last = _parse_day(args.get("end_date"), "end_date") if args.get("end_date") else first
    today = timezone.now().astimezone(shop_timezone()).date()
    if last < today:
        raise ToolError("Those dates are in the past; ask the caller for a day from today on.")
    first = max(first, today)
    if last < first or (last - first).days >= MAX_DAYS_PER_QUERY:
        raise ToolError(f"Ask for at most {MAX_DAYS_PER_QUERY} days at a time, end_date not before date.")
    tz = shop_timezone()
    window_start = datetime.combine(first, datetime.min.time(), tzinfo=tz)
    window_end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    starts = free_starts(start_day=first, end_day=last, duration=SERVICE_MENU[service].duration,
                         booked=appointment_intervals_booked(start=window_start, end=window_end),
                         blocked=_blocked(window_start, window_end), now=timezone.now())
    days: dict[date, list[datetime]] = {}
    for start in starts:
        days.setdefault(start.astimezone(tz).date(), []).append(start)
    answer: dict[str, Any] = {
        "service": ServiceType(service).label,
        "minutes": int(SERVICE_MENU[service].duration.total_seconds() // 60),
        "days": [{"date": day.isoformat(), "day": spoken_day(day),
                  "times": [s.astimezone(tz).strftime("%H:%M") for s in _spread(times)]}
                 for day, times in sorted(days.items())],
        "note": "No free times in that range." if not starts else "Offer two or three of these, not the whole list.",
    }
    if args.get("time"):
        wanted = str(args["time"])[:5]
        free = any(s.astimezone(tz).date() == first and s.astimezone(tz).strftime("%H:%M") == wanted for s in starts)
        answer["requested"] = {"date": first.isoformat(), "time": wanted, "free": free}
    return answer


def _spread(times: list[datetime]) -> list[datetime]:
    """At most MAX_TIMES_PER_DAY times, spread over the day."""
    if len(times) <= MAX_TIMES_PER_DAY:
        return times
    step = len(times) / MAX_TIMES_PER_DAY
    return [times[int(i * step)] for i in range(MAX_TIMES_PER_DAY)]


@registry.register(
    "book_appointment",
    "Book a service for the caller. start is the shop's local time, YYYY-MM-DDTHH:MM.",
    _obj({"service": SERVICE_ENUM, "start": {"type": "string"}, "vehicle_id": {"type": "integer"},
          "notes": {"type": "string"}, "caller_confirmed": CONFIRMED,
          "additional_booking_requested": {"type": "boolean",
                                           "description": "True only if the caller asked for another booking."}},
         ["service", "start", "caller_confirmed"]),
    filler="One moment while I book that.",
)
@database_sync_to_async
def book_appointment(context: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    service = _service(args)
    start = _parse_start(args.get("start"))
    _require_confirmation(args, "book")
    booked_here = context.collected.setdefault("booked_ids", [])
    key = f"{context.call_sid}:{service}:{start.isoformat()}"
    if booked_here and not args.get("additional_booking_requested") and key not in context.collected.get("keys", []):
        raise ToolError("This call already booked an appointment. Only book another if the caller asked for one.")
    if not context.caller_phone:
        raise ToolError("The caller's number is hidden, so I can't book; offer a transfer to staff.")
    customer = _customer(context) or customer_for_phone(phone=context.caller_phone)
    context.customer_id = customer.pk
    vehicle = None
    if args.get("vehicle_id") is not None:
        vehicle = customer.vehicles.filter(pk=_id_arg(args, "vehicle_id", "list_vehicles")).first()
        if vehicle is None:
            raise ToolError("That vehicle_id is not one of the caller's cars; use list_vehicles.")
    day_start = datetime.combine(start.astimezone(shop_timezone()).date(), datetime.min.time(), tzinfo=shop_timezone())
    try:
        appointment = appointment_book(customer=customer, service_type=service, start=start, vehicle=vehicle,
                                       notes=str(args.get("notes", "")), idempotency_key=key,
                                       blocked=_blocked(day_start, day_start + timedelta(days=1)))
    except BookingError as exc:
        raise ToolError(str(exc)) from exc
    _sync(appointment.pk)
    if appointment.pk not in booked_here:
        booked_here.append(appointment.pk)
        context.collected.setdefault("keys", []).append(key)
    context.outcome = "booked"
    cost = appointment.total_cost
    price = spoken_price(cost) if cost is not None else None
    return {"booked": True, **_appointment_summary(appointment), "price": price}


@registry.register("list_appointments", "The caller's own upcoming appointments.")
@database_sync_to_async
def list_appointments(context: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    customer = _customer(context)
    if customer is None:
        return {"appointments": []}
    rows = customer.appointments.select_related("vehicle").filter(
        status__in=ACTIVE_STATUSES, scheduled_at__gte=timezone.now()).order_by("scheduled_at")[:10]
    return {"appointments": [_appointment_summary(a) for a in rows]}


@registry.register(
    "reschedule_appointment", "Move one of the caller's appointments to a new start (shop local time).",
    _obj({"appointment_id": {"type": "integer"}, "new_start": {"type": "string"}, "caller_confirmed": CONFIRMED},
         ["appointment_id", "new_start", "caller_confirmed"]),
    filler=CHECKING,
)
@database_sync_to_async
def reschedule_appointment(context: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    appointment = _own_appointment(context, args)
    start = _parse_start(args.get("new_start"))
    _require_confirmation(args, "reschedule")
    day_start = datetime.combine(start.astimezone(shop_timezone()).date(), datetime.min.time(), tzinfo=shop_timezone())
    try:
        appointment = appointment_reschedule(appointment=appointment, start=start,
                                             blocked=_blocked(day_start, day_start + timedelta(days=1)))
    except BookingError as exc:
        raise ToolError(str(exc)) from exc
    _sync(appointment.pk)
    context.outcome = "rescheduled"
    return {"rescheduled": True, **_appointment_summary(appointment)}


@registry.register(
    "cancel_appointment", "Cancel one of the caller's appointments.",
    _obj({"appointment_id": {"type": "integer"}, "caller_confirmed": CONFIRMED},
         ["appointment_id", "caller_confirmed"]),
)
@database_sync_to_async
def cancel_appointment(context: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    appointment = _own_appointment(context, args)
    _require_confirmation(args, "cancel")
    try:
        appointment = appointment_cancel(appointment=appointment)
    except BookingError as exc:
        raise ToolError(str(exc)) from exc
    _sync(appointment.pk)
    context.outcome = "cancelled"
    return {"cancelled": True, **_appointment_summary(appointment)}


@registry.register("confirm_appointment", "Mark one of the caller's appointments as confirmed (they will come).",
                   _obj({"appointment_id": {"type": "integer"}}, ["appointment_id"]))
@database_sync_to_async
def confirm_appointment(context: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    appointment = appointment_confirm(appointment=_own_appointment(context, args))
    if appointment.status not in ACTIVE_STATUSES:
        raise ToolError("That appointment is no longer active.")
    context.outcome = "confirmed"
    return {"confirmed": True, **_appointment_summary(appointment)}


@registry.register("transfer_to_human", "Hand the caller to a person at the front desk after your next sentence.",
                   _obj({"reason": {"type": "string"}}))
async def transfer_to_human(context: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    context.transfer = True
    context.end_call = True
    context.outcome = "transferred"
    return {"transferring": True, "say": "Tell the caller you're connecting them to the front desk now."}


@registry.register("end_call", "Hang up after your goodbye, once the caller has nothing else.")
async def end_call(context: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    context.end_call = True
    return {"ending": True, "say": "Say a short goodbye."}
