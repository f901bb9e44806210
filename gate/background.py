"""A part's own background tasks, named, in one TaskGroup that never wraps its owner's exceptions.

A part (the decision point, the turnstile) that is an async context manager runs a few
long-lived tasks of its own. Entering a TaskGroup for them inside the part's `__aenter__`
would hand the TaskGroup every exception raised in the part's `async with` body, and the
caller would get it back wrapped in an ExceptionGroup. Here the body's exception passes
through unchanged; a failing task still surfaces as the TaskGroup says (and cancels its owner).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, Self


class Background:
    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self._group = asyncio.TaskGroup()
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Self:
        await self._group.__aenter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self._group.__aexit__(None, None, None)

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = self._group.create_task(coro, name=f"{self._prefix}-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
