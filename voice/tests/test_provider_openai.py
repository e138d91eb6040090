"""OpenAIChat: the real openai SDK against a local Chat Completions server streaming SSE."""

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from voice.providers.base import ChatEvent, ProviderError, TextDelta, ToolCallRequested
from voice.providers.openai_chat import OpenAIChat
from voice.tests.peers.openai_server import ErrorReply, FakeOpenAI, HangReply, TextReply, ToolCall, ToolCallsReply

MESSAGES = [
    {"role": "system", "content": "You answer the phone at Bart's Automotive."},
    {"role": "user", "content": "Can I bring my car in Tuesday?"},
]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "check_availability",
            "description": "Free appointment slots on a day.",
            "parameters": {
                "type": "object",
                "properties": {"date": {"type": "string"}, "service": {"type": "string"}},
                "required": ["date", "service"],
                "additionalProperties": False,
            },
            "strict": True,
        },
    }
]


@pytest.fixture
async def ai() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


@pytest.fixture
async def chat(ai: FakeOpenAI) -> AsyncIterator[OpenAIChat]:
    model = OpenAIChat("sk-test", ai.url, timeout=2.0, max_retries=1)
    yield model
    await model.aclose()


async def collect(chat: OpenAIChat, tools: list[dict[str, Any]] | None = None) -> list[ChatEvent]:
    async with asyncio.timeout(3):
        return [event async for event in chat.stream(MESSAGES, TOOLS if tools is None else tools)]


async def test_text_streams_as_deltas_in_order(ai: FakeOpenAI, chat: OpenAIChat) -> None:
    ai.script(TextReply("Sure, Tuesday at nine works."))

    events = await collect(chat, tools=[])

    assert events == [
        TextDelta("Sure,"),
        TextDelta(" Tuesday"),
        TextDelta(" at"),
        TextDelta(" nine"),
        TextDelta(" works."),
    ]
    (request,) = ai.requests
    assert request.body["model"] == "gpt-4o"
    assert request.body["stream"] is True
    assert request.messages == MESSAGES
    assert "tools" not in request.body
    assert "tool_choice" not in request.body
    assert request.headers["Authorization"] == "Bearer sk-test"


async def test_tools_are_offered_with_tool_choice_auto(ai: FakeOpenAI, chat: OpenAIChat) -> None:
    ai.script(TextReply("Let me look."))

    await collect(chat)

    assert ai.requests[0].tools == TOOLS
    assert ai.requests[0].body["tool_choice"] == "auto"


async def test_a_tool_call_is_assembled_from_fragmented_argument_deltas(ai: FakeOpenAI, chat: OpenAIChat) -> None:
    arguments = {"date": "2026-11-24", "service": "oil_change"}
    ai.script(ToolCallsReply([ToolCall("check_availability", arguments, id="call_8fKq2Zr1mWbX3yT0")], fragment_size=4))

    events = await collect(chat)

    assert events == [
        ToolCallRequested(
            call_id="call_8fKq2Zr1mWbX3yT0",
            name="check_availability",
            arguments='{"date":"2026-11-24","service":"oil_change"}',
        )
    ]
    assert json.loads(events[0].arguments) == arguments  # type: ignore[union-attr]
    assert ai.requests[0].chunks_sent > 10  # the arguments really came in pieces


async def test_two_parallel_tool_calls_come_whole_in_index_order(ai: FakeOpenAI, chat: OpenAIChat) -> None:
    ai.script(
        ToolCallsReply(
            [
                ToolCall("check_availability", {"date": "2026-11-24", "service": "oil_change"}, id="call_a"),
                ToolCall("customer_lookup", {"phone": "+15555550123"}, id="call_b"),
            ],
            fragment_size=5,
        )
    )

    events = await collect(chat)

    assert events == [
        ToolCallRequested("call_a", "check_availability", '{"date":"2026-11-24","service":"oil_change"}'),
        ToolCallRequested("call_b", "customer_lookup", '{"phone":"+15555550123"}'),
    ]


async def test_text_before_a_tool_call_streams_first_and_the_call_follows(ai: FakeOpenAI, chat: OpenAIChat) -> None:
    ai.script(ToolCallsReply([ToolCall("check_availability", {"date": "2026-11-24"}, id="call_c")], text="One moment."))

    events = await collect(chat)

    assert events == [
        TextDelta("One"),
        TextDelta(" moment."),
        ToolCallRequested("call_c", "check_availability", '{"date":"2026-11-24"}'),
    ]


async def test_a_server_error_is_retried_and_then_the_reply_streams(ai: FakeOpenAI, chat: OpenAIChat) -> None:
    ai.script(ErrorReply(500), TextReply("Hello again."))

    events = await collect(chat)

    assert events == [TextDelta("Hello"), TextDelta(" again.")]
    assert [r.headers["x-stainless-retry-count"] for r in ai.requests] == ["0", "1"]


async def test_a_server_error_with_no_retries_left_is_a_provider_error(ai: FakeOpenAI) -> None:
    ai.script(ErrorReply(500), TextReply("never heard"))
    chat = OpenAIChat("sk-test", ai.url, max_retries=0)
    try:
        with pytest.raises(ProviderError, match="500"):
            await collect(chat)
    finally:
        await chat.aclose()

    assert len(ai.requests) == 1


async def test_a_bad_api_key_is_a_provider_error(ai: FakeOpenAI) -> None:
    chat = OpenAIChat("sk-wrong", ai.url)
    try:
        with pytest.raises(ProviderError, match="401"):
            await collect(chat)
    finally:
        await chat.aclose()


async def test_an_unanswered_request_times_out_quickly_as_a_provider_error(ai: FakeOpenAI) -> None:
    ai.script(HangReply(seconds=5))
    chat = OpenAIChat("sk-test", ai.url, timeout=0.3, max_retries=0)
    started = time.monotonic()
    try:
        with pytest.raises(ProviderError, match="timed out"):
            await collect(chat)
    finally:
        await chat.aclose()

    assert time.monotonic() - started < 1.0


async def test_a_stream_that_stalls_before_the_first_token_times_out_as_a_provider_error(ai: FakeOpenAI) -> None:
    ai.script(TextReply("too late", first_token_delay=5))
    chat = OpenAIChat("sk-test", ai.url, timeout=0.3, max_retries=0)
    started = time.monotonic()
    try:
        with pytest.raises(ProviderError, match="timed out"):
            await collect(chat)
    finally:
        await chat.aclose()

    assert time.monotonic() - started < 1.0


async def test_cancelling_the_consumer_closes_the_http_stream_promptly(ai: FakeOpenAI, chat: OpenAIChat) -> None:
    ai.script(TextReply("Well, let me tell you everything about brake pads and rotors today.", tokens_per_second=20))
    first = asyncio.Event()

    async def speak() -> None:
        async for _ in chat.stream(MESSAGES, TOOLS):
            first.set()

    task = asyncio.create_task(speak())
    await asyncio.wait_for(first.wait(), 2)
    task.cancel()
    cancelled_at = time.monotonic()
    with pytest.raises(asyncio.CancelledError):
        await task
    await ai.wait_for_disconnect(0, within=1.0)

    assert time.monotonic() - cancelled_at < 0.5
    assert not ai.requests[0].completed
