"""Builds the configured STT, chat and TTS providers from settings, read at call time.

Each role has a registry mapping a setting value to a `Provider` (module, builder, the setting holding its
API key). To add a provider, add one entry to the matching registry; nothing else changes (the system
checks read the same entries). Speech is wrapped in its fallbacks (STT_FALLBACK, TTS_FALLBACKS) when any
are configured: `voice.providers.fallback`.
"""

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from voice.providers.base import ChatModel, STTProvider, TTSProvider

T = TypeVar("T")
logger = logging.getLogger(__name__)


def _deepgram_stt(api_key: str) -> STTProvider:
    from voice.providers.deepgram import DeepgramSTT

    return DeepgramSTT(api_key, settings.DEEPGRAM_URL or None, model=settings.DEEPGRAM_STT_MODEL)


def _openai_chat(api_key: str) -> ChatModel:
    from voice.providers.openai_chat import OpenAIChat

    return OpenAIChat(
        api_key,
        settings.OPENAI_BASE_URL or None,
        model=settings.OPENAI_MODEL,
        timeout=settings.OPENAI_TIMEOUT_SECONDS,
        max_retries=settings.OPENAI_MAX_RETRIES,
    )


def _deepgram_tts(api_key: str) -> TTSProvider:
    from voice.providers.deepgram_tts import DeepgramTTS

    return DeepgramTTS(api_key, settings.DEEPGRAM_URL or None, model=settings.DEEPGRAM_TTS_MODEL,
                       timeout=settings.TTS_TIMEOUT_SECONDS, connect_timeout=settings.TTS_TIMEOUT_SECONDS)


def _elevenlabs_tts(api_key: str) -> TTSProvider:
    from voice.providers.elevenlabs import ElevenLabsTTS

    return ElevenLabsTTS(
        api_key,
        settings.ELEVENLABS_URL or None,
        voice_id=settings.ELEVENLABS_VOICE_ID,
        model_id=settings.ELEVENLABS_MODEL,
        timeout=settings.TTS_TIMEOUT_SECONDS,
        connect_timeout=settings.TTS_TIMEOUT_SECONDS,
    )


def _offline_stt(api_key: str) -> STTProvider:  # needs no key
    from voice.providers.offline_speech import OfflineSTT

    return OfflineSTT()


def _offline_tts(api_key: str) -> TTSProvider:  # needs no key
    from voice.providers.offline_speech import OfflineTTS

    return OfflineTTS()


def _offline_brain(api_key: str) -> ChatModel:  # needs no key
    from voice.providers.offline_brain import OfflineBrain

    return OfflineBrain()


def _load_offline_recogniser() -> None:
    importlib.import_module("pocketsphinx")


def _load_offline_voice() -> None:
    from voice.providers.offline_speech import _piper_voice

    _piper_voice()


@dataclass(frozen=True, slots=True)
class Provider(Generic[T]):
    """A registry entry: the module its builder imports (loaded lazily, so an unused SDK never is), the
    builder (handed the API key), the setting that holds the key ("" when none is needed: the builders
    and `voice.checks` both read it here), and any slow first-use work worth doing at process start
    instead (`preload_configured`)."""

    module: str
    build: Callable[[str], T]
    key_setting: str = ""
    warm: Callable[[], None] | None = None

    def api_key(self, name: str) -> str:
        """The key from `key_setting`, read now; refusing an empty one here says what is wrong before a call
        fails on a 401. `name` is the provider's setting value, for the message."""
        if not self.key_setting:
            return ""
        key = str(getattr(settings, self.key_setting, ""))
        if not key:
            raise ImproperlyConfigured(f"The {name!r} provider needs {self.key_setting}; set it in the environment.")
        return key

    def make(self, name: str) -> T:
        """Build the provider with its key."""
        return self.build(self.api_key(name))


