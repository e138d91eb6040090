"""factory_boy factories and builders for reminder tests."""

from datetime import date, datetime

import factory

from crm.models import Appointment, Customer
from crm.tests.factories import AppointmentFactory, CustomerFactory
from reminders.models import ReminderAttempt, ReminderOutcome
from scheduling.shop import shop_timezone


class ReminderAttemptFactory(factory.django.DjangoModelFactory[ReminderAttempt]):
    class Meta:
        model = ReminderAttempt

    appointment = factory.SubFactory(AppointmentFactory)
    reminder_date = factory.LazyAttribute(lambda o: o.appointment.scheduled_at.astimezone(shop_timezone()).date())
    to_number = factory.LazyAttribute(lambda o: o.appointment.customer.phone)
    call_sid = factory.Sequence(lambda n: f"CA{n:032x}")
    outcome = ReminderOutcome.DIALLING


def appointment_at(day: date, hour: int, minute: int = 0, *, phone: str, name: str = "Pat Doe",
                   **fields: object) -> Appointment:
    """An appointment at a shop-local wall-clock time, for the customer with `phone` (made if new)."""
    customer = Customer.objects.filter(phone=phone).first() or CustomerFactory.create(phone=phone, name=name)
    when = datetime(day.year, day.month, day.day, hour, minute, tzinfo=shop_timezone())
    return AppointmentFactory.create(scheduled_at=when, customer=customer, **fields)
