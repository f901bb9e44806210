"""Experience vouchers: one admission to one of a list of events or performances.

A voucher never opens a turnstile itself: at a kiosk the visitor picks a performance and the
voucher is redeemed into an admission (a Ticket the ledger then resolves the same code to).
Its access rules, flags and the occupancy counter therefore apply to that admission at the
lane, not to the redemption.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from gate.decision import Decision, Param, Use
from gate.reasons import Reason, Verdict
from gate.records import Performance, Ticket, Voucher
from gate.rules.access import check_mode, check_state
from gate.rules.context import Refusal, Scan, refusal
from gate.rules.performances import show_name
from gate.rules.periods import days_before


def voucher_expires_on(v: Voucher, tz: dt.tzinfo) -> dt.date | None:
    """The last local day it can be redeemed: as given, or N days after the purchase day."""
    if v.expires_on is not None:
        return v.expires_on
    if v.expires_after_days is not None and v.purchased_at is not None:
        return v.purchased_at.astimezone(tz).date() + dt.timedelta(days=v.expires_after_days)
    return None


def redemption_window(v: Voucher, perf: Performance, tz: dt.tzinfo) -> tuple[dt.datetime | None, dt.datetime]:
    """When it can be redeemed for this performance, counted in local days back from the start.

    Without a closing rule, redemption closes when the performance's admission closes:
    an admission nobody could use is never produced.
    """
    start = perf.starts_at.astimezone(tz)
    window = v.window
    opens = None if window.opens_days_before is None else days_before(start, window.opens_days_before, tz)
    if window.closes_days_before is None:
        closes = start + dt.timedelta(minutes=perf.closes_minutes_after)
    else:
        closes = days_before(start, window.closes_days_before, tz)
    return opens, closes


def voucher_used(scan: Scan, uses: Iterable[Use], performance: str | None = None) -> Refusal:
    """VOUCHER_USED with the show it was redeemed for and when, as far as the uses tell.

    `performance` is that of the admission it became, when the caller has it; otherwise the
    redemption's use names it.
    """
    last: Use | None = None
    for u in uses:
        if u.direction == "entry" and not u.held and (last is None or u.at > last.at):
            last = u
    if performance is None and last is not None:
        performance = last.performance
    perf = scan.schedule.performances.get(performance) if performance is not None else None
    event = perf.event if perf is not None else last.event if last is not None else None
    params: dict[str, Param] = {}
    if event is not None:
        params["show"] = show_name(scan, event)
    if last is not None:
        params["used_at"] = scan.instant(last.at)
    return Refusal(Reason.VOUCHER_USED, params)


def _matching(wanted: Sequence[str], offered: Sequence[str]) -> str | bool | None:
    """The first value wanted that is offered (None when any will do), False when none is."""
    if not wanted:
        return None
    if not offered:
        return wanted[0]
    return next((w for w in wanted if w in offered), False)


def _check(scan: Scan, v: Voucher, uses: Sequence[Use]) -> Refusal | Performance:
    refused = check_mode(scan, v) or check_state(v)
    if refused is not None:
        return refused
    # Only redemptions count: an exit reader that saw the code recorded an exit, not a use.
    redemptions = [u for u in uses if u.direction == "entry"]
    if any(not u.held for u in redemptions):
        # Said at any lane: "go to a kiosk" would send the visitor to redeem it again.
        return voucher_used(scan, redemptions)
    if not scan.lane.kiosk:
        return refusal(Reason.KIOSK_ONLY)
    if redemptions:
        return refusal(Reason.IN_PROGRESS)
    # Expiry does not depend on the performance: say so before asking the visitor to choose.
    last = voucher_expires_on(v, scan.tz)
    if last is not None and scan.today > last:
        return refusal(Reason.VOUCHER_EXPIRED, expired_on=last)
    wanted = scan.ask.performance
    if wanted is None:
        return refusal(Reason.CHOOSE_PERFORMANCE)
    perf = scan.schedule.performances.get(wanted)
    if perf is None:
        return refusal(Reason.NO_PERFORMANCE)
    show = show_name(scan, perf.event)
    if perf.id not in v.performances and perf.event not in v.events:
        return refusal(Reason.WRONG_PERFORMANCE, show=show)
    opens, closes = redemption_window(v, perf, scan.tz)
    if opens is not None and scan.ts < opens.timestamp():
        return refusal(Reason.REDEMPTION_NOT_OPEN, opens_at=opens, show=show)
    if scan.ts >= closes.timestamp():
        return refusal(Reason.REDEMPTION_CLOSED, closed_at=closes, show=show)
    if _matching(v.seat_categories, perf.seat_categories) is False:
        return refusal(
            Reason.SEAT_CATEGORY, wanted=", ".join(v.seat_categories), offered=", ".join(perf.seat_categories)
        )
    if _matching(v.tariffs, perf.tariffs) is False:
        return refusal(Reason.TARIFF, wanted=", ".join(v.tariffs), offered=", ".join(perf.tariffs))
    return perf


def admission_for(v: Voucher, perf: Performance) -> Ticket:
    """The admission a redemption creates; built without validation, its parts are already valid."""
    seat = _matching(v.seat_categories, perf.seat_categories)
    tariff = _matching(v.tariffs, perf.tariffs)
    return Ticket.model_construct(
        id=f"{v.id}:admission",
        version=1,
        holder=v.holder,
        mode=v.mode,
        references=v.references,
        access=v.access,
        flags=v.flags,
        performance=perf.id,
        pax=1,
        seat_category=seat if isinstance(seat, str) else None,
        tariff=tariff if isinstance(tariff, str) else None,
        from_voucher=v.id,
        purchased_at=v.purchased_at,
    )


def decide_voucher(scan: Scan, v: Voucher, uses: tuple[Use, ...]) -> Decision | Refusal:
    perf = _check(scan, v, uses)
    if isinstance(perf, Refusal):
        return perf
    return Decision(
        verdict=Verdict.ADMIT,
        reason=Reason.REDEEMED,
        params={"show": show_name(scan, perf.event), "starts_at": scan.in_site(perf.starts_at)},
        admitted=1,
        holder=scan.holder,
        entitlement_id=v.id,
        kind=v.kind,
        plan=(scan.use(v.id, 1, performance=perf.id, event=perf.event),),
        admission=admission_for(v, perf),
    )
