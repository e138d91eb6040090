"""Codec for Twilio Media Streams: parse Twilio's JSON text frames, build the ones we send back.

Pure: no I/O, no asyncio, no Django. Shapes follow twilio.com/docs/voice/media-streams/websocket-messages;
Twilio writes `sequenceNumber`, `chunk` and `timestamp` as decimal strings.
"""

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MAX_MESSAGE_BYTES = 8192
"""Largest text frame we parse, checked before parsing. Twilio's largest frame is `start`: well under 2 KB
with our five parameters; a 20 ms media frame is 300-400 bytes. 8 KB is 4x the first and far below the
size at which parsing one frame costs the worker anything."""

MAX_MEDIA_PAYLOAD_BYTES = 1600
"""Largest decoded media payload we accept: 200 ms of mu-law 8 kHz, 10x what Twilio sends (160 bytes
every 20 ms). A 16 KB payload is no phone audio."""

_MAX_PAYLOAD_BASE64_CHARS = 4 * ((MAX_MEDIA_PAYLOAD_BYTES + 2) // 3)
_DTMF_DIGITS = frozenset("0123456789*#ABCD")


class ProtocolError(ValueError):
    """A frame that is not a well-formed Twilio Media Streams message; the reason is the message."""


# --- messages Twilio -> server --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Connected:
    """The WebSocket is open; Twilio's first message."""

    protocol: str
    version: str


@dataclass(frozen=True, slots=True)
class MediaFormat:
    """Audio format of the stream (always mu-law, 8000 Hz, mono for phone calls)."""

    encoding: str
    sample_rate: int
    channels: int


@dataclass(frozen=True, slots=True)
class StreamStarted:
    """The stream began: which call it is, its `<Parameter>`s and its audio format. Sent once."""

    stream_sid: str
    call_sid: str
    account_sid: str
    tracks: tuple[str, ...]
    custom_parameters: dict[str, str]
    media_format: MediaFormat
    sequence_number: int


@dataclass(frozen=True, slots=True)
class MediaReceived:
    """A chunk of caller audio (mu-law bytes, already base64-decoded)."""

    stream_sid: str
    payload: bytes
    timestamp_ms: int
    chunk: int
    sequence_number: int
    track: str


@dataclass(frozen=True, slots=True)
class MarkReceived:
    """Twilio echoed a mark: the audio sent before it has played (or was dropped by a `clear`)."""

    stream_sid: str
    name: str
    sequence_number: int


@dataclass(frozen=True, slots=True)
class DtmfReceived:
    """The caller pressed a key."""

    stream_sid: str
    digit: str
    sequence_number: int


@dataclass(frozen=True, slots=True)
class StreamStopped:
    """The stream ended (the call hung up or was redirected); Twilio's last message."""

    stream_sid: str
    call_sid: str
    sequence_number: int


TwilioEvent = Connected | StreamStarted | MediaReceived | MarkReceived | DtmfReceived | StreamStopped


# --- parsing --------------------------------------------------------------------------------------


def parse_message(text: str | bytes) -> TwilioEvent:
    """Parse one WebSocket frame from Twilio; raise ProtocolError saying why a frame is unusable."""
    if not isinstance(text, str):
        raise ProtocolError("binary frame: Twilio sends JSON text frames only")
    if len(text) > MAX_MESSAGE_BYTES or len(text.encode("utf-8")) > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"frame larger than {MAX_MESSAGE_BYTES} bytes")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ProtocolError(f"invalid JSON: {exc}") from exc
    except RecursionError as exc:  # "[[[[..." nested deeper than the interpreter's stack allows
        raise ProtocolError("JSON nested too deeply") from exc
    if not isinstance(data, dict):
        raise ProtocolError(f"JSON {type(data).__name__} where an object was expected")
    event = _str(data, "event")
    parser = _PARSERS.get(event)
    if parser is None:
        raise ProtocolError(f"unknown event {event!r}")
    return parser(data)


def _parse_connected(data: dict[str, Any]) -> Connected:
    return Connected(protocol=_str(data, "protocol"), version=_str(data, "version"))


