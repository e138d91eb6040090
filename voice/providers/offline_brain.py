"""The offline agent brain: a deterministic front-desk dialogue manager behind the ChatModel
interface. It emits the same tool calls GPT-4o would (check_availability, book_appointment, ...),
so the real tools, database and calendar do the work; it needs no key and makes tests repeatable.

It keeps nothing between turns itself: each decision is read from the conversation (the caller's
words and the tool results), the call's facts in ChatContext, and its own pending question, which
it writes to `context.notes["pending"]` when it asks and reads back on the next turn.
"""

from collections.abc import AsyncIterator
from typing import Any

from django.conf import settings

from scheduling.shop import shop_today
from voice.agent.dictation import vin_from_speech
from voice.providers.base import ChatContext, ChatEvent, TextDelta
from voice.providers.offline_answers import confirm_text, corrects, listed, one, spoken_error
from voice.providers.offline_details import (
    introduced_name,
    parse_car,
    parse_name,
    parse_plate,
    vin_heard,
    vin_misheard,
)
from voice.providers.offline_phrases import (
    asks_hours,
    asks_own_appointments,
    asks_price,
    asks_services,
    is_no,
    is_yes,
    parse_vehicle,
    says_goodbye,
    spoken_cars,
    wants_person,
    will_attend,
)
from voice.providers.offline_readback import CONFIRM_CANCEL, ask_again, offer_times
from voice.providers.offline_turn import ASK_CAR_AGAIN, ASK_NAME, ASK_NEW_CAR, ASK_VIN, Pending, Turn, ask, call

ASK_SERVICE = "What can we do for your car? For example an oil change, a brake inspection or a tire rotation."
ASK_DAY = "What day works for you?"
ASK_NEW_DAY = "What day would you like instead?"
ASK_CAR = "Which car is it for?"
SECURITY_QUESTION = "For your security, what's the make of the car on that appointment?"
CHANGES = ("book_appointment", "cancel_appointment", "reschedule_appointment", "update_customer", "add_vehicle")


