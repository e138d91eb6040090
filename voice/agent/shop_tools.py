"""The shop's tools: what the phone agent can look up and change.

Each tool parses what the model sent, calls crm's selectors and services, and sums up the result for
the model. It acts for the caller in its `ToolScope` (the verified number from Twilio), never for a
number or customer id the model writes: the model can only reach the caller's own records. Changing a
record already on file, or reading the caller's cars, needs a verified caller (`verification`). The
calendar and booking tools are in `appointment_tools`, on the same `registry`. Blocking work (database,
calendar) runs in worker threads, never on the event loop.
"""

from datetime import date
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.core.exceptions import ValidationError

from crm.models import SERVICE_MENU, ServiceType
from crm.selectors import appointment_count_upcoming, vehicle_list_for_customer
from crm.services import customer_for_caller, customer_update, vehicle_add, vehicle_update
from scheduling.shop import WEEKDAY_KEYS, opening_hours, shop_now
from voice.agent import appointment_tools  # noqa: F401  (adds the calendar and booking tools to the registry)
from voice.agent import tool_arguments as arg
from voice.agent.caller_data import clean
from voice.agent.dictation import dictated, mileage_from_speech, read_back
from voice.agent.shop_registry import registry
from voice.agent.speech import spoken_price
from voice.agent.tool_registry import ToolError, ToolResult
from voice.agent.verification import PRIVATE, require_verified, verification_needed
from voice.call_record import CallIntent, ToolScope

__all__ = ["registry"]


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
    upcoming = appointment_count_upcoming(customer_id=customer.pk)
    if verification_needed(scope):  # a spoofed number learns nothing that would answer the security question
        return ToolResult({"known": True, "name": clean(customer.name), "upcoming_appointments": upcoming,
                           "verified": False})
    return ToolResult({"known": True, "name": clean(customer.name), "email": clean(customer.email),
                       "vehicles": [arg.vehicle_summary(v) for v in vehicle_list_for_customer(customer_id=customer.pk)],
                       "upcoming_appointments": upcoming})


@registry.register("update_customer", "Save the caller's name and/or email (creates their record if new).",
                   arg.params({"name": {"type": "string"}, "email": {"type": "string"},
                               "verification": arg.VERIFICATION}), writes=True)
@database_sync_to_async
def update_customer_tool(scope: ToolScope, args: dict[str, Any]) -> ToolResult:
    """Save what the caller said about themselves on their own record."""
    if not scope.caller_phone:
        raise ToolError("The caller's number is hidden, so I can't save a record; offer a transfer to staff.")
    name, email = arg.text_arg(args, "name"), arg.text_arg(args, "email")
    existing = arg.caller_customer(scope)
    if existing is not None:
        require_verified(scope, args, vehicle_list_for_customer(customer_id=existing.pk))
    customer = existing or customer_for_caller(phone=scope.caller_phone, customer_id=scope.customer_id)
    scope.customer_id = customer.pk
    scope.facts.caller_verified |= existing is None  # the record was made on this call: everything on it is theirs
    try:
        customer_update(customer=customer, name=name, email=email)
    except ValidationError as exc:
        raise ToolError(" ".join(exc.messages)) from exc
    return ToolResult({"saved": True, "name": clean(customer.name), "email": clean(customer.email)})


@registry.register("list_vehicles", "The caller's cars on record.", arg.params({"verification": arg.VERIFICATION}))
@database_sync_to_async
def list_vehicles(scope: ToolScope, args: dict[str, Any]) -> ToolResult:
    """The caller's own cars (once the caller is verified: they are the answer to the security question)."""
    customer = arg.require_customer(scope)
    vehicles = vehicle_list_for_customer(customer_id=customer.pk)
    if vehicles:  # no cars: nothing to keep private
        require_verified(scope, args, vehicles, ask=PRIVATE)
    return ToolResult({"vehicles": [arg.vehicle_summary(v) for v in vehicles]})


@registry.register("add_vehicle", "Add a car to the caller's record: year, make and model, with the VIN or plate "
                   "if the caller offers them (a VIN is checked and decoded for make and year). Pass a VIN or plate "
                   "as the caller said it, spelled out or not ('one H G C', 'hotel golf', 'double seven'); read "
                   "the `read_back` groups to the caller to confirm.",
                   arg.params({"year": {"type": "integer"}, "make": {"type": "string"}, "model": {"type": "string"},
                               "vin": {"type": "string"}, "license_plate": {"type": "string"},
                               "plate_state": {"type": "string"}, "mileage": {"type": "integer"},
                               "verification": arg.VERIFICATION}), writes=True)
