"""The local ledger: one SQLite file per device with what a gate knows and what it has done.

Records, references, redemptions (held, committed, released), usage, the journal (the outbox
sync publishes from) and device settings. The package keeps the design card's name `cache`,
but nothing here is a cache to throw away: the journal and the holds exist nowhere else
until sync has delivered them. Inside a daemon only the decision point's ledger thread uses
it (docs/architecture.md). See docs/ledger-format.md for the exchange format every record
arrives in.
"""

from gate.cache.errors import ImportProblem, LedgerError, LedgerImportError, LedgerUnusable, StorageError
from gate.cache.exchange import ImportReport
from gate.cache.ledger import Ledger
from gate.cache.redemptions import Hold, JournalEntry
from gate.cache.schema import SCHEMA_VERSION
from gate.cache.validate import FORMAT, FORMAT_VERSION, MAX_LINE_BYTES

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "MAX_LINE_BYTES",
    "SCHEMA_VERSION",
    "Hold",
    "ImportProblem",
    "ImportReport",
    "JournalEntry",
    "Ledger",
    "LedgerError",
    "LedgerImportError",
    "LedgerUnusable",
    "StorageError",
]
