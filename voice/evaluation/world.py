"""A scenario's CRM before the call (the caller's record, cars and appointments, other customers'), and a
snapshot of every appointment row to compare with after it."""

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from crm.models import SERVICE_MENU, Appointment, CallbackRequest, CallLog, Customer, Vehicle
from voice.evaluation.scenarios import Scenario

_VIN_CHARS = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"
_VIN_VALUES = dict(zip("ABCDEFGHJKLMNPRSTUVWXYZ", (1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 7, 9, 2, 3, 4, 5, 6, 7, 8, 9),
                       strict=True))
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


@dataclass(frozen=True, slots=True)
class Row:
    """What the judge compares of one appointment."""

    service: str
    start: datetime
    status: str
    vehicle_id: int | None
    customer_id: int


@dataclass(slots=True)
class World:
    """The rows a scenario made, by the keys the scenario file uses."""

    customer_id: int | None
    cars: dict[str, int]  # car key -> Vehicle id
    appointments: dict[str, int]  # appointment key -> Appointment id


def vin_check_digit(vin: str) -> str:
    """The NHTSA check digit of a 17-character VIN (the 9th character itself is ignored)."""
    total = sum((int(c) if c.isdigit() else _VIN_VALUES[c]) * w for c, w in zip(vin, _VIN_WEIGHTS, strict=True))
    return "X" if total % 11 == 10 else str(total % 11)


def made_up_vin(seed: str) -> str:
    """A valid VIN derived from `seed`, the same every run (model-year code 'K')."""
    digest = hashlib.sha256(seed.encode()).digest()
    body = "1HG" + "".join(_VIN_CHARS[b % len(_VIN_CHARS)] for b in digest[:5]) + "0K"
    vin = body + "".join(_VIN_CHARS[b % len(_VIN_CHARS)] for b in digest[5:12])
    return vin[:8] + vin_check_digit(vin) + vin[9:]


def build(scenario: Scenario) -> World:
    """Create the scenario's CRM rows (the caller's, then others'), saved as the admin would."""
    for n, other in enumerate(scenario.others):
        _other(other, f"{scenario.name}-other-{n}")
    if scenario.customer_name is None:
        return World(customer_id=None, cars={}, appointments={})
    customer = Customer.objects.create(phone=scenario.caller, name=scenario.customer_name)
    cars = {}
    for car in scenario.cars:
        vehicle = Vehicle(customer=customer, year=car.year, make=car.make, model=car.model,
                          vin=car.vin or made_up_vin(f"{scenario.name}-{car.key}"), license_plate=car.plate)
        vehicle.full_clean()
        vehicle.save()
        cars[car.key] = vehicle.pk
    appointments = {}
    for a in scenario.appointments:
        row = Appointment.objects.create(customer=customer, vehicle_id=cars.get(a.car), service_type=a.service,
                                         scheduled_at=a.start, duration=SERVICE_MENU[a.service].duration,
                                         total_cost=SERVICE_MENU[a.service].price, status=a.status)
        appointments[a.key] = row.pk
    return World(customer_id=customer.pk, cars=cars, appointments=appointments)


def _other(raw: dict[str, Any], seed: str) -> None:
    customer = Customer.objects.create(phone=str(raw["phone"]), name=str(raw.get("name", "Another Customer")))
    vehicle = Vehicle.objects.create(customer=customer, year=2017, make="Toyota", model="Corolla",
                                     vin=made_up_vin(seed))
    for a in raw.get("appointments", ()):
        service = str(a["service"])
        start = datetime.fromisoformat(str(a["start"]))
        Appointment.objects.create(customer=customer, vehicle=vehicle, service_type=service,
                                   scheduled_at=timezone.make_aware(start) if timezone.is_naive(start) else start,
                                   duration=SERVICE_MENU[service].duration)


def snapshot() -> dict[int, Row]:
    """Every appointment row, by id."""
    return {a.pk: Row(service=a.service_type, start=a.scheduled_at, status=a.status, vehicle_id=a.vehicle_id,
                      customer_id=a.customer_id) for a in Appointment.objects.all()}


def wipe(scenario: Scenario, call_sid: str) -> None:
    """Remove what the scenario and its call left: its numbers' customers (with their cars, appointments and
    texts), the call's log and any message taken on it."""
    phones = [scenario.caller, *(str(other.get("phone")) for other in scenario.others)]
    CallbackRequest.objects.filter(call_sid=call_sid).delete()
    CallLog.objects.filter(call_sid=call_sid).delete()
    Customer.objects.filter(phone__in=phones).delete()
