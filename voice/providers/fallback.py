"""Providers that keep a call going when its speech engine fails: the session sees one STT stream and one
TTS provider, and never knows which engine is behind them.

- `FallbackSTT`: when the primary stream gives up (Deepgram's reconnects exhausted), the fallback engine
  (the offline one) listens for the rest of the call, starting with the caller audio the primary had not
  finished transcribing, so no words are lost.
- `FallbackTTS`: a sentence a voice cannot speak is spoken by the next voice, and that voice speaks the
  rest of the call. A voice that fails after some of the sentence was heard is abandoned mid-sentence and
  the next voice says the whole sentence again: a cut-off fragment followed by the full sentence is
  understood, a sentence that is never finished is not (audio cannot be matched to the words already
  heard, so there is no resuming mid-sentence). Only when every voice fails is ProviderError raised
  (and the reply runner plays the apology cached at start-up).
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence

from autoshop import metrics
from voice.providers.base import DictationHint, ProviderError, STTEvent, STTProvider, STTStream, TTSProvider

logger = logging.getLogger(__name__)


class FallbackSTT:
    """STTProvider: `primary`'s stream, replaced by `fallback`'s for the rest of the call once it fails."""

    def __init__(self, primary: STTProvider, fallback: STTProvider) -> None:
        self.primary = primary
        self.fallback = fallback

    async def open_stream(self) -> "FallbackSTTStream":
        try:
            stream = await self.primary.open_stream()
        except ProviderError as exc:
            logger.warning("speech-to-text could not start (%s); the fallback engine listens instead", exc)
            metrics.provider_failed("stt", self.primary, fallback="fallback_engine")
            return FallbackSTTStream(await self.fallback.open_stream(), None)
        return FallbackSTTStream(stream, self.fallback)


class FallbackSTTStream:
    """STTStream: events of the active stream; on its failure, the fallback's (once per call)."""

    def __init__(self, stream: STTStream, fallback: STTProvider | None) -> None:
        self._active = stream
        self._fallback = fallback
        self._lock = asyncio.Lock()  # a replay into the fallback goes before any newer audio
        self.switched = fallback is None  # True once the fallback engine is the one listening

    @property
    def active(self) -> STTStream:
        """The stream listening now."""
        return self._active

    async def send_audio(self, chunk: bytes) -> None:
        async with self._lock:
            await self._active.send_audio(chunk)

    async def events(self) -> AsyncIterator[STTEvent]:
        while True:
            try:
                async for event in self._active.events():
                    yield event
                return
            except ProviderError as exc:
                if self._fallback is None or self.switched:
                    raise
                logger.warning("speech-to-text failed mid-call (%s); the fallback engine listens from here", exc)
                metrics.provider_failed("stt", self._active, fallback="fallback_engine")
                await self._switch(self._fallback)

    async def _switch(self, fallback: STTProvider) -> None:
        stream = await fallback.open_stream()  # a failure here is the call's: ProviderError to the session
        async with self._lock:
            # Meanwhile the failed stream kept the audio it was sent; take it all and switch, with no await
            # in between, so nothing is lost or heard twice.
            failed, self._active, self.switched = self._active, stream, True
            unheard = getattr(failed, "unfinalised_audio", None)
            replay = unheard() if callable(unheard) else b""
            if replay:
                await stream.send_audio(replay)
        with contextlib.suppress(Exception):
            await failed.close()

    async def close(self) -> None:
        await self._active.close()


def expect_dictation(stream: STTStream | None, on: bool) -> None:
    """Tell the engine listening now (behind a fallback wrapper or not) whether a spelled answer is expected,
    if it takes the hint (the offline recogniser does; Deepgram needs none)."""
    engine = stream.active if isinstance(stream, FallbackSTTStream) else stream
    if isinstance(engine, DictationHint):
        engine.expect_dictation(on)


class FallbackTTS:
    """TTSProvider: speaks with the first voice that works, from the last one that did."""

    def __init__(self, voices: Sequence[TTSProvider]) -> None:
        if not voices:
            raise ValueError("FallbackTTS needs at least one voice")
        self._chain = list(voices)
        self._active = 0
        self.failovers = 0

    @property
    def active(self) -> TTSProvider:
        """The voice the next sentence is tried with first."""
        return self._chain[self._active]

    @property
    def voices(self) -> tuple[TTSProvider, ...]:
        """Every voice of the chain, the active one first (for audio cached in any of them)."""
        return (self.active, *(v for i, v in enumerate(self._chain) if i != self._active))

    @property
    def chain(self) -> tuple[TTSProvider, ...]:
        """The voices in the configured order."""
        return tuple(self._chain)

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        index = self._active
        while True:
            voice = self._chain[index]
            try:
                async for chunk in voice.synthesize(text):
                    yield chunk
                return
            except ProviderError as exc:
                if index + 1 >= len(self._chain):
                    raise  # the reply runner counts it (metrics.provider_failed) as it plays the apology
                logger.warning("text-to-speech voice %s failed (%s); the next voice speaks from here",
                               type(voice).__name__, exc)
                metrics.provider_failed("tts", voice, fallback="next_voice")
                index += 1
                self._active = max(self._active, index)  # the broken voice is not tried again this call
                self.failovers += 1

    async def aclose(self) -> None:
        for voice in self._chain:
            with contextlib.suppress(Exception):
                await voice.aclose()
