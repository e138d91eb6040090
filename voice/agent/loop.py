"""One agent reply: stream the model's words, run the tools it asks for inline, feed results back.

A model step is one unit in the history: the assistant's tool calls are appended together with a
result for every one of them, always, even when the caller cuts in part-way (OpenAI refuses a
history with a tool call lacking its result, so one broken step would break every later turn).
A tool that writes shop data, once started, is finished and its result recorded before the
cancellation goes on: the model must never know less than the database.
"""

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from voice.agent.caller_data import SPEECH_LIMIT, clean
from voice.agent.deadlines import ModelTimings, within_budget
from voice.agent.tool_registry import ToolRegistry, ToolRun
from voice.call_record import ToolScope
from voice.providers.base import ChatContext, ChatModel, TextDelta, ToolCallRequested

logger = logging.getLogger(__name__)

MAX_TOOL_STEPS = 4  # model round trips per caller turn; past this the model must answer in words
FILLER_AFTER = 0.4  # seconds a tool may run before the caller hears "Let me check the calendar."
NOT_RUN = json.dumps({"error": "Not run: the caller spoke before it started."})
CUT_SHORT = json.dumps({"error": "Stopped: the caller spoke before it finished. Nothing was changed."})


async def agent_reply(
    chat: ChatModel,
    tools: ToolRegistry,
    system: dict[str, Any],
    history: list[dict[str, Any]],
    scope: ToolScope,
    *,
    context: ChatContext | None = None,
    on_tool_start: Callable[[str], Awaitable[None]] | None = None,
    on_tool_done: Callable[[ToolRun], None] | None = None,
    on_tool_running: Callable[[str | None], None] | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    max_steps: int = MAX_TOOL_STEPS,
    filler_after: float = FILLER_AFTER,
    budget: ModelTimings | None = None,
) -> AsyncIterator[str]:
    """Yield the reply's text as it streams. Each model step's tool calls and their results are appended
    to `history` as one unit; the spoken text is left for the caller to append (it may be cut short).
    With a `budget`, a model request that is silent too long is cut off as a ProviderError. `on_tool_running`
    hears the filler of each tool as it starts, and None when it is over."""
    for step in range(max_steps + 1):
        offer_tools = tools.schemas() if step < max_steps else []
        calls: list[ToolCallRequested] = []
        events = chat.stream([system, *map(_as_data, history)], offer_tools, context)
        if budget is not None:
            events = within_budget(events, first=budget.first_token, gap=budget.gap, sleep=sleep)
        async for event in events:
            if isinstance(event, TextDelta):
                if event.text:
                    yield event.text
            elif isinstance(event, ToolCallRequested):
                calls.append(event)
        if not calls:
            return
        results: dict[str, ToolRun] = {}
        try:
            for call in calls:
                tool = tools.get(call.name)
                if on_tool_running is not None:
                    on_tool_running(tool.filler if tool is not None else None)
                try:
                    await _run_tool(tools, call, scope, sleep, filler_after, on_tool_start, results)
                finally:
                    if on_tool_running is not None:
                        on_tool_running(None)
        finally:
            history.append({
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": call.call_id, "type": "function",
                                "function": {"name": call.name, "arguments": call.arguments}} for call in calls],
            })
            for call in calls:
                run = results.get(call.call_id)
                history.append({"role": "tool", "tool_call_id": call.call_id,
                                "content": NOT_RUN if run is None else run.content})
                if run is not None and on_tool_done is not None:
                    on_tool_done(run)


async def _run_tool(tools: ToolRegistry, call: ToolCallRequested, scope: ToolScope,
                    sleep: Callable[[float], Awaitable[None]], filler_after: float,
                    on_tool_start: Callable[[str], Awaitable[None]] | None, results: dict[str, ToolRun]) -> None:
    """Run one tool call, saying the tool's filler if it is slow; its result goes into `results`."""
    tool = tools.get(call.name)
    running = asyncio.ensure_future(tools.run(call.name, call.arguments, scope))
    try:
        timer = asyncio.ensure_future(sleep(filler_after))
        try:
            await asyncio.wait([running, timer], return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
        if not running.done() and on_tool_start is not None and tool is not None and tool.filler:
            await on_tool_start(tool.filler)  # a slow tool: never leave the caller in dead air
        results[call.call_id] = await asyncio.shield(running)
    except asyncio.CancelledError:
        if tool is None or not tool.writes:
            running.cancel()
            results[call.call_id] = ToolRun(CUT_SHORT)
            raise
        results[call.call_id] = await _finish(running)  # a write that started is finished, and the model told
        logger.info("tool %s finished after the caller cut in", call.name)
        raise
    logger.info("tool %s -> %s", call.name, _summary(results[call.call_id].content))


async def _finish(running: "asyncio.Future[ToolRun]") -> ToolRun:
    """Wait for a write tool to complete, whatever cancellations arrive meanwhile."""
    while True:
        try:
            return await asyncio.shield(running)
        except asyncio.CancelledError:
            if running.done():
                return running.result()


def _as_data(message: dict[str, Any]) -> dict[str, Any]:
    """The caller's words as the model gets them: one clean, capped line (the record keeps what was said)."""
    if message.get("role") != "user" or not isinstance(message.get("content"), str):
        return message
    return {**message, "content": clean(message["content"], SPEECH_LIMIT)}


def _summary(result: str) -> str:
    """A log-safe hint of a tool result: its keys, never its values (they hold customer data)."""
    try:
        parsed = json.loads(result)
    except ValueError:
        return "unparsable"
    return ",".join(sorted(parsed)) if isinstance(parsed, dict) else type(parsed).__name__
