"""The shop's tools: scoped to the caller's own number, validated, idempotent, confirmed first."""

import json
import random
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection

from crm.models import Appointment, AppointmentStatus, CallOutcome, Customer, Vehicle
from crm.tests.factories import AppointmentFactory, CustomerFactory, VehicleFactory, make_vin
from voice.agent.shop_tools import registry
from voice.agent.tool_registry import ToolRun
from voice.call_record import CallIdentity, CallIntent, CallRecord, ToolScope

pytestmark = pytest.mark.django_db(transaction=True)

NY = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=NY)  # Monday 8 AM
CALLER = "+15550102000"


@pytest.fixture(autouse=True)
def _shop(settings):
    settings.SHOP_TIMEZONE = "America/New_York"
    settings.SHOP_BAYS = 2
    settings.CALENDAR_BACKEND = "builtin"
    with time_machine.travel(NOW, tick=False):
        yield


ATTESTED = "TN-Validation-Passed-A"
OIL_TUESDAY_10 = "To confirm: an oil change on Tuesday, November 24 at 10 AM. Shall I book it?"


def ctx(phone: str | None = CALLER, call_sid: str = "CA1", attestation: str = ATTESTED,
        agreed: str = OIL_TUESDAY_10) -> ToolScope:
    """The scope a new call's record gives its tools: the caller's number from Twilio (attested at level A
    unless a test says otherwise), no facts yet, and the caller just said yes to the agent's `agreed`."""
    record = CallRecord.new(CallIdentity(call_sid=call_sid, caller=phone, attestation=attestation))
    record.history += [{"role": "assistant", "content": agreed}, {"role": "user", "content": "Yes, please."}]
    return record.tool_scope()


def agreed(scope: ToolScope, agent: str, caller: str = "Yes, please.") -> ToolScope:
    """The exchange the next tool call answers: the agent said `agent` (heard to its end), the caller `caller`."""
    scope.agent_said, scope.caller_said = agent, caller
    return scope


async def call(tool: str, scope: ToolScope, **args: Any) -> ToolRun:
    return await registry.run(tool, json.dumps(args), scope)


async def run(tool: str, scope: ToolScope, **args: Any) -> dict[str, Any]:
    return json.loads((await call(tool, scope, **args)).content)


async def test_every_tool_the_issue_names_is_offered_to_the_model() -> None:
    names = {schema["function"]["name"] for schema in registry.schemas()}
    assert names >= {"lookup_customer", "update_customer", "list_vehicles", "add_vehicle", "check_availability",
                     "book_appointment", "list_appointments", "reschedule_appointment", "cancel_appointment",
                     "get_service_menu", "get_shop_info", "transfer_to_human", "end_call"}


async def test_lookup_finds_only_the_callers_own_record() -> None:
    from asgiref.sync import sync_to_async

    await sync_to_async(CustomerFactory.create)(phone=CALLER, name="Marge Simpson")
    await sync_to_async(CustomerFactory.create)(phone="+15550109999", name="Someone Else")
    result = await run("lookup_customer", ctx(), phone="+15550109999", customer_id=2)
    assert result["known"] is True and result["name"] == "Marge Simpson"


async def test_availability_lists_free_times_and_refuses_the_past() -> None:
    result = await run("check_availability", ctx(), service="oil_change", date="2026-11-24")
    assert result["days"][0]["date"] == "2026-11-24"
    assert "08:00" in result["days"][0]["times"] or "08:30" in result["days"][0]["times"]
    past = await run("check_availability", ctx(), service="oil_change", date="2026-11-01")
    assert "past" in past["error"]
    bad = await run("check_availability", ctx(), service="teleport", date="2026-11-24")
    assert "Unknown service" in bad["error"]
    sunday = await run("check_availability", ctx(), service="oil_change", date="2026-11-29")
    assert sunday["days"] == []


async def test_booking_needs_the_callers_yes_first() -> None:
    result = await run("book_appointment", ctx(), service="oil_change", start="2026-11-24T10:00",
                       caller_confirmed=False)
    assert "confirm" in result["error"]
    assert not await Appointment.objects.aexists()


