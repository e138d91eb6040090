"""System checks: a cloud provider chosen without its key, an unknown speech fallback, or an unknown caller
verification mode, is caught by `manage.py check`."""

from typing import Any

from django.conf import settings
from django.core import checks

from voice.providers.factory import ROLES, STT_PROVIDERS, TTS_PROVIDERS, configured_name, fallback_names

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


VERIFICATION_MODES = ("attestation", "always", "off")


def check_caller_verification(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """An unknown CALLER_VERIFICATION is an error (the agent then verifies as for "attestation")."""
    mode = getattr(settings, "CALLER_VERIFICATION", "attestation")
    if mode in VERIFICATION_MODES:
        return []
    return [checks.Error(f"CALLER_VERIFICATION is {mode!r}, which is not a mode.",
                         hint="Set it to attestation (the default), always or off.", id="voice.E001")]


def check_speech_fallbacks(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """An unknown name in STT_FALLBACK or TTS_FALLBACKS is an error: every call would fail to start."""
    found: list[checks.CheckMessage] = []
    for setting, primary, registry in (("STT_FALLBACK", "STT_PROVIDER", STT_PROVIDERS),
                                       ("TTS_FALLBACKS", "TTS_PROVIDER", TTS_PROVIDERS)):
        unknown = [name for name in fallback_names(setting, primary) if name not in registry]
        if unknown:
            found.append(checks.Error(f"{setting} names {', '.join(map(repr, unknown))}, not a provider.",
                                      hint=f"Use {', '.join(sorted(registry))}, or none.", id="voice.E002"))
    return found
