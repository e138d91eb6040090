"""System checks: reminder settings that would call the wrong people, or at the wrong hour."""

from typing import Any

from django.conf import settings
from django.core import checks

from autoshop.env_rules import is_explicit_flag
from crm.phones import try_normalize_phone
from reminders.services import safe_mode_on


def check_reminder_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    found: list[checks.CheckMessage] = []
    raw = getattr(settings, "REMINDER_ALLOWED_NUMBERS", [])
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    bad = [str(item) for item in items if str(item).strip() and try_normalize_phone(str(item).strip()) is None]
    if bad:
        found.append(checks.Error(
            f"REMINDER_ALLOWED_NUMBERS has entries that are not phone numbers: {', '.join(bad)}.",
            hint="Use E.164 numbers separated by commas, e.g. +15550102000,+15550102001.", id="reminders.E001"))
    hour = getattr(settings, "REMINDER_HOUR", 9)
    if not isinstance(hour, int) or not 0 <= hour <= 23:
        found.append(checks.Error(f"REMINDER_HOUR is {hour!r}; it must be an hour of the day, 0 to 23.",
                                  hint="The daily reminder run starts at this hour, shop time.", id="reminders.E002"))
    q_zone = getattr(settings, "Q_CLUSTER", {}).get("time_zone", settings.TIME_ZONE)
    shop_zone = getattr(settings, "SHOP_TIMEZONE", settings.TIME_ZONE)
    if settings.USE_TZ and q_zone != shop_zone:
        found.append(checks.Error(
            f"django-q2 reads cron schedules in {q_zone}, but the shop is in {shop_zone}: the daily reminder "
            "run would start at the wrong hour.",
            hint='Set TIME_ZONE = SHOP_TIMEZONE (or Q_CLUSTER["time_zone"] = SHOP_TIMEZONE).', id="reminders.E003"))
    safe_mode = getattr(settings, "REMINDER_SAFE_MODE", True)
    given = getattr(settings, "REMINDER_SAFE_MODE_RAW", None)  # the environment's text, None when unset
    given = safe_mode if isinstance(safe_mode, str) else given
    if given is not None and not is_explicit_flag(given):
        found.append(checks.Error(
            f"REMINDER_SAFE_MODE is {given!r}, which is neither yes nor no; safe mode stays on, so reminder "
            "calls go only to REMINDER_ALLOWED_NUMBERS.",
            hint="Set REMINDER_SAFE_MODE=true (dial only the allowlist) or, in production and on purpose, "
                 "REMINDER_SAFE_MODE=false (dial every customer). Accepted: true/1/yes/on, false/0/no/off.",
            id="reminders.E004"))
    if not safe_mode_on() and settings.DEBUG:
        found.append(checks.Warning(
            "REMINDER_SAFE_MODE is off while DEBUG is on: reminder runs from this machine call real customers.",
            hint="Leave REMINDER_SAFE_MODE on outside production; list test phones in REMINDER_ALLOWED_NUMBERS.",
            id="reminders.W001"))
    return found
