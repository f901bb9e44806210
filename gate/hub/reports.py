"""`gate hub report WHAT [--day D | --from D --to D] [--json]`: the site's figures from the hub.

Every report reads the hub's store (each device's events, each once: gate/hub/store.py) and its
copy of the ledger (what `gate hub publish` imported), for whole days in the site's time zone,
and gives a `Table`: text for people, JSON for scripts. Ids only: a holder is its id, never a
name (an erased one is a pseudonym, `erased-...`, and still counted).

What counts, in every report:
- an entry is a committed redemption's use with direction `entry`, at a lane (a kiosk's
  redemption admits nobody: it makes an admission), persons as they passed;
- a redemption voided later (staff, within `[staff] void_window_s`) counts nowhere;
- a restored ledger's repeats count once.

One more report is one function from `Sources` and a `Period` to a `Table`, and a line in
`REPORTS`.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from gate.hub.conflicts import mirror_path
from gate.hub.store import HubStore, StoredEvent
from gate.sync.conflicts import Conflict, Side

COMMITTED = "redemption.committed"
NEAR_S = 86_400.0  # attendance: scans from a day before a performance's day to a day after it


@dataclass(frozen=True, slots=True)
class Period:
    """Whole local days, first to last included."""

    first: dt.date
    last: dt.date
    tz: ZoneInfo

    @property
    def since(self) -> float:
        return dt.datetime.combine(self.first, dt.time(), self.tz).timestamp()

    @property
    def until(self) -> float:
        return dt.datetime.combine(self.last + dt.timedelta(days=1), dt.time(), self.tz).timestamp()

    def local(self, at: float) -> dt.datetime:
        return dt.datetime.fromtimestamp(at, self.tz)


@dataclass
class Table:
    """A report's result: columns (key, title), rows of values by key, totals, notes."""

    title: str
    columns: list[tuple[str, str]]
    rows: list[dict[str, Any]] = field(default_factory=list)
    totals: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class Mirror:
    """The hub's copy of the ledger, read only (empty when nothing was published yet)."""

    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True) if path.exists() else None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()

    def rows(self, query: str, *args: Any) -> list[tuple[Any, ...]]:
        return [] if self._conn is None else self._conn.execute(query, args).fetchall()


@dataclass
class Sources:
    """What reports read: the store, the ledger's copy, and the period's counted redemptions."""

    store: HubStore
    mirror: Mirror
    _cache: dict[tuple[float, float], list[StoredEvent]] = field(default_factory=dict)

    def committed(self, since: float, until: float) -> list[StoredEvent]:
        """Committed redemptions in [since, until), not voided since (kiosks' included)."""
        key = (since, until)
        if key not in self._cache:
            voided = self.store.voided(since)
            self._cache[key] = [e for e in self.store.events(since, until)
                                if e.type == COMMITTED and e.redemption_id not in voided]  # fmt: skip
        return self._cache[key]


def uses(event: StoredEvent) -> Iterator[dict[str, Any]]:
    """A committed redemption's uses, as its journal row recorded them."""
    for use in event.body.get("uses") or ():
        if isinstance(use, dict):
            yield use


def at_lane(event: StoredEvent) -> bool:
    return not event.body.get("kiosk")


def _persons(use: dict[str, Any]) -> int:
    persons = use.get("persons")
    return persons if isinstance(persons, int) else 0


# --- the reports ---------------------------------------------------------------------------------


