"""The agent loop streams text, runs tool calls inline and feeds their results back to the model."""

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from crm.models import CallOutcome
from voice.agent.loop import CUT_SHORT, NOT_RUN, agent_reply
from voice.agent.tool_registry import ToolError, ToolRegistry, ToolResult, ToolRun
from voice.call_record import CallFacts, ToolScope
from voice.providers.base import ChatContext, ChatEvent, ProviderError, TextDelta, ToolCallRequested
from voice.tests.virtual_time import VirtualTime


class ScriptedChat:
    """A ChatModel (our own interface) that plays back one scripted reply per request."""

    def __init__(self, replies: list[list[ChatEvent]]) -> None:
        self.replies = replies
        self.requests: list[tuple[list[dict[str, Any]], list[dict[str, Any]]]] = []

    async def stream(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]],
                     context: ChatContext | None = None) -> AsyncIterator[ChatEvent]:
        self.requests.append(([dict(m) for m in messages], tools))
        for event in self.replies.pop(0):
            yield event

    async def aclose(self) -> None:
        return None


TIME = VirtualTime()


def _registry(database: asyncio.Event | None = None) -> ToolRegistry:
    registry = ToolRegistry()

    @registry.register("whoami", "The caller's own phone number.", filler="One moment.")
    async def whoami(scope: ToolScope, args: dict[str, Any]) -> ToolResult:
        await TIME.sleep(float(args.get("delay", 0)))
        return ToolResult({"phone": scope.caller_phone})

    @registry.register("picky", "Refuses.", {"type": "object", "properties": {"n": {"type": "integer"}}})
    async def picky(scope: ToolScope, args: dict[str, Any]) -> ToolResult:
        raise ToolError("n must be positive")

    @registry.register("broken", "Crashes.")
    async def broken(scope: ToolScope, args: dict[str, Any]) -> ToolResult:
        raise RuntimeError("secret internals")

    @registry.register("book", "Books (waits for the database).", writes=True)
    async def book(scope: ToolScope, args: dict[str, Any]) -> ToolResult:
        if database is not None:
            await database.wait()
        scope.facts.booked_ids.append(41)
        return ToolResult({"booked": True, "appointment_id": 41}, outcome=CallOutcome.BOOKED)

    return registry


async def _collect(chat: ScriptedChat, history: list[dict[str, Any]], **kw: Any) -> str:
    scope = ToolScope(call_sid="CA1", caller_phone="+15550102000", direction="inbound", facts=CallFacts())
    parts = [d async for d in agent_reply(chat, kw.pop("registry", None) or _registry(),
                                          {"role": "system", "content": "sys"}, history, scope,
                                          sleep=TIME.sleep, **kw)]
    return "".join(parts)


def assert_every_tool_call_has_its_result(history: list[dict[str, Any]]) -> None:
    """OpenAI's rule: an assistant message with tool calls is followed by one tool message per call."""
    for index, message in enumerate(history):
        if message.get("tool_calls"):
            ids = [call["id"] for call in message["tool_calls"]]
            following = history[index + 1:index + 1 + len(ids)]
            assert [m.get("role") for m in following] == ["tool"] * len(ids), history
            assert [m["tool_call_id"] for m in following] == ids


async def test_tool_result_goes_back_to_the_model_and_its_answer_is_spoken() -> None:
    chat = ScriptedChat([
        [ToolCallRequested("call_1", "whoami", '{"delay": 0.1}')],
        [TextDelta("Your number ends "), TextDelta("in 2000.")],
    ])
    history: list[dict[str, Any]] = [{"role": "user", "content": "What number am I calling from?"}]
    fillers: list[str] = []

    async def on_tool(text: str) -> None:
        fillers.append(text)

    reply = asyncio.create_task(_collect(chat, history, on_tool_start=on_tool, filler_after=0.05))
    await TIME.run_until(reply.done, what="the reply")
    assert reply.result() == "Your number ends in 2000."
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
        async def stream(self, messages: Any, tools: Any, context: Any = None) -> AsyncIterator[ChatEvent]:
            raise ProviderError("down")
            yield  # pragma: no cover

    with pytest.raises(ProviderError):
        await _collect(Failing(), [])  # type: ignore[arg-type]


async def test_a_write_tool_the_caller_talks_over_is_finished_and_its_result_kept() -> None:
    """The caller barges in while the booking waits on a busy database: the booking completes, the
    history holds the call and its result, and the next model request is a valid one."""
    database = asyncio.Event()
    chat = ScriptedChat([[TextDelta("Booking that now. "), ToolCallRequested("c1", "book", "{}"),
                          ToolCallRequested("c2", "whoami", "{}")]])
    history: list[dict[str, Any]] = [{"role": "user", "content": "Book it"}]
    done: list[ToolRun] = []
    reply = asyncio.create_task(_collect(chat, history, registry=_registry(database), on_tool_done=done.append))
    await TIME.advance(1.0)
    reply.cancel()  # the caller cut in
    await TIME.advance(1.0)
    assert not reply.done()  # the write is still waiting for the database: it is not abandoned
    database.set()
    await TIME.run_until(reply.done, what="the cancelled reply to end")
    assert reply.cancelled()
    assert_every_tool_call_has_its_result(history)
    assert json.loads(history[2]["content"]) == {"booked": True, "appointment_id": 41}
    assert history[3]["content"] == NOT_RUN  # the read after it never started
    assert [run.outcome for run in done] == [CallOutcome.BOOKED]


async def test_a_read_tool_the_caller_talks_over_is_stopped_and_says_so() -> None:
    chat = ScriptedChat([[ToolCallRequested("c1", "whoami", '{"delay": 5}')]])
    history: list[dict[str, Any]] = []
    reply = asyncio.create_task(_collect(chat, history))
    await TIME.advance(1.0)
    reply.cancel()
    await TIME.run_until(reply.done, what="the cancelled reply to end")
    assert_every_tool_call_has_its_result(history)
    assert history[1]["content"] == CUT_SHORT
