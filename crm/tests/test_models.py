"""Each rule that spans fields is a database constraint; these tests pin every one of them."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Model

from crm.models import Appointment, CallLog, Customer, Vehicle
from crm.tests.factories import AppointmentFactory, CallLogFactory, CustomerFactory, VehicleFactory

pytestmark = pytest.mark.django_db


def _violates(update: dict, model: type[Model], pk: int) -> bool:
    """True when writing `update` straight to the row (bypassing validation) is refused by the database."""
    try:
        with transaction.atomic():
            model._default_manager.filter(pk=pk).update(**update)
    except IntegrityError:
        return True
    return False


def test_customer_phone_must_be_e164_in_the_database() -> None:
    customer = CustomerFactory.create()
    assert _violates({"phone": "555-010-2000"}, Customer, customer.pk)
    assert not _violates({"phone": "+15550109999"}, Customer, customer.pk)


def test_customer_phone_is_unique() -> None:
    CustomerFactory.create(phone="+15550102000")
    with pytest.raises(IntegrityError):
        CustomerFactory.create(phone="+15550102000")


def test_full_clean_normalises_a_typed_phone() -> None:
    customer = Customer(phone="(555) 010-2000", name="Ann")
    customer.full_clean()
    assert customer.phone == "+15550102000"


def test_vehicle_vin_is_unique_and_well_formed_in_the_database() -> None:
    vehicle = VehicleFactory.create()
    assert _violates({"vin": "TOO-SHORT"}, Vehicle, vehicle.pk)
    assert _violates({"vin": "1HGCM8263OA004352"}, Vehicle, vehicle.pk)  # letter O is not allowed
    other = VehicleFactory.create()
    assert _violates({"vin": other.vin}, Vehicle, vehicle.pk)


def test_vehicle_year_is_plausible() -> None:
    vehicle = VehicleFactory.create()
    assert _violates({"year": 1800}, Vehicle, vehicle.pk)
    assert not _violates({"year": 2026}, Vehicle, vehicle.pk)


def test_full_clean_rejects_a_vin_with_a_bad_check_digit() -> None:
    vehicle = VehicleFactory.build(customer=CustomerFactory.create(), vin="1hgcm82643a004352")
    with pytest.raises(ValidationError) as info:
        vehicle.full_clean()
    assert "vin" in info.value.message_dict


def test_appointment_duration_must_be_positive() -> None:
    appointment = AppointmentFactory.create()
    assert _violates({"duration": timedelta(0)}, Appointment, appointment.pk)


def test_appointment_cost_cannot_be_negative() -> None:
    appointment = AppointmentFactory.create()
    assert _violates({"total_cost": Decimal("-1.00")}, Appointment, appointment.pk)
    assert not _violates({"total_cost": None}, Appointment, appointment.pk)


def test_appointment_status_and_service_must_be_known() -> None:
    appointment = AppointmentFactory.create()
    assert _violates({"status": "lost"}, Appointment, appointment.pk)
    assert _violates({"service_type": "teleportation"}, Appointment, appointment.pk)


def test_appointment_vehicle_must_belong_to_the_customer() -> None:
    appointment = AppointmentFactory.build(customer=CustomerFactory.create(), vehicle=VehicleFactory.create())
    with pytest.raises(ValidationError) as info:
        appointment.full_clean()
    assert "vehicle" in info.value.message_dict


def test_deleting_a_vehicle_keeps_its_appointments() -> None:
    appointment = AppointmentFactory.create()
    assert appointment.vehicle is not None
    appointment.vehicle.delete()
    appointment.refresh_from_db()
    assert appointment.vehicle is None


def test_call_log_constraints() -> None:
    call = CallLogFactory.create()
    assert _violates({"direction": "sideways"}, CallLog, call.pk)
    assert _violates({"outcome": "maybe"}, CallLog, call.pk)
    assert _violates({"duration": -F("duration")}, CallLog, call.pk)
    with pytest.raises(IntegrityError):
        CallLogFactory.create(call_sid=call.call_sid)


def test_unknown_caller_call_log_has_no_customer() -> None:
    call = CallLogFactory.create(customer=None, from_number="+15550000001")
    assert call.customer is None


def test_transcript_renders_as_plain_text() -> None:
    call = CallLogFactory.create(
        transcript=[
            {"speaker": "agent", "text": "Bart's Automotive, how can I help?", "at": "2026-11-23T10:00:00Z"},
            {"speaker": "caller", "text": "Oil change please.", "at": "2026-11-23T10:00:02Z"},
            {"speaker": "agent", "text": "Sure, what day", "at": "2026-11-23T10:00:04Z", "interrupted": True},
        ]
    )
    assert call.transcript_text == (
        "Agent: Bart's Automotive, how can I help?\nCaller: Oil change please.\nAgent: Sure, what day [interrupted]"
    )


def test_customer_deletion_keeps_call_logs() -> None:
    call = CallLogFactory.create()
    assert call.customer is not None
    call.customer.delete()
    call.refresh_from_db()
    assert call.customer_id is None


@pytest.mark.parametrize(("year", "make", "model", "label"), [
    (2019, "Honda", "Civic", "2019 Honda Civic"),
    (2019, "Honda", "", "2019 Honda"),
    (2019, "Honda ", " Civic ", "2019 Honda Civic"),
])
def test_a_vehicle_is_named_by_year_make_and_model(year: int, make: str, model: str, label: str) -> None:
    vehicle = Vehicle(year=year, make=make, model=model, vin="1HGCM82633A004352")
    assert vehicle.label == label
    assert str(vehicle) == f"{label} (1HGCM82633A004352)"
