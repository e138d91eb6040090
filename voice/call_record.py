"""One call's record: who is on the line, what was said, what the tools did and how the call ends.

It is the only per-call state. `SessionStore` is its only reader and writer in the cache (the live
session and the webhooks alike), so a new media stream for the same call (another worker, a
restart) carries on with everything the call had: history, facts collected by tools, intents.
"""

import logging
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from django.core.cache import cache
from django.utils import timezone

from crm.models import CallDirection, CallOutcome

logger = logging.getLogger(__name__)

RECORD_TTL = 60 * 60 * 2  # seconds in the cache; longer than any phone call


class CallIntent(StrEnum):
    """What the agent means to do once its current reply has been heard."""

    END = "end"  # say goodbye, then hang up
    TRANSFER = "transfer"  # hand the caller to the front desk
    MESSAGE = "message"  # no front desk: the caller's next turn is a message for a call back


class Offer(StrEnum):
    """A question the script asked that the caller's next turn answers (checked in code, not by the model)."""

    TRANSFER = "transfer"  # "Would you like me to transfer you to someone at the front desk?"
    MESSAGE = "message"  # "Would you like me to take a message so someone calls you back?"
    MESSAGE_WANTED = "message_wanted"  # "What would you like me to pass on?": the next turn is the message


MAX_MODEL_FAILURES = 2  # failed model turns in a row after which the call no longer asks the model


@dataclass(frozen=True, slots=True)
class CallIdentity:
    """Who and what this call is, as Twilio's verified webhook and `start` message told us."""

    call_sid: str
    stream_sid: str = ""
    caller: str | None = None
    direction: str = CallDirection.INBOUND
    customer: dict[str, Any] | None = None  # the caller's record when their number is known
    reminder: dict[str, Any] | None = None  # outbound reminder calls: the appointment the call is about
    attestation: str = ""  # the carrier's STIR/SHAKEN verdict (Twilio's `StirVerstat`), "" when none came


@dataclass(slots=True)
class CallFacts:
    """What the tools established during the call; kept across reconnects like the history."""

    customer_id: int | None = None
    booked_ids: list[int] = field(default_factory=list)
    idempotency_keys: list[str] = field(default_factory=list)
    changed_ids: list[int] = field(default_factory=list)  # appointments moved, cancelled or confirmed
    caller_verified: bool = False  # the caller proved who they are (or the call created their record)
    verification_attempts: int = 0  # answers to the security question checked so far


@dataclass(slots=True)
class ToolScope:
    """The narrow view of the call a tool gets: the verified caller and the facts tools collect.
    The caller's number comes from Twilio, never from the model."""

    call_sid: str
    caller_phone: str | None
    direction: str
    facts: CallFacts
    attestation: str = ""  # the caller number's STIR/SHAKEN verdict, as Twilio passed it on
    agent_said: str = ""  # the agent's last reply before the caller's latest turn, as far as the caller heard it
    caller_said: str = ""  # the caller's latest turn (words, or "[pressed 1]")

    @property
    def customer_id(self) -> int | None:
        return self.facts.customer_id

    @customer_id.setter
    def customer_id(self, value: int | None) -> None:
        self.facts.customer_id = value


