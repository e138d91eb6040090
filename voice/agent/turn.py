"""What the model answers to one caller turn of a call: the system prompt as of now, the call's facts as
data, the shop's tools acting for the verified caller, and the apology when the model fails. Used by the
phone session and by `manage.py talk` alike."""

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from autoshop import metrics
from crm.models import ServiceType
from scheduling.shop import shop_now
from voice.agent.deadlines import ModelTimings, finished_within
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
                       name_private=name_private(record), services=dict(ServiceType.choices),
                       notes=record.model_notes, last_reply_heard=last_reply_heard)


def name_private(record: CallRecord) -> bool:
    """The caller's name on record stays unsaid: their number is not trusted and they have not answered the
    security question yet (a reminder call was placed to the customer's own number)."""
    identity = record.identity
    return identity.customer is not None and identity.reminder is None and verification_needed(record.tool_scope())


async def model_reply(*, chat: ChatModel, tools: ToolRegistry, record: CallRecord, apology: str | Callable[[], str],
                      last_reply_heard: bool = True, on_first_token: Callable[[], None] | None = None,
                      on_filler: Callable[[str], Awaitable[None]] | None = None,
                      sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                      timings: ModelTimings | None = None, filler: str | None = None,
                      waited: float = 0.0) -> AsyncIterator[str]:
    """The reply's text as it streams, to the caller line last added to the record's history. Tool results
    go into the record (history, facts, outcome, intents); a model failure (an error, or silence past the
    `timings` budget) ends the text with `apology` and counts on the record as a failed model turn.
    With `timings` and a `filler`, `on_filler` says the filler once if no word has come `filler_after`
    seconds after the caller finished, of which `waited` had passed before this call (a slow transcript;
    a slow tool's own filler counts: the caller never hears two)."""
    customer = record.identity.customer
    scope = record.tool_scope()
    private = name_private(record)
    system = system_prompt(shop_now(), None if private else (customer or {}).get("name"), customer is not None,
                           reminder=record.identity.reminder, verify_first=verification_needed(scope),
                           name_private=private)
    filled, tool_filler = False, None

    def note(run: ToolRun) -> None:
        record.note(outcome=run.outcome, intent=run.intent)

    def tool_running(filler: str | None) -> None:
        nonlocal tool_filler
        tool_filler = filler

    async def say_once(text: str) -> None:
        nonlocal filled
        if not filled and on_filler is not None:
            filled = True
            metrics.filler_said()
            await on_filler(tool_filler or text)  # while a tool runs, its own words ("Let me check...")

    first, last = True, ""
    words = agent_reply(chat, tools, system, record.history, scope, context=chat_context(record, last_reply_heard),
                        on_tool_start=say_once, on_tool_done=note, on_tool_running=tool_running, sleep=sleep,
                        budget=timings)
    try:
        async for delta in _with_filler(words, timings, filler, say_once, sleep, waited):
            if first and on_first_token is not None:
                on_first_token()
            first, last = False, delta
            yield delta
    except ProviderError as exc:
        record.model_failures += 1
        metrics.provider_failed("llm", chat, fallback="apology")
        logger.warning("call %s: the language model failed (%d in a row): %s", record.call_sid,
                       record.model_failures, exc)
        yield (" " if last and not last[-1].isspace() else "") + (apology() if callable(apology) else apology)
        return
    record.model_failures = 0


async def _with_filler(words: AsyncIterator[str], timings: ModelTimings | None, filler: str | None,
                       say: Callable[[str], Awaitable[None]],
                       sleep: Callable[[float], Awaitable[None]], waited: float) -> AsyncIterator[str]:
    """`words` as they come; if the first is still missing `timings.filler_after` seconds after the caller
    finished (`waited` of them already gone), `say(filler)`."""
    if timings is not None and filler is not None:
        pending = asyncio.ensure_future(anext(words))
        if not await finished_within(pending, max(timings.filler_after - waited, 0.0), sleep):
            await say(filler)  # the model is slow: never leave the caller in dead air
        try:
            yield await pending
        except StopAsyncIteration:
            return
    async for delta in words:
        yield delta
