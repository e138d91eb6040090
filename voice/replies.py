"""The reply runner: one agent reply at a time, from text (the model's stream or a fixed phrase) to
sentences to speech to the Twilio output, until the caller has heard all of it, or it is cut short.

Speech starts with the first sentence, before the model has finished. When text-to-speech fails
part-way, the apology synthesised at start-up is played instead and the reply ends marked failed.
"""

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from autoshop import metrics
from voice.agent.sentences import SentenceSplitter
from voice.latency import LatencyRecorder
from voice.phrases import PhraseCache
from voice.providers.base import ProviderError, TTSProvider
from voice.twilio_output import AudioReady, ReplyQueued, SegmentDone, TwilioOutput

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReplyEnded:
    """A reply was heard to its end: the text it spoke, and whether speech failed on the way."""

    reply: int
    text: str
    speech_failed: bool = False
    scripted: bool = False  # a fixed phrase of the call script, not the model's words
    fillers: tuple[str, ...] = ()  # what was interjected while the model or a tool worked ("One moment.")


class ReplyRunner:
    """Starts, feeds and cuts short the call's replies; `on_ended` hears of each one played to the end."""

    def __init__(self, *, output: TwilioOutput, tts: TTSProvider, phrases: PhraseCache, latency: LatencyRecorder,
                 apology: str, on_ended: Callable[[ReplyEnded], Awaitable[None]]) -> None:
        self._output = output
        self._tts = tts
        self._phrases = phrases
        self._latency = latency
        self._apology = apology
        self._on_ended = on_ended
        self._task: asyncio.Task[None] | None = None
        self._sentences: asyncio.Queue[str | None] = asyncio.Queue()
        self._fillers: list[str] = []
        self.current = 0

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self, text: AsyncIterator[str], *, whole: bool) -> int:
        """Speak `text` as the new reply. `whole`: a fixed phrase, spoken (and cached) as one piece."""
        self.current += 1
        self._output.begin(self.current)
        self._sentences = asyncio.Queue()
        self._fillers = []
        self._task = asyncio.create_task(self._speak(self.current, text, whole, self._sentences, self._fillers),
                                         name=f"reply-{self.current}")
        self._task.add_done_callback(_log_crash)
        return self.current

    def interject(self, text: str) -> None:
        """Say `text` next within the running reply (a filler while the model or a slow tool works): its
        audio follows what is queued and precedes the reply's next sentence."""
        self._fillers.append(text)
        self._sentences.put_nowait(text)

    async def interrupt(self) -> str | None:
        """Cut the running reply short. Returns what the caller heard of it, or None if none was running.
        Waits until the reply has stopped: a tool that writes shop data is finished first."""
        task = self._task
        if task is None or task.done():
            return None
        heard = self._output.tracker.heard_text().strip()
        await self._output.abandon()
        task.cancel()
        await asyncio.wait([task])  # unlike awaiting it, never swallows our own cancellation
        return heard

    async def _speak(self, reply: int, text: AsyncIterator[str], whole: bool,
                     sentences: "asyncio.Queue[str | None]", fillers: list[str]) -> None:
        splitter = SentenceSplitter()
        spoken: list[str] = []
        synth = asyncio.create_task(self._synthesize(reply, sentences))
        try:
            async for delta in text:
                spoken.append(delta)
                for sentence in ([delta] if whole else splitter.feed(delta)):
                    sentences.put_nowait(sentence)
            for sentence in splitter.flush():
                sentences.put_nowait(sentence)
            sentences.put_nowait(None)
            failed = await synth
        except asyncio.CancelledError:
            synth.cancel()
            raise
        self._output.put(ReplyQueued(reply))
        await self._output.played()
        await self._on_ended(ReplyEnded(reply, "".join(spoken).strip(), failed, scripted=whole,
                                        fillers=tuple(fillers)))

    async def _synthesize(self, reply: int, sentences: "asyncio.Queue[str | None]") -> bool:
        """Sentences to audio, in order. True when speech failed (the cached apology, if any, was queued)."""
        tracker = self._output.tracker
        while (sentence := await sentences.get()) is not None:
            segment = tracker.begin_segment(sentence)
            try:
                async for audio in self._phrases.speak(self._tts, sentence):
                    self._latency.first_byte()
                    self._output.put(AudioReady(reply, segment, audio))
            except ProviderError:
                logger.warning("text-to-speech failed mid-reply")
                metrics.provider_failed("tts", self._tts, fallback="apology")
                self._output.put(SegmentDone(reply, segment))
                fallback = self._phrases.cached(self._tts, self._apology)
                if fallback is not None:
                    segment = tracker.begin_segment(self._apology)
                    self._output.put(AudioReady(reply, segment, fallback))
                    self._output.put(SegmentDone(reply, segment))
                return True
            self._output.put(SegmentDone(reply, segment))
        return False


def _log_crash(task: "asyncio.Task[None]") -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("a reply crashed", exc_info=task.exception())
