"""Track which part of the agent's reply the caller has actually heard, from Twilio's mark echoes.

Pure: no I/O, no asyncio, no Django. One tracker per call, `reset()` for each reply.
"""

from dataclasses import dataclass, field

ESTIMATED_BYTES_PER_CHAR = 500
"""Mu-law bytes a TTS voice needs per character of text (8000 bytes/s at about 16 chars/s): the length
of a segment whose synthesis is still running, so a paced, half-sent sentence does not count as heard."""


@dataclass(slots=True)
class _Chunk:
    segment_id: int
    audio: bytes
    mark: str | None  # the live mark name; None once acknowledged or flushed by a clear
    played: bool = False


@dataclass(slots=True)
class _Segment:
    text: str
    chunks: list[_Chunk] = field(default_factory=list)
    finished: bool = False
    marks_made: int = 0

    @property
    def bytes_sent(self) -> int:
        return sum(len(chunk.audio) for chunk in self.chunks)

    @property
    def bytes_played(self) -> int:
        return sum(len(chunk.audio) for chunk in self.chunks if chunk.played)


class PlaybackTracker:
    """Which audio of the current reply was sent, which was played, and the text the caller heard."""

    def __init__(self, bytes_per_char: int = ESTIMATED_BYTES_PER_CHAR) -> None:
        self._bytes_per_char = bytes_per_char
        self._reply = 0
        self._segments: list[_Segment] = []
        self._chunks: list[_Chunk] = []  # in the order they were first sent
        self._by_mark: dict[str, _Chunk] = {}

    def reset(self) -> None:
        """Start tracking a new reply; marks of earlier replies are ignored from now on."""
        self._reply += 1
        self._segments = []
        self._chunks = []
        self._by_mark = {}

    def begin_segment(self, text: str) -> int:
        """Register one sentence (or phrase) of the reply about to be synthesized; returns its id."""
        self._segments.append(_Segment(text=text.strip()))
        return len(self._segments) - 1

    def chunk_sent(self, segment_id: int, audio: bytes) -> str:
        """Record a chunk of the segment's audio sent to Twilio; returns the mark name to send after it."""
        segment = self._segment(segment_id)
        if segment.finished:
            raise ValueError(f"segment {segment_id} is finished")
        chunk = _Chunk(segment_id=segment_id, audio=bytes(audio), mark=None)
        segment.chunks.append(chunk)
        self._chunks.append(chunk)
        return self._arm(chunk)

    def finish_segment(self, segment_id: int) -> None:
        """Record that all the segment's audio was sent."""
        self._segment(segment_id).finished = True

    def mark_acknowledged(self, name: str) -> bool:
        """Twilio echoed mark `name`: it and every chunk before it played. False if the mark is not live."""
        chunk = self._by_mark.pop(name, None)
        if chunk is None:
            return False
        for earlier in self._chunks:
            if earlier.mark is not None:  # live; chunks a clear dropped and not re-sent stay unplayed
                self._by_mark.pop(earlier.mark, None)
                earlier.mark = None
                earlier.played = True
            if earlier is chunk:
                break
        return True

    def cleared(self) -> None:
        """A `clear` was sent: the pending marks' echoes will not mean played, so stop listening for them."""
        for chunk in self._chunks:
            chunk.mark = None
        self._by_mark = {}

    def unplayed_audio(self) -> list[tuple[int, bytes]]:
        """(segment id, audio) of every sent chunk not yet played, in sending order."""
        return [(chunk.segment_id, chunk.audio) for chunk in self._chunks if not chunk.played]

    def replay_unplayed(self) -> list[tuple[str, bytes]]:
        """After a clear, re-arm the chunks it dropped under fresh mark names: (mark, audio) to re-send in order."""
        return [(self._arm(chunk), chunk.audio) for chunk in self._chunks if not chunk.played and chunk.mark is None]

    @property
    def pending_marks(self) -> tuple[str, ...]:
        """Mark names sent and not yet echoed (excluding those a clear made meaningless)."""
        return tuple(self._by_mark)

    def all_played(self) -> bool:
        """True when every chunk sent has played and no segment is still being synthesized."""
        return all(chunk.played for chunk in self._chunks) and all(segment.finished for segment in self._segments)

    def heard_text(self) -> str:
        """The text the caller heard: played segments whole, the one in progress cut at a whole word."""
        heard: list[str] = []
        for segment in self._segments:
            total = segment.bytes_sent
            if segment.finished and total == 0:
                continue  # nothing was synthesized for it, nothing to hear
            played = segment.bytes_played
            if played == 0:
                break
            if not segment.finished:
                total = max(total, len(segment.text) * self._bytes_per_char)
            if played >= total:
                if segment.text:
                    heard.append(segment.text)
                continue
            words = segment.text.split()
            count = len(words) * played // total
            if count:
                heard.append(" ".join(words[:count]))
            break
        return " ".join(heard)

    def _segment(self, segment_id: int) -> _Segment:
        if not 0 <= segment_id < len(self._segments):
            raise ValueError(f"no segment {segment_id} in this reply")
        return self._segments[segment_id]

    def _arm(self, chunk: _Chunk) -> str:
        segment = self._segments[chunk.segment_id]
        segment.marks_made += 1
        chunk.mark = f"a{self._reply}-{chunk.segment_id}-{segment.marks_made}"
        self._by_mark[chunk.mark] = chunk
        return chunk.mark
