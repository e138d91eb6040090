"""The Twilio Media Streams codec against recorded Twilio frames."""

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from voice.twilio_order import StreamOrder
from voice.twilio_protocol import (
    MAX_MEDIA_PAYLOAD_BYTES,
    MAX_MESSAGE_BYTES,
    Connected,
    DtmfReceived,
    MarkReceived,
    MediaFormat,
    MediaReceived,
    ProtocolError,
    StreamStarted,
    StreamStopped,
    clear_message,
    mark_message,
    media_message,
    parse_message,
)

FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "twilio"
STREAM_SID = "MZ18ad3ab5a668481ce02b83e7395059f0"
CALL_SID = "CA9c2a3f61d6b44e0ad2c8f7e1b5a04d3e"
ACCOUNT_SID = "AC25e16e9a716a4a1786a7c83f58e30482"


def frame(name: str) -> str:
    return (FIXTURES / f"{name}.json").read_text()


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(frame(name))
    return data


def altered(name: str, **changes: Any) -> str:
    """A recorded frame with top-level keys replaced (None deletes the key)."""
    data = fixture(name)
    for key, value in changes.items():
        if value is None:
            del data[key]
        else:
            data[key] = value
    return json.dumps(data)


# --- parsing the recorded frames ----------------------------------------------------------------------


def test_connected_frame_parses() -> None:
    assert parse_message(frame("connected")) == Connected(protocol="Call", version="1.0.0")


def test_start_frame_parses_with_call_parameters_and_format() -> None:
    assert parse_message(frame("start")) == StreamStarted(
        stream_sid=STREAM_SID,
        call_sid=CALL_SID,
        account_sid=ACCOUNT_SID,
        tracks=("inbound",),
        custom_parameters={"from_number": "+15105550143", "direction": "inbound"},
        media_format=MediaFormat(encoding="audio/x-mulaw", sample_rate=8000, channels=1),
        sequence_number=1,
    )


def test_media_frame_parses_with_decoded_audio_and_numbers_from_strings() -> None:
    event = parse_message(frame("media"))

    assert isinstance(event, MediaReceived)
    assert event.payload == base64.b64decode(fixture("media")["media"]["payload"])
    assert len(event.payload) == 160
    assert (event.stream_sid, event.timestamp_ms, event.chunk, event.sequence_number, event.track) == (
        STREAM_SID,
        5,
        2,
        3,
        "inbound",
    )


def test_mark_frame_parses() -> None:
    assert parse_message(frame("mark")) == MarkReceived(stream_sid=STREAM_SID, name="a1-0-1", sequence_number=4)


def test_dtmf_frame_parses() -> None:
    assert parse_message(frame("dtmf")) == DtmfReceived(stream_sid=STREAM_SID, digit="1", sequence_number=5)


def test_stop_frame_parses() -> None:
    assert parse_message(frame("stop")) == StreamStopped(stream_sid=STREAM_SID, call_sid=CALL_SID, sequence_number=6)


# --- rejecting bad frames -----------------------------------------------------------------------------


def test_binary_frame_is_rejected() -> None:
    with pytest.raises(ProtocolError, match="binary frame"):
        parse_message(frame("media").encode())


def test_oversized_message_is_rejected() -> None:
    padded = frame("connected").rstrip()[:-1] + ', "padding": "' + "x" * MAX_MESSAGE_BYTES + '"}'

    with pytest.raises(ProtocolError, match="larger than 8192 bytes"):
        parse_message(padded)


def test_message_just_under_the_limit_is_accepted() -> None:
    text = frame("connected").rstrip()[:-1] + ', "padding": ""}'
    text = text.replace('"padding": ""', '"padding": "' + "x" * (MAX_MESSAGE_BYTES - len(text)) + '"')

    assert len(text) == MAX_MESSAGE_BYTES
    assert isinstance(parse_message(text), Connected)


