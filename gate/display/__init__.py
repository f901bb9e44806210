"""The screens: a local web app (aiohttp, a websocket) the daemon serves inside its own loop.

A subscriber of the decision point's events, never a second decision path (docs/display.md):
what a screen does goes through the daemon's own login and commands (gate.display.screen).

    server.py   DisplayServer: aiohttp's runner and site inside the daemon's loop
    app.py      routes, Host/Origin checks, security headers
    feed.py     /ws: subscribes, pumps events to a screen, hands it the page's messages
    screen.py   the Screen base, its Context, the command path
    visitor.py  the visitor screen of a lane
    kiosk.py    the self-service kiosk
    console.py  the staff console
    messages.py, words.py   what the visitor screen is sent, and its words
"""

from gate.display.server import DisplayError, DisplayServer

__all__ = ["DisplayError", "DisplayServer"]
