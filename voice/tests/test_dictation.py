"""Dictation: what callers spell out (VINs, plates, mileage) as speech-to-text writes it, read in code."""

import pytest

from crm.vins import is_valid_vin
from voice.agent.dictation import asks_for_dictation, mileage_from_speech, read_back, spelled, vin_from_speech

VIN = "1HGCM82633A004352"  # a valid check digit (9th character: 3)


@pytest.mark.parametrize("said", [
    "one H G C M eight two six three three A zero zero four three five two",
    "1 h g c m 8 2 6 3 3 a oh oh 4 3 5 2",
    "one hotel golf charlie mike eight two six double three alpha double oh four three five two",
    "one H as in hotel G C, M as in Mike, 8 2 6, 33 A, 0 0 4 3 5 2",
    "1HGC M826 33A0 0435 2",
])
def test_a_vin_spelled_any_way_callers_do_reads_as_the_vin(said: str) -> None:
    assert vin_from_speech(said) == VIN
    assert is_valid_vin(vin_from_speech(said))


def test_plates_with_the_nato_alphabet_double_and_oh() -> None:
    assert spelled("seven alpha bravo charlie one two three") == "7ABC123"
    assert spelled("hotel golf double seven oh nine") == "HG7709"
    assert spelled("triple five dash x-ray") == "555X"


def test_a_vin_is_read_back_in_groups_of_four_one_character_at_a_time() -> None:
    assert read_back(VIN) == "1 H G C, M 8 2 6, 3 3 A zero, zero 4 3 5, 2"


def test_mileage_as_said() -> None:
    assert mileage_from_speech("eighty one thousand five hundred") == 81500
    assert mileage_from_speech("about 81,500 miles") == 81500
    assert mileage_from_speech("81k") == 81000
    assert mileage_from_speech("a hundred and twenty thousand") == 120000
    assert mileage_from_speech("no idea") is None


def test_the_agent_asking_for_something_to_spell_is_known() -> None:
    assert asks_for_dictation("Could you read me the VIN, please?")
    assert asks_for_dictation("What's the license plate and state?")
    assert asks_for_dictation("And roughly what's the mileage now?")
    assert not asks_for_dictation("What day works for you?")
    assert not asks_for_dictation("I've noted the VIN. What day works for you?")


async def test_a_caller_reading_the_vin_in_groups_is_heard_to_the_end_in_one_turn() -> None:
    from voice.providers.base import TextDelta
    from voice.tests.fakes import TimedChat
    from voice.tests.test_session import Call

    chat = TimedChat(script=[[TextDelta("Sure. Could you read me the VIN, please?")], [TextDelta("Thanks.")],
                             [TextDelta("Got it.")]])
    async with Call(chat=chat) as call:
        call.say("I'd like to add my car")
        await call.until(lambda: len(chat.requests) == 1, what="the VIN question")
        await call.idle()
        assert call.stt.stream.dictation_hints[-1] is True  # the recogniser listens for spelled runs now
        call.say("one H G C")
        await call.time.advance(1.0)  # a breath between groups: the agent does not answer into it
        call.say("M eight two six")
        await call.until(lambda: len(chat.requests) == 2, what="the answer to the whole VIN")
        assert chat.requests[1][-1] == {"role": "user", "content": "one H G C M eight two six"}
        await call.idle()
        assert call.stt.stream.dictation_hints[-1] is False
        call.say("that's all")  # the agent asked nothing to spell: an utterance is answered as it ends
        started = call.time.now
        await call.until(lambda: len(chat.requests) == 3, what="the next answer")
        assert call.time.now - started < 0.5