def test_size_limit_counts_utf8_bytes_not_characters() -> None:
    text = '{"event": "connected", "protocol": "Call", "version": "' + "é" * (MAX_MESSAGE_BYTES // 2) + '"}'

    assert len(text) < MAX_MESSAGE_BYTES
    with pytest.raises(ProtocolError, match="larger than"):
        parse_message(text)


def test_invalid_json_is_rejected() -> None:
    with pytest.raises(ProtocolError, match="invalid JSON"):
        parse_message(frame("media")[:-5])


@pytest.mark.parametrize("text", ["[]", '"media"', "42", "null"])
def test_json_that_is_not_an_object_is_rejected(text: str) -> None:
    with pytest.raises(ProtocolError, match="where an object was expected"):
        parse_message(text)


def test_unknown_event_is_rejected() -> None:
    with pytest.raises(ProtocolError, match="unknown event 'transcript'"):
        parse_message(altered("media", event="transcript"))


def test_frame_without_event_is_rejected() -> None:
    with pytest.raises(ProtocolError, match="missing event"):
        parse_message(altered("media", event=None))


@pytest.mark.parametrize("name", ["start", "media", "mark", "dtmf", "stop"])
def test_frame_without_stream_sid_is_rejected(name: str) -> None:
    with pytest.raises(ProtocolError, match="missing streamSid"):
        parse_message(altered(name, streamSid=None))


@pytest.mark.parametrize("name", ["start", "media", "mark", "dtmf", "stop"])
def test_frame_without_sequence_number_is_rejected(name: str) -> None:
    with pytest.raises(ProtocolError, match="missing sequenceNumber"):
        parse_message(altered(name, sequenceNumber=None))


@pytest.mark.parametrize("value", ["three", "-3", "3.0", True, [3], "", "٣"])
def test_ill_typed_sequence_number_is_rejected(value: Any) -> None:
    with pytest.raises(ProtocolError, match="sequenceNumber must be a non-negative integer"):
        parse_message(altered("media", sequenceNumber=value))


def test_sequence_number_written_as_a_number_is_accepted() -> None:
    event = parse_message(altered("mark", sequenceNumber=4))

    assert isinstance(event, MarkReceived)
    assert event.sequence_number == 4


def test_stream_sid_of_the_wrong_type_is_rejected() -> None:
    with pytest.raises(ProtocolError, match="streamSid must be a non-empty string"):
        parse_message(altered("mark", streamSid=12))


def test_media_without_payload_is_rejected() -> None:
    data = fixture("media")
    del data["media"]["payload"]

    with pytest.raises(ProtocolError, match=r"missing media\.payload"):
        parse_message(json.dumps(data))


def test_media_whose_media_is_not_an_object_is_rejected() -> None:
    with pytest.raises(ProtocolError, match="media must be an object"):
        parse_message(altered("media", media="AAAA"))


def test_media_with_non_numeric_timestamp_is_rejected() -> None:
    data = fixture("media")
    data["media"]["timestamp"] = "5ms"

    with pytest.raises(ProtocolError, match=r"media\.timestamp"):
        parse_message(json.dumps(data))


@pytest.mark.parametrize("payload", ["not base64!", "AAA", "AAAA=AAA", "AAAA AAA=", "AA_-"])
def test_media_with_invalid_base64_is_rejected(payload: str) -> None:
    data = fixture("media")
    data["media"]["payload"] = payload

    with pytest.raises(ProtocolError, match="not valid base64"):
        parse_message(json.dumps(data))


def test_deeply_nested_json_is_a_protocol_error_not_a_crash() -> None:
    for depth in (3000, 30000):  # under the size limit, and far over it
        with pytest.raises(ProtocolError):
            parse_message("[" * depth + "]" * depth)
    with pytest.raises(ProtocolError, match="nested too deeply"):
        parse_message('{"a":' * 1300 + "1" + "}" * 1300)


def test_limits_fit_what_twilio_really_sends() -> None:
    start = fixture("start")
    start["start"]["customParameters"] = {name: "x" * 100 for name in
                                          ("caller", "direction", "appointment", "attestation", "token")}
    assert len(json.dumps(start)) * 4 <= MAX_MESSAGE_BYTES  # a start frame with every parameter, 4x over
    assert isinstance(parse_message(json.dumps(start)), StreamStarted)
    data = fixture("media")
    data["media"]["payload"] = base64.b64encode(b"\xff" * 16000).decode()
    with pytest.raises(ProtocolError):
        parse_message(json.dumps(data))
    assert MAX_MEDIA_PAYLOAD_BYTES >= 160 * 5  # Twilio's 20 ms frame fits many times over


def test_media_payload_over_the_limit_is_rejected() -> None:
    data = fixture("media")
    data["media"]["payload"] = base64.b64encode(b"\xff" * (MAX_MEDIA_PAYLOAD_BYTES + 3)).decode()

    with pytest.raises(ProtocolError, match="media payload larger than"):
        parse_message(json.dumps(data))


def test_media_payload_at_the_limit_is_accepted() -> None:
    data = fixture("media")
    data["media"]["payload"] = base64.b64encode(b"\xff" * MAX_MEDIA_PAYLOAD_BYTES).decode()

    event = parse_message(json.dumps(data))

    assert isinstance(event, MediaReceived)
    assert len(event.payload) == MAX_MEDIA_PAYLOAD_BYTES


def test_start_without_media_format_is_rejected() -> None:
    data = fixture("start")
    del data["start"]["mediaFormat"]

    with pytest.raises(ProtocolError, match=r"missing start\.mediaFormat"):
        parse_message(json.dumps(data))


def test_start_with_non_string_custom_parameter_is_rejected() -> None:
    data = fixture("start")
    data["start"]["customParameters"]["retries"] = 3

    with pytest.raises(ProtocolError, match="customParameters must be an object of strings"):
        parse_message(json.dumps(data))


def test_start_whose_inner_stream_sid_disagrees_is_rejected() -> None:
    data = fixture("start")
    data["start"]["streamSid"] = "MZ00000000000000000000000000000000"

    with pytest.raises(ProtocolError, match="differs"):
        parse_message(json.dumps(data))


def test_start_without_custom_parameters_gives_an_empty_dict() -> None:
    data = fixture("start")
    del data["start"]["customParameters"]

    event = parse_message(json.dumps(data))

    assert isinstance(event, StreamStarted)
    assert event.custom_parameters == {}


def test_dtmf_that_is_not_a_key_is_rejected() -> None:
    data = fixture("dtmf")
    data["dtmf"]["digit"] = "12"

    with pytest.raises(ProtocolError, match="not a keypad key"):
        parse_message(json.dumps(data))


def test_stop_without_call_sid_is_rejected() -> None:
    data = fixture("stop")
    del data["stop"]["callSid"]

    with pytest.raises(ProtocolError, match=r"missing stop\.callSid"):
        parse_message(json.dumps(data))


def test_protocol_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="invalid JSON"):
        parse_message("{")


