"""Turn-taking and barge-in, driven by a hand-held clock."""

import pytest

from voice.backchannels import count_real_words
from voice.providers.base import SpeechStarted, TranscriptReceived, UtteranceEnded
from voice.turns import (
    AgentReplyFinished,
    AgentReplyStarted,
    CancelReply,
    HangUp,
    KeyPressed,
    PausePlayback,
    PromptSilence,
    ReplyFailed,
    ResumePlayback,
    StartReply,
    TurnConfig,
    TurnEvent,
    TurnState,
    TurnTaker,
)

BACKCHANNELS = TurnConfig().backchannels


def interim(text: str) -> TranscriptReceived:
    return TranscriptReceived(text=text, is_final=False)


def final(text: str, *, speech_final: bool = False) -> TranscriptReceived:
    return TranscriptReceived(text=text, is_final=True, speech_final=speech_final)


def state_now(turns: TurnTaker) -> TurnState:
    """The state read afresh (mypy would keep the narrowing of an earlier `assert turns.state is ...`)."""
    return turns.state


def run(turns: TurnTaker, *events: TurnEvent, now: float = 0.0) -> list[object]:
    """Feed events at `now`, returning every action."""
    return [action for event in events for action in turns.handle(event, now)]


def speaking(config: TurnConfig | None = None) -> TurnTaker:
    """A turn-taker whose reply to "my brakes squeak" is playing."""
    turns = TurnTaker(config)
    run(turns, SpeechStarted(), final("My brakes squeak.", speech_final=True), AgentReplyStarted())
    assert turns.state is TurnState.SPEAKING
    return turns


def thinking() -> TurnTaker:
    """A turn-taker running the agent on "my brakes squeak", no audio yet."""
    turns = TurnTaker()
    run(turns, SpeechStarted(), final("My brakes squeak.", speech_final=True))
    assert turns.state is TurnState.THINKING
    return turns


# --- the caller's turn ----------------------------------------------------------------------------


def test_caller_utterance_starts_a_reply_when_speech_is_final() -> None:
    turns = TurnTaker()

    assert run(turns, SpeechStarted()) == []
    assert turns.state is TurnState.CALLER_SPEAKING
    assert run(turns, interim("I need an oil"), final("I need an oil change")) == []
    assert run(turns, final("for Tuesday.", speech_final=True)) == [StartReply("I need an oil change for Tuesday.")]
    assert state_now(turns) is TurnState.THINKING


def test_interim_words_alone_make_the_caller_the_speaker() -> None:
    turns = TurnTaker()

    run(turns, interim("Hi"))

    assert turns.state is TurnState.CALLER_SPEAKING


def test_utterance_end_closes_the_turn_with_the_final_words() -> None:
    turns = TurnTaker()
    run(turns, SpeechStarted(), final("Do you do alignments?"))

    assert run(turns, UtteranceEnded()) == [StartReply("Do you do alignments?")]


def test_utterance_end_uses_interim_words_when_no_final_came() -> None:
    turns = TurnTaker()
    run(turns, SpeechStarted(), interim("Hello?"))

    assert run(turns, UtteranceEnded()) == [StartReply("Hello?")]


def test_a_lone_okay_is_a_turn_when_the_agent_is_not_speaking() -> None:
    turns = TurnTaker()

    assert run(turns, final("Okay.", speech_final=True)) == [StartReply("Okay.")]


def test_an_utterance_without_words_starts_no_reply() -> None:
    turns = TurnTaker()
    run(turns, SpeechStarted())

    assert run(turns, final("", speech_final=True), UtteranceEnded()) == []
    assert turns.state is TurnState.LISTENING


def test_voice_activity_that_never_becomes_words_returns_to_listening() -> None:
    turns = TurnTaker()
    run(turns, SpeechStarted(), now=10.0)

    assert turns.tick(10.9) == []
    assert turns.state is TurnState.CALLER_SPEAKING
    assert turns.tick(11.0) == []
    assert state_now(turns) is TurnState.LISTENING


def test_late_utterance_end_of_the_answered_utterance_changes_nothing() -> None:
    turns = thinking()

    assert run(turns, UtteranceEnded()) == []
    assert turns.state is TurnState.THINKING


