"""The offline agent brain: a deterministic front-desk dialogue manager behind the ChatModel
interface. It emits the same tool calls GPT-4o would (check_availability, book_appointment, ...),
so the real tools, database and calendar do the work; it needs no key and makes tests repeatable.

It is stateless: every decision is read from the conversation so far (the caller's words, its own
last question, and the tool results), exactly what a chat model sees.
"""

import json
import re
from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from scheduling.shop import shop_timezone
from voice.providers.base import ChatContext, ChatEvent, TextDelta, ToolCallRequested

ASK_SERVICE = "What can we do for your car? For example an oil change, a brake inspection or a tire rotation."
ASK_DAY = "What day works for you?"
CONFIRM_BOOK = "Shall I book it?"
CONFIRM_CANCEL = "Shall I cancel it?"
CONFIRM_MOVE = "Shall I move it?"
ASK_NEW_DAY = "What day would you like instead?"
ASK_CAR = "Which car is it for?"

SERVICES = [  # (words that name it, service code); the first match wins
    (("brake pad", "pads"), "brake_pads"),
    (("brake", "brakes", "breaks", "squeal", "squeak"), "brake_inspection"),
    (("oil",), "oil_change"),
    (("rotation", "rotate", "tire", "tires", "tyre"), "tire_rotation"),
    (("alignment", "align", "pulls"), "wheel_alignment"),
    (("battery", "won't start", "wont start"), "battery"),
    (("a/c", "ac service", "air condition", "air-condition"), "ac_service"),
    (("check engine", "diagnos", "engine light", "noise"), "diagnostic"),
    (("state inspection", "inspection sticker", "emissions"), "state_inspection"),
    (("transmission",), "transmission"),
]
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december"]
NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
           "ten": 10, "eleven": 11, "twelve": 12}
MINUTES = {"fifteen": 15, "thirty": 30, "forty five": 45, "forty-five": 45, "o'clock": 0, "half": 30}
YES = re.compile(r"\b(yes|yeah|yep|sure|correct|please do|go ahead|sounds good|that works|perfect|ok|okay|confirm)\b")
NO = re.compile(r"\b(no|nope|not really|don't|do not|wrong)\b")


def _words(text: str) -> str:
    return " " + re.sub(r"[^a-z0-9:/' -]", " ", text.lower()) + " "


def parse_service(text: str) -> str | None:
    """The service a caller names, as a service code."""
    low = _words(text)
    for words, code in SERVICES:
        if any(word in low for word in words):
            return code
    return None


def parse_day(text: str, today: date) -> date | None:
    """`today`, `tomorrow`, a weekday (the next one), `November 24`, `the 24th`, or `2026-11-24`."""
    low = _words(text)
    if iso := re.search(r"\b(\d{4})-(\d{2})-(\d{2})\b", low):
        year, month, day = int(iso[1]), int(iso[2]), int(iso[3])
        return date(year, month, day) if _valid(year, month, day) else None
    if " today " in low:
        return today
    if " tomorrow " in low:
        return today + timedelta(days=1)
    for index, name in enumerate(MONTHS):
        if found := re.search(rf"\b{name}\s+(\d{{1,2}})(?:st|nd|rd|th)?\b", low):
            # The next such date; none at all for a day the month never has ("February 30").
            month, day = index + 1, int(found[1])
            return next((date(year, month, day) for year in range(today.year, today.year + 5)
                         if _valid(year, month, day) and date(year, month, day) >= today), None)
    for index, name in enumerate(WEEKDAYS):
        if f" {name} " in low or f" {name}s " in low:
            ahead = (index - today.weekday()) % 7
            if " next " in low and ahead == 0:
                ahead = 7
            return today + timedelta(days=ahead)
    if found := re.search(r"\bthe (\d{1,2})(?:st|nd|rd|th)\b", low):
        day = int(found[1])
        candidate = today.replace(day=day) if _valid(today.year, today.month, day) else None
        if candidate and candidate >= today:
            return candidate
        month = today.month % 12 + 1
        return date(today.year + (month == 1), month, day) if _valid(today.year, month, day) else None
    return None


