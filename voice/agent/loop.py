"""One agent reply: stream the model's words, run the tools it asks for inline, feed results back."""

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from voice.agent.tools import ToolContext, ToolRegistry
from voice.providers.base import ChatModel, TextDelta, ToolCallRequested

logger = logging.getLogger(__name__)

MAX_TOOL_STEPS = 4  # model round trips per caller turn; past this the model must answer in words
FILLER_AFTER = 0.4  # seconds a tool may run before the caller hears "Let me check the calendar."


async def agent_reply(
    chat: ChatModel,
    tools: ToolRegistry,
    system: dict[str, Any],
    history: list[dict[str, Any]],
    context: ToolContext,
    *,
    on_tool_start: Callable[[str], Awaitable[None]] | None = None,
    max_steps: int = MAX_TOOL_STEPS,
    filler_after: float = FILLER_AFTER,
) -> AsyncIterator[str]:
    """Yield the reply's text as it streams. Tool calls and their results are appended to `history`
    as they happen; the spoken text itself is left for the caller to append (it may be cut short)."""
    for step in range(max_steps + 1):
        offer_tools = tools.schemas() if step < max_steps else []
        calls: list[ToolCallRequested] = []
        async for event in chat.stream([system, *history], offer_tools):
            if isinstance(event, TextDelta):
                if event.text:
                    yield event.text
            elif isinstance(event, ToolCallRequested):
                calls.append(event)
        if not calls:
            return
        history.append({
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": call.call_id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
                for call in calls
            ],
        })
        for call in calls:
            tool = tools.get(call.name)
            running = asyncio.ensure_future(tools.run(call.name, call.arguments, context))
            try:
                done, _ = await asyncio.wait([running], timeout=filler_after)
                if not done and on_tool_start is not None and tool is not None and tool.filler:
                    await on_tool_start(tool.filler)  # a slow tool: never leave the caller in dead air
                result = await running
            finally:
                running.cancel()
            logger.info("tool %s -> %s", call.name, _summary(result))
            history.append({"role": "tool", "tool_call_id": call.call_id, "content": result})


def _summary(result: str) -> str:
    """A log-safe hint of a tool result: its keys, never its values (they hold customer data)."""
    try:
        parsed = json.loads(result)
    except ValueError:
        return "unparsable"
    return ",".join(sorted(parsed)) if isinstance(parsed, dict) else type(parsed).__name__
