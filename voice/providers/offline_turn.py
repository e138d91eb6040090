"""What the conversation so far says, for the offline brain: the caller's words since the last finished
task, what they asked for, the tool results (with the arguments of each call), and the call's facts
from ChatContext, including the brain's own pending question kept in `context.notes`.
"""

import json
from datetime import date
from enum import StrEnum
from typing import Any, NamedTuple

from voice.providers.base import ChatContext, ChatEvent, TextDelta, ToolCallRequested
from voice.providers.offline_phrases import (
    latest_service,
    parse_day,
    parse_intent,
    parse_service,
    parse_time,
    parse_vehicle,
    pick_appointment,
)


class Pending(StrEnum):
    """The brain's own question awaiting the caller's answer, as kept in `context.notes["pending"]`."""

    CONFIRM_BOOK = "confirm_book"  # the slot (and car) were read back: a yes books it
    CONFIRM_CANCEL = "confirm_cancel"  # the appointment was read back: a yes cancels it
    CONFIRM_MOVE = "confirm_move"  # the new time was read back: a yes moves the appointment
    WHICH_CAR = "which_car"  # the caller's cars were listed: the answer names one
    WHICH_APPOINTMENT = "which_appointment"  # several appointments fit: the answer names one
    NAME = "name"  # a new caller was asked their name
    CAR = "car"  # a caller with no car on record was asked its year, make and model
    VERIFY = "verify"  # the security question was asked: the answer goes to the tool that asked for it


ASK_NAME = "Can I have your name, please?"
ASK_NEW_CAR = "And what car is it? The year, make and model, please."
ASK_CAR_AGAIN = "What's the year, make and model?"
ASK_VIN = "Sure. Could you read me the VIN, please? You can spell it out, or tell me the year, make and model."
ASK_VIN_AGAIN = "Could you read the VIN to me again, or tell me the year, make and model?"
# Their answers are a name or a car, never a day, time or service.
DATA_QUESTIONS = (ASK_NAME, ASK_NEW_CAR, ASK_CAR_AGAIN, ASK_VIN_AGAIN, ASK_VIN)


class ToolResult(NamedTuple):
    """One tool the brain called earlier in the call: its name, the arguments it gave, what came back."""

    name: str
    args: dict[str, Any]
    result: dict[str, Any]