async def test_booking_creates_the_callers_record_and_is_idempotent() -> None:
    context = ctx()
    booking = await call("book_appointment", context, service="oil_change", start="2026-11-24T10:00",
                         caller_confirmed=True)
    first = json.loads(booking.content)
    again = await run("book_appointment", context, service="oil_change", start="2026-11-24T10:00",
                      caller_confirmed=True)
    assert first["booked"] and again["appointment_id"] == first["appointment_id"]
    assert first["when"] == "Tuesday, November 24 at 10 AM"
    assert await Appointment.objects.acount() == 1
    customer = await Customer.objects.aget(phone=CALLER)
    assert (await Appointment.objects.aget()).customer_id == customer.pk
    assert booking.outcome == CallOutcome.BOOKED
    assert context.customer_id == customer.pk and context.facts.booked_ids == [first["appointment_id"]]


async def test_a_second_booking_needs_the_caller_to_ask_for_it() -> None:
    context = ctx()
    await run("book_appointment", context, service="oil_change", start="2026-11-24T10:00", caller_confirmed=True)
    agreed(context, "And a tire rotation on Wednesday at 10 AM, shall I book that too?")
    second = await run("book_appointment", context, service="tire_rotation", start="2026-11-25T10:00",
                       caller_confirmed=True)
    assert "already booked" in second["error"]
    third = await run("book_appointment", context, service="tire_rotation", start="2026-11-25T10:00",
                      caller_confirmed=True, additional_booking_requested=True)
    assert third["booked"]


async def test_full_slot_and_bad_start_get_spoken_explanations() -> None:
    for number in ("+15550100001", "+15550100002"):
        await run("book_appointment", ctx(number, call_sid=number), service="oil_change", start="2026-11-24T10:00",
                  caller_confirmed=True)
    full = await run("book_appointment", ctx(), service="oil_change", start="2026-11-24T10:00", caller_confirmed=True)
    assert "fully booked" in full["error"]
    garbled = await run("book_appointment", ctx(), service="oil_change", start="next tuesday", caller_confirmed=True)
    assert "2026-11-24T09:30" in garbled["error"]


async def test_other_customers_appointments_are_out_of_reach() -> None:
    from asgiref.sync import sync_to_async

    theirs = await sync_to_async(AppointmentFactory.create)(customer__phone="+15550109999")
    await sync_to_async(CustomerFactory.create)(phone=CALLER)
    cancel = await run("cancel_appointment", ctx(), appointment_id=theirs.pk, caller_confirmed=True)
    move = await run("reschedule_appointment", ctx(), appointment_id=theirs.pk, new_start="2026-11-25T10:00",
                     caller_confirmed=True)
    assert "No such appointment" in cancel["error"] and "No such appointment" in move["error"]
    await theirs.arefresh_from_db()
    assert theirs.status == AppointmentStatus.SCHEDULED
    assert (await run("list_appointments", ctx()))["appointments"] == []


async def test_reschedule_and_cancel_the_callers_own_appointment() -> None:
    context = ctx()
    booked = await run("book_appointment", context, service="oil_change", start="2026-11-24T10:00",
                       caller_confirmed=True)
    listed = await run("list_appointments", context)
    assert [a["appointment_id"] for a in listed["appointments"]] == [booked["appointment_id"]]
    agreed(context, "I can move your oil change to Friday, November 27 at 2 PM. Shall I move it?")
    moved = await run("reschedule_appointment", context, appointment_id=booked["appointment_id"],
                      new_start="2026-11-27T14:00", caller_confirmed=True)
    assert moved["when"] == "Friday, November 27 at 2 PM"
    agreed(context, "You have an oil change on Friday, November 27 at 2 PM. Shall I cancel it?")
    cancelling = await call("cancel_appointment", context, appointment_id=booked["appointment_id"],
                            caller_confirmed=True)
    assert json.loads(cancelling.content)["cancelled"] and cancelling.outcome == CallOutcome.CANCELLED
    assert context.facts.changed_ids == [booked["appointment_id"]]


