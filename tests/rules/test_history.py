"""The history a decision reads: from `history_since` on, the rules decide as on the whole."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from gate.decision import Use
from gate.records import Access, Entitlement, EntryBenefit, Limit, Membership
from gate.rules import decide, history_since, use_sources

from .build import PARIS, SCHEDULE, at, credit, membership, situation, ticket, use

NOW = at(2026, 3, 14, 19, 30)  # a Saturday in season s2526
PERIODS = ("day", "week", "month", "season", "lifetime")


@st.composite
def accesses(draw: st.DrawFn) -> Access:
    limits = draw(st.lists(st.builds(Limit, per=st.sampled_from(PERIODS), count=st.integers(1, 4)), max_size=2))
    return Access(
        limits=tuple(limits),
        anti_passback_minutes=draw(st.none() | st.integers(1, 3 * 24 * 60)),
        exit_before_reentry=draw(st.booleans()),
    )


@st.composite
def histories(draw: st.DrawFn) -> tuple[Membership, list[Use]]:
    benefits = draw(st.lists(accesses(), min_size=1, max_size=2))
    m = membership(access=draw(accesses()), benefits=tuple(EntryBenefit(access=a) for a in benefits))
    uses = [
        use(
            m,
            # Some stamped after NOW, as a clock set back leaves them.
            NOW - dt.timedelta(minutes=draw(st.integers(-24 * 60, 400 * 24 * 60))),
            draw(st.sampled_from(("entry", "entry", "exit"))),
            benefit=draw(st.integers(0, len(benefits) - 1)),
            held=draw(st.integers(0, 9)) == 0,
        )
        for _ in range(draw(st.integers(0, 30)))
    ]
    return m, sorted(uses, key=lambda u: u.at)


@settings(max_examples=400, deadline=None)
@given(history=histories(), party=st.none() | st.integers(1, 3))
def test_a_membership_decides_the_same_on_its_history_since_the_bound(
    history: tuple[Membership, list[Use]], party: int | None
) -> None:
    m, uses = history
    whole = situation(m, when=NOW, uses=uses, party=party)
    since = history_since([m], at=NOW, tz=PARIS, seasons=SCHEDULE.seasons)
    if since is None:
        return  # the whole history is read: nothing to compare
    recent = dataclasses.replace(whole, uses=tuple(u for u in uses if u.held or u.at >= since))
    assert decide(recent) == decide(whole)


def test_plain_memberships_need_no_history_and_limits_reach_back_to_their_period() -> None:
    now = NOW.timestamp()
    assert history_since([membership()], at=NOW, tz=PARIS, seasons=SCHEDULE.seasons) == math.inf
    daily = membership(access=Access(limits=(Limit(per="day", count=1),)))
    assert history_since([daily], at=NOW, tz=PARIS, seasons=SCHEDULE.seasons) == at(2026, 3, 14, 0, 0).timestamp()
    passback = membership(benefits=(EntryBenefit(access=Access(anti_passback_minutes=30)),))
    assert history_since([passback], at=NOW, tz=PARIS, seasons=SCHEDULE.seasons) == now - 30 * 60
    seasonal = membership(access=Access(limits=(Limit(per="season", count=9),)))
    season_start = at(2025, 9, 1, 0, 0).timestamp()
    assert history_since([seasonal, daily], at=NOW, tz=PARIS, seasons=SCHEDULE.seasons) == season_start


def test_the_whole_history_when_a_rule_may_look_at_all_of_it() -> None:
    forever = membership(access=Access(limits=(Limit(per="lifetime", count=100),)))
    exit_first = membership(benefits=(EntryBenefit(access=Access(exit_before_reentry=True)),))
    cases: list[list[Entitlement]] = [[forever], [exit_first], [credit()], [ticket()], [membership(), ticket()]]
    for entitlements in cases:
        assert history_since(entitlements, at=NOW, tz=PARIS, seasons=SCHEDULE.seasons) is None


def test_a_voucher_admission_reads_its_voucher_uses_too() -> None:
    admission = ticket("v1:admission", performance="tempest-1", from_voucher="v1")
    assert use_sources([admission, membership()]) == ["v1:admission", "m1", "v1"]
    assert use_sources([ticket(), membership()]) == ["t1", "m1"]
    # The voucher found with its admission is read once.
    assert use_sources([admission, ticket("v1")]) == ["v1:admission", "v1"]
