"""`manage.py seed_crm`: a realistic, reproducible demo CRM (customers, vehicles, appointments) for local runs."""

import itertools
import math
import random
import sys
import time as clock
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from django.core.cache import caches
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import models, transaction
from faker import Faker
from faker.providers.automotive.en_US import Provider as AutomotiveProvider
from faker.providers.person.en_US import Provider as PersonProvider
from faker_vehicle.vehicle_dict import vehicles as VEHICLE_CATALOGUE
from tqdm import tqdm

from crm.models import SERVICE_MENU, Appointment, AppointmentStatus, CalendarSync, Customer, ServiceType, Vehicle
from crm.selectors import customer_cache_key
from crm.vins import is_valid_vin
from scheduling.shop import bays, opening_window, shop_today, slot_length

DEFAULT_CUSTOMERS = 10_000
DEFAULT_APPOINTMENTS = 8_000
DEFAULT_BATCH_SIZE = 1_000

# Vehicles per customer: most households bring one car, some two or three (mean 1.6).
VEHICLES_PER_CUSTOMER = (1, 2, 3)
VEHICLES_PER_CUSTOMER_WEIGHTS = (55, 30, 15)

# Shares of all appointments (the rest are cancelled or no-shows).
COMPLETED_SHARE = 0.70
UPCOMING_SHARE = 0.15
CANCELLED_OF_REST = 0.6  # the other 40% of the rest are no-shows
CANCELLED_IN_FUTURE = 0.2  # a cancelled booking is sometimes one that was still ahead
UPCOMING_DAYS = 30
CONFIRMED_NEAR = 0.8  # reminders go out two days ahead, so near bookings are mostly confirmed
CONFIRMED_FAR = 0.15
DEMO_CALLER = "+18655550100"  # a seeded customer: the number `make call` and `make talk` use

# How full the calendar gets: the history is spread so bays are about 40% busy, and no upcoming
# day is booked beyond 75% so the voice agent still has free slots to offer in the demo.
HISTORY_UTILISATION = 0.40
MIN_HISTORY_DAYS = 90
MAX_HISTORY_DAYS = 3_650
UPCOMING_DAY_CEILING = 0.75

# How often each service is booked at a neighbourhood shop (oil changes dominate).
SERVICE_WEIGHTS: dict[str, int] = {
    ServiceType.OIL_CHANGE: 34,
    ServiceType.TIRE_ROTATION: 10,
    ServiceType.STATE_INSPECTION: 10,
    ServiceType.BRAKE_INSPECTION: 9,
    ServiceType.DIAGNOSTIC: 9,
    ServiceType.BRAKE_PADS: 8,
    ServiceType.WHEEL_ALIGNMENT: 7,
    ServiceType.BATTERY: 6,
    ServiceType.TRANSMISSION: 4,
    ServiceType.AC_SERVICE: 3,
}

CAR_COLORS = ("White", "Black", "Gray", "Silver", "Blue", "Red", "Brown", "Green", "Beige", "Gold", "Orange")
CAR_COLOR_WEIGHTS = (25, 22, 18, 10, 9, 9, 2, 1, 1, 1, 1)

GENERIC_NOTES = (
    "Customer will wait.",
    "Drop-off; pick up after work.",
    "Needs a ride to the office.",
    "Call before any extra work.",
    "Loaner requested.",
    "Keys in the drop box.",
)
SERVICE_NOTES: dict[str, tuple[str, ...]] = {
    ServiceType.BRAKE_INSPECTION: ("Squealing when braking.", "Pedal feels soft."),
    ServiceType.BRAKE_PADS: ("Grinding from the front left.",),
    ServiceType.DIAGNOSTIC: ("Check-engine light on since last week.", "Rough idle when cold."),
    ServiceType.WHEEL_ALIGNMENT: ("Pulls to the right on the highway.",),
    ServiceType.AC_SERVICE: ("A/C blows warm air.",),
    ServiceType.BATTERY: ("Slow to start in the morning.",),
    ServiceType.TRANSMISSION: ("Hard shift from 2nd to 3rd.",),
}
NOTE_SHARE = 0.25