def _parse_start(data: dict[str, Any]) -> StreamStarted:
    start = _obj(data, "start")
    stream_sid = _str(data, "streamSid")
    if "streamSid" in start and _str(start, "streamSid", "start.") != stream_sid:
        raise ProtocolError("start.streamSid differs from streamSid")
    tracks = start.get("tracks", [])
    if not isinstance(tracks, list) or not all(isinstance(track, str) for track in tracks):
        raise ProtocolError("start.tracks must be a list of strings")
    params = start.get("customParameters", {})
    if not isinstance(params, dict) or not all(isinstance(value, str) for value in params.values()):
        raise ProtocolError("start.customParameters must be an object of strings")
    media_format = _obj(start, "mediaFormat", "start.")
    return StreamStarted(
        stream_sid=stream_sid,
        call_sid=_str(start, "callSid", "start."),
        account_sid=_str(start, "accountSid", "start."),
        tracks=tuple(tracks),
        custom_parameters=dict(params),
        media_format=MediaFormat(
            encoding=_str(media_format, "encoding", "start.mediaFormat."),
            sample_rate=_int(media_format, "sampleRate", "start.mediaFormat."),
            channels=_int(media_format, "channels", "start.mediaFormat."),
        ),
        sequence_number=_int(data, "sequenceNumber"),
    )


def _parse_media(data: dict[str, Any]) -> MediaReceived:
    media = _obj(data, "media")
    encoded = _str(media, "payload", "media.")
    if len(encoded) > _MAX_PAYLOAD_BASE64_CHARS:
        raise ProtocolError(f"media payload larger than {MAX_MEDIA_PAYLOAD_BYTES} bytes")
    try:
        payload = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProtocolError(f"media.payload is not valid base64: {exc}") from exc
    return MediaReceived(
        stream_sid=_str(data, "streamSid"),
        payload=payload,
        timestamp_ms=_int(media, "timestamp", "media."),
        chunk=_int(media, "chunk", "media."),
        sequence_number=_int(data, "sequenceNumber"),
        track=_str(media, "track", "media.") if "track" in media else "inbound",
    )


def _parse_mark(data: dict[str, Any]) -> MarkReceived:
    mark = _obj(data, "mark")
    return MarkReceived(
        stream_sid=_str(data, "streamSid"),
        name=_str(mark, "name", "mark."),
        sequence_number=_int(data, "sequenceNumber"),
    )


def _parse_dtmf(data: dict[str, Any]) -> DtmfReceived:
    dtmf = _obj(data, "dtmf")
    digit = _str(dtmf, "digit", "dtmf.")
    if digit not in _DTMF_DIGITS:
        raise ProtocolError(f"dtmf.digit {digit!r} is not a keypad key")
    return DtmfReceived(stream_sid=_str(data, "streamSid"), digit=digit, sequence_number=_int(data, "sequenceNumber"))


def _parse_stop(data: dict[str, Any]) -> StreamStopped:
    stop = _obj(data, "stop")
    return StreamStopped(
        stream_sid=_str(data, "streamSid"),
        call_sid=_str(stop, "callSid", "stop."),
        sequence_number=_int(data, "sequenceNumber"),
    )


_PARSERS: dict[str, Callable[[dict[str, Any]], TwilioEvent]] = {
    "connected": _parse_connected,
    "start": _parse_start,
    "media": _parse_media,
    "mark": _parse_mark,
    "dtmf": _parse_dtmf,
    "stop": _parse_stop,
}


def _obj(data: dict[str, Any], key: str, where: str = "") -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise ProtocolError(f"{where}{key} must be an object" if key in data else f"missing {where}{key}")
    return value


def _str(data: dict[str, Any], key: str, where: str = "") -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise ProtocolError(f"{where}{key} must be a non-empty string" if key in data else f"missing {where}{key}")
    return value


def _int(data: dict[str, Any], key: str, where: str = "") -> int:
    """A non-negative integer, written by Twilio as a decimal string (or, in `mediaFormat`, a number)."""
    value = data.get(key)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.isascii() and value.isdecimal() and len(value) <= 18:
        return int(value)
    raise ProtocolError(f"{where}{key} must be a non-negative integer" if key in data else f"missing {where}{key}")


# --- messages server -> Twilio --------------------------------------------------------------------


def media_message(stream_sid: str, mulaw: bytes) -> str:
    """A `media` frame that queues mu-law 8 kHz audio (no header) for the caller to hear."""
    payload = base64.b64encode(mulaw).decode("ascii")
    return _dump({"event": "media", "streamSid": _sid(stream_sid), "media": {"payload": payload}})


def mark_message(stream_sid: str, name: str) -> str:
    """A `mark` frame; Twilio echoes it once the audio queued before it has played."""
    if not name:
        raise ValueError("a mark needs a name")
    return _dump({"event": "mark", "streamSid": _sid(stream_sid), "mark": {"name": name}})


def clear_message(stream_sid: str) -> str:
    """A `clear` frame: Twilio drops its buffered, not yet played audio and echoes the pending marks."""
    return _dump({"event": "clear", "streamSid": _sid(stream_sid)})


def _sid(stream_sid: str) -> str:
    if not stream_sid:
        raise ValueError("a streamSid is required")
    return stream_sid


def _dump(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))