async def test_the_call_log_ties_the_new_customer_and_each_change_and_the_shop_is_told_once_each() -> None:
    from asgiref.sync import sync_to_async

    from crm.events import appointment_changed
    from crm.models import CallLog
    from crm.services import call_log_start

    heard: list[tuple[int, str, str]] = []

    def listener(sender: Any, appointment_id: int, action: str, call_sid: str, **kwargs: Any) -> None:
        heard.append((appointment_id, action, call_sid))

    appointment_changed.connect(listener)
    try:
        await sync_to_async(call_log_start)(call_sid="CA-links", from_number=CALLER)  # a caller new to the shop
        context = ctx(call_sid="CA-links")
        booked = await run("book_appointment", context, service="oil_change", start="2026-11-24T10:00",
                           caller_confirmed=True)
        again = await run("book_appointment", context, service="oil_change", start="2026-11-24T10:00",
                          caller_confirmed=True)  # a replay finds the same booking
        assert again["appointment_id"] == booked["appointment_id"]
        agreed(context, "I can move your oil change to Friday, November 27 at 2 PM. Shall I move it?")
        await run("reschedule_appointment", context, appointment_id=booked["appointment_id"],
                  new_start="2026-11-27T14:00", caller_confirmed=True)
        agreed(context, "You have an oil change on Friday, November 27 at 2 PM. Shall I cancel it?")
        await run("cancel_appointment", context, appointment_id=booked["appointment_id"], caller_confirmed=True)
    finally:
        appointment_changed.disconnect(listener)

    def links() -> tuple[int | None, int | None, list[str]]:
        log = CallLog.objects.get(call_sid="CA-links")
        customer = Customer.objects.get(phone=CALLER)
        return log.customer_id, customer.pk, list(log.actions.values_list("action", flat=True))

    log_customer, customer, actions = await sync_to_async(links)()
    assert log_customer == customer  # the customer made during the call
    assert actions == ["booked", "moved", "cancelled"]
    assert heard == [(booked["appointment_id"], action, "CA-links") for action in ("booked", "moved", "cancelled")]


async def test_a_booking_that_fails_is_its_own_outcome_but_never_hides_one_that_worked() -> None:
    context = ctx()
    refused = await call("book_appointment", context, service="oil_change", start="2026-11-24T22:00",
                         caller_confirmed=True)  # after closing
    assert "error" in json.loads(refused.content)
    record = CallRecord.new(CallIdentity(call_sid="CA2", caller=CALLER))
    record.note(outcome=refused.outcome)
    assert record.final_outcome() == CallOutcome.BOOKING_FAILED
    record.note(outcome=CallOutcome.BOOKED)
    record.note(outcome=refused.outcome)  # a second attempt failing after one that worked
    assert record.final_outcome() == CallOutcome.BOOKED


async def test_moving_and_confirming_are_the_calls_outcome_and_facts() -> None:
    context = ctx()
    booked = await run("book_appointment", context, service="oil_change", start="2026-11-24T10:00",
                       caller_confirmed=True)
    agreed(context, "Moving your oil change to Wednesday at 9 AM, okay?")
    moving = await call("reschedule_appointment", context, appointment_id=booked["appointment_id"],
                        new_start="2026-11-25T09:00", caller_confirmed=True)
    confirming = await call("confirm_appointment", context, appointment_id=booked["appointment_id"])
    assert (moving.outcome, confirming.outcome) == (CallOutcome.RESCHEDULED, CallOutcome.CONFIRMED)
    assert json.loads(confirming.content)["status"] == AppointmentStatus.CONFIRMED
    assert context.facts.changed_ids == [booked["appointment_id"]]


async def test_a_call_that_reconnects_still_knows_what_it_booked() -> None:
    """The facts travel with the call record, so a new media stream cannot book twice by accident."""
    record = CallRecord.new(CallIdentity(call_sid="CA1", caller=CALLER))
    first = await run("book_appointment", agreed(record.tool_scope(), OIL_TUESDAY_10), service="oil_change",
                      start="2026-11-24T10:00", caller_confirmed=True)
    reloaded = agreed(CallRecord.from_dict(json.loads(json.dumps(record.to_dict()))).tool_scope(), OIL_TUESDAY_10)
    replay = await run("book_appointment", reloaded, service="oil_change", start="2026-11-24T10:00",
                       caller_confirmed=True)
    second = await run("book_appointment", agreed(reloaded, "A tire rotation on Wednesday at 10 AM?"),
                       service="tire_rotation", start="2026-11-25T10:00", caller_confirmed=True)
    assert replay["appointment_id"] == first["appointment_id"] and "already booked" in second["error"]
    assert await Appointment.objects.acount() == 1