def members(sources: Sources, period: Period) -> Table:
    """Memberships and credit memberships used in the period: entries, credits spent, credits left."""
    table = Table("Member activity and balances", [
        ("entitlement", "entitlement"), ("kind", "kind"), ("holder", "holder"), ("visits", "visits"),
        ("entries", "entries"), ("credits_used", "credits used"), ("credits_left", "credits left"),
        ("last_use", "last use")])  # fmt: skip
    seen: dict[str, dict[str, Any]] = {}
    for event in sources.committed(period.since, period.until):
        kind = event.body.get("kind")
        if kind not in ("membership", "credit_membership"):
            continue
        for use in uses(event):
            entitlement = str(use.get("entitlement_id") or event.entitlement_id)
            row = seen.setdefault(entitlement, {"entitlement": entitlement, "kind": kind, "holder": None,
                                                "visits": set(), "entries": 0, "credits_used": 0,
                                                "credits_left": None, "last_use": 0.0})  # fmt: skip
            row["visits"].add(event.redemption_id)
            row["entries"] += _persons(use) if use.get("direction") == "entry" and at_lane(event) else 0
            row["credits_used"] += use.get("credits") if isinstance(use.get("credits"), int) else 0
            row["last_use"] = max(row["last_use"], event.at)
    known = {id_: (kind, holder, credits) for id_, kind, holder, credits in sources.mirror.rows(
        "SELECT id, kind, holder, json_extract(body, '$.credits') FROM entitlement "
        "WHERE kind IN ('membership', 'credit_membership')")}  # fmt: skip
    for entitlement, row in sorted(seen.items()):
        kind, holder, credits = known.get(entitlement, (row["kind"], None, None))
        row["holder"] = holder
        if kind == "credit_membership" and isinstance(credits, int):
            row["credits_left"] = credits - _credits_spent(sources, entitlement, holder, period.until)
        row["visits"] = len(row["visits"])
        row["last_use"] = period.local(row["last_use"]).isoformat(timespec="minutes")
        table.rows.append(row)
    table.totals = {"members": len(table.rows), "entries": sum(r["entries"] for r in table.rows),
                    "credits_used": sum(r["credits_used"] for r in table.rows)}  # fmt: skip
    table.notes.append("credits left: bought, less every credit spent up to the period's end (any device)")
    return table


def _credits_spent(sources: Sources, entitlement: str, holder: str | None, until: float) -> int:
    """Credits of one credit membership spent up to `until`, by its own redemptions and by its
    holder's other credit memberships' (a holder's credits are one pool, spent oldest first)."""
    pool = {entitlement}
    if holder is not None:
        pool.update(id_ for (id_,) in sources.mirror.rows(
            "SELECT id FROM entitlement WHERE holder = ? AND kind = 'credit_membership'", holder))  # fmt: skip
    spent = 0
    for member in sorted(pool):
        for taken in sources.store.taken(member):
            if taken.at < until:
                drawn = json.loads(taken.body).get("uses") or ()
                spent += sum(u.get("credits", 0) for u in drawn if u.get("entitlement_id") == entitlement)
    return spent


def attendance(sources: Sources, period: Period) -> Table:
    """Performances starting in the period: sold (tickets, and kiosks' admissions) against scanned."""
    table = Table("Attendance per performance", [
        ("performance", "performance"), ("event", "event"), ("starts", "starts"), ("tickets", "tickets"),
        ("kiosk", "kiosk admissions"), ("sold", "sold"), ("reserved", "reserved"), ("scanned", "scanned"),
        ("rate", "scanned/sold")])  # fmt: skip
    performances = {}
    for id_, event, starts in sources.mirror.rows(
        "SELECT id, json_extract(body, '$.event'), json_extract(body, '$.starts_at') FROM record "
        "WHERE type = 'performance'"
    ):  # fmt: skip
        at = dt.datetime.fromisoformat(starts).timestamp()
        if period.since <= at < period.until:
            performances[id_] = (event, at)
    tickets = Counter({p: int(n) for p, n in sources.mirror.rows(
        "SELECT json_extract(body, '$.performance'), sum(coalesce(json_extract(body, '$.pax'), 1)) FROM entitlement "
        "WHERE kind = 'ticket' AND state = 'active' AND mode = 'live' "
        "AND json_extract(body, '$.from_voucher') IS NULL GROUP BY 1")})  # fmt: skip  # kiosks' are counted below
    reserved = Counter({p: int(n) for p, n in sources.mirror.rows(
        "SELECT json_extract(body, '$.performance'), sum(coalesce(json_extract(body, '$.pax'), 1)) FROM entitlement "
        "WHERE kind = 'reservation' AND state = 'active' AND mode = 'live' GROUP BY 1")})  # fmt: skip
    kiosk: Counter[str] = Counter()
    for event in sources.store.kiosk_admissions():
        for use in uses(event):
            kiosk[str(use.get("performance"))] += 1  # an admission admits one (gate/rules/voucher.py)
    scanned: Counter[str] = Counter()
    for event in sources.committed(period.since - NEAR_S, period.until + NEAR_S):
        if at_lane(event):
            for use in uses(event):
                if use.get("direction") == "entry" and use.get("performance") in performances:
                    scanned[str(use["performance"])] += _persons(use)
    for id_, (event_id, at) in sorted(performances.items(), key=lambda item: (item[1][1], item[0])):
        sold = tickets[id_] + kiosk[id_]
        table.rows.append({"performance": id_, "event": event_id,
                           "starts": period.local(at).isoformat(timespec="minutes"), "tickets": tickets[id_],
                           "kiosk": kiosk[id_], "sold": sold, "reserved": reserved[id_], "scanned": scanned[id_],
                           "rate": f"{100 * scanned[id_] / sold:.0f} %" if sold else "-"})  # fmt: skip
    table.totals = {key: sum(r[key] for r in table.rows) for key in ("tickets", "kiosk", "sold", "scanned")}
    table.notes.append("sold: the live tickets the hub's copy of the ledger holds (an erased or deleted one no "
                       "longer), and the admissions kiosks made from vouchers; scanned: entries at lanes")  # fmt: skip
    return table


