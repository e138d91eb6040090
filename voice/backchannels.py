"""Backchannels: the "uh-huh"s and "got it"s a caller says over the agent without meaning to take the turn.
Pure text helpers for turn-taking."""

import re

DEFAULT_BACKCHANNELS = frozenset(
    {
        "uh-huh", "uh huh", "mm-hmm", "mm hmm", "mhm", "okay", "ok", "yeah", "yep", "right", "sure",
        "got it", "alright", "hmm", "um", "uh",
    }
)  # fmt: skip

_WORD = re.compile(r"[\w'-]+")


def words_of(text: str) -> list[str]:
    """The words of a transcript, lower-cased, without punctuation."""
    return [word for word in (match.strip("'-") for match in _WORD.findall(text.lower())) if word]


def count_real_words(text: str, backchannels: frozenset[str]) -> int:
    """How many words of `text` are not backchannels ("uh-huh", "got it", ...)."""
    words = words_of(text)
    count = index = 0
    while index < len(words):
        if index + 1 < len(words) and f"{words[index]} {words[index + 1]}" in backchannels:
            index += 2
        elif words[index] in backchannels:
            index += 1
        else:
            count += 1
            index += 1
    return count
