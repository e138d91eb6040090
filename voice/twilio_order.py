"""Twilio Media Streams ordering rules for one WebSocket: `connected`, then `start`, then the stream's
events with rising sequence numbers, nothing after `stop`. Pure: no I/O, no asyncio, no Django."""

from voice.twilio_protocol import Connected, StreamStarted, StreamStopped, TwilioEvent


class StreamOrder:
    """Checks one WebSocket's events arrive in Twilio's order; says why an event should be dropped."""

    def __init__(self) -> None:
        self._connected = False
        self._stream_sid: str | None = None
        self._stopped = False
        self._last_sequence = 0

    @property
    def stream_sid(self) -> str | None:
        """The stream's sid once `start` was accepted."""
        return self._stream_sid

    @property
    def stopped(self) -> bool:
        """True once `stop` was accepted; every later event is dropped."""
        return self._stopped

    def accept(self, event: TwilioEvent) -> str | None:
        """Record `event` if it fits the stream so far and return None; else return why to drop it."""
        if self._stopped:
            return f"{type(event).__name__} after the stream stopped"
        if isinstance(event, Connected):
            if self._connected:
                return "duplicate connected"
            self._connected = True
            return None
        if not self._connected:
            return f"{type(event).__name__} before connected"
        if isinstance(event, StreamStarted):
            if self._stream_sid is not None:
                return "duplicate start"
        elif self._stream_sid is None:
            return f"{type(event).__name__} before start"
        elif event.stream_sid != self._stream_sid:
            return f"streamSid {event.stream_sid!r} is not this stream's {self._stream_sid!r}"
        if event.sequence_number <= self._last_sequence:
            return f"sequenceNumber {event.sequence_number} not after {self._last_sequence}"
        self._last_sequence = event.sequence_number
        if isinstance(event, StreamStarted):
            self._stream_sid = event.stream_sid
        elif isinstance(event, StreamStopped):
            self._stopped = True
        return None