@dataclass(slots=True)
class CallRecord:
    """Everything one call knows. Written to the cache after every turn."""

    identity: CallIdentity
    history: list[dict[str, Any]] = field(default_factory=list)  # OpenAI-format messages, no system prompt
    transcript: list[dict[str, Any]] = field(default_factory=list)
    latency: list[dict[str, Any]] = field(default_factory=list)
    facts: CallFacts = field(default_factory=CallFacts)
    outcome: CallOutcome | None = None
    intents: set[CallIntent] = field(default_factory=set)
    reconnects: int = 0  # media streams re-opened for this call after a drop (counted by the store)
    model_notes: dict[str, Any] = field(default_factory=dict)  # the chat model's own memory (offline brain)
    pending_offer: Offer | None = None  # the script's open question (a transfer or a message) the caller answers
    model_failures: int = 0  # model turns in a row that ended in the fallback (an error or over budget)

    @classmethod
    def new(cls, identity: CallIdentity) -> "CallRecord":
        customer_id = (identity.customer or {}).get("id")
        return cls(identity=identity, facts=CallFacts(customer_id=customer_id))

    @property
    def call_sid(self) -> str:
        return self.identity.call_sid

    @property
    def ended(self) -> bool:
        """The agent finished the call on purpose: a closed stream is not a drop to reconnect."""
        return CallIntent.END in self.intents

    @property
    def transfer(self) -> bool:
        return CallIntent.TRANSFER in self.intents

    @property
    def model_allowed(self) -> bool:
        """False once the model has failed MAX_MODEL_FAILURES turns in a row: the script answers from then on."""
        return self.model_failures < MAX_MODEL_FAILURES

    def tool_scope(self) -> ToolScope:
        """What the tools of this turn see: the verified caller, the facts, and the exchange the caller's
        latest turn answers."""
        agent_said, caller_said = self.last_exchange()
        return ToolScope(call_sid=self.identity.call_sid, caller_phone=self.identity.caller,
                         direction=self.identity.direction, facts=self.facts,
                         attestation=self.identity.attestation, agent_said=agent_said, caller_said=caller_said)

    def last_exchange(self) -> tuple[str, str]:
        """The agent's last reply before the caller's latest turn, as far as the caller heard it (a reply cut
        short is in the history only up to where the caller cut in), and that turn (its lines joined)."""
        said: list[str] = []
        for message in reversed(self.history):
            role, content = message.get("role"), message.get("content")
            if role == "user" and isinstance(content, str):
                said.insert(0, content)
                continue
            if said and role == "assistant" and isinstance(content, str) and content.strip():
                return content, " ".join(said)
            break  # the agent has the last word, or a tool step came between: no exchange to answer
        return "", " ".join(said)

    def note(self, *, outcome: CallOutcome | None = None, intent: CallIntent | None = None) -> None:
        """Take a tool's (or the script's) result: the latest outcome wins; a transfer also ends the call."""
        if outcome is not None and not (outcome == CallOutcome.BOOKING_FAILED and self.outcome is not None):
            self.outcome = CallOutcome(outcome)  # a failed attempt never hides what the call did
        if intent is CallIntent.MESSAGE:
            self.pending_offer = Offer.MESSAGE_WANTED  # settled in code (voice.fallback), not by the model
        elif intent is not None:
            self.intents.add(intent)
            if intent is CallIntent.TRANSFER:
                self.intents.add(CallIntent.END)
                self.outcome = CallOutcome.TRANSFERRED

    def add_turn(self, speaker: str, text: str, *, interrupted: bool = False) -> None:
        """One line of the transcript, stamped now."""
        turn: dict[str, Any] = {"speaker": speaker, "text": text, "at": timezone.now().isoformat()}
        if interrupted:
            turn["interrupted"] = True
        self.transcript.append(turn)

    def final_outcome(self) -> CallOutcome:
        """How the call ended, for the call log: what the tools did, else whether the caller spoke."""
        if self.outcome is not None:
            return self.outcome
        if any(turn["speaker"] == "caller" for turn in self.transcript):
            return CallOutcome.INFORMATION
        return CallOutcome.ABANDONED

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        del data["reconnects"]  # counted under its own key by the store, never saved with the record
        data["intents"] = sorted(str(intent) for intent in self.intents)
        data["outcome"] = None if self.outcome is None else str(self.outcome)
        data["pending_offer"] = None if self.pending_offer is None else str(self.pending_offer)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CallRecord":
        identity = CallIdentity(**{k: v for k, v in data["identity"].items() if k in CallIdentity.__dataclass_fields__})
        facts = CallFacts(**{k: v for k, v in data.get("facts", {}).items() if k in CallFacts.__dataclass_fields__})
        outcome = data.get("outcome")
        return cls(identity=identity, history=list(data.get("history", [])),
                   transcript=list(data.get("transcript", [])), latency=list(data.get("latency", [])), facts=facts,
                   outcome=CallOutcome(outcome) if outcome in CallOutcome.values else None,
                   intents={CallIntent(i) for i in data.get("intents", []) if i in CallIntent._value2member_map_},
                   model_notes=dict(data.get("model_notes", {})),
                   pending_offer=_offer(data.get("pending_offer")),
                   model_failures=int(data.get("model_failures", 0)))


