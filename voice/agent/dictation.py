"""Spelled things callers dictate: VINs, plates, phone numbers and mileage, as speech-to-text writes them.

"one H G C, M as in Mike, eight two six, double three..." becomes "1HGCM82633..." in code, so any brain
(GPT-4o passes the caller's words through as they came; the offline brain does the same) gets the same
result: digits and letters one by one, "oh" for zero, "double" and "triple", the NATO alphabet, "B as in
boy". A VIN is read back in groups of four, each character on its own, for the caller to confirm.
"""

import re

DIGITS = {"zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "to": "2", "too": "2", "three": "3",
          "four": "4", "for": "4", "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9"}
NATO = {"alpha": "A", "alfa": "A", "bravo": "B", "charlie": "C", "delta": "D", "echo": "E", "foxtrot": "F",
        "golf": "G", "hotel": "H", "india": "I", "juliet": "J", "juliett": "J", "kilo": "K", "lima": "L",
        "mike": "M", "november": "N", "oscar": "O", "papa": "P", "quebec": "Q", "romeo": "R", "sierra": "S",
        "tango": "T", "uniform": "U", "victor": "V", "whiskey": "W", "whisky": "W", "x-ray": "X", "xray": "X",
        "yankee": "Y", "zulu": "Z"}
LETTER_NAMES = {"bee": "B", "see": "C", "sea": "C", "dee": "D", "gee": "G", "jay": "J", "kay": "K", "el": "L",
                "em": "M", "en": "N", "pea": "P", "pee": "P", "cue": "Q", "queue": "Q", "are": "R", "ar": "R",
                "ess": "S", "tea": "T", "tee": "T", "you": "U", "vee": "V", "ex": "X", "why": "Y", "zee": "Z",
                "zed": "Z", "double-u": "W", "doubleu": "W"}
REPEAT = {"double": 2, "triple": 3}
FILLER = {"um", "uh", "er", "dash", "hyphen", "space", "and", "then", "its", "it's", "is", "the", "my", "vin",
          "plate", "number", "license", "it", "that's", "thats", "ok", "okay", "so", "yeah", "yes"}
TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
TEENS = {"ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
         "seventeen": 17, "eighteen": 18, "nineteen": 19}


def spelled(text: str) -> str:
    """The characters a caller spelled out, upper-case, in order ("oh" is 0; "B as in boy" is B)."""
    tokens = re.findall(r"[a-z0-9_]+(?:-[a-z]+)?", text.lower().replace("as in", " as_in "))
    out: list[str] = []
    repeat = 1
    skip_next = False
    for word in tokens:
        if skip_next:  # the word after "as in" only names the letter already taken
            skip_next = False
            continue
        if word == "as_in":
            skip_next = True
            continue
        if word in REPEAT:
            repeat = REPEAT[word]
            continue
        if word in FILLER:
            continue
        chars = _chars(word)
        if chars:
            out.append(chars[0] * repeat + chars[1:])
        repeat = 1
    return "".join(out)


def _chars(token: str) -> str:
    if token.isdigit():
        return token
    if token in DIGITS:
        return DIGITS[token]
    if token in NATO:
        return NATO[token]
    if token in LETTER_NAMES:
        return LETTER_NAMES[token]
    if len(token) == 1:
        return token.upper()
    if re.fullmatch(r"[a-z]*\d[a-z0-9]*", token):  # "1hgc" as some recognisers write a run of characters
        return token.upper()
    return ""


def dictated(value: str) -> str:
    """A VIN or plate as a tool got it: spelled out in words ("one H G C ...") or already as characters."""
    if re.search(r"\s", value.strip()):
        return spelled(value)
    return re.sub(r"[^A-Za-z0-9]", "", value).upper()


def vin_from_speech(text: str) -> str:
    """The VIN characters in what the caller said (maybe not 17, maybe not valid: the caller checks it)."""
    return spelled(text)


def read_back(characters: str) -> str:
    """`1 H G C, M 8 2 6, 3 3 A 0, 0 4 3 5, 2`: each character on its own, in groups of four."""
    groups = [characters[i:i + 4] for i in range(0, len(characters), 4)]
    return ", ".join(" ".join("zero" if c == "0" else c for c in group) for group in groups)


def mileage_from_speech(text: str) -> int | None:
    """Miles from `81,500`, `eighty one thousand five hundred`, `about 81k`, `81 thousand`."""
    low = text.lower().replace(",", "")
    if found := re.search(r"\b(\d+(?:\.\d+)?)\s*(k|thousand)\b", low):
        return int(float(found[1]) * 1000)
    if found := re.search(r"\b(\d{1,7})\b", low):
        return int(found[1])
    total = current = 0
    seen = False
    for word in re.findall(r"[a-z]+", low):
        if word in DIGITS and word not in ("oh", "o", "to", "too", "for"):
            current += int(DIGITS[word])
        elif word in TEENS:
            current += TEENS[word]
        elif word in TENS:
            current += TENS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word == "thousand":
            total += max(current, 1) * 1000
            current = 0
        else:
            continue
        seen = True
    return total + current if seen else None


def asks_for_dictation(agent_said: str) -> bool:
    """Whether the agent's words ask the caller to dictate a VIN, a plate, a phone number or the mileage
    (the turn-taker then waits longer for the end of the caller's turn)."""
    return bool(re.search(r"\b(VIN|vehicle identification number|plate|phone number|number to reach|mileage|"
                          r"odometer|miles)\b[^.?!]*\?", agent_said, re.IGNORECASE))
