"""What a caller's words mean, for the offline brain: days, times, services, yes and no, intents.

Pure functions of the text (and of `today` for dates), so the dialogue policy never parses words
itself and each phrase can be tested on its own. Also the clock phrases the brain speaks back.
"""

import re
from datetime import date, time, timedelta
from typing import Any

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
PERSON = re.compile(r"\b(person|human|someone|representative|agent|operator|manager)\b")
GOODBYE = re.compile(r"\b(bye|goodbye|that's all|that is all|nothing else|no thanks|no thank you)\b")
ATTENDING = re.compile(r"\b(still coming|i'll be there|see you then)\b")
HOURS = re.compile(r"\b(hours|open|close|closing|address|where are you|located|location)\b")
PRICE = re.compile(r"\b(price|cost|how much|charge)\b")
CANCEL = re.compile(r"\b(cancel|call off)\b")
MOVE = re.compile(r"\b(reschedule|move|push it|push back|different (day|time)|another (day|time)|"
                  r"change (the|my) (time|day|date|appointment))\b")
BOOK = re.compile(r"\b(book|appointment|schedule|come in|bring|need|want|like)\b")


def words(text: str) -> str:
    """The text lower-cased, punctuation as spaces, padded with a space each side for whole-word tests."""
    return " " + re.sub(r"[^a-z0-9:/' -]", " ", text.lower()) + " "


def is_yes(text: str) -> bool:
    """The caller agreed."""
    return bool(YES.search(words(text)))


def is_no(text: str) -> bool:
    """The caller declined."""
    return bool(NO.search(words(text)))


def wants_person(text: str) -> bool:
    """The caller asked for a person at the front desk."""
    return bool(PERSON.search(words(text)))


def says_goodbye(text: str) -> bool:
    """The caller is done."""
    return bool(GOODBYE.search(words(text)))


def will_attend(text: str) -> bool:
    """The caller said they are coming (on a reminder call): a yes or a `see you then`."""
    return is_yes(text) or bool(ATTENDING.search(words(text)))


def asks_hours(text: str) -> bool:
    """The caller asked when the shop is open or where it is."""
    return bool(HOURS.search(words(text)))


def asks_price(text: str) -> bool:
    """The caller asked what something costs."""
    return bool(PRICE.search(words(text)))


def parse_intent(text: str) -> str | None:
    """`cancel`, `reschedule` or `book`: what the caller wants done, if the text says."""
    low = words(text)
    if CANCEL.search(low):
        return "cancel"
    if MOVE.search(low):
        return "reschedule"
    if BOOK.search(low) or parse_service(text):
        return "book"
    return None


def parse_service(text: str) -> str | None:
    """The service a caller names, as a service code."""
    low = words(text)
    for names, code in SERVICES:
        if any(name in low for name in names):
            return code
    return None


def parse_day(text: str, today: date) -> date | None:
    """`today`, `tomorrow`, a weekday (the next one), `November 24`, `the 24th`, or `2026-11-24`."""
    low = words(text)
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
    low = words(text)
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


def parse_vehicle(cars: list[dict[str, Any]], text: str) -> dict[str, Any] | None:
    """The car (from list_vehicles) whose year, make or model the caller named: the best word overlap."""
    said = set(words(text).split())
    scored = [(len(said & set(car["description"].lower().split())), car) for car in cars]
    best = max(scored, key=lambda pair: pair[0], default=(0, None))
    return best[1] if best[0] else None


def spoken_clock(hhmm: str) -> str:
    """`10 AM` or `10:30 AM` for `10:00` / `10:30`."""
    moment = time.fromisoformat(hhmm)
    return moment.strftime("%-I %p") if moment.minute == 0 else moment.strftime("%-I:%M %p")


def spoken_times(times: list[str]) -> str:
    """`9 AM, 10 AM or 11 AM` for a list of `HH:MM` times."""
    said = [spoken_clock(t) for t in times]
    return said[0] if len(said) == 1 else ", ".join(said[:-1]) + " or " + said[-1]


def spoken_cars(cars: list[dict[str, Any]]) -> str:
    """`I have your 2018 Honda Civic and 2015 Ford Focus.` for the cars list_vehicles returned."""
    names = [car["description"] for car in cars]
    return "I have your " + (names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]) + "."
