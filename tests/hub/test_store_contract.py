"""The hub's store, as the hub uses it, on both stores: SQLite (the embedded default) and PostgreSQL
(a throwaway cluster, a database per test: tests/pg.py). Each test runs once on each, and both
must answer alike: events once, marks without a gap, the log in order and never two batches of
one seq, positions that a reader polling "after the last one seen" never skips."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gate.cache.exchange import HEADER
from gate.hub.erasure import Request, redactor
from gate.hub.postgres import PostgresHubStore
from gate.hub.shelf import Kept
from gate.hub.store import HubStore, SqliteHubStore
from gate.sync.batches import Batch, sign_batch
from gate.sync.commands import CommandResult, RemoteCommand
from gate.sync.payloads import Event, Events, Health
from gate.sync.trust import KeyChanges

AT = 1_780_000_000.0  # 2026-05-28
INC, INC2 = "0123456789abcdef", "fedcba9876543210"
KEY = Ed25519PrivateKey.generate()

Opener = Callable[[], HubStore]


@pytest.fixture(params=["sqlite", "postgresql"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens the test's store, once more each call (another connection, as another process would)."""
    opened: list[HubStore] = []
    if request.param == "sqlite":
        path = tmp_path / "hub.sqlite"

        def make() -> HubStore:
            opened.append(SqliteHubStore(path))
            return opened[-1]
    else:
        dsn = request.getfixturevalue("pg_dsn")

        def make() -> HubStore:
            opened.append(PostgresHubStore(dsn, "s1"))
            return opened[-1]

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(opener: Opener) -> HubStore:
    return opener()


def event(seq: int, *, id_: str | None = None, type_: str = "lookup", at: float = AT, **fields: Any) -> Event:
    return Event(seq=seq, id=id_ or f"e{seq}", at=at + seq, type=type_, lane="l1", **fields)


def events(*seqs: int, device: str = "d1", incarnation: str = INC, floor: int = 0, **fields: Any) -> Events:
    return Events(v=1, device=device, incarnation=incarnation, floor=floor,
                  events=[event(seq, **fields) for seq in seqs])  # fmt: skip


def committed(seq: int, entitlement: str, redemption: str, *, at: float = AT, **body: Any) -> Event:
    return Event(seq=seq, id=f"r{seq}", at=at, type="redemption.committed", lane="l1", entitlement_id=entitlement,
                 redemption_id=redemption, reason="ok", body={"entitlement_id": entitlement, **body})  # fmt: skip


def signer(text: str = "") -> Callable[[int], Batch]:
    def make(seq: int) -> Batch:
        line = json.dumps({"type": "product", "id": f"p{seq}", "version": 1, "name": text or f"P{seq}"})
        return sign_batch("s1", seq, f"{HEADER}\n{line}\n", key_id="hub", key=KEY)

    return make


# --- events and marks ---------------------------------------------------------------------------


def test_an_event_sent_again_is_stored_once(store: HubStore) -> None:
    assert store.add(events(1, 2, 3)) == (3, 3)
    assert store.add(events(1, 2, 3)) == (0, 3)  # the device did not hear the mark: sent again
    assert store.add(events(2, 3, 4)) == (1, 4)
    assert store.count() == 4 and store.count("d1") == 4 and store.count("d2") == 0
    assert store.mark("d1", INC) == 4 and store.mark("d1", INC2) == 0
    assert store.add(events(5, 5, 6)) == (2, 6)  # twice in one message: once


def test_a_restored_ledger_s_rows_are_kept_under_its_new_incarnation_and_counted_once(store: HubStore) -> None:
    store.add(events(1, 2, 3))
    # The ledger restored from a backup: a new incarnation, its seqs from 1, the same rows' ids.
    again = Events(v=1, device="d1", incarnation=INC2, floor=0,
                   events=[event(1), event(2), event(3), event(4, id_="new")])  # fmt: skip
    assert store.add(again) == (4, 4)  # every seq is held, so the new incarnation's mark is 4
    assert store.count() == 4 and store.count("d1") == 4  # e1..e3 once, and the new one
    assert [e.id for e in store.events(0, AT + 100)] == ["e1", "e2", "e3", "new"]


