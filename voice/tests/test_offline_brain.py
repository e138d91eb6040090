"""The offline brain runs the front-desk flows with the real tools and database, deterministically."""

import random
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
import time_machine
from asgiref.sync import sync_to_async

from crm.models import Appointment, AppointmentStatus
from crm.tests.factories import AppointmentFactory, VehicleFactory
from voice.agent.loop import agent_reply
from voice.agent.registry import registry
from voice.agent.tools import ToolContext
from voice.providers.offline_brain import OfflineBrain, parse_day, parse_service, parse_time

pytestmark = pytest.mark.django_db(transaction=True)
NY = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=NY)  # Monday


@pytest.fixture(autouse=True)
def _shop(settings):
    settings.SHOP_TIMEZONE = "America/New_York"
    settings.CALENDAR_BACKEND = "builtin"
    with time_machine.travel(NOW, tick=False):
        yield


class Conversation:
    def __init__(self, phone: str = "+15550102000") -> None:
        self.history: list[dict] = []
        self.context = ToolContext(call_sid="CA-offline", caller_phone=phone)

    async def say(self, text: str) -> str:
        self.history.append({"role": "user", "content": text})
        reply = "".join([d async for d in agent_reply(OfflineBrain(), registry, {"role": "system", "content": ""},
                                                      self.history, self.context, filler_after=30)])
        self.history.append({"role": "assistant", "content": reply})
        return reply


def test_parsers_understand_phone_phrasing() -> None:
    today = NOW.date()
    assert parse_service("I'd like an oil change") == "oil_change"
    assert parse_service("my brakes are squealing") == "brake_inspection"
    assert parse_day("tomorrow", today) == date(2026, 11, 24)
    assert parse_day("how about Friday", today) == date(2026, 11, 27)
    assert parse_day("November 30th", today) == date(2026, 11, 30)
    assert parse_day("January 5th", today) == date(2027, 1, 5)
    assert parse_time("at 10 am") == time(10, 0)
    assert parse_time("ten thirty") == time(10, 30)
    assert parse_time("2 pm") == time(14, 0)
    assert parse_time("at two") == time(14, 0)


def test_a_day_the_calendar_never_has_is_no_day() -> None:
    today = NOW.date()
    assert parse_day("February 30th", today) is None
    assert parse_day("November 31", today) is None
    assert parse_day("2026-02-30", today) is None
    assert parse_day("the 0th", today) is None
    assert parse_time("at 10:75") is None  # no such minute: the time is asked for again
    assert parse_day("February 29th", today) == date(2028, 2, 29)  # the next leap day


async def test_an_impossible_date_gets_asked_again_not_a_crash() -> None:
    await sync_to_async(VehicleFactory.create)(customer__phone="+15550102000")
    talk = Conversation()
    assert "What day" in await talk.say("Oil change on February 30th please")
    assert await sync_to_async(Appointment.objects.count)() == 0


async def test_booking_flow_asks_offers_confirms_and_books() -> None:
    vehicle = await sync_to_async(VehicleFactory.create)(customer__phone="+15550102000")
    talk = Conversation()
    assert "What day" in await talk.say("Hi, I need an oil change")
    offer = await talk.say("Tuesday please")
    assert offer.startswith("On Tuesday, November 24 I have")
    confirm = await talk.say("10 am works")
    assert confirm == ("To confirm: oil change for your 2018 Honda Civic on Tuesday, November 24 at 10 AM. "
                       "Shall I book it?")
    done = await talk.say("Yes")
    assert done.startswith("You're all set: oil change on Tuesday, November 24 at 10 AM")
    appointment = await Appointment.objects.aget()
    assert appointment.scheduled_at == datetime(2026, 11, 24, 10, 0, tzinfo=NY)
    assert appointment.customer_id == vehicle.customer_id and appointment.vehicle_id == vehicle.pk
    tools_called = [c["function"]["name"] for m in talk.history for c in m.get("tool_calls") or []]
    assert tools_called == ["check_availability", "check_availability", "list_vehicles", "book_appointment"]


async def test_with_two_cars_the_caller_is_asked_which_one() -> None:
    civic = await sync_to_async(VehicleFactory.create)(customer__phone="+15550102000", make="Honda", model="Civic",
                                                year=2018)
    await sync_to_async(VehicleFactory.create)(customer=civic.customer, make="Ford", model="Focus", year=2015)
    talk = Conversation()
    await talk.say("oil change tomorrow")
    question = await talk.say("10 am")
    assert question == "I have your 2018 Honda Civic and 2015 Ford Focus. Which car is it for?"
    assert "for your 2015 Ford Focus" in await talk.say("the Ford")
    assert "all set" in await talk.say("yes")
    appointment = await Appointment.objects.select_related("vehicle").aget()
    assert appointment.vehicle is not None and appointment.vehicle.model == "Focus"


