"""What the caller heard of a reply, from the marks Twilio echoes."""

import pytest

from voice.playback import PlaybackTracker

AUDIO = bytes(range(100))


def spoken(tracker: PlaybackTracker, text: str, chunks: int, size: int = 100, *, finish: bool = True) -> list[str]:
    """Send a segment as `chunks` chunks of `size` bytes; returns the mark names."""
    segment = tracker.begin_segment(text)
    marks = [tracker.chunk_sent(segment, bytes([segment]) * size) for _ in range(chunks)]
    if finish:
        tracker.finish_segment(segment)
    return marks


def test_mark_names_are_unique_and_name_reply_segment_and_chunk() -> None:
    tracker = PlaybackTracker()
    tracker.reset()

    first = spoken(tracker, "Hi there.", 2)
    second = spoken(tracker, "How can I help?", 1)

    assert first == ["a1-0-1", "a1-0-2"]
    assert second == ["a1-1-1"]


def test_mark_names_of_a_new_reply_differ_from_the_last() -> None:
    tracker = PlaybackTracker()
    old = spoken(tracker, "Hi.", 1)
    tracker.reset()

    assert spoken(tracker, "Hi.", 1) != old


def test_nothing_is_heard_before_any_mark_comes_back() -> None:
    tracker = PlaybackTracker()
    spoken(tracker, "We open at eight.", 2)

    assert tracker.heard_text() == ""


def test_fully_played_segments_are_heard_whole() -> None:
    tracker = PlaybackTracker()
    spoken(tracker, "We open at eight.", 2)
    marks = spoken(tracker, "We close at six.", 2)
    spoken(tracker, "Anything else?", 1)

    tracker.mark_acknowledged(marks[-1])

    assert tracker.heard_text() == "We open at eight. We close at six."


def test_partly_played_segment_keeps_the_leading_whole_words_in_proportion() -> None:
    tracker = PlaybackTracker()
    marks = spoken(tracker, "Your brake pads are worn down to the metal.", 4)  # 9 words, 400 bytes

    tracker.mark_acknowledged(marks[1])  # 200 of 400 bytes: 4.5 words

    assert tracker.heard_text() == "Your brake pads are"


def test_acknowledging_a_mark_means_every_earlier_chunk_played() -> None:
    tracker = PlaybackTracker()
    marks = spoken(tracker, "One two three four.", 4)

    assert tracker.mark_acknowledged(marks[2])

    assert tracker.pending_marks == (marks[3],)
    assert tracker.heard_text() == "One two three"


def test_unknown_mark_is_ignored() -> None:
    tracker = PlaybackTracker()
    spoken(tracker, "One two.", 1)

    assert not tracker.mark_acknowledged("a9-9-9")
    assert tracker.heard_text() == ""


def test_marks_of_a_previous_reply_are_ignored() -> None:
    tracker = PlaybackTracker()
    old = spoken(tracker, "One two.", 1)
    tracker.reset()
    spoken(tracker, "Three four.", 1)

    assert not tracker.mark_acknowledged(old[0])
    assert tracker.heard_text() == ""


def test_a_segment_still_being_synthesized_is_not_heard_whole_when_its_sent_audio_played() -> None:
    tracker = PlaybackTracker(bytes_per_char=10)
    text = "Let me check the schedule for Tuesday."  # 38 chars, estimated 380 bytes, 7 words
    marks = spoken(tracker, text, 2, finish=False)  # 200 bytes sent so far

    tracker.mark_acknowledged(marks[-1])

    assert tracker.heard_text() == "Let me check"  # 7 * 200 // 380 = 3 words


def test_a_segment_still_being_synthesized_counts_bytes_sent_when_more_than_the_estimate() -> None:
    tracker = PlaybackTracker(bytes_per_char=1)
    marks = spoken(tracker, "Let me check.", 4, finish=False)  # 400 bytes sent > 13 estimated

    tracker.mark_acknowledged(marks[1])

    assert tracker.heard_text() == "Let"  # 3 words * 200 // 400


def test_a_finished_segment_without_audio_does_not_stop_later_ones_being_heard() -> None:
    tracker = PlaybackTracker()
    spoken(tracker, "...", 0)
    marks = spoken(tracker, "Sure thing.", 1)

    tracker.mark_acknowledged(marks[0])

    assert tracker.heard_text() == "Sure thing."


