"""`manage.py check` warns when a cloud provider is chosen without its key."""

from voice.checks import check_providers


def test_a_cloud_provider_without_its_key_is_warned_about_with_a_hint(settings) -> None:
    settings.STT_PROVIDER, settings.LLM_PROVIDER, settings.TTS_PROVIDER = "deepgram", "openai", "elevenlabs"
    settings.DEEPGRAM_API_KEY, settings.OPENAI_API_KEY, settings.ELEVENLABS_API_KEY = "", "sk-set", ""
    warnings = check_providers()
    assert [w.id for w in warnings] == ["voice.W001", "voice.W003"]
    assert "DEEPGRAM_API_KEY" in warnings[0].msg and "offline" in (warnings[0].hint or "")


def test_offline_providers_need_no_keys(settings) -> None:
    settings.STT_PROVIDER = settings.LLM_PROVIDER = settings.TTS_PROVIDER = "offline"
    assert check_providers() == []
