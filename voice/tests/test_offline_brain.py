"""The offline brain runs the front-desk flows deterministically, driven through `OfflineBrain.stream`
with hand-built histories and tool results in the shapes the shop's tools return."""

import ast
import json
import os
import random
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from voice.providers.base import ChatContext, TextDelta
from voice.providers.offline_brain import OfflineBrain

NY = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=NY)  # Monday
SERVICES = {"oil_change": "Oil change", "brake_inspection": "Brake inspection", "tire_rotation": "Tire rotation"}
TOOL_NAMES = ["get_current_time", "get_shop_info", "get_service_menu", "lookup_customer", "update_customer",
              "list_vehicles", "add_vehicle", "check_availability", "book_appointment", "list_appointments",
              "reschedule_appointment", "cancel_appointment", "confirm_appointment", "transfer_to_human", "end_call"]
TOOLS = [{"type": "function", "function": {"name": name, "parameters": {}}} for name in TOOL_NAMES]
CIVIC = {"vehicle_id": 7, "description": "2018 Honda Civic", "license_plate": "ABC123", "vin_last6": "123456"}
FOCUS = {"vehicle_id": 8, "description": "2015 Ford Focus", "license_plate": "XYZ987", "vin_last6": "654321"}
MARGE = {"id": 3, "name": "Marge Simpson", "phone": "+15550102000"}  # a returning caller, known by number
OPEN_TIMES = ["08:00", "09:00", "10:00", "11:00", "13:00", "14:00", "15:00", "16:00"]


@pytest.fixture(autouse=True)
def _shop(settings):
    settings.SHOP_TIMEZONE = "America/New_York"
    with time_machine.travel(NOW, tick=False):
        yield


def _when(start: str) -> str:
    moment = datetime.fromisoformat(start)
    clock = moment.strftime("%-I %p") if moment.minute == 0 else moment.strftime("%-I:%M %p")
    return f"{moment.strftime('%A, %B')} {moment.day} at {clock}"


def _appointment(appointment_id: int, service: str, start: str, status: str = "scheduled") -> dict[str, Any]:
    return {"appointment_id": appointment_id, "service": service, "when": _when(start), "start": start,
            "vehicle": CIVIC["description"], "status": status}


