"""Deepgram listen messages (as deepgram-sdk 7 parses them) into our STT events, and where a result lies
in the socket's audio (for `voice.providers.replay`)."""

import logging

from voice.providers.base import SpeechStarted, STTEvent, TranscriptReceived, UtteranceEnded

logger = logging.getLogger("voice.providers.deepgram")


def result_span(message: object) -> tuple[float, float, bool] | None:
    """`(start, duration, is_final)` of a `Results` message, in seconds of the socket's audio; None otherwise."""
    if getattr(message, "type", None) != "Results":
        return None
    start = float(getattr(message, "start", 0) or 0)
    return start, float(getattr(message, "duration", 0) or 0), bool(getattr(message, "is_final", False))


def to_event(message: object) -> STTEvent | None:
    """Our event for one SDK message; None for what the call loop does not need (Metadata, unknown types)."""
    kind = getattr(message, "type", None)  # the SDK yields None for message types it does not know
    if kind == "Results":
        alternatives = message.channel.alternatives  # type: ignore[attr-defined]
        text = alternatives[0].transcript if alternatives else ""
        is_final = bool(message.is_final)  # type: ignore[attr-defined]
        speech_final = bool(message.speech_final)  # type: ignore[attr-defined]
        if not text and not speech_final:
            return None  # silence: Deepgram sends empty results while nobody talks
        return TranscriptReceived(text=text, is_final=is_final, speech_final=speech_final)
    if kind == "SpeechStarted":
        return SpeechStarted()
    if kind == "UtteranceEnd":
        return UtteranceEnded()
    if kind == "Error":
        logger.warning("Deepgram sent an error message: %s", message)
    return None