def test_the_mark_is_the_highest_seq_without_a_gap(store: HubStore) -> None:
    assert store.add(events(1, 2, 4, 5)) == (4, 2)  # 3 missing: the device keeps 3, 4, 5
    assert store.add(events(7)) == (1, 2)
    assert store.add(events(3)) == (1, 5)  # the gap filled: through 5, and 6 still missing
    assert store.add(events(6)) == (1, 7)
    assert store.mark("d1", INC) == 7
    # What the device says was confirmed before (`floor`) counts as held.
    assert store.add(events(12, 13, device="d2", floor=11)) == (2, 13)
    assert store.add(events(15, device="d2", floor=11)) == (1, 13)
    assert store.add(events(1, device="d3", floor=0, incarnation=INC2)) == (1, 1)
    assert store.mark("d2", INC) == 13


def test_a_nul_character_in_a_device_s_text_is_stored_once_not_refused(store: HubStore) -> None:
    odd = Event(seq=1, id="e\x001", at=AT, type="lookup", lane="l\x00", reason="ok", body={"ref\x00": "A\x00B"})
    message = Events(v=1, device="d1", incarnation=INC, floor=0, events=[odd])
    assert store.add(message) == (1, 1)
    assert store.add(message) == (0, 1)
    (stored,) = store.events(0, AT + 1)
    assert stored.id.startswith("e") and len(stored.body) == 1


# --- the log ------------------------------------------------------------------------------------


def test_the_log_appends_in_order_and_reads_after_a_seq(store: HubStore) -> None:
    assert store.head() == 0 and store.batches(0) == []
    made = [store.append(signer(f"b{n}")) for n in range(5)]
    assert [b.seq for b in made] == [1, 2, 3, 4, 5] and store.head() == 5
    assert store.batches(0) == made
    assert [b.seq for b in store.batches(2, limit=2)] == [3, 4]
    assert store.batches(5) == []


def test_a_batch_that_cannot_be_made_leaves_no_seq_taken(store: HubStore) -> None:
    store.append(signer())

    def fails(seq: int) -> Batch:
        raise RuntimeError("the key is gone")

    with pytest.raises(RuntimeError):
        store.append(fails)
    assert store.head() == 1 and store.append(signer()).seq == 2


