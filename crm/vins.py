"""VINs: 17 characters from the legal alphabet, a valid model-year code and check digit."""

import re

from django.core.exceptions import ValidationError
from vininfo import Vin
from vininfo.exceptions import ValidationError as VinInfoError

VIN_PATTERN = r"^[A-HJ-NPR-Z0-9]{17}$"
_VIN_RE = re.compile(VIN_PATTERN)


def normalize_vin(raw: str) -> str:
    """Upper-case `raw` without spaces or dashes; does not validate."""
    return re.sub(r"[\s-]", "", raw).upper()


def validate_vin(value: str) -> None:
    """Raise ValidationError unless `value` is a VIN the shop can accept (as stored, upper-case)."""
    if len(value) != 17:
        raise ValidationError("A VIN has exactly 17 characters.", code="vin_length")
    if not _VIN_RE.match(value):
        raise ValidationError("A VIN uses only digits and the letters A-Z except I, O and Q.", code="vin_alphabet")
    try:
        valid = Vin(value).verify_checksum()
    except VinInfoError as exc:
        raise ValidationError(f"Not a valid VIN: {exc}", code="vin_invalid") from exc
    if not valid:
        raise ValidationError(
            "The VIN's check digit (9th character) does not match; it was likely misread.", code="vin_checksum"
        )


def is_valid_vin(value: str) -> bool:
    """True when `validate_vin` accepts `value`."""
    try:
        validate_vin(value)
    except ValidationError:
        return False
    return True
