"""The demo's screens: the demo page, the visitor screen, the kiosk and the staff console, on loopback.

The same `DisplayServer` as a daemon's, with every lane of the demo behind its own command
path (`LaneControls`, the control socket's acts), and the demo page's hooks: its code panel
(a click is read by the demo's own read path, so the terminal shows it as well) and the demo
staff's PINs, printed on that page.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable

from gate.daemon.acts import LaneControls
from gate.demo.ledger import DEMO_STAFF, demo_panel
from gate.point import DecisionPoint
from gate.turnstile import Turnstile


async def serve_screens(
    stack: contextlib.AsyncExitStack, point: DecisionPoint, turnstile: Turnstile, port: int,
    scan: Callable[[str, str, str], Awaitable[None]],
) -> str:  # fmt: skip
    """The screens on `port` (any free port when it is taken); returns the demo page's address.

    `scan(code, lane, direction)`: what a click on the panel does.
    """
    # aiohttp loads only when the screens are served (a terminal-only demo never imports it).
    from gate.display import DisplayError, DisplayServer  # noqa: PLC0415
    from gate.display.screen import DemoCode, DemoHooks  # noqa: PLC0415

    lane = turnstile.lane_id
    kiosks = [k for k in point.lane_ids if point.is_kiosk(k)]
    controls = {lane: LaneControls(point, lane, turnstile), **{k: LaneControls(point, k, None) for k in kiosks}}
    codes = tuple(
        DemoCode(code, at, what, "exit" if direction == "exit" else "entry")
        for code, at, what, direction in demo_panel(lane, kiosks[0] if kiosks else lane)
        if at in controls
    )

    async def scanned(code: DemoCode) -> None:
        await scan(code.code, code.lane, code.direction)

    hooks = DemoHooks(codes=codes, staff=tuple((i, role, name, pin) for i, role, name, pin, _ in DEMO_STAFF),
                      scan=scanned)  # fmt: skip
    try:
        display = await stack.enter_async_context(
            DisplayServer(point=point, lane=lane, controls=controls, port=port, demo=hooks)
        )
    except DisplayError:  # the port is taken (another demo, say): any free one
        display = await stack.enter_async_context(
            DisplayServer(point=point, lane=lane, controls=controls, port=0, demo=hooks)
        )
    return display.url