async def test_book_cancel_book_in_one_call_gives_a_new_live_booking() -> None:
    context = ctx()
    first = await run("book_appointment", context, service="oil_change", start="2026-11-24T10:00",
                      caller_confirmed=True)
    agreed(context, "You have an oil change on Tuesday, November 24 at 10 AM. Shall I cancel it?")
    await run("cancel_appointment", context, appointment_id=first["appointment_id"], caller_confirmed=True)
    agreed(context, OIL_TUESDAY_10)
    again = await run("book_appointment", context, service="oil_change", start="2026-11-24T10:00",
                      caller_confirmed=True)
    assert again["booked"] and again["appointment_id"] != first["appointment_id"]
    assert again["status"] == AppointmentStatus.SCHEDULED
    statuses = [a.status async for a in Appointment.objects.order_by("pk")]
    assert statuses == [AppointmentStatus.CANCELLED, AppointmentStatus.SCHEDULED]


async def test_a_booking_cancelled_on_the_call_does_not_count_against_another() -> None:
    context = ctx()
    first = await run("book_appointment", context, service="oil_change", start="2026-11-24T10:00",
                      caller_confirmed=True)
    agreed(context, "You have an oil change on Tuesday, November 24 at 10 AM. Shall I cancel it?")
    await run("cancel_appointment", context, appointment_id=first["appointment_id"], caller_confirmed=True)
    agreed(context, "A tire rotation on Wednesday, November 25 at 10 AM. Shall I book it?")
    other = await run("book_appointment", context, service="tire_rotation", start="2026-11-25T10:00",
                      caller_confirmed=True)
    assert other.get("booked") is True, other
    assert await Appointment.objects.filter(status=AppointmentStatus.SCHEDULED).acount() == 1


async def test_only_the_tools_that_change_shop_data_are_marked_as_writes() -> None:
    tools = [registry.get(schema["function"]["name"]) for schema in registry.schemas()]
    writes = {tool.name for tool in tools if tool is not None and tool.writes}
    assert writes == {"book_appointment", "reschedule_appointment", "cancel_appointment", "confirm_appointment",
                      "update_customer", "add_vehicle", "update_vehicle"}


async def test_vehicles_are_checked_and_decoded() -> None:
    from asgiref.sync import sync_to_async

    await sync_to_async(CustomerFactory.create)(phone=CALLER)
    bad = await run("add_vehicle", ctx(), vin="1HGCM82643A004352")
    assert "check digit" in bad["error"]
    added = await run("add_vehicle", ctx(), vin="1HGCM82633A004352", license_plate="EVRGRN", mileage=81000)
    assert added["added"] and "2003" in added["description"]
    vehicles = await run("list_vehicles", ctx())
    assert [v["vin_last6"] for v in vehicles["vehicles"]] == ["004352"]
    someone = await sync_to_async(VehicleFactory.create)(vin=make_vin(__import__("random").Random(99)))
    taken = await run("add_vehicle", ctx(), vin=someone.vin)
    assert "another customer" in taken["error"]
    assert await Vehicle.objects.filter(customer__phone=CALLER).acount() == 1


async def test_a_car_without_its_vin_is_added_by_year_make_and_model_with_its_plate_once() -> None:
    from asgiref.sync import sync_to_async

    await sync_to_async(CustomerFactory.create)(phone=CALLER)
    vague = await run("add_vehicle", ctx(), model="Leaf")
    assert "year and make" in vague["error"]
    added = await run("add_vehicle", ctx(), year=2019, make="Nissan", model="Leaf", license_plate="7abc123",
                      plate_state="tn")
    again = await run("add_vehicle", ctx(), year=2019, make="nissan", model="leaf")  # the caller says it twice
    assert added["added"] and added["description"] == "2019 Nissan Leaf" and again["vehicle_id"] == added["vehicle_id"]
    car = await Vehicle.objects.aget(pk=added["vehicle_id"])
    assert (car.vin, car.license_plate, car.plate_state) == (None, "7ABC123", "TN")
    await run("add_vehicle", ctx(), year=2015, make="Ford", model="Focus")  # a second car without a VIN: allowed
    assert await Vehicle.objects.filter(customer__phone=CALLER, vin__isnull=True).acount() == 2


async def test_hidden_caller_id_cannot_create_records() -> None:
    result = await run("update_customer", ctx(phone=None), name="Anon")
    assert "hidden" in result["error"]


