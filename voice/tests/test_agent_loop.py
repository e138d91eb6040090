"""The agent loop streams text, runs tool calls inline and feeds their results back to the model."""

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from voice.agent.loop import agent_reply
from voice.agent.tools import ToolContext, ToolError, ToolRegistry
from voice.providers.base import ChatEvent, ProviderError, TextDelta, ToolCallRequested


class ScriptedChat:
    """A ChatModel (our own interface) that plays back one scripted reply per request."""

    def __init__(self, replies: list[list[ChatEvent]]) -> None:
        self.replies = replies
        self.requests: list[tuple[list[dict[str, Any]], list[dict[str, Any]]]] = []

    async def stream(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> AsyncIterator[ChatEvent]:
        self.requests.append(([dict(m) for m in messages], tools))
        for event in self.replies.pop(0):
            yield event


def _registry() -> ToolRegistry:
    registry = ToolRegistry()

    @registry.register("whoami", "The caller's own phone number.", filler="One moment.")
    async def whoami(context: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(float(args.get("delay", 0)))
        return {"phone": context.caller_phone}

    @registry.register("picky", "Refuses.", {"type": "object", "properties": {"n": {"type": "integer"}}})
    async def picky(context: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
        raise ToolError("n must be positive")

    @registry.register("broken", "Crashes.")
    async def broken(context: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("secret internals")

    return registry


async def _collect(chat: ScriptedChat, history: list[dict[str, Any]], **kw: Any) -> str:
    context = ToolContext(call_sid="CA1", caller_phone="+15550102000")
    parts = [d async for d in agent_reply(chat, _registry(), {"role": "system", "content": "sys"}, history,
                                          context, **kw)]
    return "".join(parts)


async def test_tool_result_goes_back_to_the_model_and_its_answer_is_spoken() -> None:
    chat = ScriptedChat([
        [ToolCallRequested("call_1", "whoami", '{"delay": 0.1}')],
        [TextDelta("Your number ends "), TextDelta("in 2000.")],
    ])
    history: list[dict[str, Any]] = [{"role": "user", "content": "What number am I calling from?"}]
    fillers: list[str] = []

    async def on_tool(text: str) -> None:
        fillers.append(text)

    assert await _collect(chat, history, on_tool_start=on_tool, filler_after=0.05) == "Your number ends in 2000."
    assert fillers == ["One moment."]  # the tool took longer than filler_after
    assert history[1]["tool_calls"][0]["function"]["name"] == "whoami"
    assert json.loads(history[2]["content"]) == {"phone": "+15550102000"}
    second_request_messages = chat.requests[1][0]
    assert second_request_messages[-1]["role"] == "tool"


async def test_fast_tools_get_no_filler() -> None:
    chat = ScriptedChat([[ToolCallRequested("call_1", "whoami", "{}")], [TextDelta("Done.")]])
    fillers: list[str] = []

    async def on_tool(text: str) -> None:
        fillers.append(text)

    assert await _collect(chat, [], on_tool_start=on_tool, filler_after=0.5) == "Done."
    assert fillers == []


async def test_invalid_arguments_unknown_tools_and_crashes_become_short_errors() -> None:
    chat = ScriptedChat([
        [ToolCallRequested("c1", "picky", '{"n": -1}'), ToolCallRequested("c2", "nope", "{}"),
         ToolCallRequested("c3", "broken", "{}"), ToolCallRequested("c4", "whoami", "{not json")],
        [TextDelta("Sorry about that.")],
    ])
    history: list[dict[str, Any]] = []
    assert await _collect(chat, history) == "Sorry about that."
    errors = [json.loads(m["content"])["error"] for m in history if m["role"] == "tool"]
    assert errors[0] == "n must be positive"
    assert "no tool called nope" in errors[1]
    assert "secret internals" not in errors[2] and "transfer" in errors[2]
    assert "not valid JSON" in errors[3]


async def test_tool_steps_are_bounded_and_the_last_request_offers_no_tools() -> None:
    script: list[list[TextDelta | ToolCallRequested]] = [[ToolCallRequested(f"c{i}", "whoami", "{}")] for i in range(3)]
    chat = ScriptedChat([*script, [TextDelta("Done.")]])
    assert await _collect(chat, [], max_steps=3) == "Done."
    assert [bool(tools) for _, tools in chat.requests] == [True, True, True, False]


async def test_provider_failure_propagates_for_the_session_to_apologise() -> None:
    class Failing:
        async def stream(self, messages: Any, tools: Any) -> AsyncIterator[ChatEvent]:
            raise ProviderError("down")
            yield  # pragma: no cover

    with pytest.raises(ProviderError):
        await _collect(Failing(), [])  # type: ignore[arg-type]
