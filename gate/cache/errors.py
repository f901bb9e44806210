"""What the ledger raises: precise, operator-readable errors instead of raw tracebacks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from gate.errors import GateError


class LedgerError(GateError):
    """The ledger cannot do what was asked; the message says why in an operator's words."""


class StorageError(LedgerError):
    """The ledger's file cannot be written or read now: a full disk, a read-only file, an I/O
    error, a corrupt page. Nothing of the write was kept; it may work again later (a lane
    enters a storage fault and retries, docs/lane.md "Storage faults")."""


class LedgerUnusable(LedgerError):
    """This file cannot serve as a ledger: a directory, not SQLite, another application's
    database, a newer gate's schema, corrupt pages. Restarting will not change that: an
    operator restores a backup or re-imports (docs/operations.md)."""


class ImportProblem(NamedTuple):
    """One thing wrong with an import file: where (line, field path) and what."""

    line: int  # 1-based line number in the file; 0 = the file as a whole
    field: str  # dotted path such as "benefits[0].access.limits[0].per"; "" = the whole line
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "file"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class LedgerImportError(LedgerError):
    """An import file was refused as a whole; nothing was changed.

    `problems` lists the first problems found (at most `ImportLimits.problems` of them) and
    `total` counts all of them, so one run shows an operator everything to fix.
    """

    def __init__(self, source: str, problems: Sequence[ImportProblem], total: int | None = None) -> None:
        self.source = source
        self.problems = tuple(problems)
        self.total = len(self.problems) if total is None else total
        super().__init__(str(self))

    def __str__(self) -> str:
        lines = [f"{self.source}: {self.total} problem(s), nothing imported"]
        lines.extend(f"  {problem}" for problem in self.problems)
        if self.total > len(self.problems):
            lines.append(f"  ... and {self.total - len(self.problems)} more")
        return "\n".join(lines)
