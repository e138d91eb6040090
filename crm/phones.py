"""Phone numbers: everything is stored and compared in E.164, whatever way it was typed."""

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError


def normalize_phone(raw: str, region: str | None = None) -> str:
    """Return `raw` as E.164 (`+15550102000`), or raise ValidationError if it is no phone number."""
    try:
        number = phonenumbers.parse(raw, region or settings.PHONE_REGION)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(f"{raw!r} is not a phone number.", code="invalid_phone") from exc
    if not phonenumbers.is_possible_number(number):
        raise ValidationError(f"{raw!r} is not a possible phone number.", code="invalid_phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def try_normalize_phone(raw: str) -> str | None:
    """E.164 for `raw` when it reads as a phone number, else None (for search boxes)."""
    digits = sum(ch.isdigit() for ch in raw)
    if digits < 7 or any(ch.isalpha() for ch in raw):
        return None
    try:
        return normalize_phone(raw)
    except ValidationError:
        return None


def mask_phone(e164: str | None) -> str:
    """A phone number safe for logs: only the last two digits survive (`+1*******00`)."""
    if not e164:
        return "unknown"
    keep = 2
    head = e164[:2] if e164.startswith("+") else ""
    return head + "*" * max(len(e164) - len(head) - keep, 0) + e164[-keep:]