async def test_shop_info_menu_and_call_control(settings) -> None:
    settings.FRONT_DESK_NUMBER = "+15550100199"
    info = await run("get_shop_info", ctx())
    assert info["hours"]["Sunday"] == "closed" and info["hours"]["Monday"] == "8:00 AM to 6:00 PM"
    menu = await run("get_service_menu", ctx())
    oil = next(s for s in menu["services"] if s["service"] == "oil_change")
    assert oil["minutes"] == 30 and oil["spoken_price"] == "49 dollars and 99 cents"
    transfer = CallRecord.new(CallIdentity(call_sid="CA1", caller=CALLER))
    handing_over = await call("transfer_to_human", transfer.tool_scope(), reason="wants a person")
    assert handing_over.intent is CallIntent.TRANSFER
    transfer.note(outcome=handing_over.outcome, intent=handing_over.intent)
    assert transfer.transfer and transfer.ended and transfer.outcome == CallOutcome.TRANSFERRED
    goodbye = CallRecord.new(CallIdentity(call_sid="CA2", caller=CALLER))
    ending = await call("end_call", goodbye.tool_scope())
    assert ending.intent is CallIntent.END
    goodbye.note(outcome=ending.outcome, intent=ending.intent)
    assert goodbye.ended and not goodbye.transfer


async def test_asking_for_a_person_with_no_front_desk_takes_a_message_instead(settings) -> None:
    from voice.call_record import Offer

    settings.FRONT_DESK_NUMBER = ""
    record = CallRecord.new(CallIdentity(call_sid="CA1", caller=CALLER))
    asked = await call("transfer_to_human", record.tool_scope(), reason="wants a person")
    assert json.loads(asked.content)["front_desk"] is False
    record.note(outcome=asked.outcome, intent=asked.intent)
    assert not record.transfer and not record.ended  # no one to hand over to: the call goes on
    assert record.pending_offer is Offer.MESSAGE_WANTED  # the caller's next words are the message


async def test_arguments_of_the_wrong_type_get_a_short_explanation(caplog) -> None:
    """A model that sends a word where a number belongs hears what to send, not 'it failed on our side'."""
    from asgiref.sync import sync_to_async

    await sync_to_async(CustomerFactory.create)(phone=CALLER, name="Marge Simpson")
    car = await run("book_appointment", ctx(), service="oil_change", start="2026-11-24T10:00",
                    caller_confirmed=True, vehicle_id="the blue one")
    assert "vehicle_id" in car["error"] and "list_vehicles" in car["error"]
    cancel = await run("cancel_appointment", ctx(), appointment_id="my oil change", caller_confirmed=True)
    assert "appointment_id" in cancel["error"] and "list_appointments" in cancel["error"]
    fractional = await run("cancel_appointment", ctx(), appointment_id=1.5, caller_confirmed=True)
    assert "appointment_id" in fractional["error"]
    superscript = await run("cancel_appointment", ctx(), appointment_id="\u00b2", caller_confirmed=True)
    assert "appointment_id" in superscript["error"]  # "²" counts as a digit to str.isdigit, not to int()
    named = await run("update_customer", ctx(), name=["Marge"], email=42)
    assert "name" in named["error"]
    assert await Appointment.objects.acount() == 0
    assert (await Customer.objects.aget(phone=CALLER)).name == "Marge Simpson"
    assert "failed" not in caplog.text  # nothing reached the catch-all



ODD_VALUES = [None, True, 0, -1, 1.5, 10**30, "", "x", "2026-11-24", "2026-11-24T10:00", "2026-02-30T10:00",
              "2026-11-24T25:00", "1HGCM82633A004352", [], {}, [1], {"a": 1}, "oil_change", "99999999999999999999"]


@pytest.mark.parametrize("seed", range(8))
async def test_whatever_the_model_sends_no_tool_falls_into_the_catch_all(seed: int, caplog) -> None:
    """Each tool, called with valid arguments of which one or two are swapped for odd values, answers or
    explains; none ends in "that did not work on our side"."""
    from asgiref.sync import sync_to_async

    rng = random.Random(seed)
    vehicle = await sync_to_async(VehicleFactory.create)(customer__phone=CALLER)
    appointment = await sync_to_async(AppointmentFactory.create)(customer=vehicle.customer, vehicle=vehicle)
    valid: dict[str, dict[str, Any]] = {
        "update_customer": {"name": "Marge", "email": "marge@example.com"},
        "add_vehicle": {"vin": "1HGCM82633A004352", "model": "Accord", "license_plate": "EVRGRN", "mileage": 9},
        "check_availability": {"service": "oil_change", "date": "2026-11-24", "end_date": "2026-11-25"},
        "book_appointment": {"service": "oil_change", "start": "2026-11-24T10:00", "vehicle_id": vehicle.pk,
                             "notes": "", "caller_confirmed": True},
        "reschedule_appointment": {"appointment_id": appointment.pk, "new_start": "2026-11-25T10:00",
                                   "caller_confirmed": True},
        "cancel_appointment": {"appointment_id": appointment.pk, "caller_confirmed": True},
    }
    for schema in registry.schemas():
        name = schema["function"]["name"]
        fields = list(schema["function"]["parameters"].get("properties", {}))
        for _ in range(6):
            args = dict(valid.get(name, {}))
            for field in rng.sample(fields, min(len(fields), rng.choice((1, 2)))):
                args[field] = rng.choice(ODD_VALUES)
            result = await run(name, ctx(call_sid=f"CA{seed}-{name}"), **args)
            assert "on our side" not in result.get("error", ""), (name, args)
    assert "failed" not in caplog.text


