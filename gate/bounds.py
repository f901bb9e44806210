"""The ranges gate decides on, checked where a value enters (an import, a command's `--at`, a
replay line, a signed credential), never on the decision's hot path: the instants below, and
the bounded types the ledger's records use (docs/ledger-format.md, "Bounds").

Instants from 2000-01-01T00:00:00Z (inclusive) to 2100-01-01T00:00:00Z (exclusive): wide
enough for any venue's records, and far enough from the calendar's ends (years 1 and 9999)
that no local day, week or validity the rules compute from such an instant overflows.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AwareDatetime, Field

EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)  # exclusive
EARLIEST_TS = EARLIEST.timestamp()
LATEST_TS = LATEST.timestamp()
RANGE_TEXT = "from 2000-01-01T00:00:00Z to before 2100-01-01T00:00:00Z"
# Local days the ledger holds (a day is local: 2000-01-01T00:00Z is still 1999 in New York).
FIRST_DAY = dt.date(2000, 1, 1)
LAST_DAY = dt.date(2099, 12, 31)


def in_range(timestamp: float) -> bool:
    """Whether Unix seconds fall in the range (NaN does not)."""
    return EARLIEST_TS <= timestamp < LATEST_TS


def instant_problem(at: dt.datetime) -> str | None:
    """What is wrong with an aware instant, or None when it is in the range."""
    # Compared as Unix seconds: timestamp() never overflows, even at 9999-12-31 in any offset.
    if in_range(at.timestamp()):
        return None
    return f"outside the times gate decides on ({RANGE_TEXT})"


# Versions travel as JSON to browsers and MQTT: past 2^53 - 1 a JavaScript number rounds.
MAX_VERSION = 2**53 - 1
# A duration is at most 100 years (of 365.25 days): any validity or window fits, and a day
# plus it stays a day Python can represent.
MAX_DAYS = 36_525
MAX_MINUTES = MAX_DAYS * 24 * 60
MAX_COUNT = 100_000  # entries per period, credits: far beyond any use, exact in any arithmetic
MAX_PERSONS = 999  # persons on one ticket or reservation, seats of a subscription
MAX_PRICE_CENTS = 10_000_000_000  # 100 million in the venue's currency

Version = Annotated[int, Field(ge=1, le=MAX_VERSION)]
Instant = Annotated[AwareDatetime, Field(ge=EARLIEST, lt=LATEST)]
Day = Annotated[dt.date, Field(ge=FIRST_DAY, le=LAST_DAY)]
Days = Annotated[int, Field(ge=0, le=MAX_DAYS)]
Minutes = Annotated[int, Field(ge=0, le=MAX_MINUTES)]
Count = Annotated[int, Field(ge=1, le=MAX_COUNT)]
Persons = Annotated[int, Field(ge=1, le=MAX_PERSONS)]
