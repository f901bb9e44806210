"""The local SQLite ledger: records, references, redemptions, usage and the event journal.

See docs/ledger-format.md for the exchange format every record arrives in.
"""

from gate.cache.errors import ImportProblem, LedgerError, LedgerImportError
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
]
