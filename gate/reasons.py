"""The one documented enum of decision reasons (see docs/reasons.md).

A decision carries a reason code and its parameters, never text: text is rendered per
audience and language by `gate.text`. Codes are stable strings: they travel in logs, in the
event journal and over MQTT, so a code is never renamed, only added.
"""

from __future__ import annotations

import enum


class Verdict(enum.StrEnum):
    ADMIT = "admit"
    DENY = "deny"
    ATTENTION = "attention"  # admissible, but only once staff have looked (ID check, child)


class Reason(enum.StrEnum):
    # admit
    OK = "ok"  # params: none, or show (event name)
    PARTIAL = "partial"  # params: admitted, asked, need_tickets
    EXIT = "exit"  # an exit was recorded
    REDEEMED = "redeemed"  # a voucher became an admission; params: show, starts_at
    # attention (admissible with staff)
    ID_CHECK = "id_check"
    CHILD = "child"
    # the read itself
    UNREADABLE = "unreadable"  # params: detail
    UNKNOWN_CODE = "unknown_code"
    UNDECIDABLE = "undecidable"  # the code's stored records cannot be decided on (bad data); params: detail
    FORGED = "forged"  # a signed credential whose layout or signature does not verify
    UNKNOWN_KEY = "unknown_key"  # params: key
    KEY_NOT_VALID = "key_not_valid"  # params: key
    # lane and mode
    TEST_AT_LIVE_LANE = "test_at_live_lane"
    LIVE_AT_TEST_LANE = "live_at_test_lane"
    WRONG_ZONE = "wrong_zone"  # params: zone
    WRONG_LANE = "wrong_lane"  # params: lane
    KIOSK_ONLY = "kiosk_only"  # a voucher must be redeemed at a kiosk first
    # An admission, a membership or a subscription read at a kiosk: it opens lanes and uses nothing here.
    FOR_LANES = "for_lanes"  # params: show, starts_at when known
    LANE_CLOSED = "lane_closed"  # the lane is locked or out of order (nothing asked of the ledger); params: mode
    # A code of a kind [sync.offline] refuses once the device has been cut off that long:
    # another device may have used it meanwhile.
    OFFLINE = "offline"  # params: minutes, kind
    # states
    REVOKED = "revoked"
    CANCELLED = "cancelled"
    BLOCKED = "blocked"
    FROZEN = "frozen"
    # validity in time
    NOT_YET_VALID = "not_yet_valid"  # params: valid_from (instant)
    EXPIRED = "expired"  # params: expired_at (instant)
    CLOSED = "closed"  # site or zone closed; params: opens_at (instant) when known
    CLOSED_TODAY = "closed_today"  # a closed day of the calendar
    OUTSIDE_WINDOW = "outside_window"  # an entitlement's weekly window; params: opens_at when known
    BLACKOUT = "blackout"  # params: day
    TOO_EARLY = "too_early"  # admission window; params: opens_at, show
    TOO_LATE = "too_late"  # admission window; params: closed_at, show
    NO_PERFORMANCE = "no_performance"  # nothing it is valid for is on now
    WRONG_PERFORMANCE = "wrong_performance"  # params: show
    # use
    IN_PROGRESS = "in_progress"  # held by a passage under way
    ALREADY_USED = "already_used"  # params: used_at (instant)
    LIMIT_REACHED = "limit_reached"  # params: per, count
    ANTI_PASSBACK = "anti_passback"  # params: until (instant)
    EXIT_REQUIRED = "exit_required"
    SITE_FULL = "site_full"  # params: capacity
    NO_ENTRY_BENEFIT = "no_entry_benefit"  # a membership whose benefits are all discounts
    # credits
    NO_CREDIT = "no_credit"  # params: balance (0)
    NOT_ELIGIBLE = "not_eligible"  # params: product
    # subscriptions
    SHOW_USED = "show_used"  # params: used, quantity, show
    OTHER_PERFORMANCE = "other_performance"  # seats of this show were used at another performance; params: show
    # reservations
    UNPAID = "unpaid"  # params: deadline (instant)
    RESERVATION_RELEASED = "reservation_released"  # params: deadline (instant)
    # vouchers
    VOUCHER_USED = "voucher_used"  # redeemed already; params: show, used_at (instant) when known
    VOUCHER_EXPIRED = "voucher_expired"  # params: expired_on (day)
    REDEMPTION_NOT_OPEN = "redemption_not_open"  # params: opens_at (instant), show
    REDEMPTION_CLOSED = "redemption_closed"  # params: closed_at (instant), show
    SEAT_CATEGORY = "seat_category"  # params: wanted, offered
    TARIFF = "tariff"  # params: wanted, offered
    CHOOSE_PERFORMANCE = "choose_performance"  # a kiosk must say which performance
    # staff
    OVERRIDE = "override"  # staff admitted despite a refusal; params: by, note


ADMIT_REASONS = frozenset({Reason.OK, Reason.PARTIAL, Reason.EXIT, Reason.REDEEMED, Reason.OVERRIDE})
ATTENTION_REASONS = frozenset({Reason.ID_CHECK, Reason.CHILD})