class OfflineBrain:
    """ChatModel: decides the next step of the call from the messages, like a model would."""

    model = "offline-brain"

    async def stream(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]],
                     context: ChatContext | None = None) -> AsyncIterator[ChatEvent]:
        for event in self.decide(messages, {t["function"]["name"] for t in tools}, context):
            yield event

    async def aclose(self) -> None:
        """Nothing to release: the brain holds no connections."""

    def decide(self, messages: list[dict[str, Any]], offered: set[str],
               context: ChatContext | None = None) -> list[ChatEvent]:
        """The next step of the call: words to say and/or tool calls, from the messages and the call's facts."""
        self._offered = offered
        today = shop_today()
        context = context or ChatContext()
        turn = Turn(messages, today, context)
        events = self._after_tool(turn, offered) if turn.last_role == "tool" else self._after_caller(turn, offered)
        context.notes.pop("pending", None)  # answered, or the caller moved on; a new question replaces it
        if turn.asked is not None:
            context.notes["pending"] = turn.asked.value
        if turn.asked in (Pending.CONFIRM_CANCEL, Pending.CONFIRM_MOVE) and turn.appointment is not None:
            context.notes["appointment_id"] = turn.appointment["appointment_id"]  # the yes acts on this one
        elif turn.last_tool[0] in CHANGES and "error" not in turn.last_tool[1]:
            context.notes.pop("appointment_id", None)
        return events

    # --- the caller just spoke ------------------------------------------------------------------------

    def _after_caller(self, turn: Turn, offered: set[str]) -> list[ChatEvent]:
        said = turn.caller_now
        if wants_person(said):
            return [call("transfer_to_human", {"reason": "caller asked"}, turn)] if offered else [
                TextDelta("Let me get you to someone at the front desk.")]
        if says_goodbye(said):
            name = "" if turn.name_private else str(turn.customer.get("name") or "").split(" ")[0]
            return [TextDelta(f"Thanks for calling {settings.SHOP_NAME}{', ' + name if name else ''}. Goodbye!"),
                    *([call("end_call", {}, turn)] if offered else [])]
        if turn.pending == Pending.VERIFY:  # the answer goes, as said, to the change that asked for it
            asked = next((r for r in reversed(turn.tool_results) if r.name in CHANGES), None)
            if asked is not None and said.strip():
                return [call(asked.name, {**asked.args, "verification": said.strip()}, turn)]
        if turn.pending == Pending.NAME and turn.booking is not None:
            caller_name = parse_name(said)
            if caller_name is None:
                return ask(turn, Pending.NAME, f"Sorry, I didn't catch that. {ASK_NAME}")
            return [call("update_customer", {"name": caller_name}, turn)]
        if turn.pending == Pending.CAR and (turn.booking is not None or turn.intent == "add_car"):
            vin = vin_from_speech(said)
            if len(vin) == 17:  # the VIN, read out: the tool checks it and decodes the year and make
                model = next((m for m in (parse_car(line)[2] for line in reversed(turn.caller_lines)) if m), "")
                return [call("add_vehicle", {"vin": vin, **({"model": model} if model else {})}, turn)]
            year, make, model = parse_car(said)
            if year is not None and make:
                plate = {"license_plate": found} if (found := parse_plate(said)) else {}
                return [call("add_vehicle", {"year": year, "make": make, "model": model, **plate}, turn)]
            if not is_no(said):
                return ask(turn, Pending.CAR, f"Sorry, I didn't catch the car. {ASK_CAR_AGAIN}")
            return ask(turn, Pending.CONFIRM_BOOK, confirm_text(turn, None))  # they'd rather not say
        if turn.pending == Pending.WHICH_CAR and turn.booking is not None and turn.vehicles:
            car = parse_vehicle(turn.vehicles, said)
            if car is None:
                return ask(turn, Pending.WHICH_CAR,
                            f"Sorry, I didn't catch that. {spoken_cars(turn.vehicles)} {ASK_CAR}")
            return ask(turn, Pending.CONFIRM_BOOK, confirm_text(turn, car))
        if turn.pending == Pending.CONFIRM_BOOK and turn.booking is not None and not corrects(turn, said):
            if is_yes(said) and not is_no(said):
                car = turn.chosen_vehicle
                extra = {"vehicle_id": car["vehicle_id"]} if car else {}
                if turn.booked_before:  # the caller asked for this one on top of the one already booked
                    extra["additional_booking_requested"] = True
                return [call("book_appointment", {**turn.booking, **extra, "caller_confirmed": True}, turn)]
            if is_no(said):
                return [TextDelta("No problem. What day and time would suit you better?")]
        if turn.pending == Pending.CONFIRM_CANCEL and turn.appointment is not None:
            if is_yes(said):
                return [call("cancel_appointment", {"appointment_id": turn.appointment["appointment_id"],
                                                     "caller_confirmed": True}, turn)]
            if is_no(said):
                return [TextDelta("Okay, I'll leave it as it is. Anything else?")]
        if turn.pending == Pending.CONFIRM_MOVE and turn.move is not None:
            if is_yes(said):
                return [call("reschedule_appointment", {**turn.move, "caller_confirmed": True}, turn)]
            if is_no(said):
                return [TextDelta("Okay. What other day and time would work?")]
        if turn.reminder_id is not None and turn.intent not in ("cancel", "reschedule") and will_attend(said):
            return [call("confirm_appointment", {"appointment_id": turn.reminder_id}, turn)]
        if asks_hours(said):
            return [call("get_shop_info", {}, turn)]
        if asks_price(said) or asks_services(said):
            return [call("get_service_menu", {}, turn)]
        if asks_own_appointments(said):
            return [call("list_appointments", {}, turn)]
        intent = turn.intent
        if intent in ("cancel", "reschedule"):
            if turn.appointments is None:
                return [call("list_appointments", {}, turn)]
            return self._which_appointment(turn)
        if intent == "add_car":
            added = any(r.name == "add_vehicle" and r.result.get("added") for r in turn.tool_results)
            if added:  # the car is on record; a yes to its read-back needs nothing more
                return [TextDelta("Great. Is there anything else I can help with?")]
            return ask(turn, Pending.CAR, ASK_VIN)
        if intent == "book":
            if turn.service is None:
                return [TextDelta(ASK_SERVICE)]
            return self._choose_time(turn, turn.service)
        if is_yes(said) and not turn.caller_earlier:
            return [TextDelta(ASK_SERVICE)]
        return [TextDelta("I can book, move or cancel an appointment, or tell you our hours and prices. "
                          "What would you like?")]

    def _which_appointment(self, turn: Turn) -> list[ChatEvent]:
        """Cancelling or moving: read back the one appointment meant, or ask which when several fit."""
        if not turn.candidates:
            return [TextDelta("I don't see any upcoming appointments on your number. Would you like to book one?")]
        if turn.appointment is None:
            return ask(turn, Pending.WHICH_APPOINTMENT, f"You have {listed(turn.candidates)}. Which one?")
        if turn.intent == "cancel":
            return ask(turn, Pending.CONFIRM_CANCEL, f"You have {one(turn.appointment)}. {CONFIRM_CANCEL}")
        if turn.day is None:
            return [TextDelta(f"Your {turn.appointment['service'].lower()} is on {turn.appointment['when']}. "
                              f"{ASK_NEW_DAY}")]
        return self._choose_time(turn, turn.appointment_service_code())

    def _choose_time(self, turn: Turn, service: str | None) -> list[ChatEvent]:
        if service is None:
            return [TextDelta(ASK_SERVICE)]
        if turn.day is None:
            return [TextDelta(ASK_NEW_DAY if turn.intent == "reschedule" else ASK_DAY)]
        args = {"service": service, "date": turn.day.isoformat()}
        if turn.time is not None:
            args["time"] = turn.time.strftime("%H:%M")
        return [call("check_availability", args, turn)]

    # --- a tool just answered -----------------------------------------------------------------------------

    def _after_tool(self, turn: Turn, offered: set[str]) -> list[ChatEvent]:
        name, result = turn.last_tool
        if name == "list_vehicles" and "error" in result:
            result = {"vehicles": []}  # a new caller has no cars on record yet: book without one
        if result.get("needs") == "confirmation":
            return ask_again(turn, name, turn.tool_results[-1].args)
        if result.get("needs") == "verification":
            tried = "verification" in turn.tool_results[-1].args
            return ask(turn, Pending.VERIFY, ("Sorry, that doesn't match what we have on record. " if tried else "")
                        + SECURITY_QUESTION)
        if "error" in result and name == "add_vehicle" and turn.tool_results[-1].args.get("vin"):
            return ask(turn, Pending.CAR, vin_misheard(str(turn.tool_results[-1].args["vin"])))
        if "error" in result and name in ("update_customer", "add_vehicle") and turn.booking is not None:
            return ask(turn, Pending.CONFIRM_BOOK, "Sorry, I couldn't save that, but we can still book. "
                        + confirm_text(turn, None))
        if "error" in result:
            return [TextDelta(spoken_error(name, result))]
        if name == "check_availability":
            return offer_times(turn, result, offered)
        if name == "book_appointment":
            return [TextDelta(f"You're all set: {result['service'].lower()} on {result['when']}. "
                              "Is there anything else I can help with?")]
        if name == "reschedule_appointment":
            return [TextDelta(f"Done. Your {result['service'].lower()} is now on {result['when']}. Anything else?")]
        if name == "cancel_appointment":
            return [TextDelta(f"Your {result['service'].lower()} on {result['when']} is cancelled. Anything else?")]
        if name in ("list_vehicles", "update_customer", "add_vehicle") and turn.booking is not None:
            cars = turn.vehicles or []
            if not turn.named and (given := introduced_name(turn.caller_lines)):
                return [call("update_customer", {"name": given}, turn)]  # they said it already
            if not turn.named:
                return ask(turn, Pending.NAME, f"I'll need a few details first. {ASK_NAME}")
            if not cars and name != "add_vehicle" and not turn.cars_private:
                thanks = f"Thanks, {str(result.get('name', '')).split(' ')[0]}. " if name == "update_customer" else ""
                return ask(turn, Pending.CAR, thanks + ASK_NEW_CAR)
            if len(cars) > 1 and name == "list_vehicles" and turn.chosen_vehicle is None:
                return ask(turn, Pending.WHICH_CAR, f"{spoken_cars(cars)} {ASK_CAR}")
            car = cars[-1] if name == "add_vehicle" and cars else turn.chosen_vehicle
            return ask(turn, Pending.CONFIRM_BOOK, vin_heard(result) + confirm_text(turn, car))
        if name == "list_appointments":
            appointments = turn.appointments or []
            if turn.intent in ("cancel", "reschedule") and not asks_own_appointments(turn.caller_now):
                return self._which_appointment(turn)
            if not appointments:
                return [TextDelta("I don't see any upcoming appointments on your number. Would you like to book one?")]
            if len(appointments) == 1:
                return [TextDelta(f"You have {one(appointments[0])}. Anything else?")]
            return [TextDelta(f"Your next appointment is {one(appointments[0])}. After that you have "
                              f"{listed(appointments[1:3])}. Anything else?")]
        if name == "get_shop_info":
            hours = result["hours"]
            return [TextDelta(f"We're at {result['address']}. Weekdays we're open {hours['Monday']}, "
                              f"Saturdays {hours['Saturday']}, and we're closed on Sundays. Anything else?")]
        if name == "get_service_menu":
            wanted = turn.service
            menu = {s["service"]: s for s in result["services"]}
            if wanted in menu:
                item = menu[wanted]
                return [TextDelta(f"{item['name']} is {item['spoken_price']} and takes about {item['minutes']} "
                                  "minutes. Would you like to book one?")]
            names = [str(item.get("name", "")).lower() for item in result.get("services", [])]
            menu_said = ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)
            return [TextDelta(f"We do {menu_said}. I can tell you a price or book one for you. What would you like?")]
        if name == "transfer_to_human":
            if result.get("front_desk") is False:
                return [TextDelta("There's no one at the front desk to take your call right now. What message "
                                  "should I leave? Someone will call you back at this number.")]
            return [TextDelta("Connecting you to the front desk now.")]
        if name == "end_call":
            return []  # the goodbye went out with the call to hang up: nothing more to say
        if name == "confirm_appointment":
            return [TextDelta(f"Thank you, you're confirmed for {result['when']}. See you then!")]
        if name == "add_vehicle" and result.get("added"):
            return [TextDelta(f"{vin_heard(result)}I've added your {result.get('description')}. Is that right?")]
        return [TextDelta("Done. Anything else?")]
