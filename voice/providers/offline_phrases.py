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
SERVICES_ASKED = re.compile(r"\b(what (services|do you (do|offer))|services do you|which services|what can you do|"
                            r"what kind of (work|services?))\b")
OWN_APPOINTMENTS = re.compile(r"\b(do i have (an?|any) (appointment|booking)s?|my next (appointment|booking)|"
                              r"when is my|what time is my|what are my (appointment|booking)s|"
                              r"am i (booked|scheduled))\b")
ADD_CAR = re.compile(r"\b(add (it|my car|a car|my other car|another car|the car|a vehicle)|new car|bought a (new )?car"
                     r"|another car)\b")
CANCEL = re.compile(r"\b(cancel|call off)\b")
MOVE = re.compile(r"\b(reschedule|move|push (?:it|my|the)|push back|different (day|time)|another (day|time)|"
                  r"(?<!oil )change (the|my) (time|day|date|appointment))\b")
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


def asks_services(text: str) -> bool:
    """The caller asked what the shop does."""
    return bool(SERVICES_ASKED.search(words(text)))


def asks_own_appointments(text: str) -> bool:
    """The caller asked about their own appointments (not to change one)."""
    low = words(text)
    return bool(OWN_APPOINTMENTS.search(low)) and not CANCEL.search(low) and not MOVE.search(low)


def asks_price(text: str) -> bool:
    """The caller asked what something costs."""
    return bool(PRICE.search(words(text)))


def parse_intent(text: str) -> str | None:
    """`cancel`, `reschedule`, `add_car` or `book`: what the caller wants done, if the text says."""
    low = words(text)
    if CANCEL.search(low):
        return "cancel"
    if MOVE.search(low):
        return "reschedule"
    if ADD_CAR.search(low):
        return "add_car"
    if BOOK.search(low) or parse_service(text):
        return "book"
    return None


BARE_HOUR = re.compile(r"\b(?:at|make (?:it|that)|how about|around|by)\s+(\d{1,2})\b"
                       r"(?!\s*(?:st|nd|rd|th|:|am|pm|a m|p m))")
NOT_DAY = re.compile(r"\b(not|isn't|instead of|rather than)\s+(on\s+)?$")
NEGATED = re.compile(r"\b(not|isn't|aren't|don't need|don't want)\s+(the\s+|a\s+|an\s+|my\s+)?$")


def parse_service(text: str) -> str | None:
    """The service a caller names first in `text`, as a service code; one they say it is not ("not brakes")
    does not count. On a tie the more specific name wins ("brake pads" over "brakes")."""
    low = words(text)
    found: list[tuple[int, int, str]] = []
    for rank, (names, code) in enumerate(SERVICES):
        for name in names:
            for match in re.finditer(re.escape(name), low):
                if not NEGATED.search(low[:match.start()]):
                    found.append((match.start(), rank, code))
                    break
    return min(found)[2] if found else None


def latest_service(lines: list[str]) -> str | None:
    """The service of the latest line that names one: what the caller asked for last."""
    return next((code for code in map(parse_service, reversed(lines)) if code), None)


