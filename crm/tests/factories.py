"""factory_boy factories for the CRM models, producing valid rows by default."""

import random
from datetime import timedelta

import factory
from django.utils import timezone

from crm.models import SERVICE_MENU, Appointment, AppointmentStatus, CallLog, Customer, ServiceType, Vehicle

_VIN_CHARS = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"
_VIN_VALUES = dict(zip("ABCDEFGHJKLMNPRSTUVWXYZ", [1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 7, 9, 2, 3, 4, 5, 6, 7, 8, 9],
                       strict=True))
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def vin_check_digit(vin: str) -> str:
    """The NHTSA check digit for a 17-character VIN (the 9th character is ignored)."""
    total = sum(
        (int(ch) if ch.isdigit() else _VIN_VALUES[ch]) * weight for ch, weight in zip(vin, _VIN_WEIGHTS, strict=True)
    )
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def make_vin(rng: random.Random, wmi: str = "1HG") -> str:
    """A random VIN with a valid check digit and model-year code."""
    body = [*wmi, *(rng.choice(_VIN_CHARS) for _ in range(5)), "0", rng.choice("ABCDEFGHJKLMNPRSTVWXY123456789"),
            *(rng.choice(_VIN_CHARS) for _ in range(7))]
    vin = "".join(body)
    return vin[:8] + vin_check_digit(vin) + vin[9:]


class CustomerFactory(factory.django.DjangoModelFactory[Customer]):
    class Meta:
        model = Customer

    phone = factory.Sequence(lambda n: f"+1555{2000000 + n:07d}")
    name = factory.Faker("name")
    email = factory.Faker("safe_email")
    city = factory.Faker("city")
    state = factory.Faker("state_abbr")
    zip_code = factory.Faker("zipcode")


class VehicleFactory(factory.django.DjangoModelFactory[Vehicle]):
    class Meta:
        model = Vehicle

    customer = factory.SubFactory(CustomerFactory)
    vin = factory.Sequence(lambda n: make_vin(random.Random(n)))
    make = "Honda"
    model = "Civic"
    year = 2018
    color = "Blue"
    mileage = 42000
    license_plate = factory.Sequence(lambda n: f"BRT{n:04d}")


class AppointmentFactory(factory.django.DjangoModelFactory[Appointment]):
    class Meta:
        model = Appointment

    customer = factory.SubFactory(CustomerFactory)
    vehicle = factory.SubFactory(VehicleFactory, customer=factory.SelfAttribute("..customer"))
    service_type = ServiceType.OIL_CHANGE
    scheduled_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=3))
    duration = factory.LazyAttribute(lambda o: SERVICE_MENU[o.service_type].duration)
    total_cost = factory.LazyAttribute(lambda o: SERVICE_MENU[o.service_type].price)
    status = AppointmentStatus.SCHEDULED


class CallLogFactory(factory.django.DjangoModelFactory[CallLog]):
    class Meta:
        model = CallLog

    call_sid = factory.Sequence(lambda n: f"CA{n:032x}")
    customer = factory.SubFactory(CustomerFactory)
    from_number = factory.SelfAttribute("customer.phone")
    to_number = "+15550100100"
    duration = timedelta(minutes=2)
    transcript = factory.LazyFunction(
        lambda: [
            {"speaker": "agent", "text": "Thanks for calling Bart's Automotive.", "at": "2026-11-23T10:00:00Z"},
            {"speaker": "caller", "text": "I need an oil change.", "at": "2026-11-23T10:00:03Z"},
        ]
    )