# --- the agent's turn -----------------------------------------------------------------------------


def test_reply_audio_makes_the_agent_the_speaker_and_its_end_hands_back_the_floor() -> None:
    turns = thinking()

    assert run(turns, AgentReplyStarted()) == []
    assert turns.state is TurnState.SPEAKING
    assert run(turns, AgentReplyFinished()) == []
    assert state_now(turns) is TurnState.LISTENING


def test_a_greeting_is_spoken_from_listening() -> None:
    turns = TurnTaker()

    run(turns, AgentReplyStarted())

    assert turns.state is TurnState.SPEAKING


def test_failed_reply_hands_back_the_floor() -> None:
    turns = thinking()

    assert run(turns, ReplyFailed()) == []
    assert turns.state is TurnState.LISTENING


# --- interruptions --------------------------------------------------------------------------------


def test_caller_speech_during_playback_pauses_then_cancels_on_real_words() -> None:
    turns = speaking()

    assert run(turns, SpeechStarted(), now=1.0) == [PausePlayback()]
    assert turns.state is TurnState.SPEAKING
    assert run(turns, interim("Actually wait"), now=1.3) == [CancelReply()]
    assert state_now(turns) is TurnState.CALLER_SPEAKING
    assert turns.interruptions == 1
    assert run(turns, final("Actually wait, make it Wednesday.", speech_final=True)) == [
        StartReply("Actually wait, make it Wednesday.")
    ]


def test_backchannel_during_playback_resumes() -> None:
    turns = speaking()
    run(turns, SpeechStarted(), now=1.0)

    assert run(turns, interim("Uh-huh"), final("Uh-huh."), now=1.3) == []
    assert run(turns, UtteranceEnded(), now=1.5) == [ResumePlayback()]
    assert turns.state is TurnState.SPEAKING
    assert turns.interruptions == 0
    assert turns.false_interruptions == 1


@pytest.mark.parametrize("words", ["Mm-hmm.", "uh huh", "Okay, got it.", "Yeah, right.", "Um"])
def test_backchannel_words_do_not_cancel_the_reply(words: str) -> None:
    turns = speaking()
    run(turns, SpeechStarted())

    assert run(turns, final(words)) == []
    assert turns.state is TurnState.SPEAKING


def test_backchannel_with_speech_final_resumes_at_once() -> None:
    turns = speaking()
    run(turns, SpeechStarted())

    assert run(turns, final("Mhm.", speech_final=True)) == [ResumePlayback()]


def test_false_interruption_resumes_after_timeout() -> None:
    turns = speaking()
    run(turns, SpeechStarted(), now=5.0)

    assert turns.tick(5.99) == []
    assert turns.tick(6.0) == [ResumePlayback()]
    assert turns.state is TurnState.SPEAKING
    assert turns.tick(7.0) == []


def test_backchannel_words_restart_the_false_interruption_timer() -> None:
    turns = speaking()
    run(turns, SpeechStarted(), now=5.0)
    run(turns, interim("yeah"), now=5.8)

    assert turns.tick(6.5) == []
    assert turns.tick(6.8) == [ResumePlayback()]


def test_false_interruption_timeout_is_configurable() -> None:
    turns = speaking(TurnConfig(false_interruption_timeout=2.0))
    run(turns, SpeechStarted(), now=5.0)

    assert turns.tick(6.5) == []
    assert turns.tick(7.0) == [ResumePlayback()]


def test_words_without_speech_started_pause_and_cancel_in_one_go() -> None:
    turns = speaking()

    assert run(turns, interim("Stop")) == [PausePlayback(), CancelReply()]


def test_min_interruption_words_requires_that_many_real_words() -> None:
    turns = speaking(TurnConfig(min_interruption_words=2))
    run(turns, SpeechStarted())

    assert run(turns, interim("okay so")) == []
    assert run(turns, interim("okay so what")) == [CancelReply()]


def test_repeated_speech_started_pauses_once() -> None:
    turns = speaking()

    assert run(turns, SpeechStarted(), SpeechStarted()) == [PausePlayback()]


