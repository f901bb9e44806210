"""Record versions are strict and order-independent: files applied in any order end in the same
ledger; at equal versions a tombstone beats a record, and of two records that differ the one
whose line sorts last is kept, with a warning naming the line and the fields."""

from __future__ import annotations

import contextlib
import io
import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gate.cache import ImportProblem, Ledger
from tests import fuzz  # noqa: F401  (the Hypothesis profiles)


def line(**fields: Any) -> str:
    return json.dumps(fields)


def holder(id_: str, version: int, name: str) -> str:
    return line(type="holder", id=id_, version=version, display_name=name)


def ticket(id_: str, version: int, *references: str, pax: int = 1) -> str:
    return line(type="entitlement", kind="ticket", id=id_, version=version, references=list(references),
                day="2025-10-04", pax=pax)  # fmt: skip


def tombstone(type_: str, id_: str, version: int) -> str:
    return line(type=type_, id=id_, version=version, deleted=True)


def exported(ledger: Ledger) -> str:
    out = io.StringIO()
    ledger.export(out)
    return out.getvalue()


def fresh(tmp_path: Path, name: str) -> Ledger:
    return Ledger.open(tmp_path / f"{name}.sqlite")


# --- a tombstone at the stored record's version ---------------------------------------------


def test_a_tombstone_at_the_stored_version_deletes_the_record_and_the_export_imports(tmp_path: Path) -> None:
    with fresh(tmp_path, "a") as ledger:
        ledger.import_lines([ticket("t-1", 2, "CODE-1"), holder("h-1", 2, "Ann Smith")], source="records")
        report = ledger.import_lines([tombstone("entitlement", "t-1", 2), tombstone("holder", "h-1", 2)], source="rm")
        assert report.deleted == {"entitlement": 1, "holder": 1}
        assert report.unchanged == {}
        assert ledger.resolve("CODE-1") == ()
        assert ledger.entitlements(["t-1"]) == []
        assert ledger.holder("h-1") is None
        export = exported(ledger)
        with fresh(tmp_path, "copy") as copy:
            copy.import_lines(export.split("\n"), source="export")
            assert exported(copy) == export
        # A record of that version arriving later cannot bring it back.
        assert not ledger.import_lines([ticket("t-1", 2, "CODE-1")], source="late").changed
        assert ledger.resolve("CODE-1") == ()


def test_a_record_and_its_tombstone_at_one_version_end_deleted_in_either_order(tmp_path: Path) -> None:
    files = [[holder("h-1", 3, "Ann Smith")], [tombstone("holder", "h-1", 3)]]
    exports = []
    for name, order in (("forward", files), ("backward", files[::-1]), ("one-file", [[*files[0], *files[1]]])):
        with fresh(tmp_path, name) as ledger:
            for lines in order:
                ledger.import_lines(lines, source=name)
            assert ledger.holder("h-1") is None
            exports.append(exported(ledger))
    assert exports[0] == exports[1] == exports[2]
    assert '"deleted":true' in exports[0]


# --- two records that differ at one version ---------------------------------------------------


def test_two_records_at_one_version_end_the_same_in_either_order_with_a_warning(tmp_path: Path) -> None:
    kiosk_a = ticket("adm-1", 1, "KIOSK-A", pax=2)
    kiosk_b = ticket("adm-1", 1, "KIOSK-B")  # sorts after kiosk A's line: "KIOSK-B" > "KIOSK-A"
    results = []
    for name, first, second in (("ab", kiosk_a, kiosk_b), ("ba", kiosk_b, kiosk_a)):
        with fresh(tmp_path, name) as ledger:
            ledger.import_lines([first], source="first")
            report = ledger.import_lines(["", second], source="second")
            assert report.warned == 1
            (warning,) = report.warnings
            assert (warning.line, warning.field) == (2, "pax,references")
            assert warning.message.startswith("entitlement 'adm-1' version 1 differs from the stored record")
            assert ledger.resolve("KIOSK-B") == ("adm-1",)
            assert ledger.resolve("KIOSK-A") == ()
            results.append((exported(ledger), report))
    (export_ab, replaced), (export_ba, kept) = results
    assert export_ab == export_ba
    assert replaced.applied == {"entitlement": 1}
    assert replaced.warnings[0].message.endswith(
        "and replaces it (of two records at one version, the one whose line sorts last is kept)"
    )
    assert kept.unchanged == {"entitlement": 1}
    assert "which is kept" in kept.warnings[0].message
    assert "warning: line 2: pax,references: entitlement 'adm-1' version 1 differs" in kept.summary()


def test_two_records_differing_at_one_version_in_one_file_are_a_warning_not_a_refusal(tmp_path: Path) -> None:
    lines = [holder("h-9", 1, "Bob Jones"), holder("h-9", 1, "Bob Jones"), holder("h-9", 1, "Ann Smith")]
    with fresh(tmp_path, "l") as ledger:
        report = ledger.import_lines(lines, source="dup")
        assert report.applied == {"holder": 1}
        assert report.warnings == (
            ImportProblem(3, "display_name", "holder 'h-9' version 1 differs from line 1, which is kept "
                          "(of two records at one version, the one whose line sorts last is kept)"),
        )  # fmt: skip
        assert ledger.holder("h-9").display_name == "Bob J."  # type: ignore[union-attr]