def _valid(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def parse_time(text: str) -> time | None:
    """`10 am`, `10:30`, `2 pm`, `ten thirty`, `two in the afternoon`, `noon`."""
    low = _words(text)
    if " noon " in low:
        return time(12, 0)
    found = re.search(r"\b(\d{1,2})(?::(\d{2}))?\s*(am|pm|a m|p m|in the morning|in the afternoon|o'clock)?\b", low)
    hour = minute = None
    suffix = ""
    if found and (found[2] or found[3]) and int(found[1]) <= 23 and int(found[2] or 0) <= 59:
        hour, minute, suffix = int(found[1]), int(found[2] or 0), found[3] or ""
    else:
        for word, value in NUMBERS.items():
            if spelled := re.search(rf"\b{word}\b(\s+(fifteen|thirty|forty five|forty-five|o'clock))?", low):
                if re.search(rf"\b{word}\s+(car|cars|times|days)\b", low):
                    continue
                hour, minute = value, MINUTES.get((spelled[2] or "").strip(), 0)
                break
    if hour is None:
        return None
    if "pm" in suffix or "p m" in suffix or "afternoon" in suffix or " afternoon " in low or " evening " in low:
        hour = hour + 12 if hour < 12 else hour
    elif not suffix and 1 <= hour <= 6:
        hour += 12  # "at two" at a repair shop means the afternoon
    return time(hour % 24, minute or 0)


def spoken(moment: datetime) -> str:
    local = moment.astimezone(shop_timezone())
    clock = local.strftime("%-I %p") if local.minute == 0 else local.strftime("%-I:%M %p")
    return f"{local.strftime('%A, %B')} {local.day} at {clock}"


def spoken_clock(hhmm: str) -> str:
    moment = time.fromisoformat(hhmm)
    return moment.strftime("%-I %p") if moment.minute == 0 else moment.strftime("%-I:%M %p")


class OfflineBrain:
    """ChatModel: decides the next step of the call from the messages, like a model would."""

    model = "offline-brain"

    async def stream(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]],
                     context: ChatContext | None = None) -> AsyncIterator[ChatEvent]:
        for event in self.decide(messages, {t["function"]["name"] for t in tools}):
            yield event

    def decide(self, messages: list[dict[str, Any]], offered: set[str]) -> list[ChatEvent]:
        self._offered = offered
        today = timezone.now().astimezone(shop_timezone()).date()
        turn = _Turn(messages, today)
        if turn.last_role == "tool":
            return self._after_tool(turn, offered)
        return self._after_caller(turn, offered)

    # --- the caller just spoke ------------------------------------------------------------------------

    def _after_caller(self, turn: "_Turn", offered: set[str]) -> list[ChatEvent]:
        said = turn.caller_now
        low = _words(said)
        if re.search(r"\b(person|human|someone|representative|agent|operator|manager)\b", low):
            return [_call("transfer_to_human", {"reason": "caller asked"}, turn)] if offered else [
                TextDelta("Let me get you to someone at the front desk.")]
        if re.search(r"\b(bye|goodbye|that's all|that is all|nothing else|no thanks|no thank you)\b", low):
            return [TextDelta(f"Thanks for calling {settings.SHOP_NAME}. Goodbye!"),
                    *([_call("end_call", {}, turn)] if offered else [])]
        if turn.pending == ASK_CAR and turn.booking is not None and turn.vehicles:
            car = _pick_vehicle(turn.vehicles, said)
            if car is None:
                return [TextDelta(f"Sorry, I didn't catch that. {_cars(turn.vehicles)} {ASK_CAR}")]
            return [TextDelta(_confirm_text(turn, car))]
        if turn.pending == CONFIRM_BOOK and turn.booking is not None:
            if YES.search(low):
                car = turn.chosen_vehicle
                extra = {"vehicle_id": car["vehicle_id"]} if car else {}
                return [_call("book_appointment", {**turn.booking, **extra, "caller_confirmed": True}, turn)]
            if NO.search(low):
                return [TextDelta("No problem. What day and time would suit you better?")]
        if turn.pending == CONFIRM_CANCEL and turn.appointment is not None:
            if YES.search(low):
                return [_call("cancel_appointment", {"appointment_id": turn.appointment["appointment_id"],
                                                     "caller_confirmed": True}, turn)]
            if NO.search(low):
                return [TextDelta("Okay, I'll leave it as it is. Anything else?")]
        if turn.pending == CONFIRM_MOVE and turn.move is not None:
            if YES.search(low):
                return [_call("reschedule_appointment", {**turn.move, "caller_confirmed": True}, turn)]
            if NO.search(low):
                return [TextDelta("Okay. What other day and time would work?")]
        if turn.reminder_id is not None and turn.intent not in ("cancel", "reschedule") and (
                YES.search(low) or re.search(r"\b(still coming|i'll be there|see you then)\b", low)):
            return [_call("confirm_appointment", {"appointment_id": turn.reminder_id}, turn)]
        if re.search(r"\b(hours|open|close|closing|address|where are you|located|location)\b", low):
            return [_call("get_shop_info", {}, turn)]
        if re.search(r"\b(price|cost|how much|charge)\b", low):
            return [_call("get_service_menu", {}, turn)]
        intent = turn.intent
        if intent in ("cancel", "reschedule"):
            if turn.appointment is None:
                return [_call("list_appointments", {}, turn)]
            if intent == "cancel":
                return [TextDelta(f"You have a {turn.appointment['service'].lower()} on {turn.appointment['when']}. "
                                  f"{CONFIRM_CANCEL}")]
            return self._choose_time(turn, turn.appointment_service_code())
        if intent == "book":
            if turn.service is None:
                return [TextDelta(ASK_SERVICE)]
            return self._choose_time(turn, turn.service)
        if YES.search(low) and not turn.caller_earlier:
            return [TextDelta(ASK_SERVICE)]
        return [TextDelta("I can book, move or cancel an appointment, or tell you our hours and prices. "
                          "What would you like?")]

    def _choose_time(self, turn: "_Turn", service: str | None) -> list[ChatEvent]:
        if service is None:
            return [TextDelta(ASK_SERVICE)]
        if turn.day is None:
            return [TextDelta(ASK_NEW_DAY if turn.intent == "reschedule" else ASK_DAY)]
        args = {"service": service, "date": turn.day.isoformat()}
        if turn.time is not None:
            args["time"] = turn.time.strftime("%H:%M")
        return [_call("check_availability", args, turn)]

    # --- a tool just answered -----------------------------------------------------------------------------

    def _after_tool(self, turn: "_Turn", offered: set[str]) -> list[ChatEvent]:
        name, result = turn.last_tool
        if name == "list_vehicles" and "error" in result:
            result = {"vehicles": []}  # a new caller has no cars on record yet: book without one
        if "error" in result:
            return [TextDelta(f"Sorry, {result['error'][0].lower()}{result['error'][1:]}")]
        if name == "check_availability":
            return self._offer_times(turn, result)
        if name == "book_appointment":
            return [TextDelta(f"You're all set: {result['service'].lower()} on {result['when']}. "
                              "Is there anything else I can help with?")]
        if name == "reschedule_appointment":
            return [TextDelta(f"Done. Your {result['service'].lower()} is now on {result['when']}. Anything else?")]
        if name == "cancel_appointment":
            return [TextDelta(f"Your {result['service'].lower()} on {result['when']} is cancelled. Anything else?")]
        if name == "list_vehicles" and turn.booking is not None:
            cars = result.get("vehicles", [])
            if len(cars) > 1:
                return [TextDelta(f"{_cars(cars)} {ASK_CAR}")]
            return [TextDelta(_confirm_text(turn, cars[0] if cars else None))]
        if name == "list_appointments":
            appointments = result.get("appointments", [])
            if not appointments:
                return [TextDelta("I don't see any upcoming appointments on your number. Would you like to book one?")]
            first = appointments[0]
            if turn.intent == "cancel":
                return [TextDelta(f"You have a {first['service'].lower()} on {first['when']}. {CONFIRM_CANCEL}")]
            if turn.intent == "reschedule":
                if turn.day is not None:
                    args = {"service": _code(first["service"]), "date": turn.day.isoformat()}
                    if turn.time is not None:
                        args["time"] = turn.time.strftime("%H:%M")
                    return [_call("check_availability", args, turn)]
                return [TextDelta(f"Your {first['service'].lower()} is on {first['when']}. {ASK_NEW_DAY}")]
            return [TextDelta(f"Your next appointment is a {first['service'].lower()} on {first['when']}.")]
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
            return [TextDelta("An oil change is 49 dollars and 99 cents, a tire rotation 29 dollars and 99 cents, "
                              "and a brake inspection 39 dollars and 99 cents. What would you like?")]
        if name == "transfer_to_human":
            return [TextDelta("Connecting you to the front desk now.")]
        if name == "confirm_appointment":
            return [TextDelta(f"Thank you, you're confirmed for {result['when']}. See you then!")]
        return [TextDelta("Done. Anything else?")]

    def _offer_times(self, turn: "_Turn", result: dict[str, Any]) -> list[ChatEvent]:
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
                    return [TextDelta(f"I can move your {turn.appointment['service'].lower()} to {spoken(start)}. "
                                      f"{CONFIRM_MOVE}")]
                if turn.vehicles is None and "list_vehicles" in self._offered:
                    return [_call("list_vehicles", {}, turn)]  # which car: asked before confirming
                return [TextDelta(_confirm_text(turn, turn.chosen_vehicle, result["service"], start))]
            return [TextDelta(f"Sorry, {spoken_clock(hhmm)} isn't free on {day['day']}. I have "
                              f"{_list(times[:3])}. Which would you like?")]
        return [TextDelta(f"On {day['day']} I have {_list(times[:3])}. Which time works for you?")]


