"""How long a caller may wait on the model: a filler after a second of silence, the fallback past a budget.

The budget is enforced here, around the whole model request (the SDK's own timeout and retries run inside
it), on the clock the caller is given (`sleep`), so tests run it on virtual time.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings

from autoshop import metrics
from voice.providers.base import ProviderError

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ModelTimings:
    """Seconds: the filler after the caller finished, the first event of a model request, a gap after it."""

    filler_after: float = 1.0
    first_token: float = 5.0
    gap: float = 3.0

    @classmethod
    def from_settings(cls) -> "ModelTimings":
        return cls(filler_after=settings.MODEL_FILLER_AFTER_SECONDS,
                   first_token=settings.MODEL_FIRST_TOKEN_BUDGET_SECONDS, gap=settings.MODEL_STREAM_GAP_SECONDS)


async def finished_within(task: "asyncio.Future[Any]", seconds: float, sleep: Sleep) -> bool:
    """Wait for `task` at most `seconds`; True if it is done. If the wait itself is cancelled, `task` is
    cancelled too and waited for (a write tool inside it finishes first), then the cancellation goes on."""
    if task.done():
        return True
    timer = asyncio.ensure_future(sleep(seconds))
    try:
        await asyncio.wait([task, timer], return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()
        await asyncio.wait([task])
        raise
    finally:
        timer.cancel()
    return task.done()


async def within_budget(events: AsyncIterator[T], *, first: float, gap: float, sleep: Sleep) -> AsyncIterator[T]:
    """`events` as they come, or ProviderError when the first takes over `first` seconds or a later one over
    `gap` seconds; the model's request is then cancelled (its HTTP stream closed)."""
    iterator = aiter(events)
    limit, budget = first, "first_token"
    try:
        while True:
            step = asyncio.ensure_future(anext(iterator))
            if not await finished_within(step, limit, sleep):
                step.cancel()
                await asyncio.wait([step])
                metrics.model_timed_out(budget)
                raise ProviderError(f"the model sent nothing for {limit:g} s")
            try:
                event = step.result()
            except StopAsyncIteration:
                return
            yield event
            limit, budget = gap, "gap"
    finally:
        close = getattr(iterator, "aclose", None)
        if close is not None:
            await close()
