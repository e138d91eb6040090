"""The caller's recent audio, kept so a transcription socket that drops mid-call loses no words.

One timeline in bytes of mu-law 8 kHz from the start of the call. A new socket starts at the end of the
last final transcript: that audio is replayed into it, so words spoken while the old socket was dying or
while the new one connected are transcribed, and words already final are not transcribed twice.
"""

BYTES_PER_SECOND = 8000  # mu-law 8 kHz mono


class ReplayBuffer:
    """The last `seconds` of caller audio, how much of it the current socket has, and where its time 0 and
    the last final result fall on the call's timeline."""

    def __init__(self, seconds: float = 10.0) -> None:
        self.capacity = int(seconds * BYTES_PER_SECOND)
        self._data = bytearray()
        self.start = 0  # timeline offset of the oldest byte kept
        self.sent = 0  # the current socket has the audio up to here
        self.socket_start = 0  # where the current socket's time 0 is
        self.final_end = 0  # where the last final result ended

    @property
    def end(self) -> int:
        """Timeline offset just after the newest byte."""
        return self.start + len(self._data)

    def append(self, chunk: bytes) -> None:
        """Keep `chunk`, forgetting the oldest audio beyond the capacity."""
        self._data.extend(chunk)
        excess = len(self._data) - self.capacity
        if excess > 0:
            del self._data[:excess]
            self.start += excess

    @property
    def unsent_bytes(self) -> int:
        """How much of the kept audio the current socket does not have yet."""
        return self.end - max(self.sent, self.start)

    def unsent(self, limit: int) -> bytes:
        """Up to `limit` bytes the current socket does not have yet, oldest first."""
        begin = max(self.sent, self.start) - self.start
        return bytes(self._data[begin:begin + limit])

    def since_final(self) -> bytes:
        """The audio after the last final result (what a fallback engine must hear so no words are lost)."""
        return bytes(self._data[max(self.final_end, self.start) - self.start:])

    def new_socket(self) -> int:
        """A new socket starts at the last final result; returns how many bytes of the audio since then are
        gone (older than the buffer keeps), 0 when none."""
        begin = max(self.final_end, self.start)
        self.socket_start = self.sent = begin
        return begin - self.final_end

    def result(self, start: float, duration: float, is_final: bool) -> bool:
        """Place a result of the current socket on the timeline. False for one that ends where a final one
        already did (a word transcribed twice); a final one moves the mark the next socket starts from."""
        end = self.socket_start + round((start + duration) * BYTES_PER_SECOND)
        if end <= self.final_end:
            return False
        if is_final:
            self.final_end = end
        return True
