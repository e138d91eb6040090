"""Model text is cut into sentences as it streams, so speech can start before the reply ends."""

from voice.agent.sentences import SentenceSplitter


def _stream(text: str, step: int = 3) -> list[list[str]]:
    splitter = SentenceSplitter()
    out = [splitter.feed(text[i:i + step]) for i in range(0, len(text), step)]
    out.append(splitter.flush())
    return out


def test_first_sentence_is_released_before_the_reply_ends() -> None:
    steps = _stream("Sure thing. What day works for you? We open at eight.")
    flat = [s for step in steps for s in step]
    assert flat == ["Sure thing.", "What day works for you?", "We open at eight."]
    first_release = next(i for i, step in enumerate(steps) if step)
    assert first_release < len(steps) - 5


def test_prices_abbreviations_and_initials_do_not_end_a_sentence() -> None:
    flat = [s for step in _stream("An oil change is $49.99 at 10 a.m. on Main St. near Dr. Lee's. Okay?") for s in step]
    assert flat == ["An oil change is $49.99 at 10 a.m. on Main St. near Dr. Lee's.", "Okay?"]


def test_a_run_on_sentence_is_cut_at_a_comma() -> None:
    splitter = SentenceSplitter(max_chars=40)
    out = splitter.feed("We have Monday, Tuesday, Wednesday, Thursday and Friday open all day long")
    assert out and len(out[0]) <= 41 and out[0].endswith(",")


def test_flush_returns_the_unfinished_tail_once() -> None:
    splitter = SentenceSplitter()
    assert splitter.feed("See you then") == []
    assert splitter.flush() == ["See you then"]
    assert splitter.flush() == []