def parse_day(text: str, today: date) -> date | None:
    """`today`, `tomorrow`, `the day after tomorrow`, a weekday (the coming one), `November 24`, `the 24th`, or
    `2026-11-24`."""
    low = words(text)
    if iso := re.search(r"\b(\d{4})-(\d{2})-(\d{2})\b", low):
        year, month, day = int(iso[1]), int(iso[2]), int(iso[3])
        return date(year, month, day) if _valid(year, month, day) else None
    if " day after tomorrow " in low:
        return today + timedelta(days=2)
    if re.search(r"\b(a|one) week from (today|now)\b", low):
        return today + timedelta(days=7)
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
    named = sorted((found.start(), index, name) for index, name in enumerate(WEEKDAYS)
                   for found in re.finditer(rf"\b{name}s?\b", low) if not NOT_DAY.search(low[:found.start()]))
    for _, index, name in named[:1]:  # the first day said, not one said not to be ("Thursday, not Tuesday")
        ahead = (index - today.weekday()) % 7
        if ahead == 0 and not re.search(rf"\b(this|today) {name}\b", low):
            ahead = 7  # "Tuesday", said on a Tuesday, is a week on; "this Tuesday" is today
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
    if " noon " in low or " midday " in low:
        return time(12, 0)
    if quarter := _quarter_or_half(low):
        return quarter
    found = re.search(r"\b(\d{1,2})(?::(\d{2}))?\s*(am|pm|a m|p m|in the morning|in the afternoon|o'clock)?\b", low)
    hour = minute = None
    suffix = ""
    bare = BARE_HOUR.search(low)
    if found and (found[2] or found[3]) and int(found[1]) <= 23 and int(found[2] or 0) <= 59:
        hour, minute, suffix = int(found[1]), int(found[2] or 0), found[3] or ""
    elif bare and 1 <= int(bare[1]) <= 12:  # "at 3", "make that 11": an hour of the working day
        hour, minute = int(bare[1]), 0
    else:
        for spelled in SPELLED_TIME.finditer(low):  # the first number word said, with its minutes
            pronoun = re.search(r"\b(the|which|this|that|no|any)\s+$", low[:spelled.start()])  # "the one for..."
            if not pronoun and not re.match(r"\s+(car|cars|times|days)\b", low[spelled.end(1):]):
                hour, minute = NUMBERS[spelled[1]], MINUTES.get((spelled[2] or "").strip(), 0)
                break
    if hour is None:
        return None
    if "pm" in suffix or "p m" in suffix or "afternoon" in suffix or " afternoon " in low or " evening " in low:
        hour = hour + 12 if hour < 12 else hour
    elif not suffix and 1 <= hour <= 6:
        hour += 12  # "at two" at a repair shop means the afternoon
    return time(hour % 24, minute or 0)


SPELLED_TIME = re.compile(r"\b(" + "|".join(NUMBERS) + r")\b(\s+(?:fifteen|thirty|forty five|forty-five|o'clock)"
                          r"(?=\W))?")
HOUR_WORD = r"(\d{1,2}|" + "|".join(NUMBERS) + r")"
PAST = re.compile(rf"\b(half|quarter|a quarter) (past|after) {HOUR_WORD}\b")
TO = re.compile(rf"\b(quarter|a quarter) (to|till|til|of) {HOUR_WORD}\b")
HALF = re.compile(rf"\bhalf {HOUR_WORD}\b")


def _quarter_or_half(low: str) -> time | None:
    """`half past ten`, `quarter past nine`, `quarter to four`, `half ten`: the clock they mean (1-6 in the
    afternoon, as for any time a caller gives without am or pm)."""
    def hour_of(word: str) -> int:
        return int(word) if word.isdigit() else NUMBERS[word]

    hour, minute = None, 0
    if found := PAST.search(low):
        hour, minute = hour_of(found[3]), 30 if found[1] == "half" else 15
    elif found := TO.search(low):
        hour, minute = hour_of(found[3]) - 1, 45
    elif found := HALF.search(low):
        hour, minute = hour_of(found[1]), 30
    if hour is None or not 0 <= hour <= 23:
        return None
    if " pm " in low or " afternoon " in low or (" am " not in low and " morning " not in low and 1 <= hour <= 6):
        hour = hour + 12 if hour < 12 else hour
    return time(hour, minute)


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


def a_or_an(noun: str) -> str:
    """`an oil change`, `a tire rotation`."""
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


ORDINALS = {"first": 0, "earlier": 0, "earliest": 0, "second": 1, "third": 2, "last": -1, "later": -1}


def pick_appointment(appointments: list[dict[str, Any]], text: str, today: date) -> list[dict[str, Any]]:
    """The appointments (from list_appointments) the caller's answer points at: by day, month or order."""
    low = words(text)
    day = parse_day(text, today)
    if day is not None:
        on_day = [a for a in appointments if str(a.get("start", "")).startswith(day.isoformat())]
        if on_day:
            return on_day
    for index, month in enumerate(MONTHS):
        if f" {month} " in low:
            in_month = [a for a in appointments if str(a.get("start", ""))[5:7] == f"{index + 1:02d}"]
            if in_month:
                return in_month
    said = set(low.split()) - {"the", "one", "for", "my", "a", "an", "on", "in", "at"}
    by_car = [a for a in appointments if said & set(words(str(a.get("vehicle") or "")).split())]
    if by_car:
        return by_car
    for word, position in ORDINALS.items():
        if f" {word} " in low and appointments:
            return [appointments[position]]
    return []

