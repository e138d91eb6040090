"""The call script: what the agent says without asking the model (greetings, fixed phrases) and
what each key of the keypad means.

Fixed phrases are the same words for every caller, so their audio is synthesised once per process
(`voice.phrases.PhraseCache`) and the apology is ready before anything can fail.
"""

from typing import Any

from django.conf import settings

from voice.agent.sentences import SentenceSplitter
from voice.agent.verification import number_trusted
from voice.call_record import CallIdentity
from voice.turns import KeyPressed

APOLOGY = ("I'm sorry, I'm having trouble on my end right now. "
           "Would you like me to transfer you to someone at the front desk?")
CANT_HEAR = "I'm sorry, I'm having trouble hearing you. Let me get you to someone at the front desk."
STILL_THERE = "Are you still there?"
GOODBYE_SILENT = "I'll let you go for now. Call us back any time. Goodbye."
RESUMED = "Sorry about that, the line dropped for a moment. I'm back with you."
REMINDER_GONE = ("I can't find that appointment on our books any more, so there's nothing to confirm. "
                 "Would you like to book a new time?")

def _sentences(text: str) -> list[str]:
    """The pieces a phrase is spoken in when it ends a model reply (the apology): cached one by one."""
    splitter = SentenceSplitter()
    return [*splitter.feed(text), *splitter.flush()]


# When the model is slow or down (voice/fallback.py): a filler while it thinks, then a way to a person.
FILLER = "One moment."
APOLOGY_MESSAGE = ("I'm sorry, I'm having trouble on my end right now. "
                   "Would you like me to take a message so someone calls you back?")
TRANSFERRING = "Of course. I'm connecting you to the front desk now."
ASK_MESSAGE = "Sure. What would you like me to pass on?"
MESSAGE_TAKEN = ("Thank you, I've passed that on, and someone from the shop will call you back at this number. "
                 "Goodbye.")
MESSAGE_NOT_SAVED = "I'm sorry, I couldn't save your message. Please call us back a little later. Goodbye."
NO_HELP_GOODBYE = "All right. I'm sorry I couldn't help today. Please call us back a little later. Goodbye."
# Speech failed and there is no front desk to hand over to: the shop calls back (a callback request is left).
CALLING_BACK = ("I'm sorry, I'm having trouble on my end right now. Someone from the shop will call you back "
                "at this number shortly. Goodbye.")
FIXED_PHRASES = frozenset({APOLOGY, CANT_HEAR, STILL_THERE, GOODBYE_SILENT, RESUMED, REMINDER_GONE, FILLER,
                           APOLOGY_MESSAGE, TRANSFERRING, ASK_MESSAGE, MESSAGE_TAKEN, MESSAGE_NOT_SAVED, CALLING_BACK,
                           NO_HELP_GOODBYE, *_sentences(APOLOGY), *_sentences(APOLOGY_MESSAGE)})

# What a key press means, said in words to the agent (which then uses its tools as for speech).
TALK_TO_A_PERSON = "I'd like to talk to a person."
REMINDER_KEYS = {"2": "I need to reschedule the appointment.", "3": "I want to cancel the appointment.",
                 "0": TALK_TO_A_PERSON}
YES_KEY_SAID = "Yes."  # keypad 1 answers the agent's read-back on any call (the booking tools accept it as a yes)
ANY_CALL_KEYS = {"0": TALK_TO_A_PERSON, "1": YES_KEY_SAID}
CONFIRM_KEY = "1"  # on a reminder call: confirmed by the script itself, no model round trip


def first_name(customer: dict[str, Any] | None) -> str:
    return ((customer or {}).get("name") or "").split(" ")[0]


def greeting(identity: CallIdentity) -> str:
    """The first words of a call: the reminder it is about, or a welcome (by name when the number is known
    and trusted: a spoofed caller ID must not learn whose number it is); when calls are recorded, the
    RECORDING_NOTICE follows its first sentence."""
    trusted = identity.reminder is not None or number_trusted(identity.direction, identity.attestation)
    name = first_name(identity.customer) if trusted else None
    shop = settings.SHOP_NAME
    notice = settings.RECORDING_NOTICE.strip() if settings.RECORD_CALLS else ""
    if identity.reminder is not None:
        r = identity.reminder
        first = (f"Hi{' ' + name if name else ''}, this is {shop} calling to remind you about your "
                 f"{r['service'].lower()} for your {r['vehicle']} on {r['when']}.")
        rest = "Can you still make it? You can also press 1 to confirm, 2 to reschedule, or 3 to cancel."
    else:
        first = f"Hi {name}, thanks for calling {shop}." if name else f"Thanks for calling {shop}."
        rest = "How can I help you today?"
    return " ".join(part for part in (first, notice, rest) if part)


def reminder_confirmed(reminder: dict[str, Any]) -> str:
    return f"Thank you, you're confirmed for {reminder.get('when')}. We'll see you then. Goodbye!"


def key_pressed(digit: str, identity: CallIdentity) -> KeyPressed | None:
    """The turn event for a key press, or None when the key means nothing on this call."""
    if identity.reminder is not None:
        if digit == CONFIRM_KEY:
            return KeyPressed(said=None)
        said = REMINDER_KEYS.get(digit)
    else:
        said = ANY_CALL_KEYS.get(digit)
    return None if said is None else KeyPressed(said=said)
