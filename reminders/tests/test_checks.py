"""`manage.py check` catches reminder settings that would call the wrong people or at the wrong hour."""

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
