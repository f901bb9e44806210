"""Lane events to whoever listens (the terminal view, the screens), without ever stalling the lane."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from gate.lane.model import EventKind, LaneEvent

SUBSCRIBER_QUEUE = 1000  # events a slow subscriber may lag behind before the oldest are dropped


class Broadcast:
    def __init__(self, lane_id: str) -> None:
        self._lane_id = lane_id
        self._queues: list[asyncio.Queue[LaneEvent]] = []

    def __bool__(self) -> bool:
        return bool(self._queues)

    def subscribe(self) -> asyncio.Queue[LaneEvent]:
        queue: asyncio.Queue[LaneEvent] = asyncio.Queue(SUBSCRIBER_QUEUE)
        self._queues.append(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[LaneEvent]) -> None:
        with contextlib.suppress(ValueError):
            self._queues.remove(queue)

    def emit(self, kind: EventKind, at: float, **fields: Any) -> None:
        if not self._queues:
            return  # nobody listens: build nothing (the read path stays cheap)
        event = LaneEvent(kind, self._lane_id, at, **fields)
        for queue in self._queues:
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()  # a slow subscriber loses the oldest, never stalls the lane
            queue.put_nowait(event)
