"""The range of instants gate decides on, checked where a time enters (a command's `--at`, a
replay line, a signed credential), never on the decision's hot path.

Instants from 2000-01-01T00:00:00Z (inclusive) to 2100-01-01T00:00:00Z (exclusive): wide
enough for any venue's records, and far enough from the calendar's ends (years 1 and 9999)
that no local day, week or validity the rules compute from such an instant overflows.
"""

from __future__ import annotations

import datetime as dt

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
