"""What goes into a decision and what comes out of it: the contract between `rules` and the rest.

`Situation` holds everything `gate.rules.decide` may look at and nothing else; `Decision` is
its whole answer. Both are plain frozen dataclasses so the rules stay pure and cheap.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple, TypeAlias

from gate.reasons import Reason, Verdict
from gate.records import (
    Calendar,
    Direction,
    Entitlement,
    Event,
    Holder,
    Mode,
    Performance,
    Product,
    Season,
    Ticket,
)

Param: TypeAlias = str | int | dt.datetime | dt.date


class Use(NamedTuple):
    """One entitlement's share of a redemption that is held or committed.

    Held uses count as used (a code scanned again during its passage is refused as in
    progress); released redemptions leave no use behind. `held` defaults to False so that a
    stored row (the other fields, in order) makes a committed use in one call.
    """

    entitlement_id: str
    at: float  # UTC epoch seconds of the decision
    direction: Direction
    persons: int
    credits: int
    performance: str | None
    event: str | None
    benefit: int | None  # index of the membership benefit applied
    lane: str
    zone: str
    held: bool = False


@dataclass(frozen=True, slots=True)
class Lane:
    """The lane's context: where the decision is taken."""

    id: str
    zone: str
    mode: Mode = "live"
    kiosk: bool = False
    product: str | None = None  # what one entry at this lane is, for credit memberships
    # Cut off from the site's other devices this long (seconds; None: in step, or no sync), and
    # the kinds of entitlement its offline policy then refuses ([sync.offline]).
    offline_s: float | None = None
    offline_refuses: frozenset[str] = frozenset()
    # The lane's clock is not trusted (no time sync, a jump): its uses are marked so, and the
    # hub does not let their instants decide which of two uses came first.
    clock_untrusted: bool = False


@dataclass(frozen=True, slots=True)
class Ask:
    """What the read asks for, beyond the code itself."""

    direction: Direction = "entry"
    party: int | None = None  # persons asking; none = what the entitlement allows at once
    performance: str | None = None  # chosen at a kiosk, or given by a replay
    items: tuple[str, ...] = ()  # products asked for at a kiosk; default: the lane's product
    attended: bool = False  # staff have done the attention check (ID, child): admit rather than ask them


@dataclass(frozen=True, slots=True)
class Schedule:
    """The venue's products, seasons, events, performances and opening calendars."""

    products: Mapping[str, Product] = field(default_factory=dict)
    seasons: Mapping[str, Season] = field(default_factory=dict)
    events: Mapping[str, Event] = field(default_factory=dict)
    performances: Mapping[str, Performance] = field(default_factory=dict)
    calendars: tuple[Calendar, ...] = ()
    performances_by_event: Mapping[str, tuple[Performance, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Site:
    """Site-wide facts and settings the rules need."""

    tz: dt.tzinfo
    capacity: int | None = None
    inside: int = 0  # the occupancy counter: entries minus exits
    zero_price_takes_credit: bool = False


@dataclass(frozen=True, slots=True)
class Situation:
    """Everything one decision may look at."""

    entitlements: tuple[Entitlement, ...]  # what the code resolved to (credit: the holder's others too)
    holder: Holder | None
    uses: tuple[Use, ...]  # held and committed uses of those entitlements
    schedule: Schedule
    lane: Lane
    site: Site
    at: dt.datetime  # aware, any zone; rules convert to the site's zone
    ask: Ask = Ask()


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to one read on one lane at one time."""

    verdict: Verdict
    reason: Reason
    params: Mapping[str, Param] = field(default_factory=dict)
    admitted: int = 0  # persons the lane lets through for this read
    balance: int | None = None  # credits (or seats) left after this use
    holder: str | None = None  # first name and initial
    entitlement_id: str | None = None
    kind: str | None = None
    plan: tuple[Use, ...] = ()  # the uses a hold of this decision records
    admission: Ticket | None = None  # what a voucher redemption creates
    # A credit membership's purchase: the products the credits pay for (a free item included),
    # one per item admitted, cheapest first; and what the items asked cost beyond them, in
    # the currency's minor units (None: nothing was priced).
    covered: tuple[str, ...] = ()
    to_pay: int | None = None

    @property
    def admits(self) -> bool:
        return self.verdict is Verdict.ADMIT