def test_two_connections_appending_at_once_never_give_two_batches_one_seq(opener: Opener) -> None:
    stores = [opener(), opener()]
    reader = opener()
    seen: list[int] = []
    done = threading.Event()

    def poll() -> None:  # as `gate hub` watches the log: the batches after the last one it saw
        while True:
            finished = done.is_set()
            seen.extend(b.seq for b in reader.batches(seen[-1] if seen else 0, limit=1000))
            if finished:
                return

    def write(store: HubStore, name: str) -> None:
        for n in range(15):
            store.append(signer(f"{name}{n}"))

    threads = [threading.Thread(target=poll)]
    threads += [threading.Thread(target=write, args=(s, f"w{i}-")) for i, s in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads[1:]:
        thread.join()
    done.set()
    threads[0].join()
    log = reader.batches(0, limit=1000)
    assert [b.seq for b in log] == list(range(1, 31)) and reader.head() == 30
    assert len({b.lines for b in log}) == 30  # each writer's 15, none lost, none twice
    assert seen == list(range(1, 31))  # the poller skipped none


def test_positions_grow_as_events_commit_so_a_poller_misses_none(opener: Opener) -> None:
    writers = [opener(), opener()]
    reader = opener()
    got: list[tuple[str, int]] = []
    done = threading.Event()

    def poll() -> None:  # as a gate catching up after a snapshot: the usage after its position
        after = 0
        while True:
            finished = done.is_set()
            for row in reader.snapshots().usage(after, through=2**53 - 1, holds_since=0.0, limit=1000):
                got.append((row.device, json.loads(row.body)["n"]))
                after = row.pos
            if finished:
                return

    def write(store: HubStore, device: str) -> None:
        for n in range(20):
            use = committed(n + 1, f"t-{device}-{n}", f"r-{device}-{n}", n=n)
            store.add(Events(v=1, device=device, incarnation=INC, floor=0, events=[use]))

    threads = [threading.Thread(target=poll)]
    threads += [threading.Thread(target=write, args=(s, f"d{i}")) for i, s in enumerate(writers)]
    for thread in threads:
        thread.start()
    for thread in threads[1:]:
        thread.join()
    done.set()
    threads[0].join()
    assert sorted(got) == sorted((f"d{i}", n) for i in range(2) for n in range(20))  # each once
    assert reader.snapshots().position() >= 40


# --- conflicts, uses, reports -------------------------------------------------------------------


def test_an_entitlement_s_uses_are_every_device_s_committed_unvoided_ones_in_the_site_s_order(
    store: HubStore,
) -> None:
    store.add(Events(v=1, device="d2", incarnation=INC, floor=0, events=[committed(1, "t-1", "b", at=AT + 5)]))
    store.add(Events(v=1, device="d1", incarnation=INC, floor=0, events=[
        committed(1, "t-1", "a", at=AT + 5), committed(2, "t-1", "c", at=AT + 1), committed(3, "t-2", "x"),
        committed(4, "t-1", "v", at=AT + 2),
        Event(seq=5, id="void", at=AT + 3, type="redemption.voided", entitlement_id="t-1", redemption_id="v"),
    ]))  # fmt: skip
    assert [(t.device, t.redemption) for t in store.taken("t-1")] == [("d1", "c"), ("d1", "a"), ("d2", "b")]
    assert json.loads(store.taken("t-2")[0].body)["entitlement_id"] == "t-2"
    assert store.voided(AT) == {"v"} and store.voided(AT + 4) == set()


def test_conflicts_are_kept_once_and_read_newest_first(store: HubStore) -> None:
    records = [("c1", "t-1", AT + 1, '{"n":1}'), ("c2", "t-1", AT + 2, '{"n":2}')]
    assert store.add_conflicts(records) == ["c1", "c2"]
    assert store.add_conflicts([*records, ("c3", "t-2", AT + 3, '{"n":3}')]) == ["c3"]
    assert store.conflicts() == ['{"n":3}', '{"n":2}', '{"n":1}']
    assert store.conflicts(since=AT + 2) == ['{"n":3}', '{"n":2}']
    assert store.conflicts(since=AT, until=AT + 2) == ['{"n":1}']
    assert store.conflicts(limit=1) == ['{"n":3}']


def test_a_kiosk_s_admission_is_found_by_its_id_and_listed_until_voided(store: HubStore) -> None:
    store.add(Events(v=1, device="d1", incarnation=INC, floor=0, events=[
        committed(1, "gift-1", "k1", admission={"id": "adm-1"}), committed(2, "gift-2", "k2", admission="adm-2"),
        committed(3, "gift-3", "k3", admission="adm-3"),
        Event(seq=4, id="void", at=AT + 3, type="redemption.voided", entitlement_id="gift-3", redemption_id="k3"),
    ]))  # fmt: skip
    assert [json.loads(b)["entitlement_id"] for b in store.taken_admission("adm-2")] == ["gift-2"]
    assert store.taken_admission("adm-9") == []
    assert [e.entitlement_id for e in store.kiosk_admissions()] == ["gift-1", "gift-2"]


def test_events_are_read_by_time_each_once(store: HubStore) -> None:
    store.add(events(1, 2, 3, device="d2"))
    store.add(events(1, 2, device="d1"))
    store.add(Events(v=1, device="d1", incarnation=INC2, floor=0, events=[event(1), event(2)]))  # repeats
    read = [(e.device, e.seq) for e in store.events(AT + 1, AT + 3)]
    assert read == [("d1", 1), ("d2", 1), ("d1", 2), ("d2", 2)]
    assert next(iter(store.events(AT, AT + 2))).body == {}


# --- devices and commands -----------------------------------------------------------------------


def health(device: str, at: float, software: str) -> Health:
    return Health(v=1, device=device, at=at, software=software, format=1, payloads=[1, 2], outbox=0,
                  confirmed_through=0, batch=0, head=0)  # fmt: skip


def test_a_device_s_newest_health_and_presence_are_kept(store: HubStore) -> None:
    store.note_device(health("d2", AT + 10, "1.1"))
    store.note_device(health("d2", AT, "1.0"))  # an older one arriving late changes nothing
    store.note_device(health("d1", AT, "1.0"))
    store.note_presence("d1", False, AT + 20)
    store.add(events(1, 2, device="d3"))
    assert [(d.device, d.software, d.payloads) for d in store.devices()] == [("d1", "1.0", (1, 2)),
                                                                             ("d2", "1.1", (1, 2))]  # fmt: skip
    states = {s.device: s for s in store.statuses()}
    assert sorted(states) == ["d1", "d2", "d3"]
    assert states["d1"].online is False and states["d1"].online_at == AT + 20 and states["d1"].events == 0
    assert states["d2"].online is None and states["d2"].health is not None
    assert states["d2"].health["software"] == "1.1" and states["d2"].health_at == AT + 10
    assert states["d3"].events == 2 and states["d3"].last_event == AT + 2 and states["d3"].health is None


def command(nonce: str, expires: float) -> RemoteCommand:
    return RemoteCommand(v=1, device="d1", lane="l1", op="open", reason="a test", nonce=nonce * 32, issued=int(AT),
                         expires=int(expires))  # fmt: skip


def test_remote_commands_go_out_once_and_keep_their_first_answer(store: HubStore) -> None:
    store.add_command(command("a", AT + 60))
    store.add_command(command("b", AT + 60))
    store.add_command(command("c", AT + 1))
    assert [c.nonce[0] for c in store.unsent_commands(AT + 10)] == ["a", "b"]  # c expired
    store.commands_sent(["a" * 32])
    assert [c.nonce[0] for c in store.unsent_commands(AT)] == ["b", "c"]
    assert store.withdraw("b" * 32) and not store.withdraw("a" * 32)  # a went out: too late
    assert [c.nonce[0] for c in store.unsent_commands(AT)] == ["c"]
    result = CommandResult(v=1, device="d1", nonce="a" * 32, outcome="done", reason="ok", at=AT + 2)
    assert store.answer("a" * 32) is None
    assert store.command_answered(result)
    assert not store.command_answered(result.model_copy(update={"outcome": "refused", "reason": "replayed"}))
    assert not store.command_answered(result.model_copy(update={"device": "d2", "nonce": "b" * 32}))
    assert store.answer("a" * 32) == ("done", "ok", "")


def test_the_keys_a_batch_retired_are_known(store: HubStore) -> None:
    store.append(signer())
    store.append(lambda seq: sign_batch("s1", seq, f"{HEADER}\n", key_id="hub", key=KEY,
                                        keys=KeyChanges(retire=["old"])))  # fmt: skip
    assert store.retired_keys() == {"old": 2}


# --- files, erasure, snapshots ------------------------------------------------------------------


def test_a_file_is_published_once(store: HubStore) -> None:
    assert store.published_file("ab" * 32) is None
    made, new = store.append_file("venue.jsonl", "ab" * 32, [signer("x"), signer("y")])
    assert new and [b.seq for b in made] == [1, 2] and store.head() == 2
    again, new = store.append_file("venue.jsonl", "ab" * 32, [signer("z")])
    assert not new and again == made and store.head() == 2
    assert store.published_file("ab" * 32) == (1, 2)
    assert store.append(signer()).seq == 3


def test_an_erasure_pseudonymises_events_cuts_the_log_and_catches_late_events(store: HubStore) -> None:
    line = json.dumps({"type": "entitlement", "id": "t-9", "version": 1, "holder": "h-1", "references": ["abc 9"]})
    store.append(lambda seq: sign_batch("s1", seq, f"{HEADER}\n{line}\n", key_id="hub", key=KEY))
    store.add(Events(v=1, device="d1", incarnation=INC, floor=0, events=[
        committed(1, "t-9", "r1", reference="abc 9"), committed(2, "t-8", "r2", reference="other"),
        Event(seq=3, id="look", at=AT, type="lookup", reason="ok", body={"reference": " ABC9"}),
    ]))  # fmt: skip
    assert [b.seq for b in store.batches_mentioning(["t-9"])] == [1]
    request = Request(holders=("h-1",), entitlements=("t-9",), references=("ABC9",),
                      cut=(("entitlement", "t-9", 2), ("holder", "h-1", 2)))  # fmt: skip
    tombstones = json.dumps({"type": "entitlement", "id": "t-9", "version": 2, "deleted": True})
    made, _ = store.append_file("erase.jsonl", "cd" * 32, [
        lambda seq: sign_batch("s1", seq, f"{HEADER}\n{tombstones}\n", key_id="hub", key=KEY)], request)
    ((number, pending),) = store.pending_erasures()
    assert pending.before == made[0].seq == 2
    done = store.erase(number, pending, redactor("s1", "hub", KEY, pending))
    assert (done.entitlements, done.events, done.batches) == (1, 2, 1)
    assert store.pending_erasures() == []
    rows = {e.id: e for e in store.events(0, AT + 100)}
    assert rows["r1"].entitlement_id is not None and rows["r1"].entitlement_id.startswith("erased-")
    assert rows["r1"].body.get("reference") == "" and rows["look"].body.get("reference") == ""
    assert rows["r2"].entitlement_id == "t-8" and rows["r2"].body["reference"] == "other"
    assert "t-9" not in store.batches(0)[0].lines and "t-9" in store.batches(1)[0].lines  # the tombstone stays
    assert store.snapshots().erased_at() > 0
    # A device cut off meanwhile sends a use of it: pseudonymised as it is stored.
    store.add(Events(v=1, device="d2", incarnation=INC, floor=0, events=[committed(1, "t-9", "r9")]))
    late = next(e for e in store.events(0, AT + 100) if e.device == "d2")
    assert late.entitlement_id == rows["r1"].entitlement_id


def test_snapshots_are_kept_newest_first_with_their_chunks(store: HubStore) -> None:
    shelf = store.snapshots()
    assert shelf.position() == 0 and shelf.newest() is None and shelf.erased_at() == 0.0
    store.add(Events(v=1, device="d1", incarnation=INC, floor=0, events=[
        committed(1, "t-1", "a"), Event(seq=2, id="h", at=AT - 3600, type="redemption.held", redemption_id="h"),
        event(3),
    ]))  # fmt: skip
    position = shelf.position()
    assert position >= 2
    usage = shelf.usage(0, through=position, holds_since=AT - 60, limit=10)
    assert [u.redemption_id for u in usage] == ["a"]  # the old hold is over; a lookup is no use
    assert len(shelf.usage(0, through=position, holds_since=0.0, limit=10)) == 2
    for n in (1, 2, 3):
        shelf.put_chunks(f"s{n}", [(0, b"zero"), (1, bytes([n]))])
        shelf.put(Kept(f"s{n}", n, AT + n, f'{{"n":{n}}}'), keep=2)
    newest = shelf.newest()
    assert newest is not None and newest.id == "s3"
    assert shelf.get("s1") is None and shelf.chunk("s1", 0) is None  # past the newest 2: gone, chunks too
    assert shelf.get("s2") is not None and shelf.chunk("s2", 1) == b"\x02" and shelf.chunk("s2", 2) is None
    shelf.drop("s3")
    assert shelf.get("s3") is None and shelf.chunk("s3", 0) is None
