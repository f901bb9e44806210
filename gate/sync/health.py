"""What a device's health message says of its lanes, readers, clock and storage.

The sync process does not run the lanes: it asks their daemon, through the control socket it
already uses for remote commands (`{"op": "status"}`, which a local supervisor may ask), and
looks at the ledger's file system itself. A daemon that does not answer (stopped, starting) is
said as such: its lanes' modes are then unknown, never guessed.
"""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass, field
from typing import Any

from gate.config import GateConfig
from gate.daemon.control import request
from gate.errors import GateError

ASK_TIMEOUT_S = 1.0


@dataclass(frozen=True, slots=True)
class DeviceState:
    lanes: dict[str, str] = field(default_factory=dict)  # lane -> mode ("unknown": its daemon did not answer)
    readers: dict[str, bool] = field(default_factory=dict)  # reader -> up (running and connected)
    clock_trusted: bool | None = None
    storage_free: int | None = None  # bytes free on the ledger's file system
    storage_fault: str | None = None


async def device_state(config: GateConfig) -> DeviceState:
    """The device as its daemon and its disk say now (a second at most)."""
    free = await asyncio.to_thread(_free, config)
    # The lane this config's daemon runs (others of the ledger have daemons and configs of their own).
    lanes = dict.fromkeys([config.daemon.lane] if config.daemon.lane else config.lanes, "unknown")
    try:
        answer = await asyncio.to_thread(request, config.daemon.control_socket, {"op": "status"},
                                         timeout=ASK_TIMEOUT_S)  # fmt: skip
    except (GateError, OSError):
        return DeviceState(lanes=lanes, storage_free=free)
    status: dict[str, Any] = answer.get("status") or {}
    lane = status.get("lane") or {}
    if isinstance(lane.get("lane"), str) and isinstance(lane.get("mode"), str):
        lanes[lane["lane"]] = lane["mode"]
    readers = {str(r.get("id")): bool(r.get("running")) and r.get("connected") is not False
               for r in status.get("readers") or [] if isinstance(r, dict)}  # fmt: skip
    clock = status.get("clock") or {}
    trusted = clock.get("trusted")
    fault = lane.get("storage_fault")
    return DeviceState(lanes, readers, trusted if isinstance(trusted, bool) else None, free,
                       fault if isinstance(fault, str) else None)  # fmt: skip


def _free(config: GateConfig) -> int | None:
    try:
        return shutil.disk_usage(config.ledger.path.parent).free
    except OSError:
        return None
