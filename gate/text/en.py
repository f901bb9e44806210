"""English texts: visitors get a few words they can act on, staff get the parameters."""

from __future__ import annotations

from gate.reasons import Reason
from gate.text.catalog import Args, Catalog, Entry
from gate.text.compose import both, counted, credit_balance, dotted, labelled, partial_counts, performance, then
from gate.text.format import When

_DESK = "please see the desk"
_KINDS = {
    "membership": "membership",
    "credit_membership": "credit membership",
    "subscription": "subscription",
    "reservation": "reservation",
    "voucher": "voucher",
    "ticket": "ticket",
}
_PER = {"day": "per day", "week": "per week", "month": "per month", "season": "per season", "lifetime": "in total"}
_USED_IN = {"day": "today", "week": "this week", "month": "this month", "season": "this season"}


def _at(w: When) -> str:
    return f"at {w.text}" if w.is_time else f"on {w.text}"


def _for(a: Args) -> str:
    show = a.text("show")
    return f" for {show}" if show else ""


def _balance(a: Args) -> str | None:
    if a.balance is None:
        return None
    if a.kind == "credit_membership":
        return counted(a, a.balance, "credit left", "credits left")
    if a.kind == "subscription":
        return counted(a, a.balance, "seat left", "seats left")
    return f"{a.num(a.balance)} left"


def _to_pay(a: Args) -> str | None:
    return f"{a.to_pay} to pay" if a.to_pay else None


# What a kiosk read of something for the lanes says it is (an admission unless said here).
_SHOW_AT_ENTRANCE = {"membership": "your membership card", "subscription": "your subscription"}
_FOR_THE_LANES = {"membership": "Membership", "subscription": "Subscription"}


def _for_lanes(a: Args) -> str:
    return then(f"Please show {_SHOW_AT_ENTRANCE.get(a.kind or '', 'this ticket')} at the entrance", performance(a))


def _for_lanes_staff(a: Args) -> str:
    head = f"{_FOR_THE_LANES.get(a.kind or '', 'Admission')} for the lanes, nothing used"
    return dotted(labelled(a, head, performance(a)), _balance(a))


def _welcome(a: Args) -> str:
    head = f"Welcome, {a.holder}" if a.holder else "Welcome"
    extras = []
    if a.admitted > 1:
        extras.append(f"{a.num(a.admitted)} may enter")
    if a.kind == "credit_membership" and (balance := _balance(a)):
        extras.append(balance)
    if to_pay := _to_pay(a):
        extras.append(to_pay)
    return then(head, ", ".join(extras) or None)


def _admitted(a: Args) -> str:
    head = f"{a.num(a.admitted)} admitted" if a.admitted > 1 else "Admitted"
    kind = _KINDS.get(a.kind or "")
    return dotted(head, a.holder, kind, a.text("show"), _balance(a), _to_pay(a))


def _need(a: Args, rest: int | None) -> str:
    if rest is None:
        return "the others need tickets"
    return f"{a.num(rest)} needs a ticket" if rest == 1 else f"{a.num(rest)} need tickets"


def _partial(a: Args) -> str:
    admitted, asked, rest = partial_counts(a)
    head = f"{a.num(admitted)} of {a.num(asked)}" if asked is not None else a.num(admitted)
    return then(f"{head} may enter — {_need(a, rest)}", _to_pay(a), ", ")


def _partial_staff(a: Args) -> str:
    admitted, asked, rest = partial_counts(a)
    head = (
        f"Partial: {a.num(admitted)} of {a.num(asked)} admitted"
        if asked is not None
        else f"Partial: {a.num(admitted)} admitted"
    )
    if rest is not None:
        head = f"{head}; {a.num(rest)} needs a ticket" if rest == 1 else f"{head}; {a.num(rest)} need tickets"
    return then(head, _to_pay(a), "; ")


def _not_yet_valid(a: Args, staff: bool) -> str:
    w = a.when("valid_from")
    if staff:
        return f"Not yet valid: from {w.text}" if w else "Not yet valid"
    return f"Valid from {w.text}" if w else "Not valid yet"


