"""Experience vouchers: redeemed once at a kiosk, within expiry and a window before the start."""

from __future__ import annotations

import datetime as dt

from gate.decision import Lane, Use
from gate.reasons import Reason, Verdict
from gate.records import Access, Ticket, Voucher
from gate.rules import redemption_window, voucher_expires_on

from .build import KIOSK, LANE, PARIS, SCHEDULE, at, check, performance, schedule, ticket, use, voucher

TEMPEST = SCHEDULE.performances["tempest-1"]  # 14 March 2026 15:00, seats A/B, tariffs adult/child
MARCH_10 = at(2026, 3, 10, 11)


def test_redeemed_at_a_kiosk_into_an_admission() -> None:
    v = voucher(
        holder="h1",
        references=("VCH-001",),
        flags=("child",),
        access=Access(zones=("main",)),
        seat_categories=("B", "A"),
    )
    d = check(v, when=MARCH_10, lane=KIOSK, performance="tempest-1")
    assert (d.verdict, d.reason, d.admitted) == (Verdict.ADMIT, Reason.REDEEMED, 1)
    assert d.params == {"show": "The Tempest", "starts_at": at(2026, 3, 14, 15)}
    assert (d.entitlement_id, d.kind, d.holder) == ("v1", "voucher", "Marie-Claire D.")
    (u,) = d.plan
    assert (u.persons, u.credits, u.performance, u.event, u.held) == (1, 0, "tempest-1", "tempest", True)
    admission = d.admission
    assert isinstance(admission, Ticket)
    expected = Ticket(
        id="v1:admission",
        version=1,
        holder="h1",
        references=("VCH-001",),
        flags=("child",),
        access=Access(zones=("main",)),
        performance="tempest-1",
        pax=1,
        seat_category="B",
        tariff=None,
        from_voucher="v1",
        purchased_at=at(2026, 1, 10, 10),
    )
    assert admission == expected


def test_voucher_at_a_turnstile_must_go_to_a_kiosk() -> None:
    d = check(voucher(), when=MARCH_10, lane=LANE)
    assert (d.verdict, d.reason) == (Verdict.DENY, Reason.KIOSK_ONLY)


def test_kiosk_asks_for_a_performance() -> None:
    assert check(voucher(), when=MARCH_10, lane=KIOSK).reason is Reason.CHOOSE_PERFORMANCE


def test_single_use() -> None:
    v = voucher()
    committed = use(v, at(2026, 3, 1), performance="tempest-1", event="tempest")
    d = check(v, when=MARCH_10, lane=KIOSK, performance="tempest-1", uses=[committed])
    assert d.reason is Reason.VOUCHER_USED
    held = committed._replace(held=True)
    assert check(v, when=MARCH_10, lane=KIOSK, performance="tempest-1", uses=[held]).reason is Reason.IN_PROGRESS


def test_an_exit_scan_does_not_use_the_voucher() -> None:
    v = voucher()
    out = use(v, at(2026, 3, 1), "exit")
    assert check(v, when=MARCH_10, lane=KIOSK, performance="tempest-1", uses=[out]).reason is Reason.REDEEMED


def test_expires_at_the_end_of_its_date() -> None:
    v = voucher(expires_on=dt.date(2026, 3, 10))
    assert check(v, when=at(2026, 3, 10, 23, 59, 59), lane=KIOSK, performance="tempest-1").admits
    d = check(v, when=at(2026, 3, 11, 0, 0), lane=KIOSK, performance="tempest-1")
    assert d.reason is Reason.VOUCHER_EXPIRED and d.params == {"expired_on": dt.date(2026, 3, 10)}


def test_expires_n_days_after_purchase() -> None:
    v = voucher(purchased_at=at(2026, 2, 1, 23, 30), expires_after_days=30)
    assert voucher_expires_on(v, PARIS) == dt.date(2026, 3, 3)
    assert check(v, when=at(2026, 3, 3, 23, 0), lane=KIOSK, performance="tempest-1").admits
    d = check(v, when=at(2026, 3, 4, 0, 0), lane=KIOSK, performance="tempest-1")
    assert d.reason is Reason.VOUCHER_EXPIRED and d.params == {"expired_on": dt.date(2026, 3, 3)}


def test_expired_voucher_is_told_before_choosing() -> None:
    v = voucher(expires_on=dt.date(2026, 3, 1))
    assert check(v, when=MARCH_10, lane=KIOSK).reason is Reason.VOUCHER_EXPIRED


