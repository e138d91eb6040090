"""What callers say about themselves, for the offline brain: their name, and their car (year, make, model).

Pure functions of the text, like `offline_phrases`; spoken years ("twenty nineteen", "two thousand nine")
are read here so a car's year is never taken for a time of day."""

import re
from typing import Any

from voice.agent.dictation import dictated, read_back
from voice.providers.offline_phrases import NUMBERS, words
from voice.providers.offline_turn import ASK_VIN_AGAIN

MAKES = {  # what callers say -> the make as records spell it
    "toyota": "Toyota", "honda": "Honda", "ford": "Ford", "chevy": "Chevrolet", "chevrolet": "Chevrolet",
    "nissan": "Nissan", "hyundai": "Hyundai", "kia": "Kia", "subaru": "Subaru", "mazda": "Mazda",
    "volkswagen": "Volkswagen", "vw": "Volkswagen", "bmw": "BMW", "mercedes": "Mercedes-Benz", "audi": "Audi",
    "lexus": "Lexus", "jeep": "Jeep", "dodge": "Dodge", "ram": "Ram", "gmc": "GMC", "tesla": "Tesla",
    "volvo": "Volvo", "buick": "Buick", "cadillac": "Cadillac", "chrysler": "Chrysler", "acura": "Acura",
    "infiniti": "Infiniti", "mitsubishi": "Mitsubishi", "mini": "MINI", "porsche": "Porsche", "lincoln": "Lincoln",
}
TEENS = {"ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
         "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "twenty one": 21, "twenty two": 22,
         "twenty three": 23, "twenty four": 24, "twenty five": 25, "twenty six": 26, "twenty seven": 27}
SMALL = {**{w: n for w, n in NUMBERS.items() if n < 10}, "oh one": 1, "oh two": 2, "oh three": 3, "oh four": 4,
         "oh five": 5, "oh six": 6, "oh seven": 7, "oh eight": 8, "oh nine": 9}
NAME_LEAD = re.compile(r"^\s*(?:(?:yes|yeah|sure|ok|okay|hi|hello)\s+)?(?:it's|it is|my name is|my name's|this is|"
                       r"i'm|i am|name's|the name is)\s+", re.IGNORECASE)


def parse_name(text: str) -> str | None:
    """The caller's name from `John Smith`, `it's John Smith`, `my name is john smith.`: capitalised."""
    bare = NAME_LEAD.sub("", text.strip())
    found = re.findall(r"[A-Za-z][A-Za-z'-]*", bare)
    if not 1 <= len(found) <= 4 or any(w.lower() in ("no", "not", "don't", "why", "what") for w in found):
        return None
    return " ".join(w[:1].upper() + w[1:].lower() if w.islower() or w.isupper() else w for w in found)


def parse_year(low: str) -> int | None:
    """`2019`, `twenty nineteen`, `two thousand nineteen`, `oh nine` (2009)."""
    if found := re.search(r"\b(19[5-9]\d|20[0-4]\d)\b", low):
        return int(found[1])
    if found := re.search(r"\b(nineteen|twenty) (" + "|".join(sorted(TEENS, key=len, reverse=True)) + r"|"
                          r"(?:fifty|sixty|seventy|eighty|ninety)"
                          r"(?: (?:one|two|three|four|five|six|seven|eight|nine))?)\b", low):
        century = 1900 if found[1] == "nineteen" else 2000
        tens = {"fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
        parts = found[2].split(" ")
        value = TEENS.get(found[2]) or tens.get(parts[0], 0) + (NUMBERS.get(parts[1], 0) if len(parts) > 1 else 0)
        return century + value
    if found := re.search(r"\btwo thousand(?: and)? (" + "|".join(sorted({**TEENS, **SMALL}, key=len, reverse=True))
                          + r")\b", low):
        return 2000 + {**TEENS, **SMALL}[found[1]]
    return None


def parse_car(text: str) -> tuple[int | None, str, str]:
    """(year, make, model) from `a 2019 Honda Civic`, `twenty nineteen honda civic`; model: the words after
    the make, up to four."""
    low = words(text)
    year = parse_year(low)
    for said, make in MAKES.items():
        if found := re.search(rf"\b{said}\b((?: [a-z0-9-]+){{0,4}})", low):
            kept = []
            for word in found[1].split():
                if word in ("the", "plate", "license", "vin", "with", "and", "it's", "its", "please", "thanks"):
                    break  # the model ends where the plate or anything else begins
                kept.append(word)
            model = " ".join(w for w in kept if w not in ("car", "truck"))
            return year, make, model.title() if model else ""
    return year, "", ""


def vin_heard(result: dict[str, Any]) -> str:
    """`I have the VIN as 1 H G C, ...` when a car was just added by its VIN (for the caller to check)."""
    return f"I have the VIN as {result['read_back']}. " if result.get("read_back") else ""


def vin_misheard(vin: str) -> str:
    """A VIN whose check digit fails: what was heard, and the question again."""
    return f"Sorry, I heard {read_back(vin)}, and that doesn't check out as a VIN. {ASK_VIN_AGAIN}"


INTRO = re.compile(r"\b(?:this is|my name is|my name's|i'm|i am|it's)\s+([A-Z][a-z'-]+(?: [A-Z][a-z'-]+)?)")


def introduced_name(lines: list[str]) -> str | None:
    """A name the caller gave unasked ("Hi, this is Beatriz Santos, ..."), as written with capitals."""
    for line in lines:
        if (found := INTRO.search(line)) and found[1].split()[0].lower() not in ("a", "an", "the", "just", "calling"):
            return found[1]
    return None


def parse_plate(text: str) -> str:
    """The plate a caller gave with their car ("..., the plate is eight x-ray yankee zulu, double two one")."""
    found = re.search(r"\b(?:plate|license)(?: number)?(?: is| reads)?\s+(.+)$", text, re.IGNORECASE)
    return dictated(found[1].strip(" .")) if found else ""