# Real world manufacturer identifiers (VIN positions 1-3), so a seeded VIN decodes to its make.
WMI_BY_MAKE: dict[str, tuple[str, ...]] = {
    "Acura": ("19U", "JH4", "2HN"),
    "Alfa Romeo": ("ZAR",),
    "Aston Martin": ("SCF",),
    "Audi": ("WAU", "WA1"),
    "BMW": ("WBA", "5UX", "WBS"),
    "Bentley": ("SCB",),
    "Buick": ("1G4", "2G4", "5GA"),
    "Cadillac": ("1G6", "1GY"),
    "Chevrolet": ("1G1", "1GN", "1GC", "2G1", "3GN"),
    "Chrysler": ("2C3", "1C3", "2C4"),
    "Daewoo": ("KLA",),
    "Dodge": ("1B3", "2B3", "1D7", "3D7"),
    "Eagle": ("2E3",),
    "FIAT": ("ZFA", "3C3"),
    "Ferrari": ("ZFF",),
    "Ford": ("1FA", "1FT", "1FM", "3FA"),
    "Freightliner": ("1FU",),
    "GMC": ("1GT", "1GK", "2GT", "3GT"),
    "Genesis": ("KMH", "KMT"),
    "Geo": ("1Y1", "2C1"),
    "HUMMER": ("5GR",),
    "Honda": ("1HG", "2HG", "JHM", "5FN", "5J6"),
    "Hyundai": ("KMH", "5NP", "KM8"),
    "INFINITI": ("JNK", "JN1", "5N3"),
    "Isuzu": ("4S2", "JAA"),
    "Jaguar": ("SAJ",),
    "Jeep": ("1J4", "1C4", "1J8"),
    "Kia": ("KNA", "KND", "5XY"),
    "Lamborghini": ("ZHW",),
    "Land Rover": ("SAL",),
    "Lexus": ("JTH", "2T2", "JTJ"),
    "Lincoln": ("1LN", "5LM", "2LM"),
    "Lotus": ("SCC",),
    "MAZDA": ("JM1", "1YV", "JM3"),
    "MINI": ("WMW",),
    "Maserati": ("ZAM",),
    "Maybach": ("WDB",),
    "McLaren": ("SBM",),
    "Mercedes-Benz": ("WDB", "WDD", "4JG", "WDC"),
    "Mercury": ("2ME", "4M2", "1ME"),
    "Mitsubishi": ("JA3", "JA4", "4A3"),
    "Nissan": ("1N4", "JN1", "5N1", "3N1", "JN8"),
    "Oldsmobile": ("1G3",),
    "Plymouth": ("1P3", "4P3"),
    "Pontiac": ("1G2", "2G2", "5Y2"),
    "Porsche": ("WP0", "WP1"),
    "Ram": ("1C6", "3C6", "3D7"),
    "Rolls-Royce": ("SCA",),
    "SRT": ("1C3",),
    "Saab": ("YS3",),
    "Saturn": ("1G8", "5GZ"),
    "Scion": ("JTK", "JTL"),
    "Subaru": ("JF1", "JF2", "4S3", "4S4"),
    "Suzuki": ("JS3", "JS2", "2S3"),
    "Tesla": ("5YJ",),
    "Toyota": ("4T1", "JTD", "5TD", "2T1", "JTE", "4T3", "5TF"),
    "Volkswagen": ("WVW", "3VW", "1VW", "WVG"),
    "Volvo": ("YV1", "YV4"),
    "smart": ("WME",),
}
VIN_CHARS = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"
VIN_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"
VIN_YEAR_CODES = "ABCDEFGHJKLMNPRSTVWXY123456789"  # position 10; repeats every 30 years from 1980
_VIN_VALUES = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)