class FakeShop:
    """The shop's tools at the brain's boundary: canned answers shaped like `voice.agent.shop_tools`'."""

    def __init__(self, vehicles: list[dict[str, Any]] | None = None, appointments: list[dict[str, Any]] | None = None,
                 taken: tuple[str, ...] = ()) -> None:
        self.vehicles = vehicles
        self.appointments = appointments or []
        self.taken = taken  # "YYYY-MM-DDTHH:MM" starts that are not free
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def run(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((name, args))
        if name == "check_availability":
            day = date.fromisoformat(args["date"])
            times = [t for t in OPEN_TIMES if f"{day.isoformat()}T{t}" not in self.taken]
            answer: dict[str, Any] = {
                "service": SERVICES.get(args["service"], args["service"]), "minutes": 30,
                "days": [{"date": day.isoformat(), "day": f"{day.strftime('%A, %B')} {day.day}", "times": times}],
                "note": "Offer two or three of these, not the whole list."}
            if args.get("time"):
                answer["requested"] = {"date": day.isoformat(), "time": args["time"], "free": args["time"] in times}
            return answer
        if name == "update_customer":
            return {"saved": True, "name": args.get("name", ""), "email": ""}
        if name == "add_vehicle" and "vin" in args:  # as the real tool: checked, decoded, read back in fours
            if args["vin"] != "1HGCM82633A004352":
                return {"error": "The VIN's check digit (9th character) does not match; it was likely misread."}
            return {"added": True, "vehicle_id": 9, "description": "2003 Honda Accord", "license_plate": "",
                    "vin_last6": "004352", "read_back": "1 H G C, M 8 2 6, 3 3 A zero, zero 4 3 5, 2"}
        if name == "add_vehicle":
            return {"added": True, "vehicle_id": 9, "description": f"{args['year']} {args['make']} {args['model']}",
                    "license_plate": "", "vin_last6": ""}
        if name == "list_vehicles":
            if self.vehicles is None:
                return {"error": "This caller has no record yet. Ask for their name and save it with update_customer "
                                 "first."}
            return {"vehicles": self.vehicles}
        if name == "book_appointment":
            return {"booked": True, **_appointment(41, SERVICES.get(args["service"], "Service"), args["start"]),
                    "price": "49 dollars and 99 cents"}
        if name == "list_appointments":
            return {"appointments": self.appointments}
        if name == "cancel_appointment":
            return {"cancelled": True, **{**self.appointments[0], "status": "cancelled"}}
        if name == "reschedule_appointment":
            moved = _appointment(args["appointment_id"], self.appointments[0]["service"], args["new_start"])
            return {"rescheduled": True, **moved}
        if name == "confirm_appointment":
            return {"confirmed": True, **{**self.appointments[0], "status": "confirmed"}}
        if name == "get_shop_info":
            return {"name": "Bart's Automotive", "address": "12 Main Street", "phone": "+15550100000",
                    "hours": {"Monday": "8:00 AM to 6:00 PM", "Saturday": "9:00 AM to 1:00 PM", "Sunday": "closed"},
                    "timezone": "America/New_York"}
        if name == "get_service_menu":
            return {"services": [{"service": "oil_change", "name": "Oil change", "minutes": 30, "price": "49.99",
                                  "spoken_price": "49 dollars and 99 cents"}]}
        if name == "transfer_to_human":
            return {"transferring": True, "say": "Tell the caller you're connecting them to the front desk now."}
        if name == "end_call":
            return {"ending": True, "say": "Say a short goodbye."}
        return {"error": f"There is no tool called {name}."}


class Conversation:
    """A call: the caller's lines in, the brain's words out, tools run by the fake shop like the agent loop does."""

    def __init__(self, shop: FakeShop | None = None, system: str = "You are the front desk.",
                 context: ChatContext | None = None) -> None:
        self.shop = shop or FakeShop(vehicles=[CIVIC])
        self.system = {"role": "system", "content": system}
        self.context = context or ChatContext(services=dict(SERVICES), customer=dict(MARGE))
        self.history: list[dict[str, Any]] = []

    async def say(self, text: str) -> str:
        self.history.append({"role": "user", "content": text})
        return await self.reply()

    async def reply(self) -> str:
        words = []
        for step in range(5):
            calls = []
            async for event in OfflineBrain().stream([self.system, *self.history], TOOLS if step < 4 else [],
                                                     self.context):
                if isinstance(event, TextDelta):
                    words.append(event.text)
                else:
                    calls.append(event)
            # The call keeps the notes in a cache between turns: only what survives JSON survives.
            self.context.notes = json.loads(json.dumps(self.context.notes))
            if not calls:
                break
            self.history.append({"role": "assistant", "content": None, "tool_calls": [
                {"id": c.call_id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in calls]})
            for call in calls:
                result = self.shop.run(call.name, json.loads(call.arguments))
                self.history.append({"role": "tool", "tool_call_id": call.call_id, "content": json.dumps(result)})
        reply = "".join(words)
        self.history.append({"role": "assistant", "content": reply})
        return reply

    def tools_called(self) -> list[str]:
        return [name for name, _ in self.shop.calls]


async def test_an_impossible_date_gets_asked_again_not_a_crash() -> None:
    talk = Conversation()
    assert "What day" in await talk.say("Oil change on February 30th please")
    assert "book_appointment" not in talk.tools_called()


async def test_booking_flow_asks_offers_confirms_and_books() -> None:
    talk = Conversation()
    assert "What day" in await talk.say("Hi, I need an oil change")
    offer = await talk.say("Tuesday please")
    assert offer.startswith("On Tuesday, November 24 I have")
    confirm = await talk.say("10 am works")
    assert confirm == ("To confirm: oil change for your 2018 Honda Civic on Tuesday, November 24 at 10 AM. "
                       "Shall I book it?")
    done = await talk.say("Yes")
    assert done.startswith("You're all set: oil change on Tuesday, November 24 at 10 AM")
    assert talk.tools_called() == ["check_availability", "check_availability", "list_vehicles", "book_appointment"]
    assert talk.shop.calls[-1][1] == {"service": "oil_change", "start": "2026-11-24T10:00", "vehicle_id": 7,
                                      "caller_confirmed": True}


async def test_with_two_cars_the_caller_is_asked_which_one() -> None:
    talk = Conversation(FakeShop(vehicles=[CIVIC, FOCUS]))
    await talk.say("oil change tomorrow")
    question = await talk.say("10 am")
    assert question == "I have your 2018 Honda Civic and 2015 Ford Focus. Which car is it for?"
    assert "for your 2015 Ford Focus" in await talk.say("the Ford")
    assert "all set" in await talk.say("yes")
    assert talk.shop.calls[-1] == ("book_appointment", {"service": "oil_change", "start": "2026-11-24T10:00",
                                                        "vehicle_id": 8, "caller_confirmed": True})


async def test_a_new_caller_gives_a_name_and_the_car_before_the_booking_is_read_back() -> None:
    talk = Conversation(FakeShop(vehicles=None), context=ChatContext(services=dict(SERVICES)))
    await talk.say("oil change tomorrow")
    assert (await talk.say("10 am")) == "I'll need a few details first. Can I have your name, please?"
    assert (await talk.say("it's homer simpson")) == ("Thanks, Homer. And what car is it? The year, make and model, "
                                                      "please.")
    assert (await talk.say("a twenty nineteen Nissan Leaf")) == (
        "To confirm: oil change for your 2019 Nissan Leaf on Tuesday, November 24 at 10 AM. Shall I book it?")
    assert "all set" in await talk.say("yes")
    assert ("update_customer", {"name": "Homer Simpson"}) in talk.shop.calls
    assert ("add_vehicle", {"year": 2019, "make": "Nissan", "model": "Leaf"}) in talk.shop.calls
    assert talk.shop.calls[-1] == ("book_appointment", {"service": "oil_change", "start": "2026-11-24T10:00",
                                                        "vehicle_id": 9, "caller_confirmed": True})


async def test_a_new_callers_car_answer_is_not_taken_for_a_time_or_a_day() -> None:
    talk = Conversation(FakeShop(vehicles=None), context=ChatContext(services=dict(SERVICES)))
    for line in ("oil change tomorrow", "10 am", "Homer Simpson"):
        await talk.say(line)
    read_back = await talk.say("two thousand nine Ford Focus")  # "nine" is not 9 o'clock, "two" not 2 PM
    assert read_back.endswith("on Tuesday, November 24 at 10 AM. Shall I book it?"), read_back
    assert "2009 Ford Focus" in read_back


async def test_cancel_flow_lists_confirms_and_cancels() -> None:
    talk = Conversation(FakeShop(appointments=[_appointment(5, "Oil change", "2026-11-25T09:00")]))
    question = await talk.say("I need to cancel my appointment")
    assert question == "You have an oil change on Wednesday, November 25 at 9 AM. Shall I cancel it?"
    assert "is cancelled" in await talk.say("yes please")
    assert talk.shop.calls[-1] == ("cancel_appointment", {"appointment_id": 5, "caller_confirmed": True})


class ConfirmingShop(FakeShop):
    """A shop whose changing tools refuse the first time, as the real ones do when the yes did not count."""

    def run(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        if name.endswith("_appointment") and name != "list_appointments" and not any(
                called == name for called, _ in self.calls):
            self.calls.append((name, args))
            return {"error": "The caller has not agreed to this yet.", "needs": "confirmation"}
        return super().run(name, args)


async def test_a_change_the_tool_refuses_for_want_of_a_yes_is_read_back_and_asked_again() -> None:
    talk = Conversation(ConfirmingShop(appointments=[_appointment(5, "Oil change", "2026-11-25T09:00")]))
    await talk.say("I need to cancel my appointment")
    again = await talk.say("yes please")
    assert again == "Just to be sure: your oil change on Wednesday, November 25 at 9 AM. Shall I cancel it?"
    assert "is cancelled" in await talk.say("yes")
    assert talk.tools_called() == ["list_appointments", "cancel_appointment", "cancel_appointment"]
    moving = Conversation(ConfirmingShop(appointments=[_appointment(5, "Oil change", "2026-11-25T09:00")]))
    for line in ("Can I move my appointment?", "Friday", "2 pm"):
        await moving.say(line)
    assert await moving.say("yes") == ("Just to be sure: I'll move your oil change to Friday, November 27 at 2 PM. "
                                       "Shall I move it?")
    assert "is now on Friday" in await moving.say("yes")
    booking = Conversation(ConfirmingShop(vehicles=[CIVIC]))
    for line in ("oil change tomorrow", "10 am"):
        await booking.say(line)
    assert await booking.say("yes") == "Just to be sure: oil change on Tuesday, November 24 at 10 AM. Shall I book it?"
    assert "all set" in await booking.say("yes")


async def test_reschedule_flow_moves_the_appointment() -> None:
    talk = Conversation(FakeShop(appointments=[_appointment(5, "Oil change", "2026-11-25T09:00")]))
    assert "What day would you like instead?" in await talk.say("Can I move my appointment?")
    assert "I have" in await talk.say("Friday")
    assert (await talk.say("2 pm")).endswith("Shall I move it?")
    assert "is now on Friday, November 27 at 2 PM" in await talk.say("yes")
    assert talk.shop.calls[-1] == ("reschedule_appointment", {"appointment_id": 5, "new_start": "2026-11-27T14:00",
                                                              "caller_confirmed": True})


async def test_hours_prices_transfer_and_goodbye() -> None:
    talk = Conversation()
    assert "closed on Sundays" in await talk.say("What are your hours?")
    assert "49 dollars and 99 cents" in await talk.say("How much is an oil change?")
    assert "front desk" in await talk.say("Can I talk to a person?")
    assert talk.tools_called()[-1] == "transfer_to_human"
    bye = Conversation()
    assert (await bye.say("That's all, bye")).endswith("Goodbye!")  # and nothing after the goodbye
    assert bye.tools_called() == ["end_call"]


async def test_a_full_day_gets_alternatives_not_a_booking() -> None:
    talk = Conversation(FakeShop(vehicles=[CIVIC], taken=("2026-11-24T10:00",)))
    await talk.say("oil change tomorrow")
    answer = await talk.say("10 am")
    assert answer.startswith("Sorry, 10 AM isn't free on Tuesday, November 24. I have")


async def _at_the_booking_question(talk: "Conversation") -> None:
    await talk.say("oil change tomorrow")
    assert (await talk.say("10 am")).startswith("To confirm: oil change")


@pytest.mark.parametrize(("opening", "answer", "tool"), [
    (["oil change tomorrow", "10 am"], "To confirm: an oil change, tomorrow at ten. Want me to put you down?",
     "book_appointment"),
    (["cancel my appointment"], "The one on Wednesday? Cancel it for you?", "cancel_appointment"),
    (["move my appointment to Friday", "2 pm"], "Friday at two instead, right?", "reschedule_appointment"),
])
async def test_a_yes_answers_the_brains_own_question_however_that_question_was_worded(
        opening: list[str], answer: str, tool: str) -> None:
    talk = Conversation(FakeShop(vehicles=[CIVIC], appointments=[_appointment(5, "Oil change", "2026-11-25T09:00")]))
    for line in opening:
        await talk.say(line)
    talk.history[-1]["content"] = answer  # the wording was edited (or cut short): the question is in the notes
    await talk.say("yes")
    assert talk.tools_called()[-1] == tool


async def test_the_pending_question_is_kept_in_the_notes_until_it_is_answered() -> None:
    talk = Conversation()
    await _at_the_booking_question(talk)
    assert talk.context.notes == {"pending": "confirm_book"}
    await talk.say("yes")
    assert "pending" not in talk.context.notes and talk.tools_called()[-1] == "book_appointment"


async def test_a_change_of_subject_drops_the_pending_question() -> None:
    talk = Conversation()
    await _at_the_booking_question(talk)
    assert "closed on Sundays" in await talk.say("wait, what are your hours?")
    assert "pending" not in talk.context.notes
    await talk.say("yes")
    assert "book_appointment" not in talk.tools_called()


async def test_a_question_only_in_the_text_and_not_in_the_notes_books_nothing() -> None:
    talk = Conversation()
    await _at_the_booking_question(talk)
    talk.context.notes.clear()  # a call that lost its notes: the brain does not guess from its own words
    await talk.say("yes")
    assert "book_appointment" not in talk.tools_called()


async def test_which_car_is_asked_and_answered_through_the_notes() -> None:
    talk = Conversation(FakeShop(vehicles=[CIVIC, FOCUS]))
    await talk.say("oil change tomorrow")
    await talk.say("10 am")
    assert talk.context.notes == {"pending": "which_car"}
    talk.history[-1]["content"] = "Which one?"
    assert "for your 2015 Ford Focus" in await talk.say("the Ford")
    assert talk.context.notes == {"pending": "confirm_book"}


async def test_without_a_context_the_brain_still_answers() -> None:
    events = OfflineBrain().decide([{"role": "user", "content": "I need an oil change"}], set(TOOL_NAMES))
    assert events == [TextDelta("What day works for you?")]


REMINDER = {"appointment_id": 5, "service": "Oil change", "vehicle": "2018 Honda Civic",
            "when": "Tuesday, November 24 at 10 AM"}


async def test_on_a_reminder_call_yes_confirms_the_appointment() -> None:
    shop = FakeShop(appointments=[_appointment(5, "Oil change", "2026-11-24T10:00")])
    context = ChatContext(direction="outbound", customer={"id": 3, "name": "Marge"}, reminder=REMINDER)
    talk = Conversation(shop, context=context)
    talk.history.append({"role": "assistant", "content": "Hi Marge, ... Can you still make it?"})
    reply = await talk.say("Yes I'll be there")
    assert reply == "Thank you, you're confirmed for Tuesday, November 24 at 10 AM. See you then!"
    assert shop.calls == [("confirm_appointment", {"appointment_id": 5})]


async def test_a_reminder_call_is_known_from_the_context_whatever_the_prompt_says() -> None:
    shop = FakeShop(appointments=[_appointment(5, "Oil change", "2026-11-24T10:00")])
    talk = Conversation(shop, system="You are a helpful assistant.",
                        context=ChatContext(direction="outbound", reminder=REMINDER))
    await talk.say("yes, see you then")
    assert shop.calls == [("confirm_appointment", {"appointment_id": 5})]


async def test_a_prompt_that_reads_like_a_reminder_does_not_make_an_inbound_call_one() -> None:
    system = "This is a reminder call WE placed to Marge about appointment 5: Oil change."
    talk = Conversation(system=system)
    assert "What can we do for your car?" in await talk.say("yes")
    assert "confirm_appointment" not in talk.tools_called()


async def test_service_names_come_from_the_context() -> None:
    talk = Conversation(context=ChatContext(services={"oil_change": "Full synthetic oil change"}, customer=MARGE))
    await talk.say("oil change tomorrow")
    assert (await talk.say("10 am")).startswith("To confirm: full synthetic oil change for your 2018 Honda Civic")


async def test_without_names_in_the_context_the_tool_results_name_the_service() -> None:
    talk = Conversation(context=ChatContext(customer=MARGE))
    await talk.say("oil change tomorrow")
    assert (await talk.say("10 am")).startswith("To confirm: oil change for your 2018 Honda Civic")


async def test_an_appointment_is_moved_as_the_service_the_context_names() -> None:
    shop = FakeShop(appointments=[_appointment(5, "Climate control service", "2026-11-25T09:00")])
    talk = Conversation(shop, context=ChatContext(services={"ac_service": "Climate control service"}))
    await talk.say("I need to reschedule")
    await talk.say("Friday")
    assert shop.calls[-1] == ("check_availability", {"service": "ac_service", "date": "2026-11-27"})


async def test_a_known_caller_is_thanked_by_name_from_the_context() -> None:
    talk = Conversation(context=ChatContext(customer={"id": 3, "name": "Marge Simpson", "phone": "+15550102000"}))
    assert (await talk.say("that's all, bye")).endswith(", Marge. Goodbye!")


async def test_a_caller_not_yet_verified_is_not_thanked_by_the_name_on_record() -> None:
    """Whoever has the phone may not be Marge: her name is not said until she is verified."""
    talk = Conversation(context=ChatContext(customer={"id": 3, "name": "Marge Simpson", "phone": "+15550102000"},
                                            name_private=True))
    said = await talk.say("that's all, bye")
    assert said.endswith("Goodbye!") and "Marge" not in said


BRAIN_MODULES = ("offline_brain", "offline_phrases", "offline_turn", "offline_answers", "offline_details",
                 "offline_readback")


@pytest.mark.parametrize("module", BRAIN_MODULES)
def test_the_brain_modules_import_nothing_from_the_crm(module: str) -> None:
    path = Path(__file__).parents[1] / "providers" / f"{module}.py"
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    assert not {name for name in imported if name == "crm" or name.startswith("crm.")}


def test_the_brain_books_in_a_fresh_interpreter_without_loading_the_crm() -> None:
    script = """
import json, sys
from voice.providers.base import ChatContext
from voice.providers.offline_brain import OfflineBrain
today = __import__("datetime").date.today().isoformat()
tools = {"check_availability", "book_appointment", "list_vehicles"}
offer = {"service": "Oil change", "minutes": 30, "days": [{"date": today, "day": "Today", "times": ["23:00"]}]}
history = [{"role": "user", "content": "oil change today at 11 pm"},
           {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {
               "name": "check_availability", "arguments": json.dumps({"service": "oil_change", "date": today})}}]},
           {"role": "tool", "tool_call_id": "c1", "content": json.dumps(offer)},
           {"role": "assistant", "content": None, "tool_calls": [{"id": "c2", "type": "function", "function": {
               "name": "list_vehicles", "arguments": "{}"}}]},
           {"role": "tool", "tool_call_id": "c2", "content": json.dumps({"vehicles": [
               {"vehicle_id": 7, "description": "2018 Honda Civic"}]})}]
context = ChatContext(customer={"id": 1, "name": "Marge Simpson"})
confirm = OfflineBrain().decide(history, tools, context)[0].text
history += [{"role": "assistant", "content": confirm}, {"role": "user", "content": "yes"}]
booked = OfflineBrain().decide(history, tools, context)[0].name
print(json.dumps([confirm, booked, sorted(m for m in sys.modules if m.split(".")[0] == "crm")]))
"""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "autoshop.settings", "SHOP_TIMEZONE": "America/New_York"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False,  # noqa: S603 - our own interpreter and script
                          cwd=Path(__file__).parents[2], timeout=60)
    assert done.returncode == 0, done.stderr
    confirm, booked, crm_modules = json.loads(done.stdout)
    assert confirm.startswith("To confirm: oil change for your 2018 Honda Civic on") and booked == "book_appointment"
    assert crm_modules == []


CALLER_LINES = ["hi", "I need an oil change", "brakes", "tuesday", "the 31st", "february 30th", "at 10", "10:75", "yes",
                "no", "cancel my appointment", "reschedule", "move it to friday at 2", "the ford", "your hours",
                "how much is an oil change", "someone please", "tomorrow at noon", "next monday at 9 am", "uh", "",
                "the 0th at 25:00", "2026-13-40", "book it", "yes please", "actually thursday", "at two"]


@pytest.mark.parametrize("seed", range(12))
async def test_a_caller_saying_anything_in_any_order_always_gets_an_answer(seed: int) -> None:
    rng = random.Random(seed)
    talk = Conversation(FakeShop(vehicles=[CIVIC, FOCUS],
                                 appointments=[_appointment(5, "Oil change", "2026-11-25T09:00")]))
    for _ in range(8):
        line = rng.choice(CALLER_LINES)
        assert (await talk.say(line)).strip(), line


async def test_a_yes_after_a_question_the_caller_never_heard_books_nothing() -> None:
    """The caller cut the read-back short (or a silence prompt came after it): their yes is not a yes to it."""
    talk = Conversation()
    await _at_the_booking_question(talk)
    talk.context.last_reply_heard = False
    await talk.say("yes")
    assert "book_appointment" not in talk.tools_called()


# --- issue 16: the brain follows what the caller said last ---------------------------------------------------


async def test_the_service_booked_is_the_one_asked_for_last_not_the_first_on_a_list() -> None:
    talk = Conversation()
    await talk.say("How much is a brake inspection?")
    await talk.say("I'd like to book an oil change tomorrow at 3 pm")
    checked = [args for name, args in talk.shop.calls if name == "check_availability"]
    assert checked[-1]["service"] == "oil_change"
    read_back = talk.history[-1]["content"]
    assert read_back.startswith("To confirm: oil change"), read_back


async def test_a_correction_at_the_read_back_changes_the_booking_and_is_read_back_again() -> None:
    talk = Conversation()
    await talk.say("brake inspection tomorrow at 10 am")
    corrected = await talk.say("No, an oil change, not brakes")
    assert corrected.startswith("To confirm: oil change"), corrected
    later = await talk.say("actually make it 2 pm")
    assert later.startswith("To confirm: oil change") and "2 PM" in later, later
    assert "all set" in await talk.say("yes")
    assert talk.shop.calls[-1] == ("book_appointment", {"service": "oil_change", "start": "2026-11-24T14:00",
                                                        "vehicle_id": 7, "caller_confirmed": True})


async def test_questions_about_services_and_the_callers_own_appointments_are_answered() -> None:
    talk = Conversation(FakeShop(vehicles=[CIVIC], appointments=[
        _appointment(5, "Oil change", "2026-11-25T09:00"), _appointment(6, "Tire rotation", "2026-12-02T10:00")]))
    services = await talk.say("What services do you offer?")
    assert "oil change" in services.lower() and "What day" not in services
    mine = await talk.say("Do I have any appointments?")
    assert "oil change on Wednesday, November 25 at 9 AM" in mine and "tire rotation on" in mine, mine
    assert "oil change on Wednesday" in await talk.say("When is my next appointment?")


async def test_cancelling_one_of_two_asks_which_and_cancels_the_one_read_back() -> None:
    shop = FakeShop(appointments=[_appointment(5, "Oil change", "2026-11-25T09:00"),
                                  _appointment(6, "Oil change", "2026-12-02T10:00")])
    talk = Conversation(shop)
    which = await talk.say("Please cancel my oil change")
    assert "Wednesday, November 25" in which and "Wednesday, December 2" in which and "Which" in which, which
    read_back = await talk.say("the one in December")
    assert read_back == "You have an oil change on Wednesday, December 2 at 10 AM. Shall I cancel it?"
    await talk.say("yes")
    assert shop.calls[-1] == ("cancel_appointment", {"appointment_id": 6, "caller_confirmed": True})


async def test_cancelling_right_after_a_move_reads_back_the_new_time() -> None:
    talk = Conversation(FakeShop(appointments=[_appointment(5, "Oil change", "2026-11-25T09:00")]))
    for line in ("Can I move my oil change?", "Friday", "2 pm", "yes"):
        await talk.say(line)
    question = await talk.say("Actually, please cancel my oil change")
    assert question == "You have an oil change on Friday, November 27 at 2 PM. Shall I cancel it?"


async def test_a_tools_words_to_the_model_are_never_read_to_the_caller() -> None:
    class RefusingShop(FakeShop):
        def run(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
            if name == "book_appointment" and any(called == name for called, _ in self.calls):
                self.calls.append((name, args))
                return {"error": "This call already booked an appointment. Only book another if the caller asked "
                                 "for one."}
            return super().run(name, args)

    talk = Conversation(RefusingShop(vehicles=[CIVIC]))
    for line in ("oil change tomorrow at 10 am", "yes", "and a tire rotation on Friday at 2 pm"):
        await talk.say(line)
    answer = await talk.say("yes")
    assert "Only book another" not in answer and "caller" not in answer.lower(), answer
    assert talk.shop.calls[-1][1].get("additional_booking_requested") is True  # a second booking, asked for


async def test_a_goodbye_is_the_last_thing_said() -> None:
    talk = Conversation()
    await talk.say("oil change tomorrow at 10 am")
    await talk.say("yes")
    bye = await talk.say("no thanks, bye")
    assert bye.endswith("Goodbye!") and "Anything else" not in bye, bye


async def test_with_no_front_desk_a_request_for_a_person_is_answered_with_a_message_offer() -> None:
    class NoDesk(FakeShop):
        def run(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
            if name == "transfer_to_human":
                self.calls.append((name, args))
                return {"transferring": False, "front_desk": False, "say": "Ask what message to leave."}
            return super().run(name, args)

    answer = await Conversation(NoDesk()).say("can I talk to a real person?")
    assert "Connecting you" not in answer and "message" in answer, answer


async def test_a_known_caller_whose_cars_are_private_until_verified_is_not_asked_for_a_car() -> None:
    class PrivateCars(FakeShop):
        def run(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
            if name == "list_vehicles":
                self.calls.append((name, args))
                return {"error": "Ask the security question first.", "needs": "verification"}
            return super().run(name, args)

    talk = Conversation(PrivateCars())
    await talk.say("oil change tomorrow")
    assert (await talk.say("10 am")) == "To confirm: oil change on Tuesday, November 24 at 10 AM. Shall I book it?"


async def test_a_new_caller_reads_the_vin_and_a_misheard_one_is_asked_for_again_before_the_read_back() -> None:
    talk = Conversation(FakeShop(vehicles=None), context=ChatContext(services=dict(SERVICES)))
    for line in ("oil change tomorrow", "10 am", "Homer Simpson"):
        await talk.say(line)
    again = await talk.say("one hotel golf charlie mike eight two six four three alpha double oh four three five two")
    assert again.startswith("Sorry, I heard 1 H G C, M 8 2 6, 4 3 A zero, zero 4 3 5, 2, and that doesn't check out")
    read_back = await talk.say("one H G C M eight two six three three A zero zero four three five two")
    assert read_back == ("I have the VIN as 1 H G C, M 8 2 6, 3 3 A zero, zero 4 3 5, 2. To confirm: oil change for "
                         "your 2003 Honda Accord on Tuesday, November 24 at 10 AM. Shall I book it?")
    assert "all set" in await talk.say("yes")
    assert talk.shop.calls[-1][1]["vehicle_id"] == 9
