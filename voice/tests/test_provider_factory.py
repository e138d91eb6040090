"""The provider factory: settings (read at call time) pick the vendor classes; unknown names are refused."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from voice.providers.base import TextDelta
from voice.providers.deepgram import DeepgramSTT
from voice.providers.deepgram_tts import DeepgramTTS
from voice.providers.elevenlabs import ElevenLabsTTS
from voice.providers.factory import make_chat, make_stt, make_tts
from voice.providers.openai_chat import OpenAIChat
from voice.tests.peers.deepgram_server import FakeDeepgram
from voice.tests.peers.openai_server import FakeOpenAI, TextReply


@pytest.fixture(autouse=True)
def _keys(settings) -> None:
    settings.DEEPGRAM_API_KEY = "dg-key"
    settings.OPENAI_API_KEY = "sk-key"
    settings.ELEVENLABS_API_KEY = "xi-key"
    settings.STT_FALLBACK, settings.TTS_FALLBACKS = "none", []  # the primaries alone; fallbacks tested below


def test_the_default_names_build_deepgram_openai_and_deepgram(settings) -> None:
    settings.STT_PROVIDER, settings.LLM_PROVIDER, settings.TTS_PROVIDER = "deepgram", "openai", "deepgram"

    assert isinstance(make_stt(), DeepgramSTT)
    assert isinstance(make_chat(), OpenAIChat)
    assert isinstance(make_tts(), DeepgramTTS)


def test_tts_provider_elevenlabs_builds_elevenlabs_with_the_configured_voice(settings) -> None:
    settings.TTS_PROVIDER = "elevenlabs"
    settings.ELEVENLABS_VOICE_ID = "pNInz6obpgDQGcFmaJgB"
    settings.ELEVENLABS_MODEL = "eleven_turbo_v2_5"

    tts = make_tts()

    assert isinstance(tts, ElevenLabsTTS)
    assert (tts.voice_id, tts.model_id) == ("pNInz6obpgDQGcFmaJgB", "eleven_turbo_v2_5")


def test_settings_are_read_when_a_provider_is_made_not_at_import(settings) -> None:
    settings.STT_PROVIDER, settings.LLM_PROVIDER, settings.TTS_PROVIDER = "deepgram", "openai", "deepgram"
    settings.DEEPGRAM_STT_MODEL = "nova-3"
    settings.DEEPGRAM_TTS_MODEL = "aura-2-thalia-en"
    settings.OPENAI_MODEL = "gpt-4o-mini"

    assert make_stt().model == "nova-3"  # type: ignore[attr-defined]
    assert make_tts().model == "aura-2-thalia-en"  # type: ignore[attr-defined]
    assert make_chat().model == "gpt-4o-mini"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("setting", "make"),
    [("STT_PROVIDER", make_stt), ("LLM_PROVIDER", make_chat), ("TTS_PROVIDER", make_tts)],
)
def test_an_unknown_provider_name_is_refused_with_the_choices(settings, setting, make) -> None:
    setattr(settings, setting, "carrier-pigeon")

    with pytest.raises(ImproperlyConfigured, match=rf"{setting}='carrier-pigeon' is not a known .* choose one of"):
        make()


@pytest.mark.parametrize(
    ("provider_setting", "name", "key_setting", "make"),
    [
        ("STT_PROVIDER", "deepgram", "DEEPGRAM_API_KEY", make_stt),
        ("LLM_PROVIDER", "openai", "OPENAI_API_KEY", make_chat),
        ("TTS_PROVIDER", "deepgram", "DEEPGRAM_API_KEY", make_tts),
        ("TTS_PROVIDER", "elevenlabs", "ELEVENLABS_API_KEY", make_tts),
    ],
)
def test_a_vendor_without_its_api_key_is_refused_by_name(settings, provider_setting, name, key_setting, make) -> None:
    setattr(settings, provider_setting, name)
    setattr(settings, key_setting, "")

    with pytest.raises(ImproperlyConfigured, match=rf"{name!r} provider needs {key_setting}"):
        make()


async def test_made_providers_talk_to_the_configured_urls_with_the_configured_keys(settings) -> None:
    async with FakeDeepgram(api_key="dg-key") as dg, FakeOpenAI(api_key="sk-key", replies=[TextReply("Hi.")]) as ai:
        settings.TTS_PROVIDER, settings.LLM_PROVIDER = "deepgram", "openai"
        settings.DEEPGRAM_URL, settings.DEEPGRAM_TTS_MODEL = dg.url, "aura-2-thalia-en"
        settings.OPENAI_BASE_URL = ai.url

        tts, chat = make_tts(), make_chat()
        audio = [chunk async for chunk in tts.synthesize("Hello.")]
        events = [event async for event in chat.stream([{"role": "user", "content": "Hi"}], [])]
        await tts.aclose()
        await chat.aclose()

    assert audio
    assert dg.speak_requests[0].query["model"] == "aura-2-thalia-en"
    assert events == [TextDelta("Hi.")]


def test_offline_engines_are_the_defaults_without_keys_and_can_be_named(settings) -> None:
    from voice.providers.offline_brain import OfflineBrain
    from voice.providers.offline_speech import OfflineSTT, OfflineTTS

    settings.STT_PROVIDER, settings.LLM_PROVIDER, settings.TTS_PROVIDER = "offline", "offline", "offline"
    assert isinstance(make_stt(), OfflineSTT)
    assert isinstance(make_chat(), OfflineBrain)
    assert isinstance(make_tts(), OfflineTTS)


# --- fallbacks (issue 13) ---------------------------------------------------------------------------------


def test_stt_fallback_wraps_deepgram_with_the_offline_engine_and_none_turns_it_off(settings) -> None:
    from voice.providers.fallback import FallbackSTT
    from voice.providers.offline_speech import OfflineSTT

    settings.STT_PROVIDER, settings.STT_FALLBACK = "deepgram", "offline"
    stt = make_stt()
    assert isinstance(stt, FallbackSTT)
    assert isinstance(stt.primary, DeepgramSTT) and isinstance(stt.fallback, OfflineSTT)

    settings.STT_FALLBACK = "none"
    assert isinstance(make_stt(), DeepgramSTT)
    settings.STT_PROVIDER, settings.STT_FALLBACK = "offline", "offline"  # no fallback to itself
    assert isinstance(make_stt(), OfflineSTT)


def test_tts_fallbacks_follow_the_configured_voice_in_order_without_repeating_it(settings) -> None:
    from voice.providers.fallback import FallbackTTS
    from voice.providers.offline_speech import OfflineTTS

    settings.TTS_PROVIDER, settings.TTS_FALLBACKS = "deepgram", ["elevenlabs", "deepgram", "offline"]
    tts = make_tts()
    assert isinstance(tts, FallbackTTS)
    assert [type(v) for v in tts.chain] == [DeepgramTTS, ElevenLabsTTS, OfflineTTS]

    settings.TTS_FALLBACKS = "none"
    assert isinstance(make_tts(), DeepgramTTS)


def test_a_fallback_voice_without_its_key_is_skipped_and_an_unknown_one_refused(settings) -> None:
    from voice.providers.fallback import FallbackTTS
    from voice.providers.offline_speech import OfflineTTS

    settings.TTS_PROVIDER, settings.TTS_FALLBACKS, settings.ELEVENLABS_API_KEY = "deepgram", ["elevenlabs",
                                                                                             "offline"], ""
    tts = make_tts()
    assert isinstance(tts, FallbackTTS) and [type(v) for v in tts.chain] == [DeepgramTTS, OfflineTTS]

    settings.TTS_FALLBACKS = ["carrier-pigeon"]
    with pytest.raises(ImproperlyConfigured, match="TTS_FALLBACKS names 'carrier-pigeon'"):
        make_tts()


def test_building_a_calls_providers_loads_no_ca_bundle(settings, monkeypatch) -> None:
    """Every call builds its own provider clients; a TLS context of their own would load the CA bundle
    each time (tens of ms of CPU on the event loop). They all use the process's one context."""
    import ssl

    from voice.providers.tls import tls_context

    settings.STT_PROVIDER, settings.LLM_PROVIDER = "deepgram", "openai"
    tls_context()  # the process's own, made once
    made: list[object] = []
    real = ssl.create_default_context

    def counted(*args: object, **kwargs: object) -> ssl.SSLContext:  # a spy: the real context is still made
        made.append(args)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ssl, "create_default_context", counted)

    for voice in ("deepgram", "elevenlabs"):
        settings.TTS_PROVIDER = voice
        for _ in range(2):
            make_stt(), make_chat(), make_tts()

    assert made == []
