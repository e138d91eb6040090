"""How the offline brain words its answers: appointments read out, a booking read back, a tool's refusal
as the caller hears it, and whether an answer to a read-back corrects it."""

from datetime import datetime
from typing import Any

from scheduling.shop import shop_timezone
from scheduling.spoken import spoken_time
from voice.providers.offline_phrases import a_or_an, parse_day, parse_service, parse_time
from voice.providers.offline_turn import Turn

CONFIRM_BOOK = "Shall I book it?"

def corrects(turn: Turn, said: str) -> bool:
    """Whether the caller's answer to the read-back changes the service, the day or the time."""
    booking = turn.booking or {}
    start = str(booking.get("start", ""))
    service, day, clock = parse_service(said), parse_day(said, turn.today), parse_time(said)
    return bool((service and service != booking.get("service")) or (day and day.isoformat() != start[:10])
                or (clock and clock.strftime("%H:%M") != start[11:16]))


def one(appointment: dict[str, Any]) -> str:
    """`an oil change on Wednesday, November 25 at 9 AM`."""
    return f"{a_or_an(appointment['service'].lower())} on {appointment['when']}"


def listed(appointments: list[dict[str, Any]]) -> str:
    said = [one(a) for a in appointments]
    return said[0] if len(said) == 1 else ", ".join(said[:-1]) + " and " + said[-1]


def spoken_error(name: str, result: dict[str, Any]) -> str:
    """A tool's refusal as the caller hears it: its own words when they are meant for callers, else ours (a
    tool's advice to the model, such as "only book another if the caller asked", is never read out)."""
    told = result.get("tell_caller")
    if isinstance(told, str) and told.strip():
        follow = " Would another time work?" if name in ("book_appointment", "reschedule_appointment") else ""
        return f"Sorry, {told[0].lower()}{told[1:]}{follow}"
    if name in ("book_appointment", "reschedule_appointment", "cancel_appointment"):
        return ("Sorry, I couldn't make that change just now. I can connect you with the front desk, "
                "or we can try another time.")
    return "Sorry, I couldn't do that just now. Is there something else I can help with?"


def confirm_text(turn: Turn, car: dict[str, Any] | None) -> str:
    booking = turn.booking or {}  # the slot the caller is taking: offered, and at the time they named
    start = datetime.fromisoformat(booking["start"]).replace(tzinfo=shop_timezone())
    for_car = f" for your {car['description']}" if car else ""
    return f"To confirm: {turn.booking_label.lower()}{for_car} on {spoken_time(start)}. {CONFIRM_BOOK}"