# Phones are NANP numbers reserved for fiction (555-0100 to 555-0199 in every area code), so a
# demo reminder or outbound call can never reach a real person. Area codes: first digit 2-9,
# middle digit not 9 (reserved), and not an easily recognisable code (N11, 800, 900, 555...).
AREA_CODES = tuple(f"{a}{b}{c}" for a in range(2, 10) for b in range(9) for c in range(10) if b != c)
FICTIONAL_LINES = 100
PHONE_SPACE = len(AREA_CODES) * FICTIONAL_LINES

HOME_PLATE_SHARE = 0.9
PLATE_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"  # plates avoid I, O and Q like VINs do

EMAIL_DOMAINS = ("example.com", "example.net", "example.org")  # reserved: mail never leaves
EMAIL_SHARE = 0.8
TOWNS = 12
STREETS = 400

T = TypeVar("T")


@dataclass(slots=True)
class _Day:
    """One open day of the shop calendar with how many cars each slot holds so far."""

    opens: datetime
    slots: list[int]
    limit: int  # most bay-slots the generator may book on this day
    used: int = 0

    def starts_that_fit(self, length: int, bay_count: int) -> list[int]:
        """Slot indexes where an appointment `length` slots long fits without exceeding the bays."""
        last = len(self.slots) - length
        return [s for s in range(last + 1) if max(self.slots[s : s + length]) < bay_count]


@dataclass(slots=True)
class _Window:
    """A run of open days that appointments are drawn from, busier days weighted higher."""

    days: list[_Day]
    cum_weights: list[float] = field(default_factory=list)

    def pick(self, rng: random.Random) -> _Day:
        """A day drawn by weight."""
        return rng.choices(self.days, cum_weights=self.cum_weights)[0]


@dataclass(frozen=True, slots=True)
class _Counts:
    """What the seeding wrote."""

    customers: int
    vehicles: int
    appointments: int
    completed: int
    upcoming: int
    cancelled: int
    no_show: int
    moved_to_history: int


def vin_check_digit(vin: str) -> str:
    """The NHTSA check digit (9th character) for a 17-character VIN."""
    total = sum(_VIN_VALUES[ch] * weight for ch, weight in zip(vin, _VIN_WEIGHTS, strict=True))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def phone_for(index: int) -> str:
    """The E.164 number at `index` of the fictional number space (`+1NPA55501XX`)."""
    area, line = divmod(index, FICTIONAL_LINES)
    return f"+1{AREA_CODES[area]}55501{line:02d}"


def _cumulative(weights: Sequence[float]) -> list[float]:
    return list(itertools.accumulate(weights))


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _pick(rng: random.Random, population: Sequence[T], cum_weights: list[float], k: int) -> list[T]:
    return rng.choices(population, cum_weights=cum_weights, k=k)


