"""The journal's tail: what it recorded past the fold mark, kept in memory for the hot path.

A redemption's every step is one journal row and nothing else (gate/cache/redemptions.py),
so a durable commit writes one page. Tables `usage` and `hold` are the journal folded up to
meta.folded_through; a decision needs the rows past that mark too: the uses committed and
the holds opened or finished since. This keeps them in memory, so a decision reads them
without parsing a journal body.

It stays true across processes (two lanes' daemons, a `gate check --commit` beside a
daemon) through `PRAGMA data_version`, which moves when another connection commits: the
rows past the last one seen are then read and applied, or everything is reloaded when
another connection has folded. Our own writes are applied by the ledger after their
transaction committed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, cast

from gate.cache import redemptions
from gate.cache.codec import instant
from gate.cache.redemptions import COMMITTED, HELD, RELEASED, VOIDED, Hold, Redemption, Statements, Step
from gate.decision import Use
from gate.records import Direction


class Tail:
    """Uses and holds past the fold mark, for the connection that owns this object."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.folded_through = -1  # not loaded yet
        self.last_seq = 0  # the newest journal row applied
        self._data_version = -1
        self._holds: dict[str, Redemption] = {}  # open, by redemption id
        self._in_table: set[str] = set()  # ids of rows in table `hold` (open at the last fold)
        self._finished: list[str] = []  # folded holds finished since the fold
        self._uses: dict[str, list[tuple[int, int, Use]]] = {}  # committed, by entitlement: (seq, part, use)
        self.rows = 0  # redemption rows past the mark (what the next fold writes)

    # --- keeping up with the file ------------------------------------------------------------

    def refresh(self, conn: Statements) -> bool:
        """Catch up with other connections' commits; returns whether there were any.

        Call it inside the transaction that reads (or writes) next: data_version and the rows
        then belong to that same snapshot.
        """
        data_version = conn.execute("PRAGMA data_version").fetchone()[0]
        if data_version == self._data_version:
            return False
        self._data_version = data_version
        folded_through = conn.execute(redemptions.FOLDED_THROUGH).fetchone()[0]
        if folded_through != self.folded_through:
            self._reload(conn, folded_through)
        else:
            for seq, type_, redemption_id, body in redemptions.tail_rows(conn, self.last_seq):
                self._apply(seq, type_, redemption_id, body)
        return True

    def _reload(self, conn: Statements, folded_through: int) -> None:
        data_version = self._data_version
        self._reset()
        self._data_version = data_version
        self.folded_through = self.last_seq = folded_through
        self._holds = redemptions.folded_holds(conn)
        self._in_table = set(self._holds)
        for seq, type_, redemption_id, body in redemptions.tail_rows(conn, folded_through):
            self._apply(seq, type_, redemption_id, body)

    def _apply(self, seq: int, type_: str, redemption_id: str | None, body: str | None) -> None:
        self.last_seq = max(self.last_seq, seq)
        if body is None or redemption_id is None:
            return
        data: dict[str, Any] = json.loads(body)
        if type_ == HELD:
            self.held(Step(redemption_id, seq, [], False), redemptions.held_from_journal(data))
        elif type_ == COMMITTED:
            self.finished(Step(redemption_id, seq, [redemptions.plan_row(u) for u in data["uses"]], False))
        elif type_ == RELEASED:
            self.finished(Step(redemption_id, seq, [], False))
        elif type_ == VOIDED:
            self.voided(seq, data["committed_seq"])

    # --- our own writes, once committed ------------------------------------------------------

    def held(self, row: Step, red: Redemption) -> None:
        self.last_seq = max(self.last_seq, row.seq)
        self._holds[row.redemption_id] = red
        self.rows += 1

    def finished(self, row: Step) -> None:
        """A commit or release (with the uses a commit recorded)."""
        self.last_seq = max(self.last_seq, row.seq)
        self._holds.pop(row.redemption_id, None)
        if row.redemption_id in self._in_table:
            self._in_table.discard(row.redemption_id)
            self._finished.append(row.redemption_id)
        for part, plan in enumerate(row.uses):
            use = Use(*plan)
            self._uses.setdefault(use.entitlement_id, []).append((row.seq, part, use))
        self.rows += 1

    def voided(self, seq: int, committed_seq: int) -> None:
        """A void: the uses the commit at `committed_seq` recorded are given back (those
        already folded left table `usage` in the void's own transaction)."""
        self.last_seq = max(self.last_seq, seq)
        for entitlement_id, entries in list(self._uses.items()):
            kept = [entry for entry in entries if entry[0] != committed_seq]
            if len(kept) != len(entries):
                self._uses[entitlement_id] = kept

    def seen(self, seq: int) -> None:
        """A journal row that changes no redemption (a refusal, a staff action)."""
        self.last_seq = max(self.last_seq, seq)

    # --- what decisions and reports read -----------------------------------------------------

    @property
    def holding(self) -> bool:
        """Whether any redemption is held (by any connection, as of the last refresh)."""
        return bool(self._holds)

    def hold(self, redemption_id: str) -> Redemption | None:
        return self._holds.get(redemption_id)

    def uses_of(self, entitlement_id: str, since: float | None = None) -> list[Use]:
        """Committed uses past the mark (from `since` on) and held uses of one entitlement."""
        found = [use for _, _, use in self._uses.get(entitlement_id, ()) if since is None or use.at >= since]
        for red in self._holds.values():
            found.extend(Use._make((*plan, True)) for plan in red.plan if plan[0] == entitlement_id)
        return found

    def committed_of(self, entitlement_ids: Iterable[str]) -> list[tuple[int, int, Use]]:
        """Committed uses past the mark, with their (seq, part): for reports that order by them."""
        return [entry for entitlement_id in entitlement_ids for entry in self._uses.get(entitlement_id, ())]

    def open_holds(self) -> list[Hold]:
        holds = [
            Hold(
                id_,
                red.lane,
                red.zone,
                cast(Direction, red.direction),
                red.reference,
                red.entitlement_id,
                red.reason,
                red.admitted,
                instant(red.at),
            )
            for id_, red in self._holds.items()
        ]
        return sorted(holds, key=lambda hold: (hold.at, hold.id))

    def counts(self) -> tuple[int, int, int]:
        """(open holds, their uses, committed uses past the mark)."""
        held_uses = sum(len(red.plan) for red in self._holds.values())
        return len(self._holds), held_uses, sum(len(entries) for entries in self._uses.values())

    # --- folding -----------------------------------------------------------------------------

    def fold(self, conn: Statements) -> bool:
        """Write the tail into `usage` and `hold` (inside the caller's write transaction, after
        `refresh`); returns whether there was anything to write. Call `folded` once committed."""
        if self.last_seq == self.folded_through:
            return False
        uses = [(seq, part, use[:-1]) for entries in self._uses.values() for seq, part, use in entries]
        opened = {id_: red for id_, red in self._holds.items() if id_ not in self._in_table}
        redemptions.fold(conn, through=self.last_seq, uses=uses, finished=self._finished, opened=opened)
        return True

    def folded(self) -> None:
        self.folded_through = self.last_seq
        self._uses = {}
        self._finished = []
        self._in_table = set(self._holds)
        self.rows = 0
