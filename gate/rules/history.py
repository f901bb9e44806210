"""How far back a decision must look: the oldest committed use any rule could count.

A member who comes every day collects hundreds of uses, and every stored use costs a
decision a few microseconds to read and scan (docs/performance.md): a member with 300 took
about a millisecond. Of all kinds only memberships collect uses without bound, and their
rules look back only as far as their limits' periods and their anti-passback window, unless
a lifetime limit or exit-before-re-entry needs the whole history. The engine reads committed
uses from this instant on; held uses always (a passage in progress is refused whatever
its age). A membership whose accesses restrict nothing needs no committed use at all: the
bound is then infinity, and the ledger does not look (the common annual pass). The rules
decide the same on that part as on the whole: a property test holds them to it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence

from gate.records import Access, Entitlement, EntryBenefit, Membership, Season, Ticket
from gate.rules.periods import period_start


def history_since(
    entitlements: Sequence[Entitlement], *, at: dt.datetime, tz: dt.tzinfo, seasons: Mapping[str, Season]
) -> float | None:
    """Epoch seconds from which committed uses can change the decision; None: all of them;
    `math.inf`: none of them."""
    since = math.inf
    for ent in entitlements:
        if not isinstance(ent, Membership):
            return None  # bounded by what was bought: a ticket's pax, a voucher, credits, seats
        for access in (ent.access, *(b.access for b in ent.benefits if isinstance(b, EntryBenefit))):
            if not access.unrestricted:  # the clock is read only for an access that limits
                earliest = _earliest(access, at.astimezone(tz), tz, seasons)
                if earliest is None:
                    return None
                since = min(since, earliest)
    return since


def use_sources(entitlements: Sequence[Entitlement]) -> list[str]:
    """The entitlements whose uses a decision reads: each one's own, and for the admission a
    voucher became, the voucher's, whose redemption says when (a kiosk that reads it again)."""
    ids = [ent.id for ent in entitlements]
    for ent in entitlements:
        if isinstance(ent, Ticket) and ent.from_voucher is not None and ent.from_voucher not in ids:
            ids.append(ent.from_voucher)
    return ids


def _earliest(access: Access, now: dt.datetime, tz: dt.tzinfo, seasons: Mapping[str, Season]) -> float | None:
    if access.exit_before_reentry:
        return None  # the last entry, however old, and whether an exit followed it
    since = math.inf
    for limit in access.limits:
        start = period_start(limit.per, now.date(), tz, seasons)
        if start is None:
            continue  # no season on today: the rules skip this limit too
        if start == float("-inf"):
            return None
        since = min(since, start)
    if access.anti_passback_minutes is not None:
        since = min(since, now.timestamp() - access.anti_passback_minutes * 60)
    return since
