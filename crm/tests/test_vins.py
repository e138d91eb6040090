"""VINs are checked for length, alphabet, model-year code and check digit."""

import random

import pytest
from django.core.exceptions import ValidationError

from crm.tests.factories import make_vin
from crm.vins import is_valid_vin, normalize_vin, validate_vin


def test_known_good_vin_passes() -> None:
    validate_vin("1HGCM82633A004352")


def test_a_misread_check_digit_is_rejected() -> None:
    with pytest.raises(ValidationError) as info:
        validate_vin("1HGCM82643A004352")
    assert info.value.code == "vin_checksum"


@pytest.mark.parametrize(
    ("vin", "code"),
    [("1HGCM82633A00435", "vin_length"), ("1HGCM82633A0043521", "vin_length"), ("1HGCM8263OA004352", "vin_alphabet")],
)
def test_malformed_vins_say_what_is_wrong(vin: str, code: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate_vin(vin)
    assert info.value.code == code


def test_normalisation_uppercases_and_strips_separators() -> None:
    assert normalize_vin(" 1hgcm8-2633a004352 ") == "1HGCM82633A004352"


def test_generated_test_vins_are_valid() -> None:
    rng = random.Random(7)
    assert all(is_valid_vin(make_vin(rng)) for _ in range(500))
