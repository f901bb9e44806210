"""The live terminal view of a lane: a subscriber of the decision point's events, and its status.

Every read, decision and lane event is one appended line, timed from the read it follows:
relays, the lock output, lamps and buzzer as they switch, passages as they end, modes and
the fire alarm. On a terminal a status block stays at the bottom (a scroll region keeps the
lines and the typing above it) and is redrawn as things change, with the passage's
countdown; when stdout is not a terminal (CI, a pipe) only the lines are written, so the
output reads top to bottom like a log.

Callers print under `lock`, so that the lines of one read (the code, its decision, its
events) stay together even while the event task has more to say.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import shutil
from collections import deque
from typing import TextIO

from gate.cli.output import decision_text
from gate.config import Language
from gate.decision import Decision
from gate.point import DecisionPoint, LaneMode, LaneStatus, Outputs, PassageResult
from gate.point.events import (
    DecisionMade,
    Event,
    FireAlarm,
    KioskStep,
    Missed,
    ModeChanged,
    OutputsChanged,
    PassageStep,
    StaffAct,
    StaffLogin,
    TurnstileAlarm,
)
from gate.point.model import LAMPS

STATUS_ROWS = 6  # the separator and five lines of the status block
_MIN_ROWS = STATUS_ROWS + 4  # below this, a terminal gets plain lines only
MOMENT_S = 0.01  # output changes this close together are one line

# SGR styles of the status block.
_GREEN, _RED, _AMBER, _DIM, _BOLD, _REVERSE = "32", "31", "33", "2", "1", "7"
_LAMP_STYLE = {"green": _GREEN, "red": _RED, "amber": _AMBER}
_MODE_STYLE = {
    LaneMode.NORMAL: _BOLD, LaneMode.FREE: _GREEN, LaneMode.LOCKED: _RED, LaneMode.OUT_OF_ORDER: _RED,
    LaneMode.EMERGENCY: f"{_RED};{_BOLD}",
}  # fmt: skip
_VERDICT_STYLE = {"ADMIT": _GREEN, "DENY": _RED, "STAFF": _AMBER}

Segment = tuple[str, str]  # (text, SGR style or "")


class LaneView:
    """Lines (and on a terminal, the status block) for one lane; create it inside the running point."""

    def __init__(
        self, point: DecisionPoint, lane_id: str, *, out: TextIO, tty: bool, tz: dt.tzinfo,
        passage_timeout_s: float = 1.0, language: Language = "en", hint: str = "",
    ) -> None:  # fmt: skip
        self.point = point
        self.lane_id = lane_id
        self.out = out
        self.tz = tz
        self.language = language
        self.currency = point.config.site.currency  # money in the site's currency, as gate check shows it
        self.hint = hint  # the last line of the status block: what can be typed
        self.walking: bool | None = None  # shown in the status block when the demo walks
        self.lock = asyncio.Lock()
        self._loop = asyncio.get_running_loop()
        self._events = point.subscribe()
        self._taken: deque[Event] = deque()  # taken off the subscription by `run`, not written yet
        self._outputs = self.status().outputs
        self._moment_from = self._outputs  # the outputs before the moment being written
        self._changes_at: float | None = None  # when that moment began
        self._t0 = self._loop.time()
        self._last: str = ""
        self.reads = 0
        self.outcomes: dict[str, int] = {}
        self._timeout = passage_timeout_s
        rows = shutil.get_terminal_size().lines
        self._screen = _Screen(out) if tty and rows >= _MIN_ROWS else None

    # --- what callers print -----------------------------------------------------------------

    def line(self, text: str = "") -> None:
        self.out.write(text + "\n")
        if self._screen is not None:
            self._redraw()
        self.out.flush()

    def read(self, code: str | bytes, where: str) -> None:
        """A code about to be decided: the lines that follow are timed from here."""
        self.reads += 1
        self.mark(f"{code if isinstance(code, str) else repr(code)} at {where}:")

    def mark(self, text: str) -> None:
        """Something done at the lane (a read, a staff command): the lines that follow are timed from here."""
        self._t0 = self._loop.time()
        self.line(f"  {text}")

    def status(self) -> LaneStatus:
        return self.point.status(self.lane_id)

    def _now(self) -> dt.datetime:
        return dt.datetime.now(self.tz)

    def event(self, text: str, at: float | None = None) -> None:
        """One lane line, timed from the last read."""
        elapsed = (self._loop.time() if at is None else at) - self._t0
        self.line(f"    {f'+{elapsed:.2f}s':>7}  {text}")

    def drain(self) -> None:
        """Write every lane event that arrived so far, in order (call under `lock`)."""
        events = [*self._taken, *self._events.drain()]
        self._taken.clear()
        # The relay pulses before the decision is told (a visitor never waits for a
        # subscriber), but a reader of the view wants the verdict first: what the lane did
        # about it follows.
        for event in sorted(events, key=lambda e: not isinstance(e, DecisionMade)):
            self._show(event)
        self._flush_changes()

    # --- life cycle -----------------------------------------------------------------------

    def start(self) -> None:
        if self._screen is not None:
            self._screen.start()
            self._redraw()

    def close(self) -> None:
        self._events.close()
        if self._screen is not None:
            self._redraw()
            self._screen.stop()
        self.out.flush()

    async def run(self) -> None:
        """Write lane events as they come; on a terminal, redraw the block (a countdown ticks)."""
        while True:
            tick = None if self._screen is None else (0.1 if self.status().passage else 0.5)
            with contextlib.suppress(TimeoutError):
                # Kept in order: a read holding the lock meanwhile drains this one first.
                self._taken.append(await self._events.get(tick))
            async with self.lock:
                self.drain()
                if self._screen is not None:
                    self._redraw()
                    self.out.flush()

    # --- events as lines ------------------------------------------------------------------

    def _show(self, event: Event) -> None:
        if isinstance(event, OutputsChanged):
            # The lane reports each output as it switches; those of one moment make one line.
            # (A lamp switched off and on again within the moment is no change.)
            if self._changes_at is not None and event.monotonic - self._changes_at > MOMENT_S:
                self._flush_changes()
            if self._changes_at is None:
                self._moment_from, self._changes_at = self._outputs, event.monotonic
            self._outputs = event.outputs
            return
        if isinstance(event, DecisionMade):
            where = "" if event.lane == self.lane_id else f"  (at {event.lane})"
            text = self._text(event.decision, event.at)
            self._last = text
            self.line(f"  {text}{where}")
            return
        self._flush_changes()
        if isinstance(event, PassageStep) and event.result is not None:
            result = event.result
            self.outcomes[result.outcome] = self.outcomes.get(result.outcome, 0) + 1
            self.event(passage_line(result), event.monotonic)
        elif isinstance(event, ModeChanged) and event.lane == self.lane_id:
            self.event(f"mode {event.mode.value}", event.monotonic)
        elif isinstance(event, FireAlarm):
            text = "FIRE ALARM: the fire loop is open, every way is free" if event.alarm else "fire alarm over"
            self.event(text, event.monotonic)
        elif isinstance(event, TurnstileAlarm):
            self.event(f"ALARM: {event.detail}", event.monotonic)
        elif isinstance(event, KioskStep) and event.step in ("held", "refused"):
            for outcome in event.view.held:
                self.line(f"  {self._text(outcome.decision, self._now())}  (at {event.lane}, held)")
            if event.view.refused is not None:
                self.line(f"  {self._text(event.view.refused, self._now())}  (at {event.lane}, nothing held)")
        elif isinstance(event, StaffLogin):
            actor, refused = event.session.actor, event.session.refused
            text = f"staff login {actor.by} ({actor.audience.value})" if actor else f"staff badge refused: {refused}"
            self.event(text, event.monotonic)
        elif isinstance(event, StaffAct):
            self.event(f"staff act {event.act} by {event.by or '-'}" + (f" on {event.target}" if event.target else ""),
                       event.monotonic)  # fmt: skip
        elif isinstance(event, Missed):
            self.event(f"({event.count} event(s) missed: the view fell behind)", event.monotonic)

    def _text(self, decision: Decision, at: dt.datetime) -> str:
        return decision_text(decision, at=at, tz=self.tz, language=self.language, currency=self.currency)

    def _flush_changes(self) -> None:
        if self._changes_at is not None:
            changes = self._changes(self._moment_from, self._outputs)
            if changes:
                self.event(", ".join(changes), self._changes_at)
        self._changes_at = None

    def _changes(self, old: Outputs, new: Outputs) -> list[str]:
        changes: list[str] = []
        for direction, on in new.relays.items():
            if on != old.relays.get(direction, False):
                changes.append(f"{direction} relay ON{self._unlocks(direction)}" if on else f"{direction} relay off")
        if new.lock is not None and new.lock != old.lock:
            changes.append("lock output on" if new.lock else "lock output off")
        for lamp in LAMPS:
            if lamp in new.lamps and new.lamps[lamp] != old.lamps.get(lamp, False):
                changes.append(f"{lamp} lamp {'on' if new.lamps[lamp] else 'off'}")
        if new.buzzer and not old.buzzer:
            changes.append("beep")  # the buzzer's end adds nothing a reader needs
        return changes

    def _unlocks(self, direction: str) -> str:
        passage = self.status().passage
        if passage is None or passage.direction != direction:
            return " (held open)" if self.point.mode(self.lane_id) in (LaneMode.FREE, LaneMode.EMERGENCY) else ""
        person = f"person {passage.passed + 1} of {passage.expected}"
        return f": {person} may pass, {passage.seconds_left:.1f} s to go through"

    # --- the status block -------------------------------------------------------------------

    def _redraw(self) -> None:
        assert self._screen is not None
        self._screen.draw(self.status_block(self.status()))

    def status_block(self, status: LaneStatus) -> list[list[Segment]]:
        """The block's lines as styled segments (plain text when the styles are dropped)."""
        mode: list[Segment] = [(f" lane {status.lane} ", _REVERSE), ("  mode ", ""),
                               (status.mode.value, _MODE_STYLE[status.mode])]  # fmt: skip
        if status.fire_alarm:
            mode += [("   ", ""), (" FIRE ALARM: loop open, every way free ", f"{_RED};{_REVERSE}")]
        else:
            mode += [("   fire loop closed", _DIM)]
        if self.walking is not None:
            mode += [("   visitors walk" if self.walking else "   nobody walks (passages time out)", _DIM)]
        return [
            [("─" * 200, _DIM)],
            mode,
            self._outputs_line(status.outputs),
            self._passage_line(status),
            [(" last  ", _DIM), *self._last_segments()],
            [(f" {self.reads} read(s) · {self._counts()} · {self.hint}", _DIM)],
        ]

    def _outputs_line(self, outputs: Outputs) -> list[Segment]:
        line: list[Segment] = [(" relays ", _DIM)]
        for direction, on in outputs.relays.items():
            line.append((f" {direction} ■ ON " if on else f" {direction} □ off ", f"{_GREEN};{_REVERSE}" if on else ""))
        if outputs.lock is not None:
            line.append((" lock ■ " if outputs.lock else " lock □ ", _RED if outputs.lock else _DIM))
        line.append(("  lamps ", _DIM))
        for lamp, on in outputs.lamps.items():
            line.append((f" ● {lamp}" if on else f" ○ {lamp}", f"{_LAMP_STYLE[lamp]};{_BOLD}" if on else _DIM))
        if outputs.buzzer is not None:
            line += [("   buzzer ", _DIM), ("♪" if outputs.buzzer else "·", _BOLD if outputs.buzzer else _DIM)]
        return line

    def _passage_line(self, status: LaneStatus) -> list[Segment]:
        p = status.passage
        if p is None:
            return [(" passage  none: waiting for a code", _DIM)]
        filled = round(10 * min(1.0, p.seconds_left / self._timeout))
        waiting = f", {p.waiting} waiting" if p.waiting else ""
        return [
            (" passage  ", _DIM),
            (f"{p.direction}: {p.passed} of {p.expected} through, ", _BOLD),
            ("█" * filled + "░" * (10 - filled), _GREEN),
            (f" {p.seconds_left:3.1f} s left for the next{waiting}", ""),
        ]

    def _last_segments(self) -> list[Segment]:
        if not self._last:
            return [("no read yet", _DIM)]
        mark, _, rest = self._last.partition(" ")
        return [(mark, f"{_VERDICT_STYLE.get(mark, '')};{_BOLD}"), (" " + rest, "")]

    def _counts(self) -> str:
        done = self.outcomes
        return f"{done.get('committed', 0)} committed, {done.get('released', 0)} released"


