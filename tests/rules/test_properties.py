"""Properties that hold for every situation: nobody is admitted beyond what was asked or paid for."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from gate.decision import Ask, Site, Use
from gate.reasons import Verdict
from gate.records import CreditMembership
from gate.rules import credit_remaining, decide

from .build import KIOSK, PARIS, at, credit, situation, ticket, use

PRODUCTS = ("entry-adult", "entry-child", "audioguide", "workshop")
NOON = at(2026, 3, 10, 12)


@st.composite
def pools(draw: st.DrawFn) -> tuple[list[CreditMembership], list[Use]]:
    count = draw(st.integers(1, 3))
    memberships = []
    uses = []
    for i in range(count):
        cm = credit(
            f"c{i}",
            credits=draw(st.integers(0, 4)),
            purchased_at=at(2026, 1, 1) + dt.timedelta(days=draw(st.integers(0, 90))),
            expires_on=dt.date(2026, 3, 1) + dt.timedelta(days=draw(st.integers(0, 60))),
            eligible_products=tuple(draw(st.sets(st.sampled_from(PRODUCTS), min_size=1))),
        )
        memberships.append(cm)
        spent = draw(st.integers(0, cm.credits))
        if spent:
            uses.append(use(cm, at(2026, 1, 1), persons=spent, credits=spent))
    return memberships, uses


@settings(max_examples=300, deadline=None)
@given(
    pool=pools(),
    items=st.lists(st.sampled_from(PRODUCTS), min_size=1, max_size=5),
    party=st.none() | st.integers(1, 6),
    zero_takes=st.booleans(),
    free=st.none() | st.integers(0, 4),
)
def test_a_credit_pool_never_spends_more_than_it_has(
    pool: tuple[list[CreditMembership], list[Use]],
    items: list[str],
    party: int | None,
    zero_takes: bool,
    free: int | None,
) -> None:
    memberships, uses = pool
    capacity = None if free is None else 10
    site = Site(tz=PARIS, zero_price_takes_credit=zero_takes, capacity=capacity, inside=10 - (free or 0))
    s = situation(*memberships, when=NOON, uses=uses, lane=KIOSK, site=site, ask=Ask(items=tuple(items), party=party))
    d = decide(s)
    asked = party or len(items)
    assert d.admitted <= asked
    assert sum(u.persons for u in d.plan) == d.admitted
    if d.verdict is Verdict.DENY:
        assert d.admitted == 0 and d.plan == ()
        return
    assert 1 <= d.admitted <= len(items)
    by_id = {cm.id: cm for cm in memberships}
    spent = 0
    for u in d.plan:
        cm = by_id[u.entitlement_id]
        assert 0 <= u.credits <= credit_remaining(cm, uses)
        assert u.credits <= u.persons
        spent += u.credits
    active = [cm for cm in memberships if credit_remaining(cm, uses) > 0 and cm.expires_on >= dt.date(2026, 3, 10)]
    active = [cm for cm in active if cm.purchased_at <= NOON]
    total = sum(credit_remaining(cm, uses) for cm in active)
    assert spent <= total
    assert d.balance == total - spent
    # FIFO: the plan follows purchase order.
    order = [by_id[u.entitlement_id].purchased_at for u in d.plan]
    assert order == sorted(order)
    assert d.entitlement_id == d.plan[0].entitlement_id


@settings(max_examples=300, deadline=None)
@given(
    pax=st.integers(1, 8),
    entered=st.lists(st.integers(1, 3), max_size=4),
    exited=st.lists(st.integers(1, 3), max_size=3),
    party=st.none() | st.integers(1, 10),
    multiple=st.booleans(),
    reentry=st.booleans(),
)
def test_a_ticket_never_admits_more_than_asked_or_left(
    pax: int, entered: list[int], exited: list[int], party: int | None, multiple: bool, reentry: bool
) -> None:
    t = ticket(pax=pax, entries="multiple" if multiple else "single", reentry=reentry)
    start = at(2026, 3, 14, 19, 0)
    uses = [use(t, start + dt.timedelta(minutes=i), persons=n) for i, n in enumerate(entered)]
    uses += [use(t, start + dt.timedelta(minutes=10 + i), "exit", persons=n) for i, n in enumerate(exited)]
    d = decide(situation(t, when=at(2026, 3, 14, 19, 30), uses=uses, ask=Ask(party=party)))
    inside = sum(entered) - (sum(exited) if reentry else 0)
    left = pax if multiple else pax - max(inside, 0)
    if left <= 0:
        assert d.verdict is Verdict.DENY and d.admitted == 0
        return
    assert d.admitted == min(party or left, left)
    assert d.plan[0].persons == d.admitted