class _Generator:
    """Draws every row from one seeded Faker and one seeded Random, so a seed replays exactly."""

    def __init__(self, seed: int, today: date) -> None:
        self.rng = random.Random(seed)
        self.fake = Faker("en_US")
        self.fake.seed_instance(seed)
        self.today = today
        self.bays = bays()
        self.slot = slot_length()
        self._first_names = list(PersonProvider.first_names_female) + list(PersonProvider.first_names_male)
        self._first_cum = _cumulative(
            [*PersonProvider.first_names_female.values(), *PersonProvider.first_names_male.values()]
        )
        self._last_names = list(PersonProvider.last_names)
        self._last_cum = _cumulative(list(PersonProvider.last_names.values()))
        # faker-vehicle's vehicle_object() draws from the unseeded global `random`, so we draw from
        # its catalogue ourselves; newer models are more common on the road.
        self._catalogue = VEHICLE_CATALOGUE
        self._catalogue_cum = _cumulative([1 + max(v["Year"] - 1990, 0) / 4 for v in VEHICLE_CATALOGUE])
        self._colors_cum = _cumulative(CAR_COLOR_WEIGHTS)
        services = list(SERVICE_MENU)
        self._services = services
        self._services_cum = _cumulative([SERVICE_WEIGHTS.get(s, 2) for s in services])
        self._area = self._service_area()
        self._streets = self._street_names()
        self._vin_verdicts: dict[tuple[str, str], bool] = {}
        self._plates = [f for f in AutomotiveProvider.license_formats if "•" not in f and len(f) >= 6]
        self._home_plate = self.fake.random_element(self._plates)

    # --- customers ---------------------------------------------------------------------------

    def _service_area(self) -> list[tuple[str, str, str]]:
        """A dozen nearby towns (name, state, zip) in one state: a shop's customers live close by."""
        fake = self.fake
        state = fake.state_abbr(include_territories=False, include_freely_associated_states=False)
        return [(fake.city(), state, fake.zipcode_in_state(state)) for _ in range(TOWNS)]

    def _street_names(self) -> list[str]:
        """The streets of the service area; neighbours share them."""
        return sorted({self.fake.street_name() for _ in range(STREETS)})

    def phones(self, count: int, taken: set[str]) -> list[str]:
        """`count` distinct fictional numbers, none of them in `taken`."""
        clashes = sum(1 for phone in taken if phone.startswith("+1") and phone[5:10] == "55501")
        room = PHONE_SPACE - clashes
        if count > room:
            raise CommandError(f"Only {room:,} more fictional phone numbers are free; ask for fewer customers.")
        drawn = self.rng.sample(range(PHONE_SPACE), min(PHONE_SPACE, count + clashes))
        phones = [p for p in map(phone_for, drawn) if p not in taken]
        return phones[:count]

    def customers(self, phones: Sequence[str]) -> list[Customer]:
        """Unsaved demo customers, one per phone number."""
        rng = self.rng
        n = len(phones)
        firsts = _pick(rng, self._first_names, self._first_cum, n)
        lasts = _pick(rng, self._last_names, self._last_cum, n)
        town_cum = _cumulative([1 / (i + 1) for i in range(len(self._area))])
        towns = _pick(rng, self._area, town_cum, n)
        streets = self._streets
        rows = []
        for phone, first, last, (city, state, zip_code) in zip(phones, firsts, lasts, towns, strict=True):
            street = f"{rng.randint(1, 9899)} {rng.choice(streets)}"
            if rng.random() < 0.1:
                street += f" Apt. {rng.randint(1, 399)}"
            email = ""
            if rng.random() < EMAIL_SHARE:
                suffix = str(rng.randint(1, 99)) if rng.random() < 0.3 else ""
                email = f"{first}.{last}{suffix}@{rng.choice(EMAIL_DOMAINS)}".lower().replace(" ", "")
            rows.append(
                Customer(
                    phone=phone,
                    name=f"{first} {last}",
                    email=email,
                    address=street,
                    city=city,
                    state=state,
                    zip_code=zip_code,
                    is_demo=True,
                )
            )
        return rows

    # --- vehicles ----------------------------------------------------------------------------

    def vehicle_counts(self, customers: int) -> list[int]:
        """How many vehicles each customer owns (1-3, 1.6 on average)."""
        return self.rng.choices(VEHICLES_PER_CUSTOMER, weights=VEHICLES_PER_CUSTOMER_WEIGHTS, k=customers)

    def vin(self, wmi: str, year: int, taken: set[str]) -> str:
        """A unique VIN with manufacturer code `wmi` and model `year` that `crm.vins.validate_vin` accepts."""
        rng = self.rng
        # Position 7 tells the 30-year cycles of the year code apart: a letter from 2010 on.
        seventh = VIN_LETTERS if year >= 2010 else "0123456789"
        year_code = VIN_YEAR_CODES[(year - 1980) % 30]
        while True:
            a, b, c, d = rng.choices(VIN_CHARS, k=4)
            body = (
                f"{wmi}{a}{b}{c}{rng.choice(seventh)}{d}0{year_code}{rng.choice(VIN_LETTERS)}{rng.randrange(10**6):06d}"
            )
            vin = body[:8] + vin_check_digit(body) + body[9:]
            if vin not in taken and self._vin_accepted(wmi, year_code, vin):
                taken.add(vin)
                return vin

    def _vin_accepted(self, wmi: str, year_code: str, vin: str) -> bool:
        """`crm.vins.is_valid_vin`, asked once per maker and year code.

        The check digit is computed for every VIN; beyond it, vininfo's verdict depends only on the
        manufacturer (some skip the SAE check digit) and the year code, so one answer holds for all.
        """
        key = (wmi, year_code)
        if key not in self._vin_verdicts:
            self._vin_verdicts[key] = is_valid_vin(vin)
        return self._vin_verdicts[key]

    def plate(self) -> str:
        """A licence plate: mostly the home state's format, sometimes an out-of-state one."""
        rng = self.rng
        fmt = self._home_plate if rng.random() < HOME_PLATE_SHARE else rng.choice(self._plates)
        return "".join(
            rng.choice("0123456789") if ch == "#" else rng.choice(PLATE_LETTERS) if ch == "?" else ch for ch in fmt
        )

    def vehicles(self, owners: Sequence[Customer], vins_taken: set[str]) -> list[Vehicle]:
        """Unsaved vehicles, one per entry of `owners` (an owner appears once per car)."""
        rng = self.rng
        n = len(owners)
        models_ = _pick(rng, self._catalogue, self._catalogue_cum, n)
        colors = _pick(rng, CAR_COLORS, self._colors_cum, n)
        rows = []
        for owner, spec, color in zip(owners, models_, colors, strict=True):
            year = int(spec["Year"])
            make = str(spec["Make"])
            wmis = WMI_BY_MAKE.get(make) or ("1G1", "1FA", "1HG", "JTD")
            age = max(self.today.year - year, 0)
            mileage: int | None = None
            if rng.random() < 0.92:
                per_year = max(rng.gauss(11_500, 3_500), 3_000)
                mileage = min(int(age * per_year + rng.randint(500, 6_000)), 350_000)
            rows.append(
                Vehicle(
                    customer_id=owner.pk,
                    vin=self.vin(rng.choice(wmis), year, vins_taken),
                    make=make,
                    model=str(spec["Model"])[:80],
                    year=year,
                    color=color,
                    mileage=mileage,
                    license_plate=self.plate(),
                )
            )
        return rows

    # --- appointments ------------------------------------------------------------------------

    def _day(self, day: date, ceiling: float) -> _Day | None:
        window = opening_window(day)
        if window is None:
            return None
        opens, closes = window
        count = int((closes - opens) / self.slot)
        if count < 1:
            return None
        return _Day(opens=opens, slots=[0] * count, limit=int(count * self.bays * ceiling))

    def _length(self, service: str) -> int:
        return math.ceil(SERVICE_MENU[service].duration / self.slot)

    def upcoming_window(self) -> _Window:
        """Today and the next days up to UPCOMING_DAYS, nearer days weighted higher."""
        days: list[_Day] = []
        weights: list[float] = []
        for offset in range(UPCOMING_DAYS):
            day = self._day(self.today + timedelta(days=offset), UPCOMING_DAY_CEILING)
            if day is not None:
                days.append(day)
                weights.append(len(day.slots) / (1 + offset / 7))
        return _Window(days, _cumulative(weights))

    def history_window(self, bay_slots_needed: float) -> _Window:
        """Enough open days before today that the booked history fills about HISTORY_UTILISATION."""
        days: list[_Day] = []
        capacity = 0
        offset = 1
        while offset <= MAX_HISTORY_DAYS and (
            offset <= MIN_HISTORY_DAYS or capacity * HISTORY_UTILISATION < bay_slots_needed
        ):
            day = self._day(self.today - timedelta(days=offset), 1.0)
            if day is not None:
                days.append(day)
                capacity += day.limit
            offset += 1
        days.reverse()
        return _Window(days, _cumulative([len(day.slots) for day in days]))

    def mean_length(self) -> float:
        """Average slots an appointment takes, given the service mix."""
        weights = [SERVICE_WEIGHTS.get(s, 2) for s in self._services]
        return sum(self._length(s) * w for s, w in zip(self._services, weights, strict=True)) / sum(weights)

    def _place(self, window: _Window, length: int, *, occupy: bool) -> tuple[_Day, int] | None:
        """A day and start slot for an appointment; when `occupy`, one that keeps within the bays."""
        rng = self.rng
        if not window.days:
            return None
        for _ in range(24):
            day = window.pick(rng)
            if occupy and day.used + length > day.limit:
                continue
            starts = day.starts_that_fit(length, self.bays if occupy else 10**9)
            if starts:
                return day, rng.choice(starts)
        if not occupy:
            return None
        first = rng.randrange(len(window.days))
        for day in itertools.chain(window.days[first:], window.days[:first]):
            if day.used + length <= day.limit:
                starts = day.starts_that_fit(length, self.bays)
                if starts:
                    return day, rng.choice(starts)
        return None

    def _book(self, day: _Day, start: int, length: int) -> None:
        for s in range(start, start + length):
            day.slots[s] += 1
        day.used += length

    def statuses(self, total: int) -> list[str]:
        """The status of each appointment, in random order, in the configured shares."""
        completed = round(total * COMPLETED_SHARE)
        upcoming = min(round(total * UPCOMING_SHARE), total - completed)
        rest = total - completed - upcoming
        cancelled = round(rest * CANCELLED_OF_REST)
        statuses: list[str] = [
            *[AppointmentStatus.COMPLETED] * completed,
            *[AppointmentStatus.SCHEDULED] * upcoming,  # confirmed is decided by date
            *[AppointmentStatus.CANCELLED] * cancelled,
            *[AppointmentStatus.NO_SHOW] * (rest - cancelled),
        ]
        self.rng.shuffle(statuses)
        return statuses

    def appointments(
        self, total: int, customers: Sequence[Customer], fleet: dict[int, list[Vehicle]]
    ) -> tuple[list[Appointment], int]:
        """Unsaved appointments and how many upcoming ones had no room and went to the history."""
        rng = self.rng
        if total and not customers:
            raise CommandError("Appointments need customers: give --customers 1 or more.")
        statuses = self.statuses(total)
        services = _pick(rng, self._services, self._services_cum, total)
        # Some customers are regulars: a skewed weight per customer decides who books most.
        loyalty = _cumulative([rng.lognormvariate(0, 0.8) for _ in customers])
        bookers = _pick(rng, customers, loyalty, total) if total else []
        upcoming = self.upcoming_window()
        in_history = statuses.count(AppointmentStatus.COMPLETED) + statuses.count(AppointmentStatus.NO_SHOW)
        history = self.history_window(in_history * self.mean_length())
        if total and not history.days:
            raise CommandError("The shop has no opening hours (SHOP_HOURS); there is no day to book.")
        moved = 0
        rows = []
        for status, service, customer in zip(statuses, services, bookers, strict=True):
            length = self._length(service)
            in_future = status == AppointmentStatus.SCHEDULED or (
                status == AppointmentStatus.CANCELLED and rng.random() < CANCELLED_IN_FUTURE and bool(upcoming.days)
            )
            occupy = status != AppointmentStatus.CANCELLED
            spot = self._place(upcoming if in_future else history, length, occupy=occupy)
            if spot is None and status == AppointmentStatus.SCHEDULED:
                moved += 1
                status = AppointmentStatus.COMPLETED
                spot = self._place(history, length, occupy=True)
            if spot is None:
                raise CommandError("The shop calendar is full; ask for fewer appointments.")
            day, start = spot
            if occupy:
                self._book(day, start, length)
            scheduled_at = day.opens + start * self.slot
            if status == AppointmentStatus.SCHEDULED:
                near = scheduled_at.date() - self.today <= timedelta(days=2)
                if rng.random() < (CONFIRMED_NEAR if near else CONFIRMED_FAR):
                    status = AppointmentStatus.CONFIRMED
            info = SERVICE_MENU[service]
            notes = ""
            if rng.random() < NOTE_SHARE:
                notes = rng.choice(SERVICE_NOTES.get(service, ()) + GENERIC_NOTES)
            charged = status in (AppointmentStatus.COMPLETED, AppointmentStatus.SCHEDULED, AppointmentStatus.CONFIRMED)
            rows.append(
                Appointment(
                    customer_id=customer.pk,
                    vehicle_id=rng.choice(fleet[customer.pk]).pk,
                    service_type=service,
                    scheduled_at=scheduled_at,
                    duration=info.duration,
                    status=status,
                    notes=notes,
                    total_cost=info.price if charged else None,
                    calendar_sync=CalendarSync.SYNCED,  # demo rows never go to a real calendar
                )
            )
        return rows, moved


