"""System checks: a cloud provider chosen without its key is caught by `manage.py check`."""

from typing import Any

from django.conf import settings
from django.core import checks

from voice.providers.factory import ROLES, configured_name

CHECK_IDS = {"STT_PROVIDER": "voice.W001", "LLM_PROVIDER": "voice.W002", "TTS_PROVIDER": "voice.W003"}


def check_providers(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Warn for each role whose provider needs an API key (as the factory's registry says) that is not set."""
    found: list[checks.CheckMessage] = []
    for setting, _role, registry in ROLES:
        name = configured_name(setting)
        provider = registry.get(name)
        key = provider.key_setting if provider is not None else ""
        if key and not getattr(settings, key, ""):
            found.append(checks.Warning(
                f"{setting} is {name!r} but {key} is not set: calls will fail.",
                hint=f"Set {key}, or set {setting}=offline to use the offline engine.", id=CHECK_IDS[setting]))
    return found
