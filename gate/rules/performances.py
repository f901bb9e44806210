"""Performances: their admission windows, and which one is on now at this lane.

An admission window is half-open, [opens, closes): at the closing instant the door is shut,
the same convention as weekly windows. Minutes before and after a start are real elapsed
minutes, so a window is the same length across a daylight-saving change.
"""

from __future__ import annotations

from collections.abc import Iterable

from gate.reasons import Reason
from gate.records import Performance
from gate.rules.context import Refusal, Scan, refusal


def show_name(scan: Scan, event_id: str) -> str:
    """The event's name for visitors; its id when the schedule does not know it."""
    event = scan.schedule.events.get(event_id)
    return event.name if event is not None else event_id


def admission_window(
    perf: Performance, opens_minutes_before: int | None = None, closes_minutes_after: int | None = None
) -> tuple[float, float]:
    """Epoch seconds the performance admits from and until; a ticket's overrides win."""
    start = perf.starts_at.timestamp()
    before = perf.opens_minutes_before if opens_minutes_before is None else opens_minutes_before
    after = perf.closes_minutes_after if closes_minutes_after is None else closes_minutes_after
    return start - before * 60, start + after * 60


def check_window(scan: Scan, opens: float, closes: float, show: str | None) -> Refusal | None:
    ts = scan.ts
    if ts < opens:
        if show is None:
            return refusal(Reason.TOO_EARLY, opens_at=scan.instant(opens))
        return refusal(Reason.TOO_EARLY, opens_at=scan.instant(opens), show=show)
    if ts >= closes:
        if show is None:
            return refusal(Reason.TOO_LATE, closed_at=scan.instant(closes))
        return refusal(Reason.TOO_LATE, closed_at=scan.instant(closes), show=show)
    return None


def in_lane_zone(scan: Scan, perf: Performance) -> bool:
    return perf.zone is None or perf.zone == scan.lane.zone


def current_performances(scan: Scan, events: Iterable[str]) -> list[Performance] | Refusal:
    """Performances of these events admitting now at this lane's zone, nearest start first.

    When none is on, says what the visitor most needs: the next one opening later today,
    else the last one that closed earlier today, else that nothing is on.
    """
    ts = scan.ts
    by_event = scan.schedule.performances_by_event
    on: list[tuple[float, float, Performance]] = []
    next_open: tuple[float, Performance] | None = None
    last_closed: tuple[float, Performance] | None = None
    for event_id in events:
        for perf in by_event.get(event_id, ()):
            if not in_lane_zone(scan, perf):
                continue
            opens, closes = admission_window(perf)
            if opens <= ts < closes:
                start = perf.starts_at.timestamp()
                on.append((abs(start - ts), start, perf))
            elif ts < opens:
                if (next_open is None or opens < next_open[0]) and scan.instant(opens).date() == scan.today:
                    next_open = (opens, perf)
            elif (last_closed is None or closes > last_closed[0]) and scan.instant(closes).date() == scan.today:
                last_closed = (closes, perf)
    if on:
        on.sort(key=lambda x: (x[0], x[1]))
        return [perf for _, _, perf in on]
    if next_open is not None:
        return refusal(
            Reason.TOO_EARLY, opens_at=scan.instant(next_open[0]), show=show_name(scan, next_open[1].event)
        )
    if last_closed is not None:
        return refusal(
            Reason.TOO_LATE, closed_at=scan.instant(last_closed[0]), show=show_name(scan, last_closed[1].event)
        )
    return refusal(Reason.NO_PERFORMANCE)