def _cars(cars: list[dict[str, Any]]) -> str:
    names = [c["description"] for c in cars]
    return "I have your " + (names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]) + "."


def _pick_vehicle(cars: list[dict[str, Any]], said: str) -> dict[str, Any] | None:
    """The car whose year, make or model the caller named (the best word overlap)."""
    words = set(_words(said).split())
    scored = [(len(words & set(c["description"].lower().split())), c) for c in cars]
    best = max(scored, key=lambda pair: pair[0], default=(0, None))
    return best[1] if best[0] else None


def _confirm_text(turn: "_Turn", car: dict[str, Any] | None, service: str | None = None,
                  start: datetime | None = None) -> str:
    booking = turn.booking or {}  # callers hold an offered booking when they pass no start
    if start is None:
        start = datetime.fromisoformat(booking["start"]).replace(tzinfo=shop_timezone())
    label = (service or _label(booking.get("service"))).lower()
    for_car = f" for your {car['description']}" if car else ""
    return f"To confirm: {label}{for_car} on {spoken(start)}. {CONFIRM_BOOK}"


def _label(code: str | None) -> str:
    from crm.models import ServiceType

    return ServiceType(code).label if code in ServiceType.values else "your service"


def _list(times: list[str]) -> str:
    spoken_times = [spoken_clock(t) for t in times]
    return spoken_times[0] if len(spoken_times) == 1 else ", ".join(spoken_times[:-1]) + " or " + spoken_times[-1]