def _expired(a: Args) -> str:
    w = a.when("expired_at")
    if w is None:
        return "Expired"
    return f"Expired at {w.text}" if w.is_time else f"Expired on {w.date}"


def _expired_staff(a: Args) -> str:
    w = a.when("expired_at")
    return f"Expired {_at(w)}" if w else "Expired"


def _closed(a: Args, staff: bool) -> str:
    w = a.when("opens_at")
    if staff:
        return f"Closed; opens {_at(w)}" if w else "Closed; next opening unknown"
    return f"Closed — opens {_at(w)}" if w else "Closed"


def _outside_window(a: Args, staff: bool) -> str:
    w = a.when("opens_at")
    if staff:
        return f"Outside its hours; valid again from {w.text}" if w else "Outside its hours"
    return f"Not valid at this time — valid from {w.text}" if w else "Not valid at this time"


def _blackout(a: Args) -> str:
    d = a.day("day")
    if d is None:
        return "Not valid on this date"
    return "Not valid today" if d.is_today else f"Not valid on {d.text}"


def _too_early(a: Args, staff: bool) -> str:
    w = a.when("opens_at")
    head = f"Too early{_for(a)}"
    if w is None:
        return head
    return f"{head}: admission opens {_at(w)}" if staff else f"{head} — entry from {w.text}"


def _too_late(a: Args, staff: bool) -> str:
    w = a.when("closed_at")
    head = f"Too late{_for(a)}"
    if w is None:
        return head
    return f"{head}{': admission' if staff else ' — entry'} closed {_at(w)}"


def _already_used(a: Args) -> str:
    w = a.when("used_at")
    return f"Already used {_at(w)}" if w else "Already used"


def _limit(a: Args) -> str:
    per = a.text("per")
    return f"Already used {_USED_IN[per]}" if per in _USED_IN else "No entries left"


def _limit_staff(a: Args) -> str:
    per, count = a.text("per"), a.count("count")
    if count is not None:
        return then(f"Limit reached: {a.num(count)}", _PER.get(per or ""), " ")
    return then("Limit reached", f"({_PER[per]})" if per in _PER else None, " ")


def _passback(a: Args, staff: bool) -> str:
    w = a.when("until")
    if staff:
        return f"Anti-passback until {w.text}" if w else "Anti-passback"
    return f"Just used — try again {_at(w)}" if w else "Just used — please try again later"


def _no_credit(a: Args, staff: bool) -> str:
    balance = credit_balance(a)
    if not balance:
        return then("No credits left", f"(balance {a.num(balance)})" if staff and balance is not None else None, " ")
    return f"Not enough credits: balance {a.num(balance)}" if staff else f"Not enough credits — {a.num(balance)} left"


def _show_used(a: Args, staff: bool) -> str:
    used, quantity, show = a.count("used"), a.count("quantity"), a.text("show")
    target = show or "this show"
    if used is None or quantity is None:
        return f"All seats for {target} used"
    seats = "seat" if quantity == 1 else "seats"
    if staff:
        return f"Subscription seats for {target} used: {a.num(used)} of {a.num(quantity)}"
    return f"{a.num(used)} of {a.num(quantity)} {seats} for {target} used"


def _deadline(a: Args, head: str, verb: str) -> str:
    w = a.when("deadline")
    return f"{head}; {verb} {w.text}" if w else head


def _voucher_used(a: Args, staff: bool) -> str:
    w = a.when("used_at")
    head = f"Voucher already {'redeemed' if staff else 'used'}{_for(a)}"
    if w is None:
        return head
    if staff:
        return f"{head} {_at(w)}"
    return f"{head} today" if w.is_time else f"{head} on {w.date}"


def _voucher_expired(a: Args) -> str:
    d = a.day("expired_on")
    return f"Voucher expired on {d.text}" if d else "Voucher expired"