def hours(sources: Sources, period: Period) -> Table:
    """Entries (and exits) per hour and zone, persons as they passed."""
    table = Table("Entries per hour", [("hour", "hour"), ("zone", "zone"), ("entries", "entries"),
                                       ("exits", "exits")])  # fmt: skip
    counts: dict[tuple[float, str], Counter[str]] = defaultdict(Counter)
    for event in sources.committed(period.since, period.until):
        if not at_lane(event):
            continue
        hour = period.local(event.at).replace(minute=0, second=0, microsecond=0).timestamp()  # fold kept: autumn
        for use in uses(event):
            direction = use.get("direction")
            if direction in ("entry", "exit"):
                counts[(hour, str(use.get("zone") or event.body.get("zone") or "-"))][direction] += _persons(use)
    for (hour, zone), count in sorted(counts.items()):
        # With its offset: the hour a clock goes back (autumn) comes twice, and stays two rows.
        label = period.local(hour).isoformat(timespec="minutes")
        table.rows.append({"hour": label, "zone": zone, "entries": count["entry"], "exits": count["exit"]})
    table.totals = {"entries": sum(r["entries"] for r in table.rows), "exits": sum(r["exits"] for r in table.rows)}
    return table


def devices(sources: Sources, period: Period) -> Table:
    """Each device now: online or not (its presence), its health message, its newest event."""
    table = Table("Device status", [
        ("device", "device"), ("state", "state"), ("heard", "since"), ("health_at", "health at"),
        ("last_event", "last event"), ("events", "events"), ("outbox", "outbox"), ("batch", "batch"),
        ("head", "head"), ("clock_offset_s", "clock offset s"), ("lanes", "lanes"), ("readers", "readers up"),
        ("clock", "clock"), ("storage_free_mb", "free MB"), ("software", "software"),
        ("problem", "problem")])  # fmt: skip

    def when(at: float | None) -> str | None:
        return None if at is None else period.local(at).isoformat(timespec="seconds")

    for status in sources.store.statuses():
        health = status.health or {}
        state = "unknown" if status.online is None else "online" if status.online else "offline"
        table.rows.append({
            "device": status.device, "state": state, "heard": when(status.online_at),
            "health_at": when(status.health_at),
            "last_event": when(status.last_event), "events": status.events, "outbox": health.get("outbox"),
            "batch": health.get("batch"), "head": health.get("head"), "clock_offset_s": health.get("clock_offset_s"),
            **_device(health), "software": health.get("software"),
            "problem": health.get("ledger_problem") or health.get("storage_fault") or None,
        })  # fmt: skip
    table.totals = {"devices": len(table.rows), "online": sum(r["state"] == "online" for r in table.rows)}
    table.notes.append("now, whatever the period: each device's retained presence and health messages")
    return table


