"""Virtual time for tests of timing: a clock and a sleep that move only when the test advances them,
so a test of pacing or timeouts runs in milliseconds and gives the same answer every time."""

import asyncio
import heapq
from collections.abc import Callable


class VirtualTime:
    """`clock()` and `sleep()` for the code under test; `advance()` and `run_until()` for the test."""

    def __init__(self, start: float = 1000.0, real_pause: float = 0.0) -> None:
        self.now = start
        self.real_pause = real_pause  # real seconds to yield per step, for work in threads (the database)
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = 0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0 or self.now + seconds == self.now:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._seq += 1
        heapq.heappush(self._sleepers, (self.now + seconds, self._seq, future))
        await future

    async def settle(self) -> None:
        """Let every task that can run, run (a chain of hand-offs through queues and events)."""
        for _ in range(60):
            await asyncio.sleep(0)
        if self.real_pause:
            await asyncio.sleep(self.real_pause)

    async def advance(self, seconds: float) -> None:
        """Move time forward by `seconds`, waking each sleeper at its own instant, in order."""
        target = self.now + seconds
        await self.settle()
        while self._sleepers and self._sleepers[0][0] <= target:
            at, _, future = heapq.heappop(self._sleepers)
            self.now = max(self.now, at)
            if not future.done():
                future.set_result(None)
                await self.settle()
        self.now = target
        await self.settle()

    async def run_until(self, predicate: Callable[[], bool], limit: float = 30.0, step: float = 0.01,
                        what: str = "condition") -> None:
        """Advance in `step`s until `predicate()` holds; fail after `limit` virtual seconds."""
        end = self.now + limit
        await self.settle()
        while not predicate():
            if self.now >= end:
                raise AssertionError(f"{what} did not happen within {limit} virtual seconds")
            await self.advance(step)