def test_speech_while_thinking_pauses_as_soon_as_reply_audio_starts() -> None:
    turns = thinking()

    assert run(turns, SpeechStarted(), now=1.0) == []
    assert run(turns, AgentReplyStarted(), now=1.2) == [PausePlayback()]
    assert turns.tick(2.0) == [ResumePlayback()]


def test_real_words_while_thinking_cancel_and_join_the_earlier_utterance() -> None:
    turns = thinking()

    assert run(turns, SpeechStarted(), interim("and the")) == [CancelReply()]
    assert turns.state is TurnState.CALLER_SPEAKING
    assert run(turns, final("and the engine light is on.", speech_final=True)) == [
        StartReply("My brakes squeak. and the engine light is on.")
    ]


def test_backchannel_while_thinking_leaves_the_reply_alone() -> None:
    turns = thinking()

    assert run(turns, SpeechStarted(), final("okay", speech_final=True), UtteranceEnded()) == []
    assert turns.state is TurnState.THINKING
    assert run(turns, AgentReplyStarted()) == []


def test_interrupting_words_of_a_later_reply_do_not_carry_the_older_utterance() -> None:
    turns = speaking()

    run(turns, interim("No"))
    actions = run(turns, final("No, Friday.", speech_final=True))

    assert actions == [StartReply("No, Friday.")]


def test_reply_starting_while_the_caller_talks_is_cancelled_by_their_words() -> None:
    turns = TurnTaker()
    run(turns, SpeechStarted(), interim("Hello, is this"))

    assert run(turns, AgentReplyStarted()) == [PausePlayback(), CancelReply()]
    assert turns.state is TurnState.CALLER_SPEAKING


def test_reply_starting_over_noise_pauses_then_resumes() -> None:
    turns = TurnTaker()
    run(turns, SpeechStarted(), now=0.0)

    assert run(turns, AgentReplyStarted(), now=0.5) == [PausePlayback()]
    assert turns.tick(1.5) == [ResumePlayback()]
    assert turns.state is TurnState.SPEAKING


def test_speech_as_the_reply_ends_keeps_the_caller_speaking() -> None:
    turns = speaking()
    run(turns, final("okay"))

    run(turns, AgentReplyFinished())

    assert turns.state is TurnState.CALLER_SPEAKING
    assert run(turns, UtteranceEnded()) == [StartReply("okay")]


# --- silence --------------------------------------------------------------------------------------


def finished_at(now: float) -> TurnTaker:
    turns = speaking()
    run(turns, AgentReplyFinished(), now=now)
    return turns


def test_silence_after_the_reply_prompts_then_hangs_up() -> None:
    turns = finished_at(100.0)

    assert turns.tick(107.9) == []
    assert turns.tick(108.0) == [PromptSilence()]
    assert turns.tick(115.9) == []
    assert turns.tick(116.0) == [PromptSilence()]
    assert turns.tick(124.0) == [HangUp()]
    assert turns.tick(200.0) == []


def test_the_spoken_prompt_restarts_the_silence_timer_without_resetting_the_count() -> None:
    turns = finished_at(0.0)
    turns.tick(8.0)
    run(turns, AgentReplyStarted(), now=8.5)
    run(turns, AgentReplyFinished(), now=10.0)

    assert turns.tick(17.9) == []
    assert turns.tick(18.0) == [PromptSilence()]
    assert turns.tick(26.0) == [HangUp()]


def test_caller_words_stop_the_silence_timer_and_reset_the_prompts() -> None:
    turns = finished_at(0.0)
    turns.tick(8.0)

    run(turns, final("Yes, I'm here.", speech_final=True), now=9.0)
    assert turns.tick(30.0) == []
    run(turns, AgentReplyStarted(), AgentReplyFinished(), now=31.0)

    assert [turns.tick(t) for t in (39.0, 47.0, 55.0)] == [[PromptSilence()], [PromptSilence()], [HangUp()]]


def test_noise_does_not_stop_the_silence_timer() -> None:
    turns = finished_at(0.0)
    run(turns, SpeechStarted(), now=3.0)
    turns.tick(4.0)

    assert turns.tick(8.0) == [PromptSilence()]


