"""Scenarios as written in `fixtures/scenarios.yaml`: who calls, what the CRM holds first, what the caller says
turn by turn and the end state the database must show. Loaded into frozen dataclasses, checked on load so a
typo in the file is an error that names the scenario, never a silent pass."""

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from django.conf import settings

from crm.models import AppointmentStatus, ServiceType

ACTIVE: tuple[str, ...] = (AppointmentStatus.SCHEDULED, AppointmentStatus.CONFIRMED)  # a booking just made
ATTESTED = "TN-Validation-Passed-A"  # the carrier vouched for the caller's number (STIR/SHAKEN A)


class ScenarioError(ValueError):
    """The scenario file is malformed; the message names the scenario and the field."""


@dataclass(frozen=True, slots=True)
class CarSetup:
    key: str
    year: int
    make: str
    model: str
    vin: str = ""  # empty: a valid one is made up
    plate: str = ""


@dataclass(frozen=True, slots=True)
class AppointmentSetup:
    key: str
    service: str
    start: datetime
    status: str = AppointmentStatus.SCHEDULED
    car: str = ""  # a CarSetup key


@dataclass(frozen=True, slots=True)
class Booked:
    """An appointment the call must have created."""

    service: str
    start: datetime | None = None  # None: any time
    car: str = ""  # a CarSetup key, or "" for any (or none)
    status: tuple[str, ...] = ACTIVE


@dataclass(frozen=True, slots=True)
class CustomerExpected:
    """The caller's own customer row after the call (new callers): its name and cars."""

    name: str = ""  # "" : any name, but the row must exist
    cars: tuple[dict[str, Any], ...] = ()  # each: some of year, make, model, vin, plate


@dataclass(frozen=True, slots=True)
class Expected:
    booked: tuple[Booked, ...] = ()
    cancelled: tuple[str, ...] = ()
    moved: tuple[tuple[str, datetime], ...] = ()
    nothing_else: bool = True  # no other appointment row created or changed
    transfer: bool | None = None  # None: not checked
    callback: bool | str | None = None  # a string: the message must contain it
    customer: CustomerExpected | None = None


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    category: str
    caller: str
    lines: tuple[str, ...]
    expect: Expected
    customer_name: str | None = None  # None: the number is not on file (a new caller)
    cars: tuple[CarSetup, ...] = ()
    appointments: tuple[AppointmentSetup, ...] = ()
    front_desk: str = ""  # FRONT_DESK_NUMBER during the call
    attestation: str = ATTESTED
    known_failure: str = ""  # why this brain is expected to fail it (still counted as a failure)
    others: tuple[dict[str, Any], ...] = field(default=())  # other customers' rows that must stay untouched


@dataclass(frozen=True, slots=True)
class Suite:
    now: datetime  # "today" during every scenario, in the shop's zone
    scenarios: tuple[Scenario, ...]


def default_path() -> Path:
    """The shipped suite: fixtures/scenarios.yaml at the project root."""
    return Path(settings.BASE_DIR) / "fixtures" / "scenarios.yaml"


def load(path: Path | None = None) -> Suite:
    """The suite in `path` (the shipped one by default); a ScenarioError when anything in it is malformed."""
    path = path or default_path()
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict) or "scenarios" not in data or "now" not in data:
        raise ScenarioError(f"{path}: expected a mapping with 'now' and 'scenarios'")
    zone = ZoneInfo(settings.SHOP_TIMEZONE)
    scenarios = tuple(_scenario(raw, zone) for raw in data["scenarios"])
    names = [s.name for s in scenarios]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ScenarioError(f"scenario names used twice: {', '.join(repeated)}")
    return Suite(now=_when(data["now"], zone, "now"), scenarios=scenarios)


def _when(value: Any, zone: ZoneInfo, where: str) -> datetime:
    try:
        naive = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise ScenarioError(f"{where}: {value!r} is not a date and time like 2026-12-08 10:00") from exc
    return naive.replace(tzinfo=zone) if naive.tzinfo is None else naive


