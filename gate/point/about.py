"""What a code read at a kiosk is, for its holder's eyes: names, local times, benefits, balance, uses.

The kiosk session (gate.point.kiosk) explores a code on the point's ledger thread; this is the
part that reads what the screen words: the product's name, a membership's validity and
benefits, a reservation's show and deadline, what a voucher was used for, the holder's own
recent uses (never anybody else's).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass
from typing import Literal

from gate.engine import Engine
from gate.records import (
    CreditMembership,
    DiscountBenefit,
    Entitlement,
    Membership,
    Reservation,
    Subscription,
    Ticket,
    Voucher,
)
from gate.rules.membership import membership_expires_on
from gate.rules.reservation import reservation_deadline

RECENT_USES = 5  # the holder's own uses a kiosk shows


@dataclass(frozen=True, slots=True)
class Show:
    """A performance as a kiosk user reads it: its event's name and its start in the site's zone."""

    performance: str
    title: str | None
    starts_at: dt.datetime


@dataclass(frozen=True, slots=True)
class Perk:
    """A membership's benefit: an entry, or a discount (`percent`)."""

    kind: Literal["entry", "discount"]
    name: str
    percent: int | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    """One of the holder's own recent uses: when (site's zone), for what show or in which zone."""

    at: dt.datetime
    direction: str
    persons: int
    credits: int
    show: str | None
    zone: str | None


@dataclass(frozen=True, slots=True)
class About:
    """What a code is, for its holder's eyes (the screen words it)."""

    product: str | None = None  # the name of what it was sold as
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None  # its last day
    perks: tuple[Perk, ...] = ()
    credits_left: int | None = None  # across the holder's credit memberships that can pay now
    show: Show | None = None  # a reservation's or an admission's performance; what a voucher was used for
    persons: int | None = None
    paid: bool | None = None
    deadline: dt.datetime | None = None  # an unpaid reservation's: confirm by then
    uses: tuple[Usage, ...] = ()  # newest first, RECENT_USES at most


def about_of(engine: Engine, entitlement: Entitlement | None, *, credits_left: int | None) -> About:
    """What the code is, in names and local times (on the ledger thread); `credits_left` as the
    kiosk's options counted them."""
    if entitlement is None:
        return About()
    ledger, tz = engine.ledger, engine.tz
    schedule = ledger.schedule()
    product = schedule.products.get(entitlement.product) if entitlement.product else None
    name = product.name if product is not None else None
    if isinstance(entitlement, Membership):
        perks = tuple(
            Perk("discount", b.name, b.percent) if isinstance(b, DiscountBenefit) else Perk("entry", b.name)
            for b in entitlement.benefits
        )  # fmt: skip
        return About(name, entitlement.valid_from, membership_expires_on(entitlement, schedule.products), perks,
                     uses=_uses(engine, [entitlement.id]))  # fmt: skip
    if isinstance(entitlement, CreditMembership):
        pool = ledger.credit_memberships_of(entitlement.holder) if entitlement.holder else []
        ids = [cm.id for cm in pool] or [entitlement.id]
        return About(name, valid_until=entitlement.expires_on, credits_left=credits_left,
                     uses=_uses(engine, ids))  # fmt: skip
    if isinstance(entitlement, Subscription):
        return About(name, persons=entitlement.quantity, uses=_uses(engine, [entitlement.id]))
    if isinstance(entitlement, Reservation):
        deadline = None
        if not entitlement.paid:
            with contextlib.suppress(KeyError):  # a performance the schedule does not know
                deadline = reservation_deadline(entitlement, schedule, tz)
        return About(name, show=_show(engine, entitlement.performance), persons=entitlement.pax,
                     paid=entitlement.paid, deadline=deadline)  # fmt: skip
    if isinstance(entitlement, Ticket):
        return About(name, show=_show(engine, entitlement.performance), persons=entitlement.pax)
    if isinstance(entitlement, Voucher):
        # What it was used for: the performance of its redemption (exits are no redemptions).
        used = [u for u in ledger.uses([entitlement.id]) if not u.held and u.performance is not None]
        show = _show(engine, used[-1].performance) if used else None
        return About(name, valid_until=entitlement.expires_on, show=show)
    return About(name)

def _show(engine: Engine, performance: str | None) -> Show | None:
    schedule = engine.ledger.schedule()
    perf = schedule.performances.get(performance) if performance is not None else None
    if perf is None:
        return None
    event = schedule.events.get(perf.event)
    return Show(perf.id, event.name if event is not None else None, perf.starts_at.astimezone(engine.tz))

def _uses(engine: Engine, ids: list[str]) -> tuple[Usage, ...]:
    """The last committed uses of the holder's own entitlements `ids`, newest first."""
    events, zones = engine.ledger.schedule().events, engine.config.zones
    done = [u for u in engine.ledger.uses(ids) if not u.held]
    done.sort(key=lambda u: u.at, reverse=True)
    found = []
    for u in done[:RECENT_USES]:
        show = events[u.event].name if u.event is not None and u.event in events else None
        zone = zones[u.zone].name if u.zone in zones else None
        at = dt.datetime.fromtimestamp(u.at, engine.tz)
        found.append(Usage(at, u.direction, u.persons, u.credits, show, zone))
    return tuple(found)
