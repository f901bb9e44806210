"""The parameters each reason carries, and example decisions that use them.

`gate/reasons.py` names each code's parameters in comments; this is the same list in a form
code can read: docs/reasons.md is generated from it, and the tests check it against those
comments, render every example in every language, and render each again with every
parameter missing in turn.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Literal, NamedTuple, TypeAlias
from zoneinfo import ZoneInfo

from gate.decision import Decision, Param
from gate.reasons import ADMIT_REASONS, ATTENTION_REASONS, Reason, Verdict

Kind: TypeAlias = Literal["instant", "day", "text", "count"]


class ParamSpec(NamedTuple):
    name: str
    kind: Kind
    meaning: str
    optional: bool = False


def _p(name: str, kind: Kind, meaning: str, *, optional: bool = False) -> ParamSpec:
    return ParamSpec(name, kind, meaning, optional)


_SHOW = _p("show", "text", "the event's name")

PARAMS: Mapping[Reason, tuple[ParamSpec, ...]] = {
    Reason.OK: (_p("show", "text", "the event's name, for a ticket or an admission", optional=True),),
    Reason.PARTIAL: (
        _p("admitted", "count", "persons admitted by this scan"),
        _p("asked", "count", "persons asking"),
        _p("need_tickets", "count", "persons who still need a ticket"),
    ),
    Reason.REDEEMED: (_SHOW, _p("starts_at", "instant", "the performance's start")),
    Reason.UNREADABLE: (_p("detail", "text", "what was wrong with the read (staff only)"),),
    Reason.UNDECIDABLE: (_p("detail", "text", "the kind of error the stored records raised (staff only)"),),
    Reason.UNKNOWN_KEY: (_p("key", "text", "the key id the credential names"),),
    Reason.KEY_NOT_VALID: (_p("key", "text", "the key id the credential names"),),
    Reason.WRONG_ZONE: (_p("zone", "text", "the lane's zone"),),
    Reason.WRONG_LANE: (_p("lane", "text", "the lane's id"),),
    Reason.FOR_LANES: (
        _p("show", "text", "the event's name, for a performance", optional=True),
        _p("starts_at", "instant", "the performance's or time slot's start, when known", optional=True),
    ),
    Reason.LANE_CLOSED: (_p("mode", "text", "the lane's mode: locked or out_of_order"),),
    Reason.OFFLINE: (
        _p("minutes", "count", "how long the device has been cut off from the site"),
        _p("kind", "text", "the entitlement's kind the offline policy refuses"),
    ),
    Reason.NOT_YET_VALID: (_p("valid_from", "instant", "when it becomes valid"),),
    Reason.EXPIRED: (_p("expired_at", "instant", "when it expired"),),
    Reason.CLOSED: (_p("opens_at", "instant", "the next opening, when known", optional=True),),
    Reason.OUTSIDE_WINDOW: (_p("opens_at", "instant", "when its window opens next, when known", optional=True),),
    Reason.BLACKOUT: (_p("day", "day", "the blackout day"),),
    Reason.TOO_EARLY: (_p("opens_at", "instant", "when admission opens"), _SHOW),
    Reason.TOO_LATE: (_p("closed_at", "instant", "when admission closed"), _SHOW),
    Reason.WRONG_PERFORMANCE: (_SHOW,),
    Reason.ALREADY_USED: (_p("used_at", "instant", "when it was used"),),
    Reason.LIMIT_REACHED: (
        _p("per", "text", "the limit's period: day, week, month, season or lifetime"),
        _p("count", "count", "uses allowed per period"),
    ),
    Reason.ANTI_PASSBACK: (_p("until", "instant", "when it may enter again"),),
    Reason.SITE_FULL: (_p("capacity", "count", "the site's capacity"),),
    Reason.NO_CREDIT: (_p("balance", "count", "credits left"),),
    Reason.NOT_ELIGIBLE: (_p("product", "text", "the product's name"),),
    Reason.SHOW_USED: (
        _p("used", "count", "seats used for the show"),
        _p("quantity", "count", "seats the subscription holds per show"),
        _SHOW,
    ),
    Reason.OTHER_PERFORMANCE: (_SHOW,),
    Reason.UNPAID: (_p("deadline", "instant", "the confirm deadline"),),
    Reason.RESERVATION_RELEASED: (_p("deadline", "instant", "the confirm deadline that passed"),),
    Reason.VOUCHER_USED: (
        _p("show", "text", "the event's name of the admission it became, when known", optional=True),
        _p("used_at", "instant", "when it was redeemed, when known", optional=True),
    ),
    Reason.VOUCHER_EXPIRED: (_p("expired_on", "day", "the voucher's expiry day"),),
    Reason.REDEMPTION_NOT_OPEN: (_p("opens_at", "instant", "when redemption opens"), _SHOW),
    Reason.REDEMPTION_CLOSED: (_p("closed_at", "instant", "when redemption closed"), _SHOW),
    Reason.SEAT_CATEGORY: (
        _p("wanted", "text", "the voucher's seat categories"),
        _p("offered", "text", "the performance's seat categories"),
    ),
    Reason.TARIFF: (_p("wanted", "text", "the voucher's tariffs"), _p("offered", "text", "the performance's tariffs")),
    Reason.OVERRIDE: (_p("by", "text", "the staff member (staff only)"), _p("note", "text", "their note (staff only)")),
}


def params_of(reason: Reason) -> tuple[ParamSpec, ...]:
    return PARAMS.get(reason, ())


def verdict_of(reason: Reason) -> Verdict:
    # An override admits although it is neither in ADMIT_REASONS nor a refusal.
    if reason in ADMIT_REASONS or reason is Reason.OVERRIDE:
        return Verdict.ADMIT
    if reason in ATTENTION_REASONS:
        return Verdict.ATTENTION
    return Verdict.DENY


EXAMPLE_TZ = ZoneInfo("Europe/Paris")
EXAMPLE_NOW = dt.datetime(2026, 12, 12, 12, 0, tzinfo=EXAMPLE_TZ)  # a Saturday, noon


def _at(day: int, hour: int, minute: int = 0, month: int = 12) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=EXAMPLE_TZ)


_VALUES: Mapping[Reason, Mapping[str, Param]] = {
    Reason.OK: {"show": "Hamlet"},
    Reason.PARTIAL: {"admitted": 2, "asked": 3, "need_tickets": 1},
    Reason.REDEEMED: {"show": "Hamlet", "starts_at": _at(19, 19, 30)},
    Reason.UNREADABLE: {"detail": "checksum mismatch"},
    Reason.UNDECIDABLE: {"detail": "ValidationError"},
    Reason.UNKNOWN_KEY: {"key": "k2027"},
    Reason.KEY_NOT_VALID: {"key": "k2024"},
    Reason.WRONG_ZONE: {"zone": "exhibition"},
    Reason.WRONG_LANE: {"lane": "north-2"},
    Reason.FOR_LANES: {"show": "Hamlet", "starts_at": _at(19, 19, 30)},
    Reason.LANE_CLOSED: {"mode": "out_of_order"},
    Reason.OFFLINE: {"minutes": 12, "kind": "ticket"},
    Reason.NOT_YET_VALID: {"valid_from": _at(12, 14)},
    Reason.EXPIRED: {"expired_at": _at(30, 23, 59, month=11)},
    Reason.CLOSED: {"opens_at": _at(12, 14)},
    Reason.OUTSIDE_WINDOW: {"opens_at": _at(14, 10)},
    Reason.BLACKOUT: {"day": dt.date(2026, 12, 12)},
    Reason.TOO_EARLY: {"opens_at": _at(12, 19), "show": "Hamlet"},
    Reason.TOO_LATE: {"closed_at": _at(12, 11, 15), "show": "Hamlet"},
    Reason.WRONG_PERFORMANCE: {"show": "Hamlet"},
    Reason.ALREADY_USED: {"used_at": _at(12, 10, 12)},
    Reason.LIMIT_REACHED: {"per": "day", "count": 1},
    Reason.ANTI_PASSBACK: {"until": _at(12, 12, 10)},
    Reason.SITE_FULL: {"capacity": 1500},
    Reason.NO_CREDIT: {"balance": 0},
    Reason.NOT_ELIGIBLE: {"product": "Guided tour"},
    Reason.SHOW_USED: {"used": 2, "quantity": 2, "show": "Hamlet"},
    Reason.OTHER_PERFORMANCE: {"show": "Hamlet"},
    Reason.UNPAID: {"deadline": _at(19, 23, 59)},
    Reason.RESERVATION_RELEASED: {"deadline": _at(5, 23, 59)},
    Reason.VOUCHER_USED: {"show": "Hamlet", "used_at": _at(1, 16, 20)},
    Reason.VOUCHER_EXPIRED: {"expired_on": dt.date(2026, 11, 30)},
    Reason.REDEMPTION_NOT_OPEN: {"opens_at": _at(20, 9), "show": "Hamlet"},
    Reason.REDEMPTION_CLOSED: {"closed_at": _at(10, 19, 30), "show": "Hamlet"},
    Reason.SEAT_CATEGORY: {"wanted": "Stalls", "offered": "Circle, Balcony"},
    Reason.TARIFF: {"wanted": "Adult", "offered": "Child"},
    Reason.OVERRIDE: {"by": "badge 0042", "note": "school group, teacher has the list"},
}


def _decision(
    reason: Reason,
    params: Mapping[str, Param],
    *,
    admitted: int | None = None,
    holder: str | None = "Marie D.",
    kind: str | None = None,
    balance: int | None = None,
    to_pay: int | None = None,
) -> Decision:
    verdict = verdict_of(reason)
    if verdict is Verdict.DENY:
        return Decision(verdict, reason, params, kind=kind)
    if admitted is None:
        admitted = 1
    return Decision(
        verdict, reason, params, admitted=admitted, balance=balance, holder=holder, kind=kind, to_pay=to_pay
    )


def examples(reason: Reason) -> tuple[Decision, ...]:
    """Decisions for `reason`: the first carries every documented parameter."""
    values = _VALUES.get(reason, {})
    first = _decision(reason, values, kind="membership" if reason is Reason.OVERRIDE else None)
    if reason is Reason.OK:
        return (
            _decision(reason, values, admitted=3, kind="ticket"),
            _decision(reason, {}, kind="credit_membership", balance=4),
            _decision(reason, {}, holder=None, kind="credit_membership", balance=1),
        )
    if reason is Reason.PARTIAL:
        # A kiosk purchase whose last credit paid for the audio guide, the workshop left to pay.
        credits = {"admitted": 1, "asked": 2, "need_tickets": 1}
        return (
            _decision(reason, values, admitted=2, kind="subscription", balance=0),
            _decision(reason, credits, kind="credit_membership", balance=0, to_pay=2500),
        )
    if reason in (Reason.CLOSED, Reason.OUTSIDE_WINDOW):
        return (first, _decision(reason, {}))
    if reason is Reason.VOUCHER_USED:
        return (first, _decision(reason, {"show": "Hamlet", "used_at": _at(12, 10, 5)}))
    if reason is Reason.FOR_LANES:
        # Read at a kiosk: an admission, a membership, a subscription with its seats left for the show on now.
        on_now: dict[str, Param] = {"show": "Hamlet", "starts_at": _at(12, 12, 30)}
        return (
            first,
            _decision(reason, {}, kind="membership"),
            Decision(Verdict.DENY, reason, on_now, balance=1, kind="subscription"),
        )
    return (first,)