def test_lines_that_validation_makes_alike_are_no_conflict(tmp_path: Path) -> None:
    with fresh(tmp_path, "l") as ledger:
        ledger.import_lines([holder("h-1", 1, "Ann Smith"), ticket("t-1", 1, "A")], source="one")
        # Reduced to the same "Ann S."; pax 1 is the default, left out when stored.
        again = [holder("h-1", 1, "Ann Sanders"), ticket("t-1", 1, " a ", pax=1)]
        report = ledger.import_lines(again, source="two")
        assert report.warnings == ()
        assert not report.changed


# --- by property ----------------------------------------------------------------------------

_NAMESPACES = itertools.count()
NAMES = ("Ann Smith", "Ann Sanders", "Bob Jones", "Eve Adams")


def universe(ns: str) -> st.SearchStrategy[str]:
    """One line about a few records of one namespace: records, variants at one version, tombstones."""
    ids = st.sampled_from([f"{ns}-a", f"{ns}-b"])
    versions = st.integers(min_value=1, max_value=3)
    pax = st.sampled_from([1, 2])
    references = st.lists(st.sampled_from([f"{ns}-R1", f"{ns}-R2", f"{ns}-R3"]), max_size=2, unique=True)
    return st.one_of(
        st.builds(holder, ids, versions, st.sampled_from(NAMES)),
        st.builds(lambda i, v, refs, pax: ticket(i, v, *refs, pax=pax), ids, versions, references, pax),
        st.builds(lambda i, v: line(type="product", id=i, version=v, name="Entry", price_cents=v * 100), ids, versions),
        st.builds(tombstone, st.sampled_from(["holder", "entitlement", "product"]), ids, versions),
    )


@st.composite
def shuffled_files(draw: st.DrawFn) -> tuple[str, list[list[str]], list[list[str]]]:
    """A namespace, some files of lines in it, and the same files in another order, each with
    its lines in another order too."""
    ns = f"n{next(_NAMESPACES)}"
    files = draw(st.lists(st.lists(universe(ns), min_size=1, max_size=5), min_size=1, max_size=4))
    order = draw(st.permutations(range(len(files))))
    others = [draw(st.permutations(files[i])) for i in order]
    return ns, files, others


class Ledgers:
    """Four ledgers shared by a few examples, each example in a namespace of its own: files in
    order, in the other order, all in one file, and the first's exports imported back. A new
    set every few examples keeps exports short (opening one costs more than an import)."""

    PER_SET = 20

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._sets = 0
        self._used = 0
        self._stack = contextlib.ExitStack()
        self._current: tuple[Ledger, Ledger, Ledger, Ledger] | None = None

    def take(self) -> tuple[Ledger, Ledger, Ledger, Ledger]:
        if self._current is None or self._used >= self.PER_SET:
            self._stack.close()
            self._sets += 1
            self._used = 0
            opened = [
                self._stack.enter_context(Ledger.open(self._folder / f"{self._sets}-{name}.sqlite"))
                for name in ("forward", "shuffled", "concatenated", "reimported")
            ]
            self._current = (opened[0], opened[1], opened[2], opened[3])
        self._used += 1
        return self._current

    def close(self) -> None:
        self._stack.close()


@pytest.fixture(scope="module")
def ledgers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ledgers]:
    shared = Ledgers(tmp_path_factory.mktemp("order"))
    yield shared
    shared.close()


@given(shuffled_files())
def test_any_files_in_any_order_end_in_the_same_ledger(
    ledgers: Ledgers, case: tuple[str, list[list[str]], list[list[str]]]
) -> None:
    forward, shuffled, concatenated, reimported = ledgers.take()
    ns, files, others = case
    for lines in files:
        forward.import_lines(lines, source="forward")
    for lines in others:
        shuffled.import_lines(lines, source="shuffled")
    concatenated.import_lines([text for lines in files for text in lines], source="one file")
    export = exported_in(forward, ns)
    assert exported_in(shuffled, ns) == export
    assert exported_in(concatenated, ns) == export
    for code in (f"{ns}-R1", f"{ns}-R2", f"{ns}-R3"):
        assert forward.resolve(code) == shuffled.resolve(code) == concatenated.resolve(code)
    # An export imports back: into another ledger the same, into its own ledger nothing new.
    reimported.import_lines(export, source="export")
    assert exported_in(reimported, ns) == export
    again = forward.import_lines(export, source="own export")
    assert not again.changed
    assert again.warnings == ()


def exported_in(ledger: Ledger, ns: str) -> list[str]:
    """The export's lines about one example's records (the ledgers hold every example's)."""
    return [text for text in exported(ledger).split("\n") if f'"id":"{ns}-' in text]