async def test_cancel_flow_lists_confirms_and_cancels() -> None:
    appointment = await sync_to_async(AppointmentFactory.create)(customer__phone="+15550102000",
                                                          scheduled_at=datetime(2026, 11, 25, 9, 0, tzinfo=NY))
    talk = Conversation()
    question = await talk.say("I need to cancel my appointment")
    assert question == "You have a oil change on Wednesday, November 25 at 9 AM. Shall I cancel it?"
    assert "is cancelled" in await talk.say("yes please")
    await appointment.arefresh_from_db()
    assert appointment.status == AppointmentStatus.CANCELLED


async def test_reschedule_flow_moves_the_appointment() -> None:
    appointment = await sync_to_async(AppointmentFactory.create)(customer__phone="+15550102000",
                                                          scheduled_at=datetime(2026, 11, 25, 9, 0, tzinfo=NY))
    talk = Conversation()
    assert "What day would you like instead?" in await talk.say("Can I move my appointment?")
    assert "I have" in await talk.say("Friday")
    assert (await talk.say("2 pm")).endswith("Shall I move it?")
    assert "is now on Friday, November 27 at 2 PM" in await talk.say("yes")
    await appointment.arefresh_from_db()
    assert appointment.scheduled_at == datetime(2026, 11, 27, 14, 0, tzinfo=NY)


async def test_hours_prices_transfer_and_goodbye() -> None:
    talk = Conversation()
    assert "closed on Sundays" in await talk.say("What are your hours?")
    assert "49 dollars and 99 cents" in await talk.say("How much is an oil change?")
    assert "front desk" in await talk.say("Can I talk to a person?")
    assert talk.context.transfer
    bye = Conversation()
    assert "Goodbye" in await bye.say("That's all, bye")
    assert bye.context.end_call


async def test_a_full_day_gets_alternatives_not_a_booking(settings) -> None:
    settings.SHOP_BAYS = 1
    await sync_to_async(AppointmentFactory.create)(scheduled_at=datetime(2026, 11, 24, 10, 0, tzinfo=NY))
    talk = Conversation()
    await talk.say("oil change tomorrow")
    answer = await talk.say("10 am")
    assert answer.startswith("Sorry, 10 AM isn't free on Tuesday, November 24. I have")


async def test_on_a_reminder_call_yes_confirms_the_appointment() -> None:
    from voice.agent.prompt import system_prompt

    appointment = await sync_to_async(AppointmentFactory.create)(customer__phone="+15550102000",
                                                          scheduled_at=datetime(2026, 11, 24, 10, 0, tzinfo=NY))
    reminder = {"appointment_id": appointment.pk, "service": "Oil change", "vehicle": "2018 Honda Civic",
                "when": "Tuesday, November 24 at 10 AM"}
    system = system_prompt(NOW, "Marge", True, reminder=reminder)
    history = [{"role": "assistant", "content": "Hi Marge, ... Can you still make it?"},
               {"role": "user", "content": "Yes I'll be there"}]
    context = ToolContext(call_sid="CA-rem", caller_phone="+15550102000")
    reply = "".join([d async for d in agent_reply(OfflineBrain(), registry, system, history, context)])
    assert reply == "Thank you, you're confirmed for Tuesday, November 24 at 10 AM. See you then!"
    await appointment.arefresh_from_db()
    assert appointment.status == AppointmentStatus.CONFIRMED and context.outcome == "confirmed"


CALLER_LINES = ["hi", "I need an oil change", "brakes", "tuesday", "the 31st", "february 30th", "at 10", "10:75", "yes",
                "no", "cancel my appointment", "reschedule", "move it to friday at 2", "the ford", "your hours",
                "how much is an oil change", "someone please", "tomorrow at noon", "next monday at 9 am", "uh", "",
                "the 0th at 25:00", "2026-13-40", "book it", "yes please", "actually thursday", "at two"]


@pytest.mark.parametrize("seed", range(12))
async def test_a_caller_saying_anything_in_any_order_always_gets_an_answer(seed: int, caplog) -> None:
    rng = random.Random(seed)
    await sync_to_async(VehicleFactory.create)(customer__phone="+15550102000")
    talk = Conversation()
    for _ in range(8):
        line = rng.choice(CALLER_LINES)
        assert (await talk.say(line)).strip(), line
    assert "failed" not in caplog.text
