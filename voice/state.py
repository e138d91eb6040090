"""Per-call conversation state kept in the cache (`session:{call_sid}`), written after every turn,
so a new media stream for the same call (another worker, a restart) carries on the conversation."""

from dataclasses import asdict, dataclass, field
from typing import Any

from django.core.cache import cache

SESSION_TTL = 60 * 60 * 2  # seconds; longer than any phone call


def session_key(call_sid: str) -> str:
    return f"session:{call_sid}"


@dataclass(slots=True)
class ConversationState:
    """What the agent must remember across turns and reconnects."""

    history: list[dict[str, Any]] = field(default_factory=list)  # OpenAI-format messages, no system prompt
    transcript: list[dict[str, Any]] = field(default_factory=list)
    latency: list[dict[str, Any]] = field(default_factory=list)
    collected: dict[str, Any] = field(default_factory=dict)
    customer: dict[str, Any] | None = None
    outcome: str | None = None
    transfer: bool = False  # hand the caller to the front desk when the stream ends
    ended: bool = False  # the agent finished the call on purpose (no reconnect)
    reconnects: int = 0  # media streams re-opened for this call after a drop

    @classmethod
    def new(cls, customer: dict[str, Any] | None) -> "ConversationState":
        return cls(customer=customer)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ConversationState":
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**known)


class SessionStore:
    """Loads and saves `ConversationState` in Django's cache (local memory or Redis)."""

    async def load(self, call_sid: str) -> ConversationState | None:
        data = await cache.aget(session_key(call_sid))
        return ConversationState.from_dict(data) if isinstance(data, dict) else None

    async def save(self, call_sid: str, state: ConversationState) -> None:
        await cache.aset(session_key(call_sid), asdict(state), SESSION_TTL)
