"""The site's occupancy counter, made of this device's movements and its peers'.

Each journal row carries this device's own counter (`inside`, never below 0: the newest row
holds it, so a commit moves it without writing another page). Once sync runs, visitors enter
at one device and leave at another, so the site's count is

    site = max(0, own + adjust + peers)

- `own`: the newest journal row's `inside`;
- `peers` (meta `occupancy.peers`): the sum of the other devices' movements, as their
  committed rows and staff corrections tell them (gate/cache/peers.py);
- `adjust` (meta `occupancy.adjust`): what this device's counter could not take because it
  stops at 0: an exit of visitors who came in at another device, or a correction below this
  device's own count.

A movement is first made effective against the site's count: an exit takes out at most who is
inside the site (so an exit read twice gives nobody a second way in), then the own counter
takes it, and any part below 0 goes into `adjust`. An entry, and anything on a device without
peers, never touches the meta rows: the hot path writes what it wrote before. The effective
movement is journaled (`moved` in a committed row's body, `change` in a correction's), and that
is what peers add up.
"""

from __future__ import annotations

import sqlite3

from gate.cache.sql import PUT_SETTING

Statements = sqlite3.Connection | sqlite3.Cursor

PEERS, ADJUST = "occupancy.peers", "occupancy.adjust"
_OWN = "coalesce((SELECT inside FROM journal ORDER BY seq DESC LIMIT 1), 0)"
_META = "coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key = '{key}'), 0)"
SITE_INSIDE = f"SELECT max(0, {_OWN} + {_META.format(key=ADJUST)} + {_META.format(key=PEERS)})"
_PARTS = f"SELECT {_OWN}, {_META.format(key=ADJUST)}, {_META.format(key=PEERS)}"


def move(conn: Statements, change: int, *, clamp: bool) -> int:
    """Make this device's movement of `change` persons effective (inside the caller's write
    transaction, before its journal row): returns what the row must carry. With `clamp`, an
    exit takes out at most who is inside the site."""
    if change >= 0:
        return change  # an entry: the own counter takes it whole
    own, adjust, peers = conn.execute(_PARTS).fetchone()
    if clamp:
        change = max(change, -max(0, own + adjust + peers))
    if own + change < 0:  # below what this device's own counter holds: the rest is kept aside
        conn.execute(PUT_SETTING, (ADJUST, str(adjust + own + change)))
    return change


def add_peers(conn: Statements, change: int) -> None:
    """A peer's movement (inside the caller's write transaction)."""
    if change:
        known = conn.execute(f"SELECT {_META.format(key=PEERS)}").fetchone()[0]
        conn.execute(PUT_SETTING, (PEERS, str(known + change)))
