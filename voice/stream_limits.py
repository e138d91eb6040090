"""What one media stream may cost the worker: the close codes we end a stream with, and a budget of
protocol errors, counted per call and logged rate-limited (a flood of junk frames must not turn into a
flood of log lines that slows every other call on the worker). Pure: no I/O but the logger."""

import logging
import time
from collections.abc import Callable

from autoshop import metrics
from crm.phones import mask_phone

logger = logging.getLogger("voice.consumers")

# Daphne (`make run`) accepts only 1000 or 3000-4999 from the application once a WebSocket is accepted
# (1008 raises and the socket stays open), so our refusals are application codes, 4000 + the nearest HTTP status.
CLOSE_TOKEN_REFUSED = 4401  # `start` without a valid, unused stream token for this call and its parameters
CLOSE_PROTOCOL_ERRORS = 4408  # too many frames that were not Twilio Media Streams messages

MAX_PROTOCOL_ERRORS = 200  # per stream; Twilio itself sends none, a broken client a handful
SUMMARY_EVERY_SECONDS = 10.0


class ProtocolErrors:
    """One stream's dropped frames: the first logged at WARNING, then a count at most every
    `summary_every` seconds and at the end; `note` says when the stream has used up its budget."""

    def __init__(self, *, limit: int = MAX_PROTOCOL_ERRORS, summary_every: float = SUMMARY_EVERY_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.summary_every, self._clock = limit, summary_every, clock
        self.count = 0
        self.call_sid = ""  # known once `start` was accepted
        self.caller: str | None = None
        self._logged = 0  # errors already reported in a log line
        self._recorded = 0  # errors already added to the call log
        self._last_log_at = 0.0

    def note(self, reason: str) -> bool:
        """One more dropped frame; True once the stream has had `limit` of them and should be closed."""
        self.count += 1
        metrics.frame_dropped(reason)
        now = self._clock()
        if self.count == 1:
            logger.warning("%s: dropped a media-stream frame: %s", self._who(), reason)
            self._logged, self._last_log_at = 1, now
        elif now - self._last_log_at >= self.summary_every:
            self._summary(f"latest: {reason}")
            self._last_log_at = now
        return self.count >= self.limit

    def flush(self, why: str = "stream ended") -> None:
        """The stream is over: report errors not yet logged."""
        if self.count > self._logged:
            self._summary(why)

    def take_unrecorded(self) -> int:
        """The errors not yet added to the call log, now counted as added (each is recorded once)."""
        count, self._recorded = self.count - self._recorded, self.count
        return count

    def _summary(self, detail: str) -> None:
        logger.warning("%s: %d media-stream frame(s) dropped so far (%d since the last report; %s)",
                       self._who(), self.count, self.count - self._logged, detail)
        self._logged = self.count

    def _who(self) -> str:
        return f"call {self.call_sid} from {mask_phone(self.caller)}" if self.call_sid else "media stream"