def test_redemption_window_edges() -> None:
    v = voucher(window={"opens_days_before": 30, "closes_days_before": 2})
    opens, closes = at(2026, 2, 12, 15), at(2026, 3, 12, 15)
    assert redemption_window(v, TEMPEST, PARIS) == (opens, closes)
    d = check(v, when=opens - dt.timedelta(microseconds=1), lane=KIOSK, performance="tempest-1")
    assert d.reason is Reason.REDEMPTION_NOT_OPEN and d.params == {"opens_at": opens, "show": "The Tempest"}
    assert check(v, when=opens, lane=KIOSK, performance="tempest-1").admits
    assert check(v, when=closes - dt.timedelta(microseconds=1), lane=KIOSK, performance="tempest-1").admits
    d = check(v, when=closes, lane=KIOSK, performance="tempest-1")
    assert d.reason is Reason.REDEMPTION_CLOSED and d.params == {"closed_at": closes, "show": "The Tempest"}


def test_redemption_window_counts_local_days_across_dst() -> None:
    spring = performance("tempest-apr", "tempest", at(2026, 4, 2, 20))
    v = voucher(window={"opens_days_before": 10})
    opens, _ = redemption_window(v, spring, PARIS)
    assert opens == at(2026, 3, 23, 20)  # 20:00 winter time, not 21:00
    sched = schedule(spring)
    assert not check(v, when=at(2026, 3, 23, 19, 59), lane=KIOSK, performance="tempest-apr", sched=sched).admits
    assert check(v, when=at(2026, 3, 23, 20, 0), lane=KIOSK, performance="tempest-apr", sched=sched).admits


def test_without_a_closing_rule_redemption_closes_with_admission() -> None:
    v = voucher()
    assert check(v, when=at(2026, 3, 14, 15, 29), lane=KIOSK, performance="tempest-1").admits
    d = check(v, when=at(2026, 3, 14, 15, 30), lane=KIOSK, performance="tempest-1")
    assert d.reason is Reason.REDEMPTION_CLOSED and d.params["closed_at"] == at(2026, 3, 14, 15, 30)


def test_eligible_by_performance_or_by_event() -> None:
    by_perf = voucher(events=(), performances=("hamlet-2",))
    d = check(by_perf, when=MARCH_10, lane=KIOSK, performance="hamlet-1")
    assert d.reason is Reason.WRONG_PERFORMANCE and d.params == {"show": "Hamlet"}
    assert check(by_perf, when=MARCH_10, lane=KIOSK, performance="hamlet-2").admits
    by_event = voucher(events=("hamlet",))
    assert check(by_event, when=MARCH_10, lane=KIOSK, performance="hamlet-1").admits
    assert check(by_event, when=MARCH_10, lane=KIOSK, performance="hamlet-2").admits
    d = check(by_event, when=MARCH_10, lane=KIOSK, performance="tempest-1")
    assert d.reason is Reason.WRONG_PERFORMANCE and d.params == {"show": "The Tempest"}
    assert check(by_event, when=MARCH_10, lane=KIOSK, performance="nope").reason is Reason.NO_PERFORMANCE


def test_seat_category_must_match() -> None:
    v = voucher(seat_categories=("C", "D"))
    d = check(v, when=MARCH_10, lane=KIOSK, performance="tempest-1")
    assert d.reason is Reason.SEAT_CATEGORY and d.params == {"wanted": "C, D", "offered": "A, B"}
    # A performance that lists no categories takes any: the voucher's first is admitted.
    any_seat = voucher(events=("hamlet",), seat_categories=("C",))
    d = check(any_seat, when=MARCH_10, lane=KIOSK, performance="hamlet-1")
    assert d.admits and d.admission is not None and d.admission.seat_category == "C"


def test_tariff_must_match() -> None:
    v = voucher(tariffs=("senior",))
    d = check(v, when=MARCH_10, lane=KIOSK, performance="tempest-1")
    assert d.reason is Reason.TARIFF and d.params == {"wanted": "senior", "offered": "adult, child"}
    d = check(voucher(tariffs=("student", "child")), when=MARCH_10, lane=KIOSK, performance="tempest-1")
    assert d.admits and d.admission is not None and d.admission.tariff == "child"


def test_bundle_of_two_each_usable_once() -> None:
    a = voucher("va", bundle="b1")
    b = voucher("vb", bundle="b1")
    d = check(a, b, when=MARCH_10, lane=KIOSK, performance="tempest-1")
    assert d.reason is Reason.REDEEMED and d.entitlement_id == "va"
    assert d.admission is not None and d.admission.id == "va:admission"
    uses = [use(a, at(2026, 3, 9), performance="tempest-1", event="tempest")]
    d = check(a, b, when=MARCH_10, lane=KIOSK, performance="tempest-1", uses=uses)
    assert d.reason is Reason.REDEEMED and d.entitlement_id == "vb"
    assert d.plan[0].entitlement_id == "vb"
    uses.append(use(b, at(2026, 3, 9, 13), performance="tempest-1", event="tempest"))
    d = check(a, b, when=MARCH_10, lane=KIOSK, performance="tempest-1", uses=uses)
    assert d.reason is Reason.VOUCHER_USED and d.entitlement_id == "va"


