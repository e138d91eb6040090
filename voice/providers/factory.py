"""Builds the configured STT, chat and TTS providers from settings, read at call time.

Each role has a registry mapping a setting value to a builder. To add a provider (e.g. "offline"),
add one entry to the matching registry; nothing else changes.
"""

import importlib
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from voice.providers.base import ChatModel, STTProvider, TTSProvider

T = TypeVar("T")


def _key(setting: str, provider: str) -> str:
    """A vendor's API key; refusing an empty one here says what is wrong before a call fails on a 401."""
    key = getattr(settings, setting, "")
    if not key:
        raise ImproperlyConfigured(f"The {provider!r} provider needs {setting}; set it in the environment.")
    return key


def _deepgram_stt() -> STTProvider:
    from voice.providers.deepgram import DeepgramSTT

    return DeepgramSTT(
        _key("DEEPGRAM_API_KEY", "deepgram"), settings.DEEPGRAM_URL or None, model=settings.DEEPGRAM_STT_MODEL
    )


def _openai_chat() -> ChatModel:
    from voice.providers.openai_chat import OpenAIChat

    return OpenAIChat(
        _key("OPENAI_API_KEY", "openai"),
        settings.OPENAI_BASE_URL or None,
        model=settings.OPENAI_MODEL,
        timeout=settings.OPENAI_TIMEOUT_SECONDS,
        max_retries=settings.OPENAI_MAX_RETRIES,
    )


def _deepgram_tts() -> TTSProvider:
    from voice.providers.deepgram import DeepgramTTS

    return DeepgramTTS(
        _key("DEEPGRAM_API_KEY", "deepgram"), settings.DEEPGRAM_URL or None, model=settings.DEEPGRAM_TTS_MODEL
    )


def _elevenlabs_tts() -> TTSProvider:
    from voice.providers.elevenlabs import ElevenLabsTTS

    return ElevenLabsTTS(
        _key("ELEVENLABS_API_KEY", "elevenlabs"),
        settings.ELEVENLABS_URL or None,
        voice_id=settings.ELEVENLABS_VOICE_ID,
        model_id=settings.ELEVENLABS_MODEL,
    )


def _offline_stt() -> STTProvider:
    from voice.providers.offline_speech import OfflineSTT

    return OfflineSTT()


def _offline_tts() -> TTSProvider:
    from voice.providers.offline_speech import OfflineTTS

    return OfflineTTS()


# Setting value -> builder. Builders import their vendor module lazily, so an unused SDK is never loaded.
STT_PROVIDERS: dict[str, Callable[[], STTProvider]] = {"deepgram": _deepgram_stt, "offline": _offline_stt}
def _offline_brain() -> ChatModel:
    from voice.providers.offline_brain import OfflineBrain

    return OfflineBrain()


CHAT_PROVIDERS: dict[str, Callable[[], ChatModel]] = {"openai": _openai_chat, "offline": _offline_brain}
TTS_PROVIDERS: dict[str, Callable[[], TTSProvider]] = {
    "deepgram": _deepgram_tts, "elevenlabs": _elevenlabs_tts, "offline": _offline_tts,
}


def make_stt() -> STTProvider:
    """The speech-to-text provider named by STT_PROVIDER."""
    return _build("STT_PROVIDER", "speech-to-text", STT_PROVIDERS)


def make_chat() -> ChatModel:
    """The chat model named by LLM_PROVIDER."""
    return _build("LLM_PROVIDER", "chat model", CHAT_PROVIDERS)


def make_tts() -> TTSProvider:
    """The text-to-speech provider named by TTS_PROVIDER."""
    return _build("TTS_PROVIDER", "text-to-speech", TTS_PROVIDERS)


def _build(setting: str, role: str, registry: dict[str, Callable[[], T]]) -> T:
    value = getattr(settings, setting, "")
    builder = registry.get(str(value).strip().lower())
    if builder is None:
        known = ", ".join(sorted(registry))
        raise ImproperlyConfigured(f"{setting}={value!r} is not a known {role} provider; choose one of: {known}.")
    return builder()


# The module each provider's builder imports, by setting and value.
PROVIDER_MODULES: dict[tuple[str, str], str] = {
    ("STT_PROVIDER", "deepgram"): "voice.providers.deepgram",
    ("STT_PROVIDER", "offline"): "voice.providers.offline_speech",
    ("LLM_PROVIDER", "openai"): "voice.providers.openai_chat",
    ("LLM_PROVIDER", "offline"): "voice.providers.offline_brain",
    ("TTS_PROVIDER", "deepgram"): "voice.providers.deepgram",
    ("TTS_PROVIDER", "elevenlabs"): "voice.providers.elevenlabs",
    ("TTS_PROVIDER", "offline"): "voice.providers.offline_speech",
}


def preload_configured() -> list[str]:
    """Import the configured providers' SDKs now, at process start, and load the offline voice if it
    speaks. Left to the first call, the imports would block the event loop, and so every call in the
    process, for most of a second (OpenAI's SDK about 0.6 s, Deepgram's 0.2 s, Piper's voice 0.6 s).
    Returns the modules loaded; an unknown provider is left for `make_*` to report."""
    loaded = []
    for setting in ("STT_PROVIDER", "LLM_PROVIDER", "TTS_PROVIDER"):
        value = str(getattr(settings, setting, "")).strip().lower()
        module = PROVIDER_MODULES.get((setting, value))
        if module is not None and module not in loaded:
            importlib.import_module(module)
            loaded.append(module)
    if str(settings.TTS_PROVIDER).strip().lower() == "offline":
        from voice.providers.offline_speech import _piper_voice

        _piper_voice()
    return loaded
