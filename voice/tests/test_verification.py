"""Caller ID can be spoofed: unless the carrier attested the number at level A, the caller proves who they
are (the car's make or model, or the tail of its plate or VIN, checked by the tool) before anything on
record is cancelled, moved or changed. Booking, hours and prices need no proof; once proven, a call is
not asked again. `CALLER_VERIFICATION` = attestation (default) | always | off."""

import json
from collections.abc import AsyncIterator
from datetime import datetime
from io import StringIO
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from asgiref.sync import sync_to_async
from django.core.management import call_command

from crm.models import Appointment, AppointmentStatus, Customer, Vehicle
from crm.tests.factories import AppointmentFactory, VehicleFactory
from voice.agent.shop_tools import registry
from voice.agent.turn import model_reply
from voice.call_record import CallIdentity, CallRecord, ToolScope
from voice.providers.base import ChatContext, ChatEvent, TextDelta

pytestmark = pytest.mark.django_db(transaction=True)

NY = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=NY)  # Monday 8 AM
TUESDAY_10 = datetime(2026, 11, 24, 10, 0, tzinfo=NY)
CALLER = "+15550102000"
VIN = "1HGCM82633A004352"
CANCEL_READ_BACK = "You have an oil change on Tuesday, November 24 at 10 AM. Shall I cancel it?"


@pytest.fixture(autouse=True)
def _shop(settings):
    settings.SHOP_TIMEZONE, settings.SHOP_BAYS, settings.CALENDAR_BACKEND = "America/New_York", 2, "builtin"
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def booked() -> Appointment:
    car = VehicleFactory.create(customer__phone=CALLER, customer__name="Marge Simpson", make="Honda", model="Civic",
                                year=2018, license_plate="EVRGRN", vin=VIN)
    return AppointmentFactory.create(customer=car.customer, vehicle=car, scheduled_at=TUESDAY_10)


def scope(attestation: str = "", direction: str = "inbound", agreed: str = CANCEL_READ_BACK) -> ToolScope:
    """A call's tool scope: the caller just said yes to `agreed`."""
    record = CallRecord.new(CallIdentity(call_sid="CA1", caller=CALLER, direction=direction, attestation=attestation))
    record.history += [{"role": "assistant", "content": agreed}, {"role": "user", "content": "Yes."}]
    return record.tool_scope()


async def run(tool: str, context: ToolScope, **args: Any) -> dict[str, Any]:
    return json.loads((await registry.run(tool, json.dumps(args), context)).content)


async def status(appointment: Appointment) -> str:
    await appointment.arefresh_from_db()
    return appointment.status


async def test_an_unattested_caller_names_the_car_before_a_cancel_and_is_asked_once(booked: Appointment) -> None:
    call = scope("TN-Validation-Passed-B")
    cancel = {"appointment_id": booked.pk, "caller_confirmed": True}
    asked = await run("cancel_appointment", call, **cancel)
    assert asked["needs"] == "verification" and "make or model" in asked["error"]
    assert await status(booked) == AppointmentStatus.SCHEDULED
    wrong = await run("cancel_appointment", call, **cancel, verification="a Toyota")
    assert wrong["needs"] == "verification" and await status(booked) == AppointmentStatus.SCHEDULED
    done = await run("cancel_appointment", call, **cancel, verification="It's a Honda")
    assert done["cancelled"] is True and call.facts.caller_verified
    saved = await run("update_customer", call, name="Marjorie Simpson")  # proven once: not asked again
    assert saved["saved"] is True


@pytest.mark.parametrize("answer", ["civic", "the plate ends in G R N", "VRGRN", "four three five two",
                                    "last four of the VIN are 4352"])
async def test_the_plate_or_vin_tail_or_the_model_also_prove_it(booked: Appointment, answer: str) -> None:
    done = await run("cancel_appointment", scope(), appointment_id=booked.pk, caller_confirmed=True,
                     verification=answer)
    assert done.get("cancelled") is True, done


async def test_two_wrong_answers_leave_only_the_front_desk(booked: Appointment) -> None:
    call = scope()
    cancel = {"appointment_id": booked.pk, "caller_confirmed": True}
    for guess in ("Toyota", "Ford"):
        last = await run("cancel_appointment", call, **cancel, verification=guess)
    assert last["needs"] == "staff" and "front desk" in last["error"]
    again = await run("cancel_appointment", call, **cancel, verification="Honda")
    assert again["needs"] == "staff" and await status(booked) == AppointmentStatus.SCHEDULED


@pytest.mark.parametrize(("mode", "attestation", "asked"), [
    ("attestation", "TN-Validation-Passed-A", False),
    ("attestation", "TN-Validation-Passed-B", True),
    ("attestation", "TN-Validation-Passed-C", True),
    ("attestation", "TN-Validation-Failed-A", True),
    ("attestation", "No-TN-Validation", True),
    ("attestation", "", True),
    ("always", "TN-Validation-Passed-A", True),
    ("off", "", False),
    ("off", "TN-Validation-Failed-B", False),
])
async def test_each_setting_asks_exactly_when_it_says(settings, booked: Appointment, mode: str, attestation: str,
                                                      asked: bool) -> None:
    settings.CALLER_VERIFICATION = mode
    move = await run("reschedule_appointment", scope(attestation, agreed="Shall I move your oil change to Wednesday "
                                                                          "at 9 AM?"),
                     appointment_id=booked.pk, new_start="2026-11-25T09:00", caller_confirmed=True)
    assert (move.get("needs") == "verification") is asked, move
    assert ("rescheduled" in move) is not asked


