"""`gate check --at`: times from 2000 to 2100 are decided; outside, one line and status 2.

Times at the calendar's edge (year 9999 in UTC, year 1 at +14:00) used to overflow a local
day deep in the rules and end in a traceback (docs/check.md, "Times").
"""

from __future__ import annotations

import pytest

from tests.cli.conftest import Run, last_json

OUTSIDE = (
    "9999-12-31T23:59:59+00:00",
    "9999-12-31T23:59:59-12:00",
    "0001-01-01T00:30:00+14:00",
    "9999-12-31T23:59[Europe/Paris]",
    "1999-12-31T23:59:59.999999Z",
    "2100-01-01T00:00:00Z",
)


@pytest.mark.parametrize("at", OUTSIDE)
@pytest.mark.parametrize("code", ["MEMBER-1", "TICKET-1", "CREDIT-1", "nobody"])
def test_a_time_outside_the_range_is_one_line_and_status_2(run: Run, at: str, code: str) -> None:
    status, out, err = run("check", code, "--at", at, "--json")
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"gate: --at {at!r}: outside the times gate decides on")
    assert "2000-01-01T00:00:00Z" in err and "2100-01-01T00:00:00Z" in err


@pytest.mark.parametrize("code", ["MEMBER-1", "TICKET-1", "CREDIT-1", "nobody"])
def test_the_range_holds_2000_and_stops_before_2100_in_any_zone(run: Run, code: str) -> None:
    decided = (
        "2000-01-01T00:00:00Z",
        "2000-01-01T01:00:00[Europe/Paris]",
        "2099-12-31T23:59:59.999999Z",
        "2100-01-01T13:00[Pacific/Kiritimati]",  # a local 2100 that is still 2099 in UTC
        "2099-12-31T11:59:59-12:00",
    )
    for at in decided:
        status, out, err = run("check", code, "--at", at, "--json")
        assert status in (0, 1), (at, err)
        assert last_json(out)["reason"], at
    for at in ("1999-12-31T23:59:59.999999Z", "2000-01-01T00:59:59[Europe/Paris]", "2100-01-01T00:00:00Z"):
        assert run("check", code, "--at", at, "--json")[0] == 2, at