# --- building frames for Twilio -------------------------------------------------------------------


def test_media_message_carries_base64_mulaw_for_the_stream() -> None:
    audio = bytes(range(256))

    assert json.loads(media_message(STREAM_SID, audio)) == {
        "event": "media",
        "streamSid": STREAM_SID,
        "media": {"payload": base64.b64encode(audio).decode()},
    }


def test_mark_message_names_the_mark() -> None:
    assert json.loads(mark_message(STREAM_SID, "a1-0-1")) == {
        "event": "mark",
        "streamSid": STREAM_SID,
        "mark": {"name": "a1-0-1"},
    }


def test_clear_message_names_only_the_stream() -> None:
    assert json.loads(clear_message(STREAM_SID)) == {"event": "clear", "streamSid": STREAM_SID}


def test_builders_refuse_a_missing_stream_sid() -> None:
    with pytest.raises(ValueError, match="streamSid"):
        clear_message("")


def test_a_built_mark_round_trips_through_the_parser_once_twilio_adds_a_sequence_number() -> None:
    echoed = json.loads(mark_message(STREAM_SID, "a2-3-4")) | {"sequenceNumber": "9"}

    assert parse_message(json.dumps(echoed)) == MarkReceived(stream_sid=STREAM_SID, name="a2-3-4", sequence_number=9)


# --- ordering -------------------------------------------------------------------------------------


def recorded(*names: str) -> list[Any]:
    return [parse_message(frame(name)) for name in names]


def test_recorded_call_is_in_order() -> None:
    order = StreamOrder()

    reasons = [order.accept(event) for event in recorded("connected", "start", "media", "mark", "dtmf", "stop")]

    assert reasons == [None] * 6
    assert order.stream_sid == STREAM_SID
    assert order.stopped


def test_media_before_start_is_out_of_order() -> None:
    order = StreamOrder()
    order.accept(parse_message(frame("connected")))

    assert order.accept(parse_message(frame("media"))) == "MediaReceived before start"


def test_start_before_connected_is_out_of_order() -> None:
    assert StreamOrder().accept(parse_message(frame("start"))) == "StreamStarted before connected"


def test_duplicate_start_is_out_of_order() -> None:
    order = StreamOrder()
    for event in recorded("connected", "start"):
        order.accept(event)

    assert order.accept(parse_message(altered("start", sequenceNumber="2"))) == "duplicate start"


def test_duplicate_connected_is_out_of_order() -> None:
    order = StreamOrder()
    order.accept(parse_message(frame("connected")))

    assert order.accept(parse_message(frame("connected"))) == "duplicate connected"


def test_media_after_stop_is_out_of_order() -> None:
    order = StreamOrder()
    for event in recorded("connected", "start", "stop"):
        order.accept(event)

    assert order.accept(parse_message(altered("media", sequenceNumber="7"))) == "MediaReceived after the stream stopped"


def test_event_for_another_stream_is_rejected() -> None:
    order = StreamOrder()
    for event in recorded("connected", "start"):
        order.accept(event)

    reason = order.accept(parse_message(altered("media", streamSid="MZ00000000000000000000000000000000")))

    assert reason is not None
    assert "is not this stream's" in reason


def test_repeated_sequence_number_is_out_of_order() -> None:
    order = StreamOrder()
    for event in recorded("connected", "start", "media"):
        order.accept(event)

    assert order.accept(parse_message(frame("media"))) == "sequenceNumber 3 not after 3"


def test_a_dropped_event_does_not_change_the_stream_state() -> None:
    order = StreamOrder()
    for event in recorded("connected", "start"):
        order.accept(event)
    order.accept(parse_message(altered("stop", streamSid="MZ00000000000000000000000000000000")))

    assert not order.stopped
    assert order.accept(parse_message(frame("media"))) is None
