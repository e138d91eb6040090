"""The way out when the model fails: the apology offers the front desk (or, with none, to take a message),
the offer is a pending question on the call record, and the caller's answer to it is read in code, never
by the broken model. After MAX_MODEL_FAILURES failed model turns in a row, every turn gets the offer.

Pure decisions on the record (no I/O); the session (and `manage.py talk`) say the words and save the
message with `callback_request_create`.
"""

import re
from dataclasses import dataclass

from django.conf import settings

from autoshop import metrics
from crm.models import CallOutcome
from voice import call_script as script
from voice.agent.confirmation import NO, said_yes
from voice.call_record import CallIntent, CallRecord, Offer

# Asking for a person counts as a yes to the offer (keypad 0 says "I'd like to talk to a person.").
WANTS_PERSON = re.compile(r"\b(person|human|someone|somebody|front desk|reception|operator|representative|agent)\b")


@dataclass(frozen=True, slots=True)
class Scripted:
    """What the script answers to a caller's turn instead of the model; `message` is a callback request to
    save (the caller's words) before the answer is spoken."""

    text: str
    message: str | None = None


def offer(record: CallRecord) -> str:
    """The apology with a way to a person: the front desk if there is one, else a message. The offer is now
    pending on the record, so the caller's yes is answered by the script."""
    if settings.FRONT_DESK_NUMBER:
        record.pending_offer = Offer.TRANSFER
        return script.APOLOGY
    record.pending_offer = Offer.MESSAGE
    return script.APOLOGY_MESSAGE


def answer(record: CallRecord, said: str) -> Scripted | None:
    """The script's answer to the caller's turn `said`, or None when the model should answer it. Any pending
    offer is settled here: a yes (or keypad 0) acts on it, anything else clears it."""
    pending, record.pending_offer = record.pending_offer, None
    if pending is Offer.MESSAGE_WANTED:
        record.note(outcome=CallOutcome.CALLBACK, intent=CallIntent.END)
        return Scripted(script.MESSAGE_TAKEN, message=said)
    if pending is not None and accepted(said):
        if pending is Offer.TRANSFER and settings.FRONT_DESK_NUMBER:
            record.note(intent=CallIntent.TRANSFER)
            return Scripted(script.TRANSFERRING)
        record.pending_offer = Offer.MESSAGE_WANTED  # a message offer (or no front desk to transfer to any more)
        return Scripted(script.ASK_MESSAGE)
    if record.model_allowed:
        return None
    if pending is not None and declined(said):
        record.note(intent=CallIntent.END)
        return Scripted(script.NO_HELP_GOODBYE)
    return Scripted(offer(record))


STT_LOST = "(left by the agent) Speech recognition failed during the call: the caller could not be heard."
TTS_LOST = "(left by the agent) The agent's voice failed during the call."


def speech_apology(record: CallRecord) -> str:
    """What is played, pre-rendered, when text-to-speech fails: the offer of the front desk, or, with none,
    the promise of a call back (which `speech_lost` then leaves as a callback request)."""
    return script.APOLOGY if settings.FRONT_DESK_NUMBER or not record.identity.caller else script.CALLING_BACK


def speech_lost(record: CallRecord, why: str) -> Scripted:
    """Speech-to-text or text-to-speech failed: hand the caller to the front desk, or, with none and their
    number known, end the call leaving a callback request (`message`) so a person still calls them."""
    role = "stt" if why == STT_LOST else "tts"
    if settings.FRONT_DESK_NUMBER or not record.identity.caller:
        metrics.fell_back(role, "front_desk")
        record.note(intent=CallIntent.TRANSFER)
        return Scripted(script.CANT_HEAR)
    metrics.fell_back(role, "callback")
    record.note(outcome=CallOutcome.CALLBACK, intent=CallIntent.END)
    return Scripted(script.CALLING_BACK, message=why)


def accepted(said: str) -> bool:
    """A yes to the offer: "yes", "sure", keypad 1, or asking for a person (keypad 0)."""
    return said_yes(said) or bool(WANTS_PERSON.search(said.lower()) and not declined(said))


def declined(said: str) -> bool:
    """A no: "no", "not now", "don't"."""
    return bool(NO.search(f" {said.lower()} "))


def message_saved_failed(record: CallRecord) -> str:
    """The callback request could not be saved: say so rather than promise a call back."""
    record.note(outcome=CallOutcome.FAILED, intent=CallIntent.END)
    return script.MESSAGE_NOT_SAVED