def conflicts(sources: Sources, period: Period) -> Table:
    """The double uses of the period (the second use in it; gate/hub/conflicts.py): both sides of each."""
    table = Table("Conflicts", [
        ("found", "found"), ("entitlement", "entitlement"), ("kind", "kind"), ("first", "first use"),
        ("second", "second use"), ("marks", "marks")])  # fmt: skip

    def side(s: Side) -> str:
        return f"{s.device} {s.lane or '-'} {period.local(s.at).strftime('%H:%M:%S')}"

    # Found when the second use reached the hub, so after it; a week's margin for a device's clock ahead.
    found = [Conflict.model_validate_json(text) for text in sources.store.conflicts(since=period.since - 7 * 86_400)]
    for c in sorted((c for c in found if period.since <= c.second.at < period.until), key=lambda c: c.second.at):
        marks = [f"{which} {note}" for which, s in (("first", c.first), ("second", c.second))
                 for note, on in (("offline", s.offline), ("clock untrusted", s.untrusted)) if on]  # fmt: skip
        table.rows.append({"found": period.local(c.found_at).isoformat(timespec="seconds"),
                           "entitlement": c.entitlement_id, "kind": c.kind, "first": side(c.first),
                           "second": side(c.second), "marks": ", ".join(marks) or None,
                           # Not a column: the second use's time in full, for --json and the page's chart.
                           "at": period.local(c.second.at).isoformat(timespec="seconds")})  # fmt: skip
    table.totals = {"conflicts": len(table.rows)}
    table.notes.append("first and second in the site's order (time, then device); both uses stay in the history")
    return table


def _device(health: dict[str, Any]) -> dict[str, Any]:
    """A version-2 health's lanes, readers, clock and disk, as the report's cells (None: not said)."""
    lanes, readers, free = health.get("lanes"), health.get("readers"), health.get("storage_free")
    trusted = health.get("clock_trusted")
    return {
        "lanes": ", ".join(f"{lane} {mode}" for lane, mode in lanes.items()) if isinstance(lanes, dict) else None,
        "readers": f"{sum(bool(up) for up in readers.values())}/{len(readers)}" if isinstance(readers, dict) else None,
        "clock": None if trusted is None else "trusted" if trusted else "NOT trusted",
        "storage_free_mb": round(free / 1e6) if isinstance(free, int) else None,
    }


Report = Callable[[Sources, Period], Table]
REPORTS: dict[str, Report] = {"members": members, "attendance": attendance, "hours": hours, "devices": devices,
                              "conflicts": conflicts}


def report(store: HubStore, store_path: Path, name: str, period: Period) -> Table:
    mirror = Mirror(mirror_path(store_path))
    try:
        return REPORTS[name](Sources(store, mirror), period)
    finally:
        mirror.close()


def as_json(name: str, period: Period, table: Table) -> dict[str, Any]:
    return {"report": name, "title": table.title, "from": period.first.isoformat(), "to": period.last.isoformat(),
            "timezone": str(period.tz), "columns": [key for key, _ in table.columns], "rows": table.rows,
            "totals": table.totals, "notes": table.notes}  # fmt: skip


def as_text(period: Period, table: Table) -> str:
    days = period.first.isoformat() + ("" if period.last == period.first else f" to {period.last.isoformat()}")
    lines = [f"{table.title}, {days} ({period.tz})"]
    cells = [[title for _, title in table.columns]]
    cells += [["-" if row.get(key) is None else str(row[key]) for key, _ in table.columns] for row in table.rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(table.columns))]
    for n, row in enumerate(cells):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * width for width in widths))
    if not table.rows:
        lines.append("(nothing in this period)")
    if table.totals:
        lines.append("total: " + ", ".join(f"{key.replace('_', ' ')} {value}" for key, value in table.totals.items()))
    lines.extend(f"note: {note}" for note in table.notes)
    return "\n".join(lines)
