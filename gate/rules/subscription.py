"""Season subscriptions: `quantity` seats for each show, at any one performance of it.

Seats are counted per show, not per performance: once a show's seats were used at one
performance, another performance of it is refused, and an exit gives no seat back. A kiosk
that reads a subscription says it is for the lanes, with the seats left, and uses none.
"""

from __future__ import annotations

from collections.abc import Sequence

from gate.decision import Decision, Use
from gate.reasons import Reason
from gate.records import Performance, Subscription
from gate.rules.access import check_access, check_mode, check_state
from gate.rules.context import Refusal, Scan, refusal
from gate.rules.outcome import asked, finish
from gate.rules.performances import current_performances, show_name
from gate.rules.ticket import check_performance, for_lanes


def seats_left(scan: Scan, sub: Subscription, perf: Performance, show: str, uses: Sequence[Use]) -> Refusal | int:
    used = 0
    for u in uses:
        if u.direction != "entry" or u.event != perf.event:
            continue
        if u.performance != perf.id:
            return refusal(Reason.OTHER_PERFORMANCE, show=show)
        used += u.persons
    left = sub.quantity - used
    if left <= 0:
        return refusal(Reason.SHOW_USED, used=used, quantity=sub.quantity, show=show)
    return left


def _performances(scan: Scan, sub: Subscription) -> list[Performance] | Refusal:
    """The performance asked for (at a kiosk or in a replay), else those on now at this lane."""
    wanted = scan.ask.performance
    if wanted is None:
        return current_performances(scan, sub.events)
    perf = scan.schedule.performances.get(wanted)
    if perf is None:
        return refusal(Reason.NO_PERFORMANCE)
    show = show_name(scan, perf.event)
    if perf.event not in sub.events:
        return refusal(Reason.WRONG_PERFORMANCE, show=show)
    refused = check_performance(scan, perf, show, None, None)
    return refused if refused is not None else [perf]


def _at_a_kiosk(scan: Scan, sub: Subscription, uses: Sequence[Use]) -> Refusal:
    """FOR_LANES with the performance asked for, else the one on now, and its show's seats left."""
    wanted = scan.ask.performance
    perf = scan.schedule.performances.get(wanted) if wanted is not None else None
    if perf is None or perf.event not in sub.events:
        on = current_performances(scan, sub.events)
        perf = on[0] if isinstance(on, list) else None
    if perf is None:
        return for_lanes(scan, None)
    left = seats_left(scan, sub, perf, show_name(scan, perf.event), uses)
    return for_lanes(scan, perf)._replace(balance=left if isinstance(left, int) else 0)


def decide_subscription(scan: Scan, sub: Subscription, uses: tuple[Use, ...]) -> Decision | Refusal:
    refused = check_mode(scan, sub) or check_state(sub)
    if refused is not None:
        return refused
    if scan.lane.kiosk:
        return _at_a_kiosk(scan, sub, uses)
    candidates = _performances(scan, sub)
    if isinstance(candidates, Refusal):
        return candidates
    allowed = check_access(scan, ((sub.access, None),), uses, opening_hours=False)
    if isinstance(allowed, Refusal):
        return allowed
    first: Refusal | None = None
    # Shows on at once (overlapping windows): the nearest start that still has seats.
    for perf in candidates:
        show = show_name(scan, perf.event)
        left = seats_left(scan, sub, perf, show, uses)
        if isinstance(left, Refusal):
            first = first or left
            continue

        def plan(admitted: int, perf: Performance = perf) -> tuple[Use, ...]:
            return (scan.use(sub.id, admitted, performance=perf.id, event=perf.event),)

        def balance(admitted: int, left: int = left) -> int:
            return left - admitted

        return finish(
            scan, sub, want=asked(scan, left), allowed=min(left, allowed), plan=plan, balance=balance, show=show
        )
    assert first is not None
    return first
