"""What the model answers to one caller turn of a call: the system prompt as of now, the call's facts as
data, the shop's tools acting for the verified caller, and the apology when the model fails. Used by the
phone session and by `manage.py talk` alike."""

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from crm.models import ServiceType
from scheduling.shop import shop_now
from voice.agent.loop import agent_reply
from voice.agent.prompt import system_prompt
from voice.agent.tool_registry import ToolRegistry, ToolRun
from voice.agent.verification import verification_needed
from voice.call_record import CallRecord
from voice.providers.base import ChatContext, ChatModel, ProviderError

logger = logging.getLogger(__name__)


def chat_context(record: CallRecord, last_reply_heard: bool = True) -> ChatContext:
    """The call's facts as data for the model; `notes` is the record's own dict, so it persists with it."""
    identity = record.identity
    return ChatContext(direction=identity.direction, customer=identity.customer, reminder=identity.reminder,
                       services=dict(ServiceType.choices), notes=record.model_notes,
                       last_reply_heard=last_reply_heard)


async def model_reply(*, chat: ChatModel, tools: ToolRegistry, record: CallRecord, apology: str,
                      last_reply_heard: bool = True, on_first_token: Callable[[], None] | None = None,
                      on_filler: Callable[[str], Awaitable[None]] | None = None,
                      sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> AsyncIterator[str]:
    """The reply's text as it streams, to the caller line last added to the record's history. Tool results
    go into the record (history, facts, outcome, intents); a model failure ends the text with `apology`."""
    customer = record.identity.customer
    scope = record.tool_scope()
    system = system_prompt(shop_now(), (customer or {}).get("name"), customer is not None,
                           reminder=record.identity.reminder, verify_first=verification_needed(scope))

    def note(run: ToolRun) -> None:
        record.note(outcome=run.outcome, intent=run.intent)

    first = True
    try:
        async for delta in agent_reply(chat, tools, system, record.history, scope,
                                       context=chat_context(record, last_reply_heard), on_tool_start=on_filler,
                                       on_tool_done=note, sleep=sleep):
            if first and on_first_token is not None:
                on_first_token()
            first = False
            yield delta
    except ProviderError:
        logger.warning("call %s: the language model failed", record.call_sid)
        yield (" " if not first else "") + apology