def _offer(value: Any) -> Offer | None:
    return Offer(value) if isinstance(value, str) and value in Offer._value2member_map_ else None


def record_key(call_sid: str) -> str:
    return f"call-record:{call_sid}"


def reconnects_key(call_sid: str) -> str:
    return f"call-reconnects:{call_sid}"


class SessionStore:
    """Loads and saves `CallRecord`s in Django's cache (local memory or Redis): the only code that does.

    Best effort: the call's own memory is the record the session holds, the cache only lets a new stream
    or a webhook pick the call up. A cache that errors (Redis down) never raises into the call: a load
    finds nothing, a save is skipped, `failing` says so, and it is logged once per outage per store (one
    store per call), not per frame. The next operation that works ends the outage."""

    def __init__(self) -> None:
        self.failing = False  # the last cache operation failed: what a load returned is not to be trusted

    async def load(self, call_sid: str) -> CallRecord | None:
        try:
            found = await cache.aget_many([record_key(call_sid), reconnects_key(call_sid)])
        except Exception as exc:  # noqa: BLE001 - any cache failure: the call goes on without it
            self._failed(call_sid, "read", exc)
            return None
        self._worked(call_sid)
        return _decode(found.get(record_key(call_sid)), found.get(reconnects_key(call_sid)))

    async def save(self, record: CallRecord) -> None:
        try:
            await cache.aset(record_key(record.call_sid), record.to_dict(), RECORD_TTL)
        except Exception as exc:  # noqa: BLE001 - any cache failure: the call goes on without it
            self._failed(record.call_sid, "save", exc)
            return
        self._worked(record.call_sid)

    def load_sync(self, call_sid: str) -> CallRecord | None:
        """For the (synchronous) webhook views."""
        try:
            found = cache.get_many([record_key(call_sid), reconnects_key(call_sid)])
        except Exception as exc:  # noqa: BLE001 - any cache failure: the webhook answers without it
            self._failed(call_sid, "read", exc)
            return None
        self._worked(call_sid)
        return _decode(found.get(record_key(call_sid)), found.get(reconnects_key(call_sid)))

    def save_sync(self, record: CallRecord) -> None:
        try:
            cache.set(record_key(record.call_sid), record.to_dict(), RECORD_TTL)
        except Exception as exc:  # noqa: BLE001 - any cache failure: the webhook answers without it
            self._failed(record.call_sid, "save", exc)
            return
        self._worked(record.call_sid)

    def count_reconnect(self, call_sid: str) -> int:
        """One more media stream re-opened for this call; returns how many so far. Kept apart from the
        record, so a dropped stream's last save cannot undo the count. With the cache failing the count
        is unknown: 1 (and `failing` is set)."""
        key = reconnects_key(call_sid)
        try:
            if cache.add(key, 1, RECORD_TTL):
                count = 1
            else:
                try:
                    count = int(cache.incr(key))
                except ValueError:  # expired between add and incr
                    cache.set(key, 1, RECORD_TTL)
                    count = 1
        except Exception as exc:  # noqa: BLE001 - any cache failure: the webhook answers without it
            self._failed(call_sid, "count a reconnect of", exc)
            return 1
        self._worked(call_sid)
        return count

    def _failed(self, call_sid: str, what: str, exc: Exception) -> None:
        if not self.failing:
            logger.warning("call %s: could not %s the call record in the cache (%s: %s); going on without it",
                           call_sid, what, type(exc).__name__, exc)
        self.failing = True

    def _worked(self, call_sid: str) -> None:
        if self.failing:
            logger.warning("call %s: the cache works again", call_sid)
        self.failing = False


def _decode(data: Any, reconnects: Any) -> CallRecord | None:
    if not isinstance(data, dict) or "identity" not in data:
        return None
    record = CallRecord.from_dict(data)
    record.reconnects = int(reconnects or 0)
    return record