@pytest.mark.skipif(connection.vendor != "postgresql", reason="holds the booking lock from another connection")
async def test_a_booking_the_caller_talks_over_while_the_database_is_busy_is_finished_and_kept() -> None:
    """The caller barges in while `book_appointment` waits for the day's booking lock (another
    transaction holds it): the booking still completes, and the history the model sees next holds
    the tool call with its result, so the model never knows less than the database."""
    import asyncio
    import threading
    from datetime import date

    from django.db import transaction

    from crm.services import BOOKING_LOCK_NAMESPACE
    from voice.agent.loop import agent_reply
    from voice.tests.fakes import TimedChat, tool_call

    locked, release = threading.Event(), threading.Event()

    def hold_the_day() -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)",
                           [BOOKING_LOCK_NAMESPACE, date(2026, 11, 24).toordinal()])
            locked.set()
            release.wait(20)
        connection.close()

    holder = threading.Thread(target=hold_the_day)
    holder.start()
    assert locked.wait(10)
    arguments = json.dumps({"service": "oil_change", "start": "2026-11-24T10:00", "caller_confirmed": True})
    chat = TimedChat(script=[[tool_call("book_appointment", arguments)]])
    history: list[dict[str, Any]] = [{"role": "user", "content": "Yes, book it"}]
    done: list[ToolRun] = []

    async def reply() -> None:
        async for _ in agent_reply(chat, registry, {"role": "system", "content": "sys"}, history, ctx(),
                                   on_tool_done=done.append):
            pass

    task = asyncio.create_task(reply())
    try:
        await asyncio.sleep(0.5)
        task.cancel()  # the caller talks over the agent
        await asyncio.sleep(0.5)
        assert not task.done()  # the booking still waits for the lock: a started write is not dropped
    finally:
        release.set()
    await asyncio.wait_for(asyncio.wait([task]), 20)
    holder.join(10)
    assert task.cancelled()
    assert [m["role"] for m in history] == ["user", "assistant", "tool"]
    result = json.loads(history[2]["content"])
    assert result["booked"] is True and result["appointment_id"] == (await Appointment.objects.aget()).pk
    assert [run.outcome for run in done] == [CallOutcome.BOOKED]


async def test_a_vin_and_plate_spelled_out_are_read_in_code_and_the_vin_read_back_in_fours() -> None:
    from asgiref.sync import sync_to_async

    await sync_to_async(CustomerFactory.create)(phone=CALLER)
    misheard = await run("add_vehicle", ctx(), vin="one hotel golf charlie mike eight two six four three alpha double "
                                                   "oh four three five two")  # a 4 where the caller said 3
    assert "check digit" in misheard["error"] and "I heard 1 H G C, M 8 2 6, 4 3 A zero" in misheard["error"]
    added = await run("add_vehicle", ctx(), vin="one hotel golf charlie mike eight two six double three alpha "
                                                "double oh four three five two", license_plate="seven alpha bravo "
                                                "charlie one two three", plate_state="TN")
    assert added["read_back"] == "1 H G C, M 8 2 6, 3 3 A zero, zero 4 3 5, 2"
    car = await Vehicle.objects.aget(pk=added["vehicle_id"])
    assert (car.vin, car.license_plate) == ("1HGCM82633A004352", "7ABC123")
    first = await run("update_vehicle", ctx(), vehicle_id=car.pk, mileage="eighty one thousand five hundred")
    assert first["mileage"] == 81500
    lower = await run("update_vehicle", ctx(), vehicle_id=car.pk, mileage=8150)  # a digit dropped
    assert "81,500 miles on record" in lower["error"] and lower["tell_caller"]
    assert (await Vehicle.objects.aget(pk=car.pk)).mileage == 81500
