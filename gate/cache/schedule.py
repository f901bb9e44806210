"""The venue's schedule as the rules see it: products, seasons, events, performances and
calendars, read from table `record` in one go (the ledger caches it until records change)."""

from __future__ import annotations

import logging
import sqlite3
from typing import TypeVar

from gate.decision import Schedule
from gate.records import Calendar, Event, Performance, Product, Season

log = logging.getLogger("gate.cache")

_RECORDS = "SELECT body FROM record WHERE type = ? ORDER BY id"
_T = TypeVar("_T", Product, Season, Event, Performance, Calendar)


def load_schedule(conn: sqlite3.Connection) -> Schedule:
    products = {p.id: p for p in _all(conn, Product)}
    seasons = {s.id: s for s in _all(conn, Season)}
    events = {e.id: e for e in _all(conn, Event)}
    performances = {p.id: p for p in _all(conn, Performance)}
    calendars = tuple(_all(conn, Calendar))
    by_event: dict[str, list[Performance]] = {}
    for performance in sorted(performances.values(), key=lambda p: (p.starts_at, p.id)):
        by_event.setdefault(performance.event, []).append(performance)
    log.debug("schedule loaded: %d performances of %d events", len(performances), len(events))
    return Schedule(
        products=products,
        seasons=seasons,
        events=events,
        performances=performances,
        calendars=calendars,
        performances_by_event={event: tuple(items) for event, items in by_event.items()},
    )


def _all(conn: sqlite3.Connection, cls: type[_T]) -> list[_T]:
    type_ = cls.model_fields["type"].default
    return [cls.model_validate_json(body) for (body,) in conn.execute(_RECORDS, (type_,)).fetchall()]
