"""The one base of the errors gate raises on purpose, so a caller (the CLI) catches one class.

As gpiozero's `exc.py` does, each error also derives from the builtin it is a kind of
(`UnknownLane(GateError, LookupError)`), so code that catches the builtin still works.
Anything else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations


class GateError(Exception):
    """An error gate raised on purpose: its message says what and where, for a person to act on."""