def _redemption_not_open(a: Args, staff: bool) -> str:
    w = a.when("opens_at")
    if staff:
        head = f"Redemption window{_for(a)}"
        return f"{head} opens {_at(w)}" if w else f"{head} not open yet"
    return f"Can be redeemed{_for(a)} from {w.text}" if w else "Cannot be redeemed yet"


def _redemption_closed(a: Args) -> str:
    w = a.when("closed_at")
    return then(f"Redemption window{_for(a)} closed", _at(w) if w else None, " ")


def _mismatch(a: Args, what: str) -> str:
    # Both may be lists joined with commas, hence the semicolon between them.
    wanted, offered = a.text("wanted"), a.text("offered")
    parts = [f"voucher for {wanted}" if wanted else None, f"performance offers {offered}" if offered else None]
    detail = "; ".join(p for p in parts if p)
    return f"{what}: {detail}" if detail else f"{what} mismatch"


def _override(a: Args) -> str:
    by, note = a.text("by"), a.text("note")
    return labelled(a, f"Override by {by}" if by else "Staff override", note)


CATALOG: Catalog = {
    Reason.OK: Entry(_welcome, _admitted),
    Reason.PARTIAL: Entry(_partial, _partial_staff),
    Reason.EXIT: Entry("Goodbye", lambda a: labelled(a, "Exit recorded", a.holder)),
    Reason.REDEEMED: Entry(
        lambda a: then("Voucher redeemed", performance(a)),
        lambda a: labelled(a, "Voucher redeemed into an admission", performance(a)),
    ),
    Reason.ID_CHECK: Entry(
        "Please wait — staff will check your ID", lambda a: labelled(a, "ID check required", a.holder)
    ),
    Reason.CHILD: Entry(
        "Please wait — a member of staff will help you",
        lambda a: then("Child: check age or accompanying adult", a.holder),
    ),
    Reason.UNREADABLE: Entry(
        "Code not readable — please try again", lambda a: labelled(a, "Unreadable code", a.text("detail"))
    ),
    Reason.UNKNOWN_CODE: Entry(f"Code not recognised — {_DESK}", "Unknown code"),
    Reason.UNDECIDABLE: Entry(
        f"Code cannot be checked here — {_DESK}",
        lambda a: labelled(a, "Its records cannot be decided on (see the log; override if valid)", a.text("detail")),
    ),
    Reason.FORGED: Entry(f"Code not valid — {_DESK}", "Signed code does not verify (forged or damaged)"),
    Reason.UNKNOWN_KEY: Entry(
        f"Code not valid — {_DESK}", lambda a: labelled(a, "Signed with a key this gate does not know", a.text("key"))
    ),
    Reason.KEY_NOT_VALID: Entry(
        f"Code not valid — {_DESK}", lambda a: labelled(a, "Signed with a key that is not valid now", a.text("key"))
    ),
    Reason.TEST_AT_LIVE_LANE: Entry("Test code — not valid for entry", "Test entitlement at a live lane"),
    Reason.LIVE_AT_TEST_LANE: Entry(
        "This lane is in test mode — please use another lane", "Live entitlement at a test lane"
    ),
    Reason.WRONG_ZONE: Entry(
        "Not valid for this area", lambda a: f"Not valid in zone {z}" if (z := a.text("zone")) else "Wrong zone"
    ),
    Reason.WRONG_LANE: Entry(
        "Please use another lane", lambda a: f"Not valid at lane {x}" if (x := a.text("lane")) else "Wrong lane"
    ),
    Reason.FOR_LANES: Entry(_for_lanes, _for_lanes_staff),
    Reason.LANE_CLOSED: Entry(
        "This lane is closed — please use another lane",
        lambda a: {"locked": "Lane locked", "out_of_order": "Lane out of order"}.get(
            a.text("mode") or "", "Lane closed"
        ),
    ),
    Reason.OFFLINE: Entry(
        f"This lane cannot check this code right now — {_DESK}",
        lambda a: f"Offline for {a.num(a.count('minutes') or 0)} min: single-use "
        f"{_KINDS.get(a.text('kind') or '', a.text('kind') or 'code')} refused by the offline policy",
    ),
    Reason.KIOSK_ONLY: Entry(
        "Please redeem your voucher at the kiosk first", "Voucher must be redeemed at a kiosk first"
    ),
    Reason.REVOKED: Entry(f"Not valid — {_DESK}", "Revoked"),
    Reason.CANCELLED: Entry(f"Cancelled — {_DESK}", "Cancelled"),
    Reason.BLOCKED: Entry(f"Blocked — {_DESK}", "Blocked"),
    Reason.FROZEN: Entry(f"Suspended — {_DESK}", "Frozen"),
    Reason.NOT_YET_VALID: both(_not_yet_valid),
    Reason.EXPIRED: Entry(_expired, _expired_staff),
    Reason.CLOSED: both(_closed),
    Reason.CLOSED_TODAY: Entry("Closed today", "Closed day in the calendar"),
    Reason.OUTSIDE_WINDOW: both(_outside_window),
    Reason.BLACKOUT: Entry(_blackout, lambda a: labelled(a, "Blackout date", d.text if (d := a.day("day")) else None)),
    Reason.TOO_EARLY: both(_too_early),
    Reason.TOO_LATE: both(_too_late),
    Reason.NO_PERFORMANCE: Entry("No valid performance right now", "No performance it is valid for is on now"),
    Reason.WRONG_PERFORMANCE: Entry(
        "Valid for another performance", lambda a: labelled(a, "Wrong performance", a.text("show"))
    ),
    Reason.IN_PROGRESS: Entry("Already open — please go through", "Passage in progress for this code"),
    Reason.ALREADY_USED: Entry(_already_used, _already_used),
    Reason.LIMIT_REACHED: Entry(_limit, _limit_staff),
    Reason.ANTI_PASSBACK: both(_passback),
    Reason.EXIT_REQUIRED: Entry("No exit recorded — please see staff", "No exit recorded since the last entry"),
    Reason.SITE_FULL: Entry(
        "Full right now — please wait", lambda a: labelled(a, "Capacity reached", a.text("capacity"))
    ),
    Reason.NO_ENTRY_BENEFIT: Entry(
        f"Not valid for entry — {_DESK}", "Membership without an entry benefit (discounts only)"
    ),
    Reason.NO_CREDIT: both(_no_credit),
    Reason.NOT_ELIGIBLE: Entry(
        lambda a: f"Not valid for {p}" if (p := a.text("product")) else "Not valid for this product",
        lambda a: labelled(a, "Product not eligible", a.text("product")),
    ),
    Reason.SHOW_USED: both(_show_used),
    Reason.OTHER_PERFORMANCE: Entry(
        lambda a: f"Seats for {a.text('show') or 'this show'} already used at another performance",
        lambda a: f"Seats for {a.text('show') or 'this show'} used at another performance",
    ),
    Reason.UNPAID: Entry(f"Reservation not paid — {_DESK}", lambda a: _deadline(a, "Unpaid reservation", "confirm by")),
    Reason.RESERVATION_RELEASED: Entry(
        f"Reservation expired — {_DESK}",
        lambda a: _deadline(a, "Reservation released", "not confirmed by"),
    ),
    Reason.VOUCHER_USED: both(_voucher_used),
    Reason.VOUCHER_EXPIRED: Entry(_voucher_expired, _voucher_expired),
    Reason.REDEMPTION_NOT_OPEN: both(_redemption_not_open),
    Reason.REDEMPTION_CLOSED: Entry(
        lambda a: f"No longer redeemable{_for(a)}",
        _redemption_closed,
    ),
    Reason.SEAT_CATEGORY: Entry("Voucher not valid for this seat category", lambda a: _mismatch(a, "Seat category")),
    Reason.TARIFF: Entry("Voucher not valid for this tariff", lambda a: _mismatch(a, "Tariff")),
    Reason.CHOOSE_PERFORMANCE: Entry("Please choose a performance", "Performance not chosen"),
    Reason.OVERRIDE: Entry(_welcome, _override),
}