def test_silence_limits_are_configurable() -> None:
    turns = TurnTaker(TurnConfig(silence_prompt_after=3.0, max_silence_prompts=0))
    run(turns, AgentReplyStarted(), AgentReplyFinished(), now=0.0)

    assert turns.tick(3.0) == [HangUp()]


def test_no_silence_prompt_before_the_agent_has_spoken() -> None:
    assert TurnTaker().tick(60.0) == []


def test_noise_as_the_reply_ends_still_starts_the_silence_timer() -> None:
    turns = speaking()
    run(turns, SpeechStarted(), now=0.5)

    run(turns, AgentReplyFinished(), now=1.0)

    assert turns.state is TurnState.CALLER_SPEAKING
    assert turns.tick(2.0) == []
    assert state_now(turns) is TurnState.LISTENING
    assert turns.tick(9.0) == [PromptSilence()]


# --- backchannel words ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0),
        ("Uh-huh.", 0),
        ("uh huh", 0),
        ("Okay, got it!", 0),
        ("Mm-hmm, right.", 0),
        ("okay wait", 1),
        ("got", 1),
        ("Hold on a second", 4),
        ("it", 1),
    ],
)
def test_real_words_are_counted_without_backchannels(text: str, expected: int) -> None:
    assert count_real_words(text, BACKCHANNELS) == expected


def test_a_complete_utterance_that_interrupts_is_answered_at_once() -> None:
    turns = TurnTaker()
    turns.handle(AgentReplyStarted(), 0.0)
    assert turns.handle(SpeechStarted(), 0.1) == [PausePlayback()]
    actions = turns.handle(TranscriptReceived("I'd like an oil change please.", is_final=True, speech_final=True), 0.2)
    assert actions == [CancelReply(), StartReply("I'd like an oil change please.")]
    assert turns.state is TurnState.THINKING


def test_a_key_press_during_a_reply_cuts_it_and_its_meaning_is_the_callers_turn() -> None:
    turns = TurnTaker()
    run(turns, TranscriptReceived("hello", is_final=True, speech_final=True))
    run(turns, AgentReplyStarted())
    assert run(turns, KeyPressed(said="I want to cancel the appointment.")) == [
        PausePlayback(), CancelReply(), StartReply(caller_text="I want to cancel the appointment.")]
    assert turns.state is TurnState.THINKING


def test_a_key_the_call_script_answers_only_takes_the_floor() -> None:
    turns = TurnTaker()
    run(turns, AgentReplyStarted())
    assert run(turns, TranscriptReceived("um", is_final=False)) == [PausePlayback()]  # maybe cutting in
    assert run(turns, KeyPressed(said=None)) == [CancelReply()]
    assert turns.caller_text == ""  # the words before the key are dropped


def test_a_key_press_while_listening_starts_a_reply_at_once() -> None:
    turns = TurnTaker()
    assert run(turns, KeyPressed(said="I'd like to talk to a person.")) == [
        StartReply(caller_text="I'd like to talk to a person.")]


def test_while_the_caller_dictates_a_pause_is_not_the_end_of_the_turn() -> None:
    turns = TurnTaker(TurnConfig(dictation_hold=1.5))
    turns.dictating = True  # the agent asked for the VIN
    assert turns.handle(SpeechStarted(), 0.0) == []
    assert turns.handle(final("one H G C", speech_final=True), 1.0) == []  # a breath between groups
    assert turns.tick(2.0) == []
    assert turns.handle(SpeechStarted(), 2.2) == []  # the next group
    assert turns.handle(final("M eight two six", speech_final=True), 3.0) == []
    assert turns.tick(4.4) == []
    assert turns.tick(4.5) == [StartReply(caller_text="one H G C M eight two six")]  # all of it, once


def test_without_dictation_the_end_of_an_utterance_is_answered_at_once() -> None:
    turns = TurnTaker(TurnConfig(dictation_hold=1.5))
    turns.handle(SpeechStarted(), 0.0)
    assert turns.handle(final("one H G C", speech_final=True), 1.0) == [StartReply(caller_text="one H G C")]