class Command(BaseCommand):
    help = (
        "Fill the CRM with demo customers, vehicles and appointments (marked is_demo). "
        "Same --seed and --today give the same data."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--customers", type=int, default=DEFAULT_CUSTOMERS, help="Customers to create.")
        parser.add_argument("--appointments", type=int, default=DEFAULT_APPOINTMENTS, help="Appointments to create.")
        parser.add_argument("--seed", type=int, default=None, help="Random seed (default: a fresh one, printed).")
        parser.add_argument(
            "--today", default=None, help="Anchor date YYYY-MM-DD for past/upcoming (default: today in shop time)."
        )
        parser.add_argument("--wipe", action="store_true", help="Delete earlier demo customers (and theirs) first.")
        parser.add_argument("--if-empty", action="store_true", help="Do nothing when any customer exists.")
        parser.add_argument(
            "--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="Rows per INSERT statement batch."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        customers: int = options["customers"]
        appointments: int = options["appointments"]
        batch_size: int = options["batch_size"]
        if customers < 0 or appointments < 0:
            raise CommandError("--customers and --appointments must be 0 or more.")
        if batch_size < 1:
            raise CommandError("--batch-size must be 1 or more.")
        if appointments and not customers:
            raise CommandError("Appointments need customers: give --customers 1 or more.")
        if options["wipe"] and options["if_empty"]:
            raise CommandError("--wipe and --if-empty contradict each other; pick one.")
        today = self._today(options["today"])
        seed: int = options["seed"] if options["seed"] is not None else random.SystemRandom().randrange(2**31)

        if options["if_empty"] and Customer.objects.exists():
            self.stdout.write("The CRM already has customers; not seeding.")
            return

        started = clock.perf_counter()
        bar = tqdm(
            total=0,
            unit="rows",
            desc="seed_crm",
            file=sys.stderr,
            disable=options["verbosity"] < 1 or not sys.stderr.isatty(),
        )
        with bar, transaction.atomic():
            wiped = 0
            if options["wipe"]:
                bar.set_description("wiping old demo data")
                wiped = self._wipe()
                bar.set_description("seed_crm")
            counts = self._seed(_Generator(seed, today), customers, appointments, batch_size, bar)
        seconds = clock.perf_counter() - started

        if counts.moved_to_history:
            self.stderr.write(
                self.style.WARNING(
                    f"{counts.moved_to_history:,} upcoming appointments did not fit the next {UPCOMING_DAYS} days "
                    f"({bays()} bays, days kept at most {UPCOMING_DAY_CEILING:.0%} booked); they are in the history."
                )
            )
        wiped_text = f"; wiped {wiped:,} old demo customers" if options["wipe"] else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {counts.customers:,} customers, {counts.vehicles:,} vehicles, "
                f"{counts.appointments:,} appointments ({counts.completed:,} completed, {counts.upcoming:,} upcoming, "
                f"{counts.cancelled:,} cancelled, {counts.no_show:,} no-show) in {seconds:.1f} s "
                f"(seed {seed}, today {today.isoformat()}{wiped_text})."
            )
        )

    def _today(self, raw: str | None) -> date:
        if raw is None:
            return shop_today()
        try:
            return date.fromisoformat(raw)
        except ValueError as exc:
            raise CommandError(f"--today must be a date like 2026-11-23, not {raw!r}.") from exc

    def _wipe(self) -> int:
        """Delete demo customers with their vehicles and appointments; other rows are untouched."""
        count = Customer.objects.filter(is_demo=True).count()
        # Children first, fetching only what deletion needs: far faster than one cascade from customers.
        Appointment.objects.filter(customer__is_demo=True).delete()
        Vehicle.objects.filter(customer__is_demo=True).only("pk").delete()
        Customer.objects.filter(is_demo=True).only("pk", "phone").delete()  # signals read the phone
        return count

    def _seed(self, gen: _Generator, customers: int, appointments: int, batch_size: int, bar: tqdm) -> _Counts:
        vehicle_counts = gen.vehicle_counts(customers)
        existing = set(Customer.objects.values_list("phone", flat=True))
        phones = gen.phones(customers, existing)
        if phones and DEMO_CALLER not in existing and DEMO_CALLER not in phones:
            phones[0] = DEMO_CALLER  # the returning customer `make call` and `make talk` ring as, with a car
            vehicle_counts[0] = max(vehicle_counts[0], 1)
        bar.total = customers + sum(vehicle_counts) + appointments
        bar.refresh()

        # bulk_create sends no post_save, so drop any cached lookups of these numbers ourselves.
        keys = [customer_cache_key(phone) for phone in phones]

        def forget_cached() -> None:
            for alias in ("default", "local"):
                caches[alias].delete_many(keys)

        transaction.on_commit(forget_cached)
        saved_customers: list[Customer] = []
        for phone_chunk in _chunks(phones, batch_size):
            saved_customers += self._insert(Customer, gen.customers(phone_chunk), "phone", bar)

        vins_taken = {vin for vin in Vehicle.objects.values_list("vin", flat=True) if vin}
        owners = [c for c, n in zip(saved_customers, vehicle_counts, strict=True) for _ in range(n)]
        fleet: dict[int, list[Vehicle]] = {}
        for owner_chunk in _chunks(owners, batch_size):
            for vehicle in self._insert(Vehicle, gen.vehicles(owner_chunk, vins_taken), "vin", bar):
                fleet.setdefault(vehicle.customer_id, []).append(vehicle)

        rows, moved = gen.appointments(appointments, saved_customers, fleet)
        for chunk in _chunks(rows, batch_size):
            Appointment.objects.bulk_create(chunk, batch_size=batch_size)
            bar.update(len(chunk))

        statuses = [row.status for row in rows]
        return _Counts(
            customers=len(saved_customers),
            vehicles=len(owners),
            appointments=len(rows),
            completed=statuses.count(AppointmentStatus.COMPLETED),
            upcoming=statuses.count(AppointmentStatus.SCHEDULED) + statuses.count(AppointmentStatus.CONFIRMED),
            cancelled=statuses.count(AppointmentStatus.CANCELLED),
            no_show=statuses.count(AppointmentStatus.NO_SHOW),
            moved_to_history=moved,
        )

    def _insert(self, model: type[models.Model], rows: list[Any], key: str, bar: tqdm) -> list[Any]:
        """bulk_create `rows`, making sure each has its primary key (older SQLite returns none)."""
        model._default_manager.bulk_create(rows, batch_size=len(rows))
        if any(row.pk is None for row in rows):
            ids = dict(
                model._default_manager.filter(**{f"{key}__in": [getattr(r, key) for r in rows]}).values_list(key, "pk")
            )
            for row in rows:
                row.pk = ids[getattr(row, key)]
        bar.update(len(rows))
        return rows
