"""Audio for the fixed things the agent says (greeting, apology, "are you still there?"),
synthesised once per process and replayed instantly, so the first words of a call never wait."""

from collections.abc import AsyncIterator

from voice.providers.base import TTSProvider

MAX_PHRASES = 64


def _voice(tts: TTSProvider) -> str:
    """Which voice `tts` speaks with: audio from one voice is never replayed in another."""
    return f"{type(tts).__name__}:{getattr(tts, 'model', '')}:{getattr(tts, 'voice_id', '')}"


class PhraseCache:
    """Audio of known phrases, keyed by voice and text. Shared by the calls of one process."""

    def __init__(self, phrases: set[str] | None = None) -> None:
        self._phrases = set(phrases or ())
        self._audio: dict[tuple[str, str], bytes] = {}

    def add_phrase(self, text: str) -> None:
        """Mark `text` as worth keeping once synthesised."""
        if len(self._phrases) < MAX_PHRASES:
            self._phrases.add(text)

    def cached(self, tts: TTSProvider, text: str) -> bytes | None:
        return self._audio.get((_voice(tts), text))

    async def speak(self, tts: TTSProvider, text: str) -> AsyncIterator[bytes]:
        """Audio for `text`: from the cache if known, else streamed from `tts` (and kept if a phrase)."""
        key = (_voice(tts), text)
        audio = self._audio.get(key)
        if audio is not None:
            yield audio
            return
        keep = text in self._phrases
        parts: list[bytes] = []
        async for chunk in tts.synthesize(text):
            if keep:
                parts.append(chunk)
            yield chunk
        if keep:
            self._audio[key] = b"".join(parts)

    async def warm(self, tts: TTSProvider, text: str) -> None:
        """Synthesise `text` now so it is ready when needed (e.g. the apology, before anything fails)."""
        self.add_phrase(text)
        if (_voice(tts), text) not in self._audio:
            async for _ in self.speak(tts, text):
                pass
