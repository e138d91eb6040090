"""The offline brain's read-backs: the free times of a day with the one asked for read back, and a change
read back again when its tool wants the caller's yes to exactly it."""

from datetime import date, datetime
from typing import Any

from scheduling.shop import shop_timezone
from scheduling.spoken import spoken_time
from voice.providers.base import ChatEvent, TextDelta
from voice.providers.offline_answers import CONFIRM_BOOK, confirm_text
from voice.providers.offline_phrases import spoken_clock, spoken_times
from voice.providers.offline_turn import Pending, Turn, ask, call

CONFIRM_CANCEL = "Shall I cancel it?"
CONFIRM_MOVE = "Shall I move it?"


def ask_again(turn: Turn, name: str, args: dict[str, Any]) -> list[ChatEvent]:
    """The tool wants the caller's yes to exactly this change: read it back and ask once more."""
    service = (turn.appointment or {}).get("service") or turn.services.get(str(args.get("service")), "service")
    start = args.get("new_start") or args.get("start")
    when = spoken_time(datetime.fromisoformat(str(start)).replace(tzinfo=shop_timezone())) if start else ""
    if name == "cancel_appointment" and turn.appointment is not None:
        return ask(turn, Pending.CONFIRM_CANCEL, f"Just to be sure: your {service.lower()} on "
                                                  f"{turn.appointment['when']}. {CONFIRM_CANCEL}")
    if name == "reschedule_appointment" and when:
        return ask(turn, Pending.CONFIRM_MOVE, f"Just to be sure: I'll move your {service.lower()} to "
                                                f"{when}. {CONFIRM_MOVE}")
    if name == "book_appointment" and when and turn.booking is not None:
        return ask(turn, Pending.CONFIRM_BOOK, f"Just to be sure: {service.lower()} on {when}. {CONFIRM_BOOK}")
    return [TextDelta("Sorry, I need your yes before I change anything. What would you like to do?")]

def offer_times(turn: Turn, result: dict[str, Any], offered: set[str]) -> list[ChatEvent]:
    """The free times of the day asked for: the read-back when the time asked for is free, else others."""
    days = result.get("days", [])
    if not days:
        return [TextDelta("Sorry, that day is full or we're closed. Would another day work?")]
    day = days[0]
    times = day["times"]
    wanted = turn.time
    if wanted is not None:
        hhmm = wanted.strftime("%H:%M")
        start = datetime.combine(date.fromisoformat(day["date"]), wanted, tzinfo=shop_timezone())
        if hhmm in times or result.get("requested", {}).get("free"):
            if turn.intent == "reschedule" and turn.appointment is not None:
                return ask(turn, Pending.CONFIRM_MOVE, f"I can move your {turn.appointment['service'].lower()} "
                                                        f"to {spoken_time(start)}. {CONFIRM_MOVE}")
            if turn.vehicles is None and "list_vehicles" in offered:
                return [call("list_vehicles", {}, turn)]  # which car: asked before confirming
            return ask(turn, Pending.CONFIRM_BOOK, confirm_text(turn, turn.chosen_vehicle))
        return [TextDelta(f"Sorry, {spoken_clock(hhmm)} isn't free on {day['day']}. I have "
                          f"{spoken_times(times[:3])}. Which would you like?")]
    return [TextDelta(f"On {day['day']} I have {spoken_times(times[:3])}. Which time works for you?")]
