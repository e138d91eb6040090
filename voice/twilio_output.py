"""The agent's audio out to Twilio: paced `media` in `chunk_ms` pieces with a `mark` after each,
`clear` when the caller may be cutting in, and the unheard audio re-sent after a false alarm.

After a `clear`, no agent audio reaches Twilio until the turn is decided: `resume()` (it was not an
interruption) or `begin()` of the next reply. The gate is checked right before each send, with no
await in between, so a chunk that was waiting to go out when the caller cut in is dropped.
"""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from voice import twilio_protocol as twilio
from voice.playback import PlaybackTracker

BYTES_PER_MS = 8  # mu-law 8 kHz mono


@dataclass(frozen=True, slots=True)
class AudioReady:
    """Synthesised audio of one segment (sentence) of a reply, any length."""

    reply: int
    segment: int
    audio: bytes


@dataclass(frozen=True, slots=True)
class SegmentDone:
    """All audio of the segment has been queued."""

    reply: int
    segment: int


@dataclass(frozen=True, slots=True)
class ReplyQueued:
    """All audio of the reply has been queued; it is done once Twilio has played it."""

    reply: int


@dataclass(frozen=True, slots=True)
class ReplayUnheard:
    """Re-send what a `clear` dropped (wakes an idle player)."""

    reply: int


OutputMessage = AudioReady | SegmentDone | ReplyQueued | ReplayUnheard
Sender = Callable[[str], Awaitable[None]]


class TwilioOutput:
    """One call's outbound audio. `run()` is the player task; the reply runner queues audio with `put`."""

    def __init__(self, *, stream_sid: str, send: Sender, tracker: PlaybackTracker, clock: Callable[[], float],
                 sleep: Callable[[float], Awaitable[None]], on_audible: Callable[[], Awaitable[None]],
                 chunk_ms: int = 100, lead_ms: int = 300) -> None:
        self.tracker = tracker
        self._stream_sid = stream_sid
        self._send = send
        self._clock = clock
        self._sleep = sleep
        self._on_audible = on_audible  # the current reply's first audio went out
        self._chunk_bytes = chunk_ms * BYTES_PER_MS
        self._lead = lead_ms / 1000
        self._queue: asyncio.Queue[OutputMessage] = asyncio.Queue()
        self._reply = 0  # the reply whose audio may go out; 0: none
        self._open = asyncio.Event()  # set while audio may flow (cleared by a pause until decided)
        self._open.set()
        self._carry: dict[int, bytes] = {}  # part chunks per segment, waiting for more audio
        self._replay: list[tuple[str, bytes]] = []  # (mark, audio) a clear dropped, to re-send
        self._deadline = 0.0  # when the audio already sent will have finished playing
        self._audible = 0  # the last reply whose first audio was sent
        self._queued_all = False
        self._played = asyncio.Event()

    @property
    def paused(self) -> bool:
        return not self._open.is_set()

    def begin(self, reply: int) -> None:
        """A new reply takes the line: audio of any earlier one is dropped, the gate opens."""
        self._drop_queued()
        self.tracker.reset()
        self._reply = reply
        self._queued_all = False
        self._played.clear()
        self._open.set()

    def put(self, message: OutputMessage) -> None:
        self._queue.put_nowait(message)

    async def pause(self) -> bool:
        """Empty Twilio's buffer now and hold further audio. False if already paused."""
        if not self._open.is_set():
            return False
        self._open.clear()
        await self._send(twilio.clear_message(self._stream_sid))
        self.tracker.cleared()
        self._deadline = self._clock()
        return True

    def resume(self) -> None:
        """A false alarm: re-send what the caller did not hear, then carry on where we were."""
        if self._open.is_set() or self._reply == 0:
            return
        self._replay = self.tracker.replay_unplayed()
        self._open.set()
        self.put(ReplayUnheard(self._reply))

    async def abandon(self) -> None:
        """The reply is given up (the caller took the turn): clear, and send nothing until `begin`."""
        await self.pause()
        self._reply = 0
        self._drop_queued()

    def mark(self, name: str) -> None:
        """Twilio played the audio up to this mark."""
        self.tracker.mark_acknowledged(name)
        self._check_played()

    async def played(self) -> None:
        """Until all the current reply's audio has been queued and played."""
        await self._played.wait()

    async def run(self) -> None:
        """The player: takes queued audio and sends it, paced near real time."""
        while True:
            message = await self._queue.get()
            if message.reply != self._reply:
                continue  # left over from a reply the caller interrupted
            match message:
                case ReplyQueued():
                    self._queued_all = True
                    self._check_played()
                case ReplayUnheard():
                    await self._flush_replay(message.reply)
                case SegmentDone():
                    rest = self._carry.pop(message.segment, b"")
                    if rest:
                        await self._send_chunk(message.reply, message.segment, rest)
                    if message.reply == self._reply:
                        self.tracker.finish_segment(message.segment)
                case AudioReady():
                    data = self._carry.pop(message.segment, b"") + message.audio
                    whole = len(data) - len(data) % self._chunk_bytes
                    for offset in range(0, whole, self._chunk_bytes):
                        await self._send_chunk(message.reply, message.segment, data[offset:offset + self._chunk_bytes])
                    if whole < len(data):
                        self._carry[message.segment] = data[whole:]

    # --- sending ---------------------------------------------------------------------------------------

    async def _ready(self) -> None:
        """Until the gate is open and Twilio's buffer holds no more than `lead_ms` of audio."""
        while True:
            await self._open.wait()
            wait = self._deadline - self._clock() - self._lead
            if wait < 0.001:  # closer than that is on time (and float noise must not spin)
                return
            await self._sleep(wait)

    def _may_send(self, reply: int) -> bool:
        return reply == self._reply != 0 and self._open.is_set()

    async def _send_chunk(self, reply: int, segment: int, chunk: bytes) -> None:
        await self._ready()
        if self._replay:
            await self._flush_replay(reply)  # unheard audio goes back out before anything newer
            await self._ready()
        if not self._may_send(reply):
            return
        mark = self.tracker.chunk_sent(segment, chunk)
        await self._deliver(chunk, mark)
        if self._audible != reply:
            self._audible = reply
            await self._on_audible()

    async def _flush_replay(self, reply: int) -> None:
        while self._replay:
            await self._ready()
            if not self._may_send(reply):
                return
            mark, chunk = self._replay.pop(0)
            await self._deliver(chunk, mark)

    async def _deliver(self, chunk: bytes, mark: str) -> None:
        await self._send(twilio.media_message(self._stream_sid, chunk))
        await self._send(twilio.mark_message(self._stream_sid, mark))
        self._deadline = max(self._deadline, self._clock()) + len(chunk) / (BYTES_PER_MS * 1000)

    def _check_played(self) -> None:
        if self._queued_all and self.tracker.all_played():
            self._played.set()

    def _drop_queued(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()
        self._carry.clear()
        self._replay.clear()