async def test_without_the_setting_an_unattested_number_is_asked(settings, booked: Appointment) -> None:
    del settings.CALLER_VERIFICATION
    result = await run("cancel_appointment", scope(), appointment_id=booked.pk, caller_confirmed=True)
    assert result["needs"] == "verification"


async def test_a_reminder_call_we_placed_is_not_asked(booked: Appointment) -> None:
    done = await run("cancel_appointment", scope(direction="outbound"), appointment_id=booked.pk,
                     caller_confirmed=True)
    assert done["cancelled"] is True


async def test_an_unverified_caller_books_and_hears_the_shop_but_changes_and_sees_nothing_on_record(
        booked: Appointment) -> None:
    call = scope(agreed="To confirm: an oil change on Tuesday, November 24 at 11 AM. Shall I book it?")
    assert (await run("book_appointment", call, service="oil_change", start="2026-11-24T11:00",
                      caller_confirmed=True))["booked"] is True
    assert (await run("get_shop_info", call))["hours"]["Sunday"] == "closed"
    assert (await run("get_service_menu", call))["services"]
    renamed = await run("update_customer", call, name="Mallory", email="mallory@example.com")
    car = await run("add_vehicle", call, vin="2HGFC2F59JH000001")
    cars = await run("list_vehicles", call)
    assert renamed["needs"] == car["needs"] == cars["needs"] == "verification"
    customer = await Customer.objects.aget(phone=CALLER)
    assert (customer.name, customer.email) == ("Marge Simpson", booked.customer.email)
    assert await Vehicle.objects.filter(customer=customer).acount() == 1
    looked_up = await run("lookup_customer", call)
    listed = await run("list_appointments", call)
    assert "vehicles" not in looked_up and "email" not in looked_up and looked_up["verified"] is False
    assert {a["vehicle"] for a in listed["appointments"]} == {None}
    assert "Honda" not in json.dumps([looked_up, listed]) and "EVRGRN" not in json.dumps([looked_up, listed])


async def test_a_caller_whose_record_this_call_made_changes_it_freely() -> None:
    call = scope()
    assert (await run("update_customer", call, name="Ned"))["saved"] is True
    assert (await run("update_customer", call, name="Ned Flanders"))["saved"] is True
    assert (await run("add_vehicle", call, vin=VIN))["added"] is True
    assert (await Customer.objects.aget(phone=CALLER)).name == "Ned Flanders"


async def test_a_customer_with_no_car_on_record_is_sent_to_the_front_desk() -> None:
    appointment = await sync_to_async(AppointmentFactory.create)(customer__phone=CALLER, vehicle=None,
                                                                 scheduled_at=TUESDAY_10)
    result = await run("cancel_appointment", scope(), appointment_id=appointment.pk, caller_confirmed=True,
                       verification="Honda")
    assert result["needs"] == "staff" and result["error"].startswith("That change needs a check")
    assert await status(appointment) == AppointmentStatus.SCHEDULED


class Recording:
    """A ChatModel (our interface) that says one line and keeps the system prompt it was given."""

    def __init__(self) -> None:
        self.system = ""

    async def stream(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]],
                     context: ChatContext | None = None) -> AsyncIterator[ChatEvent]:
        self.system = messages[0]["content"]
        yield TextDelta("Okay.")

    async def aclose(self) -> None:
        return None


@pytest.mark.parametrize(("attestation", "told"), [("TN-Validation-Passed-A", False), ("", True)])
async def test_the_prompt_tells_the_model_to_ask_first_only_when_the_number_is_unverified(attestation: str,
                                                                                          told: bool) -> None:
    chat = Recording()
    record = CallRecord.new(CallIdentity(call_sid="CA1", caller=CALLER, attestation=attestation,
                                         customer={"id": 1, "name": "Marge"}))
    record.history.append({"role": "user", "content": "Cancel my appointment"})
    async for _ in model_reply(chat=chat, tools=registry, record=record, apology="Sorry."):
        pass
    assert ("is not verified" in chat.system) is told


def _talk(lines: str) -> str:
    out = StringIO()
    call_command("talk", "--from", CALLER, stdin=StringIO(lines), stdout=out)
    return out.getvalue()


def test_the_offline_brain_asks_for_the_car_and_cancels_once_it_matches(settings, booked: Appointment) -> None:
    settings.LLM_PROVIDER = "offline"
    text = _talk("I need to cancel my appointment\nyes\nHonda\nyes\n")
    assert "For your security, what's the make of the car on that appointment?" in text
    assert "Just to be sure: your oil change on Tuesday, November 24 at 10 AM. Shall I cancel it?" in text
    assert "is cancelled" in text
    assert Appointment.objects.get(pk=booked.pk).status == AppointmentStatus.CANCELLED


def test_the_offline_brain_cancels_nothing_for_a_wrong_car(settings, booked: Appointment) -> None:
    settings.LLM_PROVIDER = "offline"
    text = _talk("I need to cancel my appointment\nyes\nToyota\nFord\n")
    assert "Sorry, that doesn't match what we have on record." in text and "front desk" in text
    assert Appointment.objects.get(pk=booked.pk).status == AppointmentStatus.SCHEDULED


def test_with_verification_off_the_offline_brain_cancels_on_a_yes(settings, booked: Appointment) -> None:
    settings.LLM_PROVIDER, settings.CALLER_VERIFICATION = "offline", "off"
    text = _talk("I need to cancel my appointment\nyes\n")
    assert "security" not in text and "is cancelled" in text
