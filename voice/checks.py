"""System checks: a cloud provider chosen without its key is caught by `manage.py check`."""

from typing import Any

from django.conf import settings
from django.core import checks

KEYS = {"deepgram": "DEEPGRAM_API_KEY", "openai": "OPENAI_API_KEY", "elevenlabs": "ELEVENLABS_API_KEY"}
ROLES = (("STT_PROVIDER", "voice.W001"), ("LLM_PROVIDER", "voice.W002"), ("TTS_PROVIDER", "voice.W003"))


def check_providers(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    found: list[checks.CheckMessage] = []
    for setting, check_id in ROLES:
        provider = str(getattr(settings, setting, "")).lower()
        key = KEYS.get(provider)
        if key and not getattr(settings, key, ""):
            found.append(checks.Warning(
                f"{setting} is {provider!r} but {key} is not set: calls will fail.",
                hint=f"Set {key}, or set {setting}=offline to use the offline engine.", id=check_id))
    return found
