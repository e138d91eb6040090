"""Audio for the fixed things the agent says (greeting, apology, "are you still there?"),
synthesised once per process and replayed instantly, so the first words of a call never wait.

`prerender` makes them at start-up in every voice a call may speak with (a `FallbackTTS` has several), so
the apology played when a voice fails never depends on that voice."""

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

from voice.providers.base import ProviderError, TTSProvider

logger = logging.getLogger(__name__)

MAX_PHRASES = 64


def _voice(tts: TTSProvider) -> str:
    """Which voice `tts` speaks with: audio from one voice is never replayed in another."""
    return f"{type(tts).__name__}:{getattr(tts, 'model', '')}:{getattr(tts, 'voice_id', '')}"


def _voices(tts: TTSProvider) -> tuple[TTSProvider, ...]:
    """The voices `tts` may speak with, the one it speaks with now first."""
    return tuple(getattr(tts, "voices", ())) or (tts,)


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
        """`text` in the voice `tts` speaks with now or, failing that, in any other voice it has."""
        for voice in _voices(tts):
            audio = self._audio.get((_voice(voice), text))
            if audio is not None:
                return audio
        return None

    async def speak(self, tts: TTSProvider, text: str) -> AsyncIterator[bytes]:
        """Audio for `text`: from the cache if known, else streamed from `tts` (and kept if a phrase)."""
        voice = _voices(tts)[0]
        key = (_voice(voice), text)
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
        if keep and _voices(tts)[0] is voice:  # not when another voice took over part-way
            self._audio[key] = b"".join(parts)

    async def warm(self, tts: TTSProvider, text: str) -> None:
        """Synthesise `text` now in each voice of `tts`, so it is ready when needed (e.g. the apology, before
        anything fails). Raises ProviderError only if no voice could say it."""
        self.add_phrase(text)
        error: ProviderError | None = None
        for voice in _voices(tts):
            if (_voice(voice), text) not in self._audio:
                try:
                    async for _ in self.speak(voice, text):
                        pass
                except ProviderError as exc:
                    logger.warning("could not pre-render a phrase in %s: %s", _voice(voice), exc)
                    error = exc
        if self.cached(tts, text) is None and error is not None:
            raise error


def prerender(cache: PhraseCache, make_tts: Callable[[], TTSProvider], texts: Iterable[str],
              within: float = 20.0) -> int:
    """At process start: synthesise `texts` into `cache` in every voice of `make_tts()`, on a loop in a thread
    of its own (start-up may have none, or one it must not block). Returns the phrases cached in some voice."""
    wanted = sorted(texts)

    async def in_voice(voice: TTSProvider) -> None:
        for text in wanted:
            try:
                await cache.warm(voice, text)
            except ProviderError:
                return  # logged by warm; this voice is down, the others go on

    async def render() -> int:
        tts = make_tts()
        try:
            async with asyncio.timeout(within):
                await asyncio.gather(*(in_voice(voice) for voice in _voices(tts)))
        except TimeoutError:
            logger.warning("pre-rendering the fixed phrases took over %s s; the rest are made on first use", within)
        finally:
            await tts.aclose()
        return sum(cache.cached(tts, text) is not None for text in wanted)

    with ThreadPoolExecutor(1, thread_name_prefix="prerender") as pool:
        return pool.submit(asyncio.run, render()).result()
