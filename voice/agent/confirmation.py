"""The caller's yes, checked in code before a booking changes: the agent's last reply, heard to its end,
read back what the tool is about to do (the service, the weekday and the time), and the caller's next
words were a yes (or keypad 1). The model's `caller_confirmed` alone never books, moves or cancels, so
an instruction injected into the conversation cannot change a booking the caller did not agree to."""

import re
from datetime import datetime

from scheduling.shop import shop_timezone, shop_today
from voice.agent.tool_registry import ToolError
from voice.call_record import ToolScope

NEEDS_CONFIRMATION = ("The caller has not agreed to this yet. Read back what you will do (the service, the "
                      "weekday and the time) in one sentence, ask them to confirm, and call again only on their "
                      "next turn, after they say yes.")

YES = re.compile(r"\b(yes|yeah|yep|yup|ya|sure|correct|right|please do|go ahead|do it|do that|book it|cancel it|"
                 r"move it|sounds good|that works|works for me|perfect|ok|okay|confirm|confirmed|absolutely|"
                 r"definitely|of course)\b")
NO = re.compile(r"\b(no|nope|nah|not|don't|dont|do not|never|wait|hold on|stop|wrong)\b")
KEYPAD_YES = {"1", "[pressed 1]"}
ACTIONS = {"cancel": re.compile(r"\bcancel"),
           "reschedule": re.compile(r"\b(move|moving|reschedul|change|switch|instead|push)")}
SERVICES = {  # how a service is named aloud; any of these words counts
    "oil_change": r"\boil\b",
    "brake_inspection": r"\bbrakes?\b.*\b(inspect|check|look)|\b(inspect|check|look)\w*\b.*\bbrakes?\b",
    "brake_pads": r"\bpads?\b",
    "tire_rotation": r"\b(rotat\w*|tires?|tyres?)\b",
    "wheel_alignment": r"\balign\w*",
    "battery": r"\bbatter(y|ies)\b",
    "ac_service": r"\b(a/?c|air con\w*|air-con\w*)\b",
    "diagnostic": r"\b(diagnos\w*|check[ -]engine|engine light)\b",
    "state_inspection": r"\b(state inspection|inspection sticker|emissions?)\b",
    "transmission": r"\btransmission\b",
}
NUMBER_WORDS = ["twelve", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven"]
MINUTE_WORDS = {15: r"(fifteen|quarter past)", 30: r"(thirty|half past)", 45: r"(forty[ -]five)"}
DAY_PART = r"(am|pm|o'clock|in the morning|in the afternoon|in the evening)"


def require_agreement(scope: ToolScope, args: dict[str, object], action: str, service: str, when: datetime) -> None:
    """Refuse (a `ToolError` the model can act on) unless the caller agreed to `action` on `service` at `when`."""
    if args.get("caller_confirmed") is not True:
        raise ToolError(NEEDS_CONFIRMATION, needs="confirmation")
    if not (said_yes(scope.caller_said) and read_back(scope.agent_said, action=action, service=service, when=when)):
        raise ToolError(NEEDS_CONFIRMATION, needs="confirmation")


def said_yes(text: str) -> bool:
    """The caller's turn is an affirmative and no negation: "yes", "sure", "that's right", keypad 1."""
    if text.strip() in KEYPAD_YES:
        return True
    low = _words(text)
    return bool(YES.search(low)) and not NO.search(low)


def read_back(text: str, *, action: str, service: str, when: datetime) -> bool:
    """The agent's words name `service`, the day and the time of `when` (and, to move or cancel, the act)."""
    low = _words(text)
    if not low.strip():
        return False
    verb = ACTIONS.get(action)
    if verb is not None and not verb.search(low):
        return False
    named = SERVICES.get(service)
    return bool(named and re.search(named, low)) and _names_day(low, when) and _names_time(low, when)


def _words(text: str) -> str:
    low = text.lower().replace("a.m.", "am").replace("p.m.", "pm").replace("\u2019", "'")
    return " " + " ".join(re.sub(r"[^a-z0-9:/' -]", " ", low).split()) + " "


def _names_day(low: str, when: datetime) -> bool:
    local = when.astimezone(shop_timezone())
    day = local.day
    ordinal = rf"{day}(st|nd|rd|th)?"
    patterns = [rf"\b{local.strftime('%A').lower()}\b", rf"\b{local.strftime('%B').lower()} {ordinal}\b",
                rf"\bthe {ordinal}\b"]
    today = shop_today()
    if local.date() == today:
        patterns.append(r"\btoday\b")
    if (local.date() - today).days == 1:
        patterns.append(r"\btomorrow\b")
    return any(re.search(p, low) for p in patterns)


def _names_time(low: str, when: datetime) -> bool:
    """`10 AM`, `10:30`, `at ten`, `ten thirty in the morning`, `half past ten`, `noon`, `14:00`."""
    local = when.astimezone(shop_timezone())
    hour12, minute = local.hour % 12 or 12, local.minute
    word = NUMBER_WORDS[hour12 % 12]
    if minute == 0:
        digits, spelled = rf"{hour12}(:00)?", rf"{word}"
        if local.hour == 12 and re.search(r"\bnoon\b", low):
            return True
    else:
        digits = rf"{hour12}:{minute:02d}"
        spelled = rf"{word} {MINUTE_WORDS.get(minute, str(minute))}|{MINUTE_WORDS.get(minute, '-')} {word}"
    patterns = [rf"\b({digits}|{spelled}) ?{DAY_PART}", rf"\bat ({digits}|{spelled})\b",
                rf"\b{local.hour:02d}:{minute:02d}\b"]
    return any(re.search(p, low) for p in patterns)
