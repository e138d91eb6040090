"""OpenAI chat model (streamed Chat Completions with tools), via openai 3.

Text is passed on as it streams so speech can start early; tool calls, which arrive as argument fragments
spread over many chunks, are assembled and handed over whole. Errors become ProviderError.
"""

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import openai
from openai import AsyncOpenAI, DefaultAsyncHttpxClient

from voice.providers.base import ChatContext, ChatEvent, ProviderError, TextDelta, ToolCallRequested
from voice.providers.tls import tls_context

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _PartialToolCall:
    call_id: str = ""
    name: str = ""
    arguments: str = ""


class OpenAIChat:
    """GPT-4o (or any Chat Completions model) with a short timeout and one retry: a caller is waiting."""

    def __init__(
        self,
        api_key: str,
        base_url: str | None = None,
        model: str = "gpt-4o",
        timeout: float = 8.0,
        max_retries: int = 1,
    ) -> None:
        self.model = model
        # `timeout` bounds connecting and each wait for bytes, so it is also the first-token deadline.
        self._client = AsyncOpenAI(api_key=api_key, base_url=base_url or None, timeout=timeout, max_retries=max_retries,
                                   http_client=DefaultAsyncHttpxClient(verify=tls_context()))

    async def stream(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]],
                     context: ChatContext | None = None) -> AsyncIterator[ChatEvent]:
        request: dict[str, Any] = {"model": self.model, "messages": messages, "stream": True}
        if tools:
            request["tools"] = tools
            request["tool_choice"] = "auto"
        try:
            stream = await self._client.chat.completions.create(**request)
            # `async with` closes the HTTP response however we leave: end, error, break or task cancellation.
            async with stream:
                calls: dict[int, _PartialToolCall] = {}
                async for chunk in stream:
                    if not chunk.choices:  # e.g. the usage chunk
                        continue
                    choice = chunk.choices[0]
                    delta = choice.delta
                    if delta.content:
                        yield TextDelta(delta.content)
                    elif delta.refusal:
                        yield TextDelta(delta.refusal)
                    for fragment in delta.tool_calls or ():
                        call = calls.setdefault(fragment.index, _PartialToolCall())
                        if fragment.id:
                            call.call_id = fragment.id
                        if fragment.function is not None:
                            if fragment.function.name:
                                call.name = fragment.function.name
                            if fragment.function.arguments:
                                call.arguments += fragment.function.arguments
                    if choice.finish_reason is not None:
                        for event in _finished(calls):
                            yield event
                        calls.clear()
                for event in _finished(calls):  # a stream that ended without a finish_reason
                    yield event
        except openai.APITimeoutError as exc:
            raise ProviderError(f"OpenAI timed out: {exc}") from exc
        except openai.APIConnectionError as exc:
            raise ProviderError(f"OpenAI unreachable: {exc}") from exc
        except openai.APIError as exc:
            raise ProviderError(f"OpenAI error: {exc}") from exc

    async def aclose(self) -> None:
        """Release pooled HTTP connections (optional; for clean shutdown)."""
        await self._client.close()


def _finished(calls: dict[int, _PartialToolCall]) -> list[ToolCallRequested]:
    """The assembled calls in the model's order; a call without an id or a name is a broken reply."""
    events = []
    for index in sorted(calls):
        call = calls[index]
        if not call.call_id or not call.name:
            raise ProviderError(f"OpenAI streamed an incomplete tool call at index {index}: {call}")
        events.append(ToolCallRequested(call_id=call.call_id, name=call.name, arguments=call.arguments))
    return events
