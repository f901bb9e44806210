"""Small builders for rule tests: a venue in Europe/Paris with lane north-1 in zone main.

Each builder fills what a test does not care about, so a test shows only what matters to it.
Times are local Paris times unless a zone is given.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

from gate.decision import Ask, Decision, Lane, Schedule, Site, Situation, Use
from gate.records import (
    Calendar,
    CreditMembership,
    Entitlement,
    Event,
    Holder,
    Membership,
    Performance,
    Period,
    Product,
    Reservation,
    Season,
    Subscription,
    Ticket,
    Voucher,
    Window,
)
from gate.rules import decide

PARIS = ZoneInfo("Europe/Paris")
LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")

LANE = Lane(id="north-1", zone="main", product="entry-adult")
KIOSK = Lane(id="kiosk-1", zone="main", kiosk=True)
SITE = Site(tz=PARIS)
HOLDER = Holder(id="h1", version=1, display_name="Marie-Claire van Dijk")


def at(
    year: int, month: int, day: int, hour: int = 12, minute: int = 0, second: int = 0, micro: int = 0,
    tz: dt.tzinfo = PARIS,
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)


def t(text: str) -> dt.time:
    return dt.time.fromisoformat(text)


def window(opens: str, closes: str, days: tuple[str, ...] | None = None) -> Window:
    if days is None:
        return Window(opens=t(opens), closes=t(closes))
    return Window.model_validate({"opens": opens, "closes": closes, "days": days})


# --- the venue's schedule ------------------------------------------------------------------

PRODUCTS = (
    Product(id="entry-adult", version=1, name="Adult entry", price_cents=1500),
    Product(id="entry-child", version=1, name="Child entry", price_cents=0),
    Product(id="workshop", version=1, name="Workshop", price_cents=2500),
    Product(id="audioguide", version=1, name="Audio guide", price_cents=500),
    Product(id="annual", version=1, name="Annual membership", validity=Period(years=1)),
    Product(id="monthly", version=1, name="Monthly membership", validity=Period(months=1)),
    Product(id="thirty", version=1, name="30-day pass", validity=Period(days=30)),
)
SEASON = Season(id="s2526", version=1, name="2025-26", starts_on=dt.date(2025, 9, 1), ends_on=dt.date(2026, 6, 30))
EVENTS = (
    Event(id="hamlet", version=1, name="Hamlet", season="s2526"),
    Event(id="tempest", version=1, name="The Tempest", season="s2526"),
    Event(id="lear", version=1, name="King Lear", season="s2526"),
)


def performance(id: str, event: str, starts_at: dt.datetime, **kw: Any) -> Performance:
    return Performance(id=id, version=1, event=event, starts_at=starts_at, **kw)


PERFORMANCES = (
    performance("hamlet-1", "hamlet", at(2026, 3, 14, 20)),
    performance("hamlet-2", "hamlet", at(2026, 3, 21, 20)),
    performance("tempest-1", "tempest", at(2026, 3, 14, 15), seat_categories=("A", "B"), tariffs=("adult", "child")),
    performance("lear-1", "lear", at(2026, 3, 14, 20), zone="hall"),
)


def schedule(*extra: Product | Season | Event | Performance | Calendar, base: bool = True) -> Schedule:
    """The default schedule plus `extra` records (a record with the same id replaces the default)."""
    products = {p.id: p for p in PRODUCTS} if base else {}
    seasons = {SEASON.id: SEASON} if base else {}
    events = {e.id: e for e in EVENTS} if base else {}
    performances = {p.id: p for p in PERFORMANCES} if base else {}
    calendars: list[Calendar] = []
    for record in extra:
        if isinstance(record, Product):
            products[record.id] = record
        elif isinstance(record, Season):
            seasons[record.id] = record
        elif isinstance(record, Event):
            events[record.id] = record
        elif isinstance(record, Performance):
            performances[record.id] = record
        else:
            calendars.append(record)
    by_event: dict[str, list[Performance]] = {}
    for perf in performances.values():
        by_event.setdefault(perf.event, []).append(perf)
    return Schedule(
        products=products,
        seasons=seasons,
        events=events,
        performances=performances,
        calendars=tuple(calendars),
        performances_by_event={k: tuple(v) for k, v in by_event.items()},
    )


SCHEDULE = schedule()


def calendar(*hours: Window, zone: str | None = None, closed: Iterable[dt.date] = ()) -> Calendar:
    return Calendar(id=f"cal-{zone or 'site'}", version=1, zone=zone, hours=hours, closed_dates=tuple(closed))


# --- entitlements --------------------------------------------------------------------------


def membership(id: str = "m1", **kw: Any) -> Membership:
    kw.setdefault("valid_from", dt.date(2026, 1, 1))
    kw.setdefault("holder", "h1")
    return Membership(id=id, version=1, **kw)


def credit(id: str = "c1", **kw: Any) -> CreditMembership:
    kw.setdefault("credits", 5)
    kw.setdefault("eligible_products", ("entry-adult", "entry-child", "audioguide"))
    kw.setdefault("purchased_at", at(2026, 1, 1, 10))
    kw.setdefault("purchase_tz", "Europe/Paris")
    kw.setdefault("expires_on", dt.date(2026, 12, 31))
    kw.setdefault("holder", "h1")
    return CreditMembership(id=id, version=1, **kw)


def subscription(id: str = "sub1", **kw: Any) -> Subscription:
    kw.setdefault("events", ("hamlet", "tempest", "lear"))
    kw.setdefault("quantity", 2)
    kw.setdefault("season", "s2526")
    return Subscription(id=id, version=1, **kw)


def reservation(id: str = "r1", **kw: Any) -> Reservation:
    kw.setdefault("performance", "hamlet-1")
    kw.setdefault("booked_at", at(2026, 3, 1, 10))
    kw.setdefault("confirm", {"days_after_booking": 3})
    return Reservation(id=id, version=1, **kw)


def voucher(id: str = "v1", **kw: Any) -> Voucher:
    kw.setdefault("events", ("tempest",))
    kw.setdefault("purchased_at", at(2026, 1, 10, 10))
    return Voucher(id=id, version=1, **kw)


def ticket(id: str = "t1", **kw: Any) -> Ticket:
    if not {"performance", "slot", "day"} & kw.keys():
        kw["performance"] = "hamlet-1"
    return Ticket(id=id, version=1, **kw)


# --- usage and decisions -------------------------------------------------------------------


def use(
    ent: Entitlement | str,
    when: dt.datetime,
    direction: str = "entry",
    *,
    persons: int = 1,
    credits: int = 0,
    performance: str | None = None,
    event: str | None = None,
    benefit: int | None = None,
    held: bool = False,
    lane: str = "north-1",
    zone: str = "main",
) -> Use:
    ent_id = ent if isinstance(ent, str) else ent.id
    return Use(
        ent_id,
        when.timestamp(),
        "exit" if direction == "exit" else "entry",
        persons,
        credits,
        performance,
        event,
        benefit,
        lane,
        zone,
        held,
    )


def situation(
    *entitlements: Entitlement,
    when: dt.datetime,
    uses: Iterable[Use] = (),
    sched: Schedule = SCHEDULE,
    lane: Lane = LANE,
    site: Site = SITE,
    ask: Ask | None = None,
    holder: Holder | None = HOLDER,
    **ask_kw: Any,
) -> Situation:
    return Situation(
        entitlements=entitlements,
        holder=holder,
        uses=tuple(uses),
        schedule=sched,
        lane=lane,
        site=site,
        at=when,
        ask=ask if ask is not None else Ask(**ask_kw),
    )


def check(
    *entitlements: Entitlement,
    when: dt.datetime,
    uses: Iterable[Use] = (),
    sched: Schedule = SCHEDULE,
    lane: Lane = LANE,
    site: Site = SITE,
    holder: Holder | None = HOLDER,
    **ask_kw: Any,
) -> Decision:
    """decide() on a situation built from these parts; `ask_kw` are Ask fields (party, items...)."""
    return decide(
        situation(*entitlements, when=when, uses=uses, sched=sched, lane=lane, site=site, holder=holder, **ask_kw)
    )


def recorded(decision: Decision, held: bool = False) -> tuple[Use, ...]:
    """The decision's plan as the ledger holds it after the passage (committed unless `held`)."""
    return tuple(u._replace(held=held) for u in decision.plan)
