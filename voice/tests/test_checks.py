"""`manage.py check` warns when a cloud provider is chosen without its key."""

import pytest

from voice.checks import check_providers, check_speech_fallbacks


def test_a_cloud_provider_without_its_key_is_warned_about_with_a_hint(settings) -> None:
    settings.STT_PROVIDER, settings.LLM_PROVIDER, settings.TTS_PROVIDER = "deepgram", "openai", "elevenlabs"
    settings.DEEPGRAM_API_KEY, settings.OPENAI_API_KEY, settings.ELEVENLABS_API_KEY = "", "sk-set", ""
    warnings = check_providers()
    assert [w.id for w in warnings] == ["voice.W001", "voice.W003"]
    assert "DEEPGRAM_API_KEY" in warnings[0].msg and "offline" in (warnings[0].hint or "")


def test_offline_providers_need_no_keys(settings) -> None:
    settings.STT_PROVIDER = settings.LLM_PROVIDER = settings.TTS_PROVIDER = "offline"
    assert check_providers() == []


def _keyed_providers() -> list[tuple[str, str, str]]:
    from voice.providers.factory import ROLES

    return [(setting, name, provider.key_setting) for setting, _role, registry in ROLES
            for name, provider in registry.items() if provider.key_setting]


@pytest.mark.parametrize(("setting", "name", "key"), _keyed_providers())
def test_every_provider_the_factory_builds_with_a_key_is_checked_for_that_key(settings, setting, name, key) -> None:
    """The check reads the factory's own table: a provider added there is checked with no second list to edit."""
    settings.STT_PROVIDER = settings.LLM_PROVIDER = settings.TTS_PROVIDER = "offline"
    setattr(settings, setting, name)
    setattr(settings, key, "")
    [warning] = check_providers()
    assert key in warning.msg and setting in warning.msg
    setattr(settings, key, "set")
    assert check_providers() == []


def test_an_unknown_caller_verification_mode_fails_manage_py_check() -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "CALLER_VERIFICATION": "sometimes"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    bad = subprocess.run([sys.executable, "manage.py", "check"], cwd=root, env=env,
                         capture_output=True, text=True, timeout=120, check=False)
    assert bad.returncode != 0 and "voice.E001" in bad.stderr and "attestation" in bad.stderr
    env["CALLER_VERIFICATION"] = "Always"
    good = subprocess.run([sys.executable, "manage.py", "check"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert good.returncode == 0, good.stderr


def test_an_unknown_speech_fallback_fails_manage_py_check_and_none_is_fine(settings) -> None:
    settings.STT_PROVIDER, settings.TTS_PROVIDER = "deepgram", "deepgram"
    settings.STT_FALLBACK, settings.TTS_FALLBACKS = "offlin", ["elevenlabs", "pigeon"]
    errors = check_speech_fallbacks()
    assert [e.id for e in errors] == ["voice.E002", "voice.E002"]
    assert "'offlin'" in errors[0].msg and "'pigeon'" in errors[1].msg and "elevenlabs" not in errors[1].msg

    settings.STT_FALLBACK, settings.TTS_FALLBACKS = "none", ["offline"]
    assert check_speech_fallbacks() == []
