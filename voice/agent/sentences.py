"""Cut a stream of model text into speakable pieces, so speech starts before the reply is done."""

import re

# A sentence ends at . ! ? followed by a space, unless the dot belongs to a number
# ("$49.99"), an initial or a common abbreviation ("Dr.", "a.m.").
_ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "st", "ave", "blvd", "rd", "jr", "sr", "vs", "etc", "e.g", "i.e",
                  "a.m", "p.m", "approx", "no", "mt"}
_END = re.compile(r"[.!?][\"')\]]*(?=\s)")


class SentenceSplitter:
    """Feed text deltas in; get whole sentences out as soon as they are complete."""

    def __init__(self, max_chars: int = 220) -> None:
        self._buffer = ""
        self._max_chars = max_chars

    def feed(self, delta: str) -> list[str]:
        """Add model text; return the sentences it completed (possibly none)."""
        self._buffer += delta
        out: list[str] = []
        start = 0
        for match in _END.finditer(self._buffer):
            end = match.end()
            candidate = self._buffer[start:end].strip()
            if self._is_abbreviation(candidate):
                continue
            if candidate:
                out.append(candidate)
            start = end
        self._buffer = self._buffer[start:]
        if len(self._buffer) > self._max_chars:
            # A very long run-on sentence: cut at the last comma or space so speech can start.
            cut = max(self._buffer.rfind(", ", 0, self._max_chars), self._buffer.rfind(" ", 0, self._max_chars))
            if cut > 0:
                out.append(self._buffer[: cut + 1].strip())
                self._buffer = self._buffer[cut + 1 :]
        return out

    def flush(self) -> list[str]:
        """The rest of the text once the reply is complete."""
        rest, self._buffer = self._buffer.strip(), ""
        return [rest] if rest else []

    @staticmethod
    def _is_abbreviation(candidate: str) -> bool:
        if not candidate.endswith("."):
            return False
        words = candidate[:-1].split()
        if not words:
            return True
        last = words[-1].lower()
        return last in _ABBREVIATIONS or (len(last) == 1 and last.isalpha())