def test_all_played_needs_every_mark_back_and_every_segment_finished() -> None:
    tracker = PlaybackTracker()
    first = spoken(tracker, "Hello.", 1)
    segment = tracker.begin_segment("Bart's Automotive.")
    second = tracker.chunk_sent(segment, AUDIO)

    tracker.mark_acknowledged(first[0])
    assert not tracker.all_played()
    tracker.mark_acknowledged(second)
    assert not tracker.all_played()  # the segment may still have audio coming
    tracker.finish_segment(segment)
    assert tracker.all_played()


def test_chunk_for_a_finished_segment_is_refused() -> None:
    tracker = PlaybackTracker()
    segment = tracker.begin_segment("Hello.")
    tracker.finish_segment(segment)

    with pytest.raises(ValueError, match="finished"):
        tracker.chunk_sent(segment, AUDIO)


def test_chunk_for_an_unknown_segment_is_refused() -> None:
    with pytest.raises(ValueError, match="no segment 3"):
        PlaybackTracker().chunk_sent(3, AUDIO)


def test_marks_echoed_after_a_clear_do_not_count_as_heard() -> None:
    tracker = PlaybackTracker()
    marks = spoken(tracker, "One two three four.", 4)
    tracker.mark_acknowledged(marks[0])

    tracker.cleared()
    echoed = [tracker.mark_acknowledged(name) for name in marks[1:]]

    assert echoed == [False, False, False]
    assert tracker.heard_text() == "One"
    assert tracker.pending_marks == ()
    assert not tracker.all_played()


def test_unplayed_audio_is_every_chunk_after_the_last_acknowledged_mark() -> None:
    tracker = PlaybackTracker()
    first = tracker.begin_segment("One.")
    tracker.chunk_sent(first, b"a" * 10)
    mark = tracker.chunk_sent(first, b"b" * 10)
    tracker.finish_segment(first)
    second = tracker.begin_segment("Two.")
    tracker.chunk_sent(second, b"c" * 10)
    tracker.chunk_sent(second, b"d" * 10)

    tracker.mark_acknowledged(mark)

    assert tracker.unplayed_audio() == [(second, b"c" * 10), (second, b"d" * 10)]


def test_replay_after_a_clear_resends_the_dropped_chunks_under_new_marks() -> None:
    tracker = PlaybackTracker()
    segment = tracker.begin_segment("One two three four.")
    chunks = [bytes([n]) * 100 for n in range(4)]
    marks = [tracker.chunk_sent(segment, chunk) for chunk in chunks]
    tracker.finish_segment(segment)
    tracker.mark_acknowledged(marks[0])
    tracker.cleared()

    replay = tracker.replay_unplayed()

    assert [audio for _, audio in replay] == chunks[1:]
    assert not {name for name, _ in replay} & set(marks)
    assert tracker.pending_marks == tuple(name for name, _ in replay)
    assert tracker.replay_unplayed() == []  # already re-armed


def test_replayed_audio_counts_as_heard_once_its_new_marks_come_back() -> None:
    tracker = PlaybackTracker()
    marks = spoken(tracker, "One two three four.", 4)
    tracker.mark_acknowledged(marks[0])
    tracker.cleared()
    tracker.mark_acknowledged(marks[1])  # the echo of the clear: ignored
    replay = tracker.replay_unplayed()

    tracker.mark_acknowledged(replay[1][0])

    assert tracker.heard_text() == "One two three"
    tracker.mark_acknowledged(replay[2][0])
    assert tracker.all_played()
    assert tracker.heard_text() == "One two three four."


def test_chunks_sent_after_a_replay_are_tracked_after_the_replayed_ones() -> None:
    tracker = PlaybackTracker()
    segment = tracker.begin_segment("One two three four.")
    dropped = tracker.chunk_sent(segment, b"a" * 100)
    tracker.cleared()
    [(replayed, _)] = tracker.replay_unplayed()
    later = tracker.chunk_sent(segment, b"b" * 100)

    assert tracker.pending_marks == (replayed, later)
    assert not tracker.mark_acknowledged(dropped)
    tracker.mark_acknowledged(later)
    tracker.finish_segment(segment)
    assert tracker.all_played()


def test_reset_forgets_the_previous_reply() -> None:
    tracker = PlaybackTracker()
    marks = spoken(tracker, "Hello.", 1, finish=False)
    tracker.mark_acknowledged(marks[0])

    tracker.reset()

    assert tracker.heard_text() == ""
    assert tracker.unplayed_audio() == []
    assert tracker.all_played()
