"""Judges a finished scenario by the database and the call record: the rows the call must have made or changed,
and (unless the scenario allows it) no other row created or changed. Words are never judged."""

from collections.abc import Iterable
from datetime import datetime

from django.utils import timezone

from crm.models import AppointmentStatus, CallbackRequest, Customer, Vehicle
from voice.call_record import CallRecord
from voice.evaluation.scenarios import Booked, CustomerExpected, Scenario
from voice.evaluation.world import Row, World


def failures(scenario: Scenario, world: World, before: dict[int, Row], after: dict[int, Row],
             record: CallRecord) -> list[str]:
    """What the end state got wrong, most telling first; empty when the scenario passed."""
    expect = scenario.expect
    problems: list[str] = []
    accounted: set[int] = set()
    new = {pk: row for pk, row in after.items() if pk not in before}
    for wanted in expect.booked:
        match = next((pk for pk, row in new.items() if pk not in accounted and _fits(wanted, row, world)), None)
        if match is None:
            problems.append(f"expected a booking {_describe(wanted, world)}; new rows: {_rows(new.values())}")
        else:
            accounted.add(match)
    for key in expect.cancelled:
        pk = world.appointments[key]
        accounted.add(pk)
        if after[pk].status != AppointmentStatus.CANCELLED:
            problems.append(f"expected {key!r} cancelled; it is {_row(after[pk])}")
    for key, start in expect.moved:
        pk = world.appointments[key]
        accounted.add(pk)
        row = after[pk]
        if row.start != start or row.status == AppointmentStatus.CANCELLED:
            problems.append(f"expected {key!r} moved to {_local(start)}; it is {_row(row)}")
    if expect.nothing_else:
        problems.extend(_changed_else(before, after, accounted, world))
    problems.extend(_record(scenario, record))
    if expect.customer is not None:
        problems.extend(_customer(scenario, expect.customer))
    return problems


def _fits(wanted: Booked, row: Row, world: World) -> bool:
    return (row.service == wanted.service and row.status in wanted.status
            and (wanted.start is None or row.start == wanted.start)
            and (not wanted.car or row.vehicle_id == world.cars[wanted.car])
            and (world.customer_id is None or row.customer_id == world.customer_id))


def _changed_else(before: dict[int, Row], after: dict[int, Row], accounted: set[int], world: World) -> list[str]:
    problems = []
    for pk, row in after.items():
        if pk in accounted:
            continue
        if pk not in before:
            problems.append(f"an unexpected booking: {_row(row)}")
        elif row != before[pk]:
            key = next((k for k, v in world.appointments.items() if v == pk), f"#{pk}")
            problems.append(f"{key!r} changed unexpectedly: was {_row(before[pk])}, now {_row(row)}")
    problems.extend(f"appointment #{pk} was deleted" for pk in before if pk not in after)
    return problems


def _record(scenario: Scenario, record: CallRecord) -> list[str]:
    expect, problems = scenario.expect, []
    if expect.transfer is not None and record.transfer != expect.transfer:
        problems.append("expected a transfer to the front desk" if expect.transfer
                        else "a transfer was requested but none was expected")
    if expect.callback is not None:
        messages = list(CallbackRequest.objects.filter(call_sid=record.call_sid).values_list("message", flat=True))
        if expect.callback is False and messages:
            problems.append(f"an unexpected callback request: {messages[0]!r}")
        elif expect.callback is not False and not messages:
            problems.append("expected a callback request; none was left")
        elif isinstance(expect.callback, str) and not any(expect.callback.lower() in m.lower() for m in messages):
            problems.append(f"expected a callback request mentioning {expect.callback!r}; got {messages!r}")
    return problems


def _customer(scenario: Scenario, expected: CustomerExpected) -> list[str]:
    customer = Customer.objects.filter(phone=scenario.caller).first()
    if customer is None:
        return [f"expected a customer record for {scenario.caller}; none was created"]
    problems = []
    if expected.name and expected.name.lower() not in customer.name.lower():
        problems.append(f"expected the customer named {expected.name!r}; the record says {customer.name!r}")
    cars = list(Vehicle.objects.filter(customer=customer))
    for wanted in expected.cars:
        if not any(_car_fits(wanted, car) for car in cars):
            have = [f"{c.year} {c.make} {c.model} vin={c.vin} plate={c.license_plate}" for c in cars]
            problems.append(f"expected the car {wanted} on the customer's record; it has {have or 'none'}")
    return problems


def _car_fits(wanted: dict[str, object], car: Vehicle) -> bool:
    have = {"year": str(car.year), "make": car.make, "model": car.model, "vin": car.vin or "",
            "plate": car.license_plate}
    return all(str(value).lower() == have.get(field, "").lower() for field, value in wanted.items())


def _local(when: datetime) -> str:
    return timezone.localtime(when).strftime("%a %Y-%m-%d %H:%M")


def _row(row: Row) -> str:
    return f"{row.service} {_local(row.start)} {row.status} (car {row.vehicle_id})"


def _rows(rows: Iterable[Row]) -> str:
    listed = [_row(r) for r in rows]
    return "; ".join(listed) if listed else "none"


def _describe(wanted: Booked, world: World) -> str:
    when = _local(wanted.start) if wanted.start else "any time"
    return f"{wanted.service} at {when}" + (f" for the {wanted.car}" if wanted.car else "")
