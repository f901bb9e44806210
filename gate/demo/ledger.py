"""A demo ledger with every entitlement kind, dated around a given moment.

Built in the exchange format (the one way in for entitlements) so the demo exercises the same
import as a venue's export. Codes are short and typeable: they are what a newcomer types.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

DEMO_TZ = "Europe/Paris"

# The demo's staff, whose PINs the demo page states (hashes made once with `gate staff pin`).
DEMO_STAFF = (
    ("demo-sup", "supervisor", "Sam D.", "2468",
     "scrypt$n=8192,r=8,p=1$UeSinyOVWBgbhUrA9osmzg$2LmubNQQPYpj1t4q7OhKqxKaIQP5RN8/51SF1y02oOo"),
    ("demo-stw", "steward", "Lea M.", "1357",
     "scrypt$n=8192,r=8,p=1$cG1Xuhr4NRSr/BpIGBQQcw$CKwWmvO5rftINWIqjKpZky0DIf+trkIOBrtX6LVcF2A"),
)  # fmt: skip


def demo_lines(now: dt.datetime) -> list[str]:
    """JSON Lines of the demo ledger for a demo running at `now` (aware, in the site's zone)."""
    today = now.date()
    start = (now + dt.timedelta(minutes=30)).replace(second=0, microsecond=0)
    later = start + dt.timedelta(days=20)
    iso = dt.datetime.isoformat

    def ent(kind: str, id_: str, refs: list[str], **fields: Any) -> dict[str, Any]:
        return {"type": "entitlement", "kind": kind, "id": id_, "version": 1, "references": refs, **fields}

    records: list[dict[str, Any]] = [
        {"type": "header", "format": "gate-ledger", "version": 1},
        {"type": "holder", "id": "h-marie", "version": 1, "display_name": "Marie Dupont"},
        {"type": "holder", "id": "h-jonas", "version": 1, "display_name": "Jonas Weber", "language": "de"},
        {"type": "holder", "id": "h-ana", "version": 1, "display_name": "Ana Lima"},
        *({"type": "staff", "id": id_, "version": 1, "role": role, "name": name, "pin": pin_hash}
          for id_, role, name, _pin, pin_hash in DEMO_STAFF),
        {"type": "product", "id": "entry-adult", "version": 1, "name": "Adult entry", "price_cents": 1800},
        {"type": "product", "id": "entry-child", "version": 1, "name": "Child entry", "price_cents": 0},
        {"type": "product", "id": "membership-year", "version": 1, "name": "Annual membership",
         "price_cents": 6500, "validity": {"years": 1}},
        {"type": "season", "id": "season", "version": 1, "name": "Season",
         "starts_on": (today - dt.timedelta(days=60)).isoformat(),
         "ends_on": (today + dt.timedelta(days=200)).isoformat()},
        {"type": "event", "id": "hamlet", "version": 1, "name": "Hamlet", "season": "season"},
        {"type": "performance", "id": "hamlet-today", "version": 1, "event": "hamlet", "starts_at": iso(start),
         "zone": "main", "seat_categories": ["A", "B"], "tariffs": ["adult", "child"]},
        {"type": "performance", "id": "hamlet-later", "version": 1, "event": "hamlet", "starts_at": iso(later),
         "zone": "main", "seat_categories": ["A", "B"], "tariffs": ["adult", "child"]},
        ent("membership", "m-marie-2025", ["MEMBER-OLD"], holder="h-marie", product="membership-year",
            valid_from=(today - dt.timedelta(days=400)).isoformat()),
        ent("membership", "m-marie", ["MEMBER-1"], holder="h-marie", product="membership-year",
            renews="m-marie-2025", valid_from=(today - dt.timedelta(days=35)).isoformat(),
            benefits=[{"kind": "entry", "name": "Free entry, once a day",
                       "access": {"limits": [{"per": "day", "count": 1}]}},
                      {"kind": "discount", "name": "Shop", "percent": 10}]),
        ent("membership", "m-future", ["MEMBER-NEXT"], holder="h-jonas", product="membership-year",
            valid_from=(today + dt.timedelta(days=3)).isoformat()),
        ent("credit_membership", "c-jonas", ["CREDIT-1"], holder="h-jonas", credits=5,
            eligible_products=["entry-adult", "entry-child"], purchased_at=iso(now - dt.timedelta(days=10)),
            purchase_tz=DEMO_TZ, expires_on=(today + dt.timedelta(days=90)).isoformat()),
        ent("subscription", "s-ana", ["SUB-1"], holder="h-ana", season="season", events=["hamlet"], quantity=2),
        ent("reservation", "r-unpaid", ["RES-UNPAID"], performance="hamlet-later", pax=2,
            booked_at=iso(now - dt.timedelta(days=1)), confirm={"days_after_booking": 3}),
        ent("reservation", "r-paid", ["RES-PAID"], performance="hamlet-today", pax=2, paid=True,
            booked_at=iso(now - dt.timedelta(days=5)), confirm={"days_after_booking": 3}),
        ent("voucher", "v-gift", ["VOUCHER-1"], purchased_at=iso(now - dt.timedelta(days=30)),
            expires_after_days=365, events=["hamlet"], seat_categories=["A"], tariffs=["adult"]),
        ent("ticket", "t-family", ["TICKET-4"], day=today.isoformat(), pax=4),
        ent("ticket", "t-single", ["TICKET-1"], performance="hamlet-today"),
        ent("ticket", "t-child", ["CHILD-1"], day=today.isoformat(), flags=["child"]),
        ent("ticket", "t-test", ["TEST-1"], day=today.isoformat(), mode="test"),
        ent("ticket", "t-revoked", ["REVOKED-1"], day=today.isoformat(), state="revoked"),
    ]
    return [json.dumps(r, ensure_ascii=False) for r in records]


# The demo's guided tour: (code, lane, what to ask, what it shows).
TOUR: tuple[tuple[str, str, dict[str, Any], str], ...] = (
    ("MEMBER-OLD", "north-1", {}, "a member shows last year's card: it finds the renewed membership"),
    ("MEMBER-1", "north-1", {}, "the same member again with the new card: one entry a day"),
    ("MEMBER-NEXT", "north-1", {}, "a membership that starts in three days"),
    ("TICKET-4", "north-1", {}, "a family ticket: one scan admits four"),
    ("TICKET-4", "north-1", {}, "the same ticket again"),
    ("CREDIT-1", "north-1", {"party": 2}, "a credit membership for two"),
    ("SUB-1", "north-1", {"party": 3}, "a 2-seat subscription, three people"),
    ("RES-UNPAID", "north-1", {}, "an unpaid reservation"),
    ("RES-PAID", "north-1", {}, "a paid reservation for tonight"),
    ("VOUCHER-1", "north-1", {}, "a gift voucher at a turnstile"),
    ("VOUCHER-1", "hall-kiosk", {"performance": "hamlet-today"}, "the voucher redeemed at the kiosk"),
    ("VOUCHER-1", "north-1", {}, "the same code now opens the admission"),
    ("CHILD-1", "north-1", {}, "a child's ticket needs staff"),
    ("TEST-1", "north-1", {}, "a test ticket at a live lane"),
    ("REVOKED-1", "north-1", {}, "a revoked ticket"),
    ("NOPE-404", "north-1", {}, "a code nobody knows"),
    ("CREDIT-1", "north-1", {"direction": "exit"}, "leaving through the exit"),
)

DEMO_CONFIG = f"""
[site]
name = "Demo venue"
timezone = "{DEMO_TZ}"
capacity = 500
currency = "EUR"

[zones.main]
name = "Main entrance"

[zones.hall]
name = "Exhibition hall"

[lanes.north-1]
zone = "main"
product = "entry-adult"

[lanes.hall-kiosk]
zone = "hall"
kiosk = true
directions = ["entry"]

[lanes.test-lane]
zone = "main"
mode = "test"

[ledger]
path = "demo-ledger.sqlite"

[daemon]
lane = "north-1"

# The demo lane's turnstile on simulated pins (gpiozero's MockFactory): the same Lane as on a
# Pi, with timings long enough to watch (a visitor has 4 s to pass, the arm is freed 0.4 s).
[turnstile]
pin_factory = "mock"
pulse_ms = 400
passage_timeout_s = 4
lock_output = 5
fire_loop = 13
buzzer = 16

[turnstile.entry]
relay = 17
sensor = 27

[turnstile.exit]
relay = 22
sensor = 23

[turnstile.lamps]
green = 24
red = 25
amber = 12
"""

# Codes of the demo ledger, for the prompt after the tour (what a newcomer can try).
DEMO_CODES = (
    "MEMBER-1", "MEMBER-OLD", "MEMBER-NEXT", "CREDIT-1", "SUB-1", "RES-UNPAID", "RES-PAID", "VOUCHER-1",
    "TICKET-4", "TICKET-1", "CHILD-1", "TEST-1", "REVOKED-1",
)  # fmt: skip


_UNTOURED = {"TICKET-1": "a ticket for tonight's Hamlet"}


def demo_panel(lane: str, kiosk: str) -> tuple[tuple[str, str, str, str], ...]:
    """The demo page's code panel: (code, lane, what it shows, direction), every kind of code once,
    at the lane as the tour has them, and at the kiosk where a kiosk user would read them."""
    panel: dict[tuple[str, str, str], str] = {}
    for code, at, ask, what in TOUR:
        direction = "exit" if ask.get("direction") == "exit" else "entry"
        if at == lane:
            panel.setdefault((code, at, direction), what)
    for code in DEMO_CODES:
        if not any(key[0] == code and key[1] == lane for key in panel):
            panel[(code, lane, "entry")] = _UNTOURED.get(code, "a demo code")
    for code, what in (("VOUCHER-1", "a gift voucher at the kiosk: choose a performance there"),
                       ("CREDIT-1", "a credit membership at the kiosk: choose what the credits pay")):  # fmt: skip
        panel[(code, kiosk, "entry")] = what
    return tuple((code, at, what, direction) for (code, at, direction), what in panel.items())
