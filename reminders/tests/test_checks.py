"""`manage.py check` catches reminder settings that would call the wrong people or at the wrong hour."""

import pytest

from autoshop.tests.subprocesses import PRODUCTION_ENV, run_manage
from reminders.checks import check_reminder_settings


def _ids(settings) -> list[str | None]:
    return [message.id for message in check_reminder_settings()]


def test_sane_settings_pass(settings) -> None:
    settings.REMINDER_ALLOWED_NUMBERS, settings.REMINDER_HOUR, settings.REMINDER_SAFE_MODE = ["+15550102000"], 9, True
    assert _ids(settings) == []


def test_an_allowlist_entry_that_is_no_phone_number_is_an_error(settings) -> None:
    settings.REMINDER_ALLOWED_NUMBERS = ["+15550102000", "front desk"]
    messages = check_reminder_settings()
    assert [m.id for m in messages] == ["reminders.E001"] and "front desk" in messages[0].msg


def test_an_hour_outside_the_day_is_an_error(settings) -> None:
    settings.REMINDER_HOUR = 24
    assert _ids(settings) == ["reminders.E002"]


def test_a_task_cluster_in_another_timezone_than_the_shop_is_an_error(settings) -> None:
    settings.SHOP_TIMEZONE, settings.TIME_ZONE = "America/Chicago", "UTC"
    assert _ids(settings) == ["reminders.E003"]


def test_safe_mode_off_on_a_debug_machine_is_a_warning(settings) -> None:
    settings.REMINDER_SAFE_MODE, settings.DEBUG = False, True
    assert _ids(settings) == ["reminders.W001"]


def test_a_safe_mode_text_that_is_neither_yes_nor_no_is_an_error_with_a_hint(settings) -> None:
    settings.REMINDER_SAFE_MODE_RAW, settings.REMINDER_SAFE_MODE = "ture", True
    messages = check_reminder_settings()
    assert [m.id for m in messages] == ["reminders.E004"]
    assert "'ture'" in messages[0].msg and "REMINDER_SAFE_MODE=false" in (messages[0].hint or "")


@pytest.mark.parametrize("debug", ["True", "False"])
@pytest.mark.parametrize("value", ["", "enabled", "ture"])
def test_manage_check_fails_on_a_safe_mode_value_that_is_neither_yes_nor_no(value: str, debug: str) -> None:
    env = {**(PRODUCTION_ENV if debug == "False" else {}), "DEBUG": debug, "REMINDER_SAFE_MODE": value}
    result = run_manage("check", **env)
    assert result.returncode != 0
    assert "reminders.E004" in result.stderr and f"REMINDER_SAFE_MODE is {value!r}" in result.stderr
    assert _safe_mode_in_a_fresh_process(**env) == "True"  # and meanwhile it stays on


@pytest.mark.parametrize(("value", "expected"), [
    ("false", "False"), ("0", "False"), ("NO", "False"), (" Off ", "False"),
    ("true", "True"), ("1", "True"), ("yes", "True"), ("ON", "True"),
])
def test_only_an_explicit_no_turns_safe_mode_off_and_explicit_values_pass_the_check(value: str, expected: str) -> None:
    env = {**PRODUCTION_ENV, "REMINDER_SAFE_MODE": value}
    assert _safe_mode_in_a_fresh_process(**env) == expected
    result = run_manage("check", **env)
    assert result.returncode == 0, result.stderr


def test_safe_mode_is_on_when_the_variable_is_unset() -> None:
    assert _safe_mode_in_a_fresh_process() == "True"


def _safe_mode_in_a_fresh_process(**env: str) -> str:
    code = "from django.conf import settings; print(settings.REMINDER_SAFE_MODE)"
    result = run_manage("shell", "-v", "0", "-c", code, **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]
