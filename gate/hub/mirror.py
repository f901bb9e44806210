"""The hub's copy of the ledger kept in step with the log, as a device keeps its own.

Every hub judges double uses against its copy (`<store>-ledger.sqlite`, gate/hub/conflicts.py),
and `gate hub publish` checks files against the copy of the machine it runs on. With several
hubs sharing one log (PostgreSQL), a batch another machine appended (a file it published, the
kiosks' admissions it logged) is not in this machine's copy until it is applied here. So each
hub applies the log's batches its copy has not applied, at start and as the log grows, exactly
as a device applies them (gate/sync/batches.py `apply_batch`): in order, signature checked,
imported all or nothing, the applied seq noted in the copy (`sync.batch_seq`). Every hub's
copy then holds the same records, and conflicts are judged alike whichever hub stored the
redemption.

A batch this machine made was imported into the copy before it was appended (that import is
what checks a file): applying it again changes nothing, the import keeping the highest version
(and at one version, the same winner whatever the order), and only notes its seq. A copy made
before this module, which holds every batch without saying so, is read through once from batch
1, with the same outcome.

The keys that check the batches are the ones a device would use: `[sync] ledger_keys` of the
hub's config, and the public half of the hub's own ledger key, as changed since by the log's
key batches. A hub whose copy starts from nothing after a key rotation needs the first key in
`[sync] ledger_keys`, as a new device does. A refused batch stops the copy there (said once,
and in the copy's `sync.ledger_problem`) until the log's batch at that seq changes.
"""

from __future__ import annotations

import base64
import logging
import sqlite3
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from gate.cache import Ledger, LedgerError
from gate.cache.sql import GET_META, SETTING_PREFIX
from gate.config import GateConfig
from gate.hub.conflicts import mirror_path
from gate.hub.publish import PublishError, ledger_key
from gate.hub.store import HubStore
from gate.sync.batches import SEQ, applied_seq, apply_batch

log = logging.getLogger("gate.hub")

READ = 50  # batches read from the store at a time


def trusted(config: GateConfig) -> dict[str, str]:
    """The keys the copy checks batches with: the config's, and the hub's own ledger key's public half."""
    keys = dict(config.sync.ledger_keys)
    try:
        public = ledger_key(config).public_key().public_bytes(serialization.Encoding.Raw,
                                                              serialization.PublicFormat.Raw)  # fmt: skip
    except PublishError:
        return keys
    keys.setdefault(config.hub.ledger_key_id, base64.b64encode(public).decode("ascii"))
    return keys


def covered(path: Path, head: int) -> int:
    """The newest batch the copy at `path` is sure to hold: `head`, unless it follows the log and is
    behind (a batch another machine appended a moment ago): a snapshot built from it says so. A
    copy that never followed holds what this machine published, which was all of the log."""
    if not path.exists():
        return head
    db = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
    try:
        row = db.execute(GET_META, (SETTING_PREFIX + SEQ,)).fetchone()
    except sqlite3.Error:
        return head
    finally:
        db.close()
    return min(head, int(row[0])) if row is not None and str(row[0]).isdigit() else head


class Mirror:
    """The copy of one hub; `follow` on one thread at a time (it keeps the copy open)."""

    def __init__(self, config: GateConfig) -> None:
        self.path: Path = mirror_path(config.hub.store)
        self.site = config.sync.site
        self.keys = trusted(config)
        self._alone = config.hub.dsn_file is None  # SQLite: this hub's store, no other machine appends
        self.seq = 0  # the copy's applied batch, after the last `follow`
        self._ledger: Ledger | None = None
        self._stuck: tuple[int, str] | None = None  # a refused batch (seq, fingerprint): not tried again as it is
        self._said = ""

    def follow(self, store: HubStore) -> int:
        """Apply the log's batches the copy has not applied (blocking); how many were applied."""
        if not self.keys:
            if self._alone:  # no key, no log of this store's own to follow
                return 0
            self._say("no ledger key to check the log's batches with ([hub] ledger_key_file or [sync] ledger_keys): "
                      "its copy of the ledger follows only what this machine publishes")  # fmt: skip
            return 0
        try:
            if self._ledger is None:
                self._ledger = Ledger.open(self.path)
            ledger = self._ledger
            self.seq = applied_seq(ledger)
            done = 0
            while batches := store.batches(self.seq, READ):
                for batch in batches:
                    if self._stuck == (batch.seq, batch.fingerprint):
                        return done
                    outcome = apply_batch(ledger, self.site, batch, self.keys)
                    if outcome.outcome == "ignored":  # another process following this copy applied it
                        self.seq = max(self.seq, outcome.seq)
                        continue
                    if outcome.outcome != "applied":
                        self._stuck = (batch.seq, batch.fingerprint)
                        why = outcome.problem or outcome.outcome
                        self._say(f"its copy of the ledger stops before batch {batch.seq}: {why}")
                        return done
                    self.seq, self._stuck, done = batch.seq, None, done + 1
                if len(batches) < READ:
                    break
        except (LedgerError, sqlite3.Error) as exc:
            self._say(f"its copy of the ledger {self.path} cannot be brought up to date: {exc}")
            self.close()
            return 0
        if done:
            self._said = ""
            log.info("hub %s: its copy of the ledger is at batch %d (%d applied)", self.site, self.seq, done)
        return done

    def _say(self, what: str) -> None:
        if what != self._said:
            self._said = what
            log.warning("hub %s: %s", self.site, what)

    def close(self) -> None:
        ledger, self._ledger = self._ledger, None
        if ledger is not None:
            ledger.close()
