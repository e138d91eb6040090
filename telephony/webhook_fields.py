"""The fields of Twilio's voice and messaging webhooks, read strictly. A signature proves a request came from Twilio,
not that every field is one our code can take (a 30-digit `CallDuration` overflows a timedelta): each
reader returns the value in its expected shape, or a neutral value ("" / None) when it is not."""

import re

from django.conf import settings
from phonenumbers import NumberParseException, PhoneNumberFormat, format_number, is_possible_number, parse

CALL_SID = re.compile(r"CA[0-9a-f]{32}")
MESSAGE_SID = re.compile(r"(SM|MM)[0-9a-f]{32}")  # SMS and MMS
MAX_MESSAGE_CHARS = 1600  # Twilio's own limit on a message body
MAX_PHONE_CHARS = 32
MAX_CALL_SECONDS = 24 * 60 * 60  # a billed duration over a day is no phone call of ours

CALL_DIRECTIONS = frozenset({"inbound", "outbound-api", "outbound-dial", "trunking-originating",
                             "trunking-terminating"})
CALL_STATUSES = frozenset({"queued", "initiated", "ringing", "in-progress", "completed", "busy", "no-answer",
                           "canceled", "failed"})
# Twilio's `StirVerstat` (Trusted Calling with SHAKEN/STIR): the attestation level the carrier verified.
ATTESTATIONS = frozenset({"TN-Validation-Passed-A", "TN-Validation-Passed-B", "TN-Validation-Passed-C",
                          "TN-Validation-Failed-A", "TN-Validation-Failed-B", "TN-Validation-Failed-C",
                          "TN-Validation-Failed", "No-TN-Validation"})

# `AnsweredBy` of answering-machine detection (Twilio's AMD documentation).
ANSWERED_BY = frozenset({"human", "machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other",
                         "fax", "unknown"})


def call_sid(value: str | None) -> str:
    """`CA` + 32 lowercase hex digits, or ""."""
    return value if value and CALL_SID.fullmatch(value) else ""


def phone(value: str | None) -> str:
    """A possible phone number in E.164, or "" (withheld, `client:`/`sip:` addresses, junk)."""
    if not value or len(value) > MAX_PHONE_CHARS or any(ch.isalpha() for ch in value):
        return ""
    try:
        number = parse(value, settings.PHONE_REGION)
    except NumberParseException:
        return ""
    return format_number(number, PhoneNumberFormat.E164) if is_possible_number(number) else ""


def direction(value: str | None) -> str:
    """Twilio's `Direction` (`inbound`, `outbound-api`, ...), or "" when it is none of them."""
    return value if value in CALL_DIRECTIONS else ""


def call_status(value: str | None) -> str:
    """Twilio's `CallStatus`, or "" when it is none of them."""
    return value if value in CALL_STATUSES else ""


def duration_seconds(value: str | None) -> int | None:
    """`CallDuration`: whole seconds from 0 to a day, or None."""
    if not value or len(value) > 6 or not value.isascii() or not value.isdecimal():
        return None
    seconds = int(value)
    return seconds if seconds <= MAX_CALL_SECONDS else None


def attestation(value: str | None) -> str:
    """The carrier's STIR/SHAKEN verdict (`StirVerstat`), or "" when absent or unknown."""
    return value if value in ATTESTATIONS else ""



def answered_by(value: str | None) -> str:
    """Answering-machine detection's verdict (`AnsweredBy`), or "" when it is none Twilio sends."""
    return value if value in ANSWERED_BY else ""

# `MessageStatus` of Twilio's message status callbacks (and `SmsStatus`, its older name).
MESSAGE_STATUSES = frozenset({"accepted", "scheduled", "queued", "sending", "sent", "delivered", "undelivered",
                              "failed", "canceled", "read", "receiving", "received", "partially_delivered"})


def message_sid(value: str | None) -> str:
    """`SM` (or `MM`) + 32 lowercase hex digits, or ""."""
    return value if value and MESSAGE_SID.fullmatch(value) else ""


def message_status(value: str | None) -> str:
    """Twilio's `MessageStatus`, or "" when it is none of them."""
    return value if value in MESSAGE_STATUSES else ""


def error_code(value: str | None) -> str:
    """Twilio's numeric `ErrorCode` (e.g. `30003`), or ""."""
    return value if value and len(value) <= 8 and value.isascii() and value.isdecimal() else ""


def message_body(value: str | None) -> str:
    """The text a customer sent, capped at Twilio's 1,600 characters, without NUL characters."""
    return (value or "")[:MAX_MESSAGE_CHARS].replace("\x00", "")
