"""The screens: a local web app (aiohttp, a websocket) the daemon serves inside its own loop.

A subscriber of the decision point's events, never a second decision path (docs/display.md).
This part serves the visitor screen of the daemon's lane; the kiosk and the staff console
come next.
"""

from gate.display.server import DisplayError, DisplayServer

__all__ = ["DisplayError", "DisplayServer"]