def test_the_admission_a_code_resolves_to_opens_the_lane() -> None:
    v = voucher()
    admission = ticket("v1:admission", performance="tempest-1", from_voucher="v1")
    d = check(v, admission, when=at(2026, 3, 14, 14, 30), lane=LANE)
    assert d.admits and d.entitlement_id == "v1:admission" and d.params == {"show": "The Tempest"}


def test_mode_and_state_are_checked_first() -> None:
    assert check(voucher(mode="test"), when=MARCH_10, lane=KIOSK).reason is Reason.TEST_AT_LIVE_LANE
    assert check(voucher(state="cancelled"), when=MARCH_10, lane=KIOSK).reason is Reason.CANCELLED
    test_kiosk = Lane(id="kiosk-1", zone="main", kiosk=True, mode="test")
    assert check(voucher(), when=MARCH_10, lane=test_kiosk).reason is Reason.LIVE_AT_TEST_LANE


# --- a redeemed voucher read again ---------------------------------------------------------------

REDEEMED_AT = at(2026, 3, 1, 16, 20)


def _redeemed() -> tuple[Voucher, Ticket, Use]:
    """A voucher redeemed on 1 March for the Tempest of 14 March, its admission, and the redemption."""
    v = voucher(references=("VCH-001",))
    redemption = use(v, REDEEMED_AT, performance="tempest-1", event="tempest", lane="kiosk-1")
    admission = ticket("v1:admission", performance="tempest-1", from_voucher="v1", references=("VCH-001",))
    return v, admission, redemption


def test_a_redeemed_voucher_is_voucher_used_with_its_show_and_time_at_any_lane() -> None:
    v, _, redemption = _redeemed()
    for lane in (KIOSK, LANE):
        d = check(v, when=MARCH_10, lane=lane, uses=[redemption])
        assert (d.verdict, d.reason) == (Verdict.DENY, Reason.VOUCHER_USED), lane
        assert d.params == {"show": "The Tempest", "used_at": REDEEMED_AT}


def test_the_admission_of_a_redeemed_voucher_read_at_a_kiosk_is_voucher_used() -> None:
    # The ledger resolves a redeemed voucher's code to its admission alone, with the voucher's
    # redemption among the uses: the kiosk says when it was redeemed, not the admission's window.
    _, admission, redemption = _redeemed()
    for when in (MARCH_10, at(2026, 3, 14, 14, 30), at(2026, 3, 15, 10)):
        d = check(admission, when=when, lane=KIOSK, uses=[redemption])
        assert (d.verdict, d.reason, d.plan) == (Verdict.DENY, Reason.VOUCHER_USED, ()), when
        assert d.params == {"show": "The Tempest", "used_at": REDEEMED_AT}
        assert d.entitlement_id == "v1:admission"
    # Without the redemption's use at hand, the show alone.
    d = check(admission, when=MARCH_10, lane=KIOSK)
    assert d.reason is Reason.VOUCHER_USED and d.params == {"show": "The Tempest"}
    # The voucher and its admission both found (a bundle, a signed credential): the same answer.
    v, _, _ = _redeemed()
    d = check(v, admission, when=MARCH_10, lane=KIOSK, uses=[redemption])
    assert d.reason is Reason.VOUCHER_USED and d.params == {"show": "The Tempest", "used_at": REDEEMED_AT}


def test_the_redemption_is_not_an_entry_of_its_admission() -> None:
    _, admission, redemption = _redeemed()
    d = check(admission, when=at(2026, 3, 14, 14, 30), lane=LANE, uses=[redemption])
    assert (d.reason, d.admitted, d.entitlement_id) == (Reason.OK, 1, "v1:admission")
    entered = use(admission, at(2026, 3, 14, 14, 35), performance="tempest-1", event="tempest")
    d = check(admission, when=at(2026, 3, 14, 14, 40), lane=LANE, uses=[redemption, entered])
    assert d.reason is Reason.ALREADY_USED and d.params == {"used_at": at(2026, 3, 14, 14, 35)}
    # At the lane, an admission out of its window still says when its doors open.
    d = check(admission, when=MARCH_10, lane=LANE, uses=[redemption])
    assert d.reason is Reason.TOO_EARLY