# Setting value -> provider, one registry per role.
STT_PROVIDERS: dict[str, Provider[STTProvider]] = {
    "deepgram": Provider("voice.providers.deepgram", _deepgram_stt, key_setting="DEEPGRAM_API_KEY"),
    "offline": Provider("voice.providers.offline_speech", _offline_stt, warm=_load_offline_recogniser),
}
CHAT_PROVIDERS: dict[str, Provider[ChatModel]] = {
    "openai": Provider("voice.providers.openai_chat", _openai_chat, key_setting="OPENAI_API_KEY"),
    "offline": Provider("voice.providers.offline_brain", _offline_brain),
}
TTS_PROVIDERS: dict[str, Provider[TTSProvider]] = {
    "deepgram": Provider("voice.providers.deepgram_tts", _deepgram_tts, key_setting="DEEPGRAM_API_KEY"),
    "elevenlabs": Provider("voice.providers.elevenlabs", _elevenlabs_tts, key_setting="ELEVENLABS_API_KEY"),
    "offline": Provider("voice.providers.offline_speech", _offline_tts, warm=_load_offline_voice),
}
ROLES: tuple[tuple[str, str, dict[str, Provider[Any]]], ...] = (
    ("STT_PROVIDER", "speech-to-text", STT_PROVIDERS),
    ("LLM_PROVIDER", "chat model", CHAT_PROVIDERS),
    ("TTS_PROVIDER", "text-to-speech", TTS_PROVIDERS),
)


def make_stt() -> STTProvider:
    """The speech-to-text provider named by STT_PROVIDER, with STT_FALLBACK behind it if one is set."""
    primary = _make("STT_PROVIDER", "speech-to-text", STT_PROVIDERS)
    fallbacks = _fallbacks("STT_FALLBACK", "STT_PROVIDER", STT_PROVIDERS)
    if not fallbacks:
        return primary
    from voice.providers.fallback import FallbackSTT

    return FallbackSTT(primary, fallbacks[0])


def make_chat() -> ChatModel:
    """The chat model named by LLM_PROVIDER."""
    return _make("LLM_PROVIDER", "chat model", CHAT_PROVIDERS)


def make_tts() -> TTSProvider:
    """The text-to-speech provider named by TTS_PROVIDER, followed by the voices of TTS_FALLBACKS if any."""
    primary = _make("TTS_PROVIDER", "text-to-speech", TTS_PROVIDERS)
    fallbacks = _fallbacks("TTS_FALLBACKS", "TTS_PROVIDER", TTS_PROVIDERS)
    if not fallbacks:
        return primary
    from voice.providers.fallback import FallbackTTS

    return FallbackTTS([primary, *fallbacks])


def fallback_names(setting: str, primary_setting: str) -> list[str]:
    """The provider names a fallback setting lists ("none" or empty for none), without the primary or repeats."""
    value = getattr(settings, setting, ())
    names = [str(n).strip().lower() for n in ([value] if isinstance(value, str) else value)]
    primary = configured_name(primary_setting)
    return [n for i, n in enumerate(names) if n not in ("", "none", primary) and n not in names[:i]]


def _fallbacks(setting: str, primary_setting: str, registry: dict[str, Provider[T]]) -> list[T]:
    built: list[T] = []
    for name in fallback_names(setting, primary_setting):
        provider = registry.get(name)
        if provider is None:
            raise ImproperlyConfigured(f"{setting} names {name!r}, which is not one of: {', '.join(sorted(registry))}.")
        try:
            built.append(provider.make(name))
        except ImproperlyConfigured as exc:  # a fallback without its key: the call still has its primary
            logger.warning("%s: skipping %r: %s", setting, name, exc)
    return built


def configured_name(setting: str) -> str:
    """The provider name a role's setting holds, as the registries spell it."""
    return str(getattr(settings, setting, "")).strip().lower()


def _configured(setting: str, role: str, registry: dict[str, Provider[T]]) -> Provider[T]:
    provider = registry.get(configured_name(setting))
    if provider is None:
        value = getattr(settings, setting, "")
        known = ", ".join(sorted(registry))
        raise ImproperlyConfigured(f"{setting}={value!r} is not a known {role} provider; choose one of: {known}.")
    return provider


def _make(setting: str, role: str, registry: dict[str, Provider[T]]) -> T:
    return _configured(setting, role, registry).make(configured_name(setting))


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
        backups = {"STT_PROVIDER": "STT_FALLBACK", "TTS_PROVIDER": "TTS_FALLBACKS"}.get(setting)
        extra = [registry[n] for n in fallback_names(backups, setting) if n in registry] if backups else []
        for each in (provider, *extra):
            _preload(each, loaded)
    return loaded


def _preload(provider: Provider[Any], loaded: list[str]) -> None:
    if provider.module not in loaded:
        importlib.import_module(provider.module)
        loaded.append(provider.module)
    if provider.warm is not None:
        provider.warm()