def passage_line(result: PassageResult) -> str:
    """How a passage ended, in words."""
    what = result.entitlement_id or "-"
    if result.outcome == "committed":
        return (f"passage committed: {result.committed} of {result.admitted} went through "
                f"({result.why}, {result.seconds:.1f} s), {what}")  # fmt: skip
    if result.outcome == "released":
        return f"passage released: nobody went through ({result.why}); nothing consumed, {what}"
    if result.outcome == "open_once":
        return f"open once: {result.passed} went through (nothing to commit)"
    return f"passage NOT recorded ({result.why}): its hold is resolved at the next start, {what}"


class _Screen:
    """A status block at the bottom of a terminal, under a scroll region for everything else."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.size = shutil.get_terminal_size()

    def start(self) -> None:
        # Make room at the bottom, then scroll only above the block (saving the cursor, as
        # setting a scroll region moves it home).
        self.out.write("\n" * STATUS_ROWS + f"\x1b[{STATUS_ROWS}A")
        self._region()

    def _region(self) -> None:
        self.out.write(f"\x1b7\x1b[1;{max(1, self.size.lines - STATUS_ROWS)}r\x1b8")

    def draw(self, lines: list[list[Segment]]) -> None:
        size = shutil.get_terminal_size()
        if size != self.size:  # resized: the block moves to the new bottom
            self.size = size
            self._region()
        top = self.size.lines - STATUS_ROWS + 1
        parts = ["\x1b7"]
        for row, segments in enumerate(lines[:STATUS_ROWS]):
            parts.append(f"\x1b[{top + row};1H\x1b[2K{styled(segments, self.size.columns - 1)}")
        parts.append("\x1b8")
        self.out.write("".join(parts))

    def stop(self) -> None:
        # The whole screen scrolls again; the last picture of the block stays above the prompt.
        self.out.write(f"\x1b[r\x1b[{self.size.lines};1H\n")


def styled(segments: list[Segment], width: int) -> str:
    """The segments with their styles, cut to `width` visible characters."""
    parts: list[str] = []
    left = width
    for text, style in segments:
        if left <= 0:
            break
        cut = text[:left]
        left -= len(cut)
        parts.append(f"\x1b[{style}m{cut}\x1b[0m" if style else cut)
    return "".join(parts)


def plain(segments: list[Segment]) -> str:
    return "".join(text for text, _ in segments)