def _code(label: str) -> str | None:
    from crm.models import ServiceType

    return next((code for code, name in ServiceType.choices if name == label), parse_service(label))


def _call(name: str, args: dict[str, Any], turn: "_Turn") -> ToolCallRequested:
    return ToolCallRequested(call_id=f"call_{name}_{turn.step}", name=name, arguments=json.dumps(args))


class _Turn:
    """What the conversation says so far, from the brain's point of view."""

    def __init__(self, messages: list[dict[str, Any]], today: date) -> None:
        system = next((m.get("content") or "" for m in messages if m.get("role") == "system"), "")
        reminder = re.search(r"reminder call WE placed .*? about appointment (\d+)", system)
        self.reminder_id = int(reminder[1]) if reminder else None  # on a reminder call: its appointment
        self.messages = [m for m in messages if m.get("role") != "system"]
        self.today = today
        self.step = len(self.messages)
        self.last_role = self.messages[-1]["role"] if self.messages else "user"
        callers = [i for i, m in enumerate(self.messages) if m["role"] == "user"]
        self.caller_now = self.messages[callers[-1]]["content"] if callers else ""
        self.caller_earlier = [self.messages[i]["content"] for i in callers[:-1]]
        assistant_texts = [m.get("content") or "" for m in self.messages if m["role"] == "assistant"]
        last_text = next((t for t in reversed(assistant_texts) if t), "")
        self.pending = next((q for q in (CONFIRM_BOOK, CONFIRM_CANCEL, CONFIRM_MOVE, ASK_CAR)
                             if last_text.endswith(q)), None)
        self.tool_results = self._tool_results()
        self.last_tool = self.tool_results[-1] if self.tool_results and self.last_role == "tool" else ("", {})
        task_words = self._since_last_done()
        self.intent = self._intent(task_words)
        joined = " ".join(task_words)
        self.service = parse_service(joined) if task_words else None
        self.day = next((d for d in (parse_day(w, today) for w in reversed(task_words)) if d), None)
        self.time = next((t for t in (parse_time(w) for w in reversed(task_words)) if t), None)
        self.appointment = next((r["appointments"][0] for n, r in reversed(self.tool_results)
                                 if n == "list_appointments" and r.get("appointments")), None)
        offered = next((r for n, r in reversed(self.tool_results) if n == "check_availability" and "days" in r), None)
        listed = next((r for n, r in reversed(self.tool_results) if n == "list_vehicles"), None)
        self.vehicles: list[dict[str, Any]] | None = listed.get("vehicles", []) if listed is not None else None
        self.chosen_vehicle = None
        if self.vehicles:
            named = [_pick_vehicle(self.vehicles, w) for w in reversed(task_words)]
            self.chosen_vehicle = next((c for c in named if c), None) or (
                self.vehicles[0] if len(self.vehicles) == 1 else None)
        self.booking: dict[str, Any] | None = None  # service and start of the slot the caller is taking
        self.move: dict[str, Any] | None = None  # appointment_id and new_start when it is a reschedule
        if offered and offered.get("days") and self.time is not None:
            start = f"{offered['days'][0]['date']}T{self.time.strftime('%H:%M')}"
            self.booking = {"service": _code(offered["service"]), "start": start}
            if self.appointment is not None:
                self.move = {"appointment_id": self.appointment["appointment_id"], "new_start": start}

    def appointment_service_code(self) -> str | None:
        return _code(self.appointment["service"]) if self.appointment else None

    def _tool_results(self) -> list[tuple[str, dict[str, Any]]]:
        names = {}
        out = []
        for message in self.messages:
            for call in message.get("tool_calls") or []:
                names[call["id"]] = call["function"]["name"]
            if message["role"] == "tool":
                try:
                    result = json.loads(message["content"])
                except ValueError:
                    result = {}
                out.append((names.get(message.get("tool_call_id"), ""), result if isinstance(result, dict) else {}))
        return out

    def _since_last_done(self) -> list[str]:
        """The caller's words since the last finished task (a booking, a cancellation, ...)."""
        words: list[str] = []
        names = {}
        for message in self.messages:
            for call in message.get("tool_calls") or []:
                names[call["id"]] = call["function"]["name"]
            if message["role"] == "tool" and names.get(message.get("tool_call_id")) in (
                    "book_appointment", "cancel_appointment", "reschedule_appointment", "confirm_appointment"):
                if "error" not in message.get("content", ""):
                    words = []
            elif message["role"] == "user":
                words.append(message["content"])
        return words

    @staticmethod
    def _intent(words: list[str]) -> str | None:
        for text in reversed(words):
            low = _words(text)
            if re.search(r"\b(cancel|call off)\b", low):
                return "cancel"
            if re.search(r"\b(reschedule|move|push it|push back|different (day|time)|another (day|time)|"
                         r"change (the|my) (time|day|date|appointment))\b", low):
                return "reschedule"
            if re.search(r"\b(book|appointment|schedule|come in|bring|need|want|like)\b", low) or parse_service(text):
                return "book"
        return None