@database_sync_to_async
def add_vehicle(scope: ToolScope, args: dict[str, Any]) -> ToolResult:
    """Add a car to the caller's own record."""
    customer = arg.require_customer(scope)
    require_verified(scope, args, vehicle_list_for_customer(customer_id=customer.pk))
    year, vin = args.get("year"), dictated(str(args.get("vin") or ""))
    try:
        vehicle = vehicle_add(customer=customer, vin=vin, model=str(args.get("model") or ""),
                              year=year if isinstance(year, int) and not isinstance(year, bool) else None,
                              make=str(args.get("make") or ""),
                              license_plate=dictated(str(args.get("license_plate") or "")),
                              plate_state=str(args.get("plate_state") or "")[:2], mileage=_miles(args.get("mileage")))
    except ValidationError as exc:
        heard = f" I heard {read_back(vin)}; ask the caller for the VIN again." if vin else ""
        raise ToolError(" ".join(exc.messages) + heard) from exc
    return ToolResult({"added": True, **arg.vehicle_summary(vehicle), **({"read_back": read_back(vin)} if vin else {})})


@registry.register("update_vehicle", "Update one of the caller's cars: its mileage now (as said: '81,500', 'eighty "
                   "one thousand'), its plate (spelled or not) and the plate's state.",
                   arg.params({"vehicle_id": {"type": "integer"}, "mileage": {"type": ["integer", "string"]},
                               "license_plate": {"type": "string"}, "plate_state": {"type": "string"},
                               "verification": arg.VERIFICATION}, ["vehicle_id"]), writes=True)
@database_sync_to_async
def update_vehicle(scope: ToolScope, args: dict[str, Any]) -> ToolResult:
    """Record the mileage or plate the caller gave for one of their own cars."""
    customer = arg.require_customer(scope)
    cars = vehicle_list_for_customer(customer_id=customer.pk)
    require_verified(scope, args, cars)
    car = next((c for c in cars if c.pk == arg.id_arg(args, "vehicle_id", "list_vehicles")), None)
    if car is None:
        raise ToolError("No such car on this caller's record; use list_vehicles.")
    plate = dictated(str(args.get("license_plate") or ""))
    try:
        car = vehicle_update(vehicle=car, mileage=_miles(args.get("mileage")), license_plate=plate or None,
                             plate_state=str(args.get("plate_state") or "")[:2] or None)
    except ValidationError as exc:
        raise ToolError(" ".join(exc.messages), for_caller=True) from exc
    return ToolResult({"updated": True, **arg.vehicle_summary(car), "mileage": car.mileage})


def _miles(value: Any) -> int | None:
    """Mileage as the model passed it: a number, or the caller's words."""
    if isinstance(value, bool) or value is None:
        return None
    miles = int(value) if isinstance(value, int | float) else mileage_from_speech(str(value))
    return miles if miles is not None and 0 <= miles < 2_000_000 else None


@registry.register("transfer_to_human", "Hand the caller to a person at the front desk after your next sentence.",
                   arg.params({"reason": {"type": "string"}}))
async def transfer_to_human(scope: ToolScope, args: dict[str, Any]) -> ToolResult:
    """Ask for the front desk once the agent's next sentence has been heard (the call record ends the call).
    With no front desk configured, the caller's next words are taken as a message for a call back."""
    if not settings.FRONT_DESK_NUMBER:
        return ToolResult({"transferring": False, "front_desk": False,
                           "say": "No one can take the call now. Ask what message to leave: the caller's next words "
                                  "are saved for a call back to this number."}, intent=CallIntent.MESSAGE)
    return ToolResult({"transferring": True, "say": "Tell the caller you're connecting them to the front desk now."},
                      intent=CallIntent.TRANSFER)


@registry.register("end_call", "Hang up after your goodbye, once the caller has nothing else.")
async def end_call(scope: ToolScope, args: dict[str, Any]) -> ToolResult:
    """Hang up once the goodbye has been heard."""
    return ToolResult({"ending": True, "say": "Say a short goodbye."}, intent=CallIntent.END)