def _service(value: Any, where: str) -> str:
    if value not in ServiceType.values:
        raise ScenarioError(f"{where}: unknown service {value!r}; one of {', '.join(ServiceType.values)}")
    return str(value)


def _scenario(raw: dict[str, Any], zone: ZoneInfo) -> Scenario:
    name = str(raw.get("name") or "")
    if not name:
        raise ScenarioError(f"a scenario without a name: {raw!r}")
    known = {"name", "category", "caller", "crm", "say", "expect", "front_desk", "attestation", "known_failure"}
    if set(raw) - known:
        raise ScenarioError(f"{name}: unknown keys {sorted(set(raw) - known)}")
    crm = raw.get("crm") or {}
    cars = tuple(CarSetup(key=str(c["key"]), year=int(c["year"]), make=str(c["make"]), model=str(c["model"]),
                          vin=str(c.get("vin", "")), plate=str(c.get("plate", ""))) for c in crm.get("cars", ()))
    car_keys = {c.key for c in cars}
    appointments = tuple(_appointment(a, zone, f"{name}.crm.appointments", car_keys)
                         for a in crm.get("appointments", ()))
    lines = tuple(str(line) for line in raw.get("say") or ())
    if not lines or not raw.get("category") or not raw.get("caller"):
        raise ScenarioError(f"{name}: needs a category, a caller and at least one line under 'say'")
    return Scenario(name=name, category=str(raw["category"]), caller=str(raw["caller"]), lines=lines,
                    expect=_expected(raw.get("expect") or {}, zone, name, {a.key for a in appointments}, car_keys),
                    customer_name=crm.get("customer"), cars=cars, appointments=appointments,
                    front_desk=str(raw.get("front_desk", "")), attestation=str(raw.get("attestation", ATTESTED)),
                    known_failure=str(raw.get("known_failure", "")), others=tuple(crm.get("others", ())))


def _appointment(raw: dict[str, Any], zone: ZoneInfo, where: str, cars: set[str]) -> AppointmentSetup:
    car = str(raw.get("car", ""))
    if car and car not in cars:
        raise ScenarioError(f"{where}: car {car!r} is not among the caller's cars")
    status = str(raw.get("status", AppointmentStatus.SCHEDULED))
    if status not in AppointmentStatus.values:
        raise ScenarioError(f"{where}: unknown status {status!r}")
    return AppointmentSetup(key=str(raw["key"]), service=_service(raw.get("service"), where),
                            start=_when(raw["start"], zone, where), status=status, car=car)


def _expected(raw: dict[str, Any], zone: ZoneInfo, name: str, keys: set[str], cars: set[str]) -> Expected:
    known = {"booked", "cancelled", "moved", "nothing_else", "transfer", "callback", "customer"}
    if set(raw) - known:
        raise ScenarioError(f"{name}.expect: unknown keys {sorted(set(raw) - known)}")
    booked = []
    for b in raw.get("booked", ()):
        car = str(b.get("car", ""))
        if car and car not in cars:
            raise ScenarioError(f"{name}.expect.booked: car {car!r} is not among the caller's cars")
        status = b.get("status")
        booked.append(Booked(service=_service(b.get("service"), f"{name}.expect.booked"),
                             start=_when(b["start"], zone, name) if b.get("start") else None, car=car,
                             status=(str(status),) if status else ACTIVE))
    unknown = [k for k in (*raw.get("cancelled", ()), *(raw.get("moved") or {})) if k not in keys]
    if unknown:
        raise ScenarioError(f"{name}.expect: {unknown} are not appointments under crm")
    customer = raw.get("customer")
    return Expected(
        booked=tuple(booked), cancelled=tuple(str(k) for k in raw.get("cancelled", ())),
        moved=tuple((str(k), _when(v, zone, name)) for k, v in (raw.get("moved") or {}).items()),
        nothing_else=bool(raw.get("nothing_else", True)), transfer=raw.get("transfer"),
        callback=raw.get("callback"),
        customer=None if customer is None else CustomerExpected(
            name=str(customer.get("name", "")), cars=tuple(customer.get("cars", ()))))
