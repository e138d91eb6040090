"""Phone numbers are stored in E.164 however they were typed, and never logged whole."""

import pytest
from django.core.exceptions import ValidationError

from crm.phones import mask_phone, normalize_phone, try_normalize_phone


@pytest.mark.parametrize("typed", ["(555) 010-2000", "555-010-2000", "+1 555 010 2000", "555.010.2000", "15550102000"])
def test_every_common_format_normalises_to_e164(typed: str) -> None:
    assert normalize_phone(typed) == "+15550102000"


def test_number_with_other_country_code_keeps_it() -> None:
    assert normalize_phone("+44 20 7946 0958") == "+442079460958"


@pytest.mark.parametrize("typed", ["", "hello", "12", "+1 555 010 2000 99999"])
def test_garbage_is_rejected_with_a_clear_error(typed: str) -> None:
    with pytest.raises(ValidationError):
        normalize_phone(typed)


def test_search_terms_that_are_names_are_not_phones() -> None:
    assert try_normalize_phone("Smith") is None
    assert try_normalize_phone("Route 66") is None
    assert try_normalize_phone("(555) 010-2000") == "+15550102000"


def test_masked_phone_shows_only_last_two_digits() -> None:
    masked = mask_phone("+15550102047")
    assert masked == "+1********47"
    assert "555" not in masked
    assert mask_phone(None) == "unknown"
