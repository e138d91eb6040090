"""Helpers of the shop's tools: reading what the model sent, finding the caller's own records, and
summing up records for the model. Errors are `ToolError`s, short enough to act on or say."""

from datetime import date, datetime
from typing import Any

from crm.models import SERVICE_MENU, Appointment, Customer, ServiceType, Vehicle
from crm.selectors import appointment_get_for_customer, customer_get_for_caller, vehicle_list_for_customer
from scheduling.shop import shop_timezone
from scheduling.spoken import spoken_time
from voice.agent.caller_data import clean
from voice.agent.tool_registry import ToolError
from voice.agent.verification import verification_needed
from voice.call_record import ToolScope

SERVICE_ENUM = {"type": "string", "enum": list(ServiceType.values),
                "description": "Service code from get_service_menu."}
CONFIRMED = {"type": "boolean", "description": "True only after you read the details back and the caller said yes."}
VERIFICATION = {"type": "string", "description": "The caller's answer to the security question (the car's make or "
                "model, or the last 3 or 4 characters of its plate or VIN), once a tool asked for it."}
MAX_TIMES_PER_DAY = 8


def params(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required or [], "additionalProperties": False}


# --- parsing what the model sent ---------------------------------------------------------------------------


def id_arg(args: dict[str, Any], field: str, source: str) -> int:
    """A record id the model passed back: a whole number (or its digits as text), nothing else."""
    value = args.get(field)
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip().isdecimal():
        raise ToolError(f"{field} must be a number from {source}.")
    return int(value)


def text_arg(args: dict[str, Any], field: str) -> str | None:
    value = args.get(field)
    if value is not None and not isinstance(value, str):
        raise ToolError(f"{field} must be text.")
    return value


def parse_day(text: Any, field: str) -> date:
    try:
        return date.fromisoformat(str(text))
    except ValueError as exc:
        raise ToolError(f"{field} must be a date like 2026-11-24.") from exc


def parse_start(text: Any) -> datetime:
    """A start time the model wrote, read in the shop's timezone when it carries no offset."""
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError as exc:
        raise ToolError("start must be a date and time like 2026-11-24T09:30, in the shop's local time.") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=shop_timezone())
    return moment


def service_arg(args: dict[str, Any]) -> str:
    service = str(args.get("service", ""))
    if service not in SERVICE_MENU:
        raise ToolError(f"Unknown service {service!r}; use one of: {', '.join(ServiceType.values)}.")
    return service


# --- the caller's own records ------------------------------------------------------------------------------


def caller_customer(scope: ToolScope) -> Customer | None:
    customer = customer_get_for_caller(phone=scope.caller_phone, customer_id=scope.customer_id)
    if customer is not None:
        scope.customer_id = customer.pk
    return customer


def require_customer(scope: ToolScope) -> Customer:
    customer = caller_customer(scope)
    if customer is None:
        raise ToolError("This caller has no record yet. Ask for their name and save it with update_customer first.")
    return customer


def own_appointment(scope: ToolScope, args: dict[str, Any]) -> Appointment:
    customer = require_customer(scope)
    appointment_id = id_arg(args, "appointment_id", "list_appointments")
    appointment = appointment_get_for_customer(customer_id=customer.pk, appointment_id=appointment_id)
    if appointment is None:
        raise ToolError("No such appointment on this caller's record; use list_appointments.")
    return appointment


def changed(scope: ToolScope, appointment: Appointment) -> None:
    if appointment.pk not in scope.facts.changed_ids:
        scope.facts.changed_ids.append(appointment.pk)


# --- summaries for the model -------------------------------------------------------------------------------


def appointment_summary(appointment: Appointment, scope: ToolScope) -> dict[str, Any]:
    """The appointment for the model; its car only for a verified caller (it answers the security question)."""
    vehicle = appointment.vehicle if not verification_needed(scope) else None
    return {
        "appointment_id": appointment.pk,
        "service": appointment.get_service_type_display(),
        "when": spoken_time(appointment.scheduled_at),
        "start": appointment.scheduled_at.astimezone(shop_timezone()).strftime("%Y-%m-%dT%H:%M"),
        "vehicle": clean(vehicle.label) if vehicle else None,
        "status": appointment.status,
    }


def cars_of(appointment: Appointment) -> list[Vehicle]:
    """The cars a caller may name to prove the appointment is theirs: its own, else the customer's."""
    if appointment.vehicle is not None:
        return [appointment.vehicle]
    return vehicle_list_for_customer(customer_id=appointment.customer_id)


def vehicle_summary(vehicle: Vehicle) -> dict[str, Any]:
    return {"vehicle_id": vehicle.pk, "description": clean(vehicle.label),
            "license_plate": clean(vehicle.license_plate), "vin_last6": (vehicle.vin or "")[-6:]}


def spread(times: list[datetime]) -> list[datetime]:
    """At most MAX_TIMES_PER_DAY times, spread over the day."""
    if len(times) <= MAX_TIMES_PER_DAY:
        return times
    step = len(times) / MAX_TIMES_PER_DAY
    return [times[int(i * step)] for i in range(MAX_TIMES_PER_DAY)]
