"""Who is calling, checked before anything on record changes. Caller ID can be spoofed: unless the carrier
attested the number at level A (STIR/SHAKEN, Twilio's `StirVerstat`), the caller answers a question only
the customer knows (the car's make or model, or the last 3 or 4 characters of its plate or VIN) and the
tool compares the answer with the record. A match marks the call verified in its facts: asked once a call.

`settings.CALLER_VERIFICATION`: "attestation" (the default: ask unless A-attested), "always" (ask on every
inbound call) or "off". Calls the shop placed (reminders) reach the number on record and are never asked.
"""

import re
from collections.abc import Iterable

from django.conf import settings

from crm.models import CallDirection, Vehicle
from voice.agent.tool_registry import ToolError
from voice.call_record import ToolScope

ATTESTED = "TN-Validation-Passed-A"
MAX_ATTEMPTS = 2  # wrong answers per call before only the front desk can help
ASK = ("The caller's number is not verified, so before this change ask for a detail only the customer knows: "
       "the make or model of the car on the appointment or record, or the last 3 or 4 characters of its license "
       "plate or VIN. Never say or hint at it yourself. Call again with their answer in `verification`.")
WRONG = "That answer does not match our records. Ask the caller once more, without hints."
NO_DETAIL = ("That change needs a check that it's really you, and there's no car on your record to check it "
             "with, so I can't make it over the phone; I can transfer you to the front desk.")
TOO_MANY = ("That didn't match our records, so I can't change anything on this call; I can transfer you to "
            "the front desk.")
PRIVATE = ("The caller's number is not verified, so their cars stay private: book without a car (vehicle_id is "
           "optional), or ask the security question and call again with their answer in `verification`.")
DIGITS = {"zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
          "seven": "7", "eight": "8", "nine": "9"}


def verification_needed(scope: ToolScope) -> bool:
    """The caller must still prove who they are before anything on record changes."""
    return not scope.facts.caller_verified and not number_trusted(scope.direction, scope.attestation)


def number_trusted(direction: str, attestation: str) -> bool:
    """Whether the number alone says who is calling: a call the shop placed, a carrier's level-A attestation
    (unless CALLER_VERIFICATION is "always"), or checks turned off."""
    mode = str(getattr(settings, "CALLER_VERIFICATION", "attestation")).strip().lower()
    if mode == "off" or direction == CallDirection.OUTBOUND:
        return True
    return mode != "always" and attestation == ATTESTED


def require_verified(scope: ToolScope, args: dict[str, object], vehicles: Iterable[Vehicle],
                     ask: str = ASK) -> None:
    """Refuse (a `ToolError` naming what is needed) unless the call is verified or `args["verification"]`
    matches one of `vehicles`; a match marks the call verified."""
    if not verification_needed(scope):
        return
    facts = scope.facts
    if facts.verification_attempts >= MAX_ATTEMPTS:
        raise ToolError(TOO_MANY, needs="staff")
    cars = list(vehicles)
    if not cars:
        raise ToolError(NO_DETAIL, needs="staff")
    answer = args.get("verification")
    if not isinstance(answer, str) or not answer.strip():
        raise ToolError(ask, needs="verification")
    facts.verification_attempts += 1
    if not matches(answer, cars):
        raise ToolError(WRONG if facts.verification_attempts < MAX_ATTEMPTS else TOO_MANY,
                        needs="verification" if facts.verification_attempts < MAX_ATTEMPTS else "staff")
    facts.caller_verified = True


def matches(answer: str, vehicles: Iterable[Vehicle]) -> bool:
    """The answer names a car's make or model, or ends with the last 3 or 4 characters of its plate or VIN
    (spoken digits read as digits)."""
    said = [DIGITS.get(word, word) for word in re.findall(r"[a-z0-9]+", answer.lower())]
    compact = "".join(said).upper()
    for car in vehicles:
        names = {word for word in re.findall(r"[a-z0-9]+", f"{car.make} {car.model}".lower()) if len(word) >= 2}
        if names & set(said):
            return True
        for ref in ("".join(re.findall(r"[A-Z0-9]+", car.license_plate.upper())), (car.vin or "").upper()):
            if any(len(ref) >= n and compact.endswith(ref[-n:]) for n in (4, 3)):
                return True
    return False
