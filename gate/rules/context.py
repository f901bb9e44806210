"""What every rule shares for one scan: the moment in the site's zone, and how answers are built.

`Scan` is computed once per decision so no rule converts the clock again. A `Refusal` is a
reason with its parameters; it becomes a `Decision` only at the end, when the entitlement it
belongs to is known (several candidates may be tried for one code).
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from gate.decision import Ask, Decision, Lane, Param, Schedule, Site, Situation, Use
from gate.reasons import Reason, Verdict
from gate.records import Entitlement, reduce_display_name


class Refusal(NamedTuple):
    reason: Reason
    params: dict[str, Param]
    balance: int | None = None  # what is left all the same (a subscription's seats, read at a kiosk)


def refusal(reason: Reason, **params: Param) -> Refusal:
    return Refusal(reason, params)


class Scan:
    """One read at one lane at one moment, with the clock already in the site's zone."""

    __slots__ = ("ask", "holder", "lane", "now", "schedule", "site", "situation", "today", "ts", "tz")

    def __init__(self, situation: Situation) -> None:
        tz = situation.site.tz
        now = situation.at.astimezone(tz)
        self.situation = situation
        self.tz: dt.tzinfo = tz
        self.now = now
        self.ts = now.timestamp()
        self.today = now.date()
        self.lane: Lane = situation.lane
        self.ask: Ask = situation.ask
        self.site: Site = situation.site
        self.schedule: Schedule = situation.schedule
        holder = situation.holder
        self.holder = reduce_display_name(holder.display_name) if holder is not None else None

    def instant(self, ts: float) -> dt.datetime:
        """Epoch seconds as a parameter: an aware datetime in the site's zone."""
        return dt.datetime.fromtimestamp(ts, self.tz)

    def in_site(self, instant: dt.datetime) -> dt.datetime:
        return instant.astimezone(self.tz)

    def use(
        self,
        entitlement_id: str,
        persons: int,
        *,
        direction: str = "entry",
        credits: int = 0,
        performance: str | None = None,
        event: str | None = None,
        benefit: int | None = None,
    ) -> Use:
        """A use to hold now at this lane."""
        return Use(
            entitlement_id,
            self.ts,
            "exit" if direction == "exit" else "entry",
            persons,
            credits,
            performance,
            event,
            benefit,
            self.lane.id,
            self.lane.zone,
            True,
        )


def uses_of(entitlement_id: str, uses: tuple[Use, ...]) -> tuple[Use, ...]:
    return tuple(u for u in uses if u.entitlement_id == entitlement_id)


def deny(scan: Scan, ent: Entitlement | None, refused: Refusal) -> Decision:
    return Decision(
        verdict=Verdict.DENY,
        reason=refused.reason,
        params=refused.params,
        balance=refused.balance,
        holder=scan.holder,
        entitlement_id=ent.id if ent is not None else None,
        kind=ent.kind if ent is not None else None,
    )
