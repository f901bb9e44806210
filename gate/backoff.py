"""Capped exponential backoff for anything that reconnects (readers, cameras, the broker)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Backoff:
    """Delays of initial, 2x, 4x ... up to `cap` seconds; `reset()` after a success."""

    initial: float = 0.2
    cap: float = 5.0
    _next: float = 0.0

    def delay(self) -> float:
        self._next = self.initial if self._next == 0.0 else min(self.cap, self._next * 2)
        return self._next

    def reset(self) -> None:
        self._next = 0.0
