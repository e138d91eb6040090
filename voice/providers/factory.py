"""Builds the configured STT, chat and TTS providers from settings, read at call time.

Each role has a registry mapping a setting value to a `Provider` (module, builder). To add a provider,
add one entry to the matching registry; nothing else changes.
"""

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

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


def _offline_brain() -> ChatModel:
    from voice.providers.offline_brain import OfflineBrain

    return OfflineBrain()


def _load_offline_voice() -> None:
    from voice.providers.offline_speech import _piper_voice

    _piper_voice()


@dataclass(frozen=True, slots=True)
class Provider(Generic[T]):
    """A registry entry: the module its builder imports (loaded lazily, so an unused SDK never is),
    the builder, and any slow first-use work worth doing at process start instead (`preload_configured`)."""

    module: str
    build: Callable[[], T]
    warm: Callable[[], None] | None = None


# Setting value -> provider, one registry per role.
STT_PROVIDERS: dict[str, Provider[STTProvider]] = {
    "deepgram": Provider("voice.providers.deepgram", _deepgram_stt),
    "offline": Provider("voice.providers.offline_speech", _offline_stt),
}
CHAT_PROVIDERS: dict[str, Provider[ChatModel]] = {
    "openai": Provider("voice.providers.openai_chat", _openai_chat),
    "offline": Provider("voice.providers.offline_brain", _offline_brain),
}
TTS_PROVIDERS: dict[str, Provider[TTSProvider]] = {
    "deepgram": Provider("voice.providers.deepgram", _deepgram_tts),
    "elevenlabs": Provider("voice.providers.elevenlabs", _elevenlabs_tts),
    "offline": Provider("voice.providers.offline_speech", _offline_tts, warm=_load_offline_voice),
}
ROLES: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("STT_PROVIDER", "speech-to-text", STT_PROVIDERS),
    ("LLM_PROVIDER", "chat model", CHAT_PROVIDERS),
    ("TTS_PROVIDER", "text-to-speech", TTS_PROVIDERS),
)


def make_stt() -> STTProvider:
    """The speech-to-text provider named by STT_PROVIDER."""
    return _configured("STT_PROVIDER", "speech-to-text", STT_PROVIDERS).build()


def make_chat() -> ChatModel:
    """The chat model named by LLM_PROVIDER."""
    return _configured("LLM_PROVIDER", "chat model", CHAT_PROVIDERS).build()


def make_tts() -> TTSProvider:
    """The text-to-speech provider named by TTS_PROVIDER."""
    return _configured("TTS_PROVIDER", "text-to-speech", TTS_PROVIDERS).build()


def _configured(setting: str, role: str, registry: dict[str, Provider[T]]) -> Provider[T]:
    value = getattr(settings, setting, "")
    provider = registry.get(str(value).strip().lower())
    if provider is None:
        known = ", ".join(sorted(registry))
        raise ImproperlyConfigured(f"{setting}={value!r} is not a known {role} provider; choose one of: {known}.")
    return provider


def preload_configured() -> list[str]:
    """Import the configured providers' modules (and SDKs) now, at process start, and do their warm-up.
    Left to the first call, the imports would block the event loop, and so every call in the process,
    for most of a second (OpenAI's SDK about 0.6 s, Deepgram's 0.2 s, Piper's voice 0.6 s). Returns the
    modules loaded; an unknown provider is left for `make_*` (and the first call) to report."""
    loaded: list[str] = []
    for setting, role, registry in ROLES:
        try:
            provider = _configured(setting, role, registry)
        except ImproperlyConfigured:
            continue
        if provider.module not in loaded:
            importlib.import_module(provider.module)
            loaded.append(provider.module)
        if provider.warm is not None:
            provider.warm()
    return loaded
