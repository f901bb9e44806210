"""The rules: (entitlements, their uses, the schedule, the lane, the time) -> one Decision.

Pure and fast: no I/O, no clock, no logging; everything comes from the `Situation`.
See docs/rules.md for every rule, its edges and the order of checks.
"""

from __future__ import annotations

from gate.rules.credits import credit_active, credit_ends_at, credit_remaining
from gate.rules.decide import decide
from gate.rules.history import history_since, use_sources
from gate.rules.membership import membership_expires_on
from gate.rules.performances import admission_window
from gate.rules.reservation import reservation_deadline
from gate.rules.voucher import redemption_window, voucher_expires_on

__all__ = [
    "admission_window",
    "credit_active",
    "credit_ends_at",
    "credit_remaining",
    "decide",
    "history_since",
    "membership_expires_on",
    "redemption_window",
    "reservation_deadline",
    "use_sources",
    "voucher_expires_on",
]