class Turn:
    """What the conversation says so far, from the brain's point of view."""

    def __init__(self, messages: list[dict[str, Any]], today: date, context: ChatContext) -> None:
        self.reminder_id = _reminder_id(context.reminder)  # on a reminder call: its appointment
        self.customer = context.customer or {}
        self.name_private = context.name_private  # the name on record is not to be said yet
        self.messages = [m for m in messages if m.get("role") != "system"]
        self.today = today
        self.step = len(self.messages)
        self.last_role = self.messages[-1]["role"] if self.messages else "user"
        callers = [i for i, m in enumerate(self.messages) if m["role"] == "user"]
        self.caller_now = self.messages[callers[-1]]["content"] if callers else ""
        self.caller_earlier = [self.messages[i]["content"] for i in callers[:-1]]
        self.caller_lines = [*self.caller_earlier, self.caller_now]
        pending = context.notes.get("pending") if context.last_reply_heard else None  # an unheard question: none
        self.pending = next((q for q in Pending if q.value == pending), None)
        self.asked: Pending | None = None  # the question this turn's reply asks, if any
        self.tool_results = self._tool_results()
        menus = [r.result.get("services") for r in self.tool_results if r.name == "get_service_menu"]
        self.services = {item["service"]: item["name"] for menu in menus if isinstance(menu, list) for item in menu
                         if isinstance(item, dict) and "service" in item and "name" in item}
        self.services.update(context.services)  # code -> the name callers hear; the call's own names win
        last = self.tool_results[-1] if self.tool_results and self.last_role == "tool" else None
        self.last_tool = (last.name, last.result) if last else ("", {})
        task_words = self._since_last_done()
        self.intent = self._intent(task_words)
        joined = " ".join(task_words)
        self.service = latest_service(task_words) if joined else None
        self.day = next((d for d in (parse_day(w, today) for w in reversed(task_words)) if d), None)
        self.time = next((t for t in (parse_time(w) for w in reversed(task_words)) if t), None)
        self.booked_before = any(r.name == "book_appointment" and "error" not in r.result for r in self.tool_results)
        self.appointments = self._appointments_now()
        self.candidates = self._candidates(task_words, context.notes.get("appointment_id"))
        self.appointment = self.candidates[0] if len(self.candidates) == 1 else None
        offered = next((r for r in reversed(self.tool_results)
                        if r.name == "check_availability" and "days" in r.result), None)
        if offered is not None and not self._offer_fits(offered):
            offered = None  # the caller changed the service or the day since: the slot must be checked again
        listed = next((r.result for r in reversed(self.tool_results) if r.name == "list_vehicles"), None)
        self.vehicles: list[dict[str, Any]] | None = listed.get("vehicles", []) if listed is not None else None
        self.cars_private = listed is not None and listed.get("needs") == "verification"  # on record, not for us
        added = [r.result for r in self.tool_results if r.name == "add_vehicle" and r.result.get("added")]
        if added:
            self.vehicles = [*(self.vehicles or []), *[a for a in added if a not in (self.vehicles or [])]]
        self.named = bool(self.customer.get("name")) or any(
            r.name == "update_customer" and r.result.get("saved") and r.result.get("name") for r in self.tool_results)
        self.chosen_vehicle = None
        if self.vehicles:
            named = [parse_vehicle(self.vehicles, w) for w in reversed(task_words)]
            self.chosen_vehicle = next((c for c in named if c), None) or (
                self.vehicles[0] if len(self.vehicles) == 1 else None)
        self.booking: dict[str, Any] | None = None  # service and start of the slot the caller is taking
        self.booking_label = "your service"  # the service's name, as callers hear it
        self.move: dict[str, Any] | None = None  # appointment_id and new_start when it is a reschedule
        if offered and offered.result.get("days") and self.time is not None:
            start = f"{offered.result['days'][0]['date']}T{self.time.strftime('%H:%M')}"
            asked = offered.args.get("service")  # the code the brain asked about; else the name it got back
            code = asked if isinstance(asked, str) else self.service_code(str(offered.result.get("service", "")))
            self.booking = {"service": code, "start": start}
            self.booking_label = self.services.get(code or "") or str(offered.result.get("service") or "your service")
            if self.appointment is not None:
                self.move = {"appointment_id": self.appointment["appointment_id"], "new_start": start}

    def _offer_fits(self, offered: ToolResult) -> bool:
        """Whether the last availability answer is for the service and day the caller wants now."""
        asked_service, asked_day = offered.args.get("service"), offered.args.get("date")
        if self.service is not None and self.intent == "book" and asked_service != self.service:
            return False
        return self.day is None or asked_day == self.day.isoformat()

    def _appointments_now(self) -> list[dict[str, Any]] | None:
        """The caller's upcoming appointments as they stand: the last list, with every change made since."""
        current: list[dict[str, Any]] | None = None
        for result in self.tool_results:
            if result.name == "list_appointments" and isinstance(result.result.get("appointments"), list):
                current = [a for a in result.result["appointments"] if isinstance(a, dict)]
            elif current is not None and "error" not in result.result and "appointment_id" in result.result:
                changed = {k: v for k, v in result.result.items() if k not in ("rescheduled", "cancelled",
                                                                              "confirmed", "booked", "price")}
                current = [a for a in current if a.get("appointment_id") != changed["appointment_id"]]
                if result.name != "cancel_appointment":
                    current.append(changed)
                current.sort(key=lambda a: str(a.get("start", "")))
        return current

    def _candidates(self, task_words: list[str], chosen: Any) -> list[dict[str, Any]]:
        """The appointments the caller may mean: the one they picked, else those fitting what they named."""
        if not self.appointments:
            return []
        picked = [a for a in self.appointments if a.get("appointment_id") == chosen]
        if picked:
            return picked
        fitting = self.appointments
        named = [code for code in (parse_service(w) for w in task_words) if code]
        if named:
            fitting = [a for a in fitting if self.service_code(str(a.get("service", ""))) == named[-1]] or fitting
        if len(fitting) > 1 and self.intent == "cancel" and self.day is not None:
            fitting = [a for a in fitting if str(a.get("start", "")).startswith(self.day.isoformat())] or fitting
        if len(fitting) > 1 and task_words:
            fitting = pick_appointment(fitting, task_words[-1], self.today) or fitting
        return fitting

    def service_code(self, name: str) -> str | None:
        """The code of a service the tools named: by the call's names, else by its words."""
        return next((code for code, label in self.services.items() if label.lower() == name.lower()),
                    parse_service(name))

    def appointment_service_code(self) -> str | None:
        """The code of the appointment being cancelled or moved (from list_appointments)."""
        return self.service_code(self.appointment["service"]) if self.appointment else None

    def _tool_results(self) -> list[ToolResult]:
        calls: dict[str, tuple[str, dict[str, Any]]] = {}
        out = []
        for message in self.messages:
            for call in message.get("tool_calls") or []:
                calls[call["id"]] = (call["function"]["name"], _json_object(call["function"].get("arguments")))
            if message["role"] == "tool":
                name, args = calls.get(message.get("tool_call_id") or "", ("", {}))
                out.append(ToolResult(name, args, _json_object(message.get("content"))))
        return out

    def _since_last_done(self) -> list[str]:
        """The caller's words since the last finished task (a booking, a cancellation, ...)."""
        words: list[str] = []
        names = {}
        asked = ""
        for message in self.messages:
            if message["role"] == "assistant" and isinstance(message.get("content"), str):
                asked = message["content"]
            for call in message.get("tool_calls") or []:
                names[call["id"]] = call["function"]["name"]
            if message["role"] == "tool" and names.get(message.get("tool_call_id")) in (
                    "book_appointment", "cancel_appointment", "reschedule_appointment", "confirm_appointment"):
                if "error" not in message.get("content", ""):
                    words = []
            elif message["role"] == "user" and not asked.rstrip().endswith(DATA_QUESTIONS):
                words.append(message["content"])  # an answer to "your name?" or "what car?" is data, not the task
        return words

    @staticmethod
    def _intent(words: list[str]) -> str | None:
        return next((intent for intent in map(parse_intent, reversed(words)) if intent), None)


def _reminder_id(reminder: dict[str, Any] | None) -> int | None:
    """The appointment a reminder call is about (the call's facts, never the prompt's prose)."""
    value = (reminder or {}).get("appointment_id")
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip().isdecimal():
        return None
    return int(value)


def _json_object(text: Any) -> dict[str, Any]:
    """A JSON object from a tool call's arguments or result; anything else reads as empty."""
    try:
        value = json.loads(text or "")
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def ask(turn: Turn, question: Pending, text: str) -> list[ChatEvent]:
    """Say `text`, and note that it asks `question`: the caller's next words are read as the answer."""
    turn.asked = question
    return [TextDelta(text)]


def call(name: str, args: dict[str, Any], turn: Turn) -> ToolCallRequested:
    return ToolCallRequested(call_id=f"call_{name}_{turn.step}", name=name, arguments=json.dumps(args))
