"""The hub's watched folder, with real parts: a running `gate hub` takes the back office's files from
`[hub] inbox` once they are complete (renamed to `*.jsonl`), publishes them as `gate hub publish`
does, and a device's `gate sync` applies them; a file the hub cannot check lands in failed/ with
every problem by line and field, and nothing of it reaches the log or the device; a file already
in the log (the hub killed before it could move it) is moved, not published again."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import pytest

from gate.cache import Ledger
from gate.cli import main
from gate.config import load_config
from gate.hub.publish import publish
from tests.sync.conftest import Site, until

HEADER = '{"type":"header","format":"gate-ledger","version":1}'


def _hub_key(site: Site, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["keys", "generate", "--id", "hub", "--purpose", "ledger", "--out", str(site.dir / "keys")]) == 0
    line: dict[str, Any] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    return str(line["public_key"])


def _text(*records: dict[str, Any]) -> str:
    return "\n".join([HEADER, *(json.dumps(r) for r in records)]) + "\n"


def _holder(n: int, **fields: Any) -> dict[str, Any]:
    return {"type": "holder", "id": f"h-{n}", "version": 1, "display_name": f"Ann {chr(64 + n)}.", **fields}


def _batches(site: Site) -> int:
    with sqlite3.connect(site.dir / "hub-hub.sqlite") as db:
        return int(db.execute("SELECT count(*) FROM batch").fetchone()[0])


def test_the_inbox_publishes_complete_files_once_and_refuses_bad_ones_by_line_and_field(
    site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    public = _hub_key(site, capsys)
    hub_config = site.config("hub", hub={"ledger_key_file": "keys/hub.key", "inbox": "inbox"})
    inbox = site.dir / "inbox"
    inbox.mkdir()
    # Monday's file was published, and the hub killed before it moved it: it is still in the inbox.
    monday = inbox / "monday.jsonl"
    monday.write_text(_text(_holder(1)))
    assert [b.seq for b in publish(load_config(hub_config), monday).batches] == [1]
    # Tuesday's is being written: not complete yet.
    tuesday = inbox / "tuesday.jsonl.tmp"
    tuesday.write_text(_text(_holder(2))[:-20])
    hub = site.run("hub", hub_config)
    config = site.config("d1", device="d1", ledger_keys={"hub": public})
    ledger = Ledger.open(site.dir / "d1.sqlite")
    site.run("sync", config)

    until((inbox / "done" / "monday.jsonl").exists, what="monday moved to done/")
    assert "monday.jsonl: published before as batch 1; moved to done/monday.jsonl" in hub.log()
    until(lambda: ledger.holder("h-1") is not None, what="the device applied monday's batch")
    assert _batches(site) == 1 and tuesday.exists()  # published once; the file being written left alone

    # Tuesday's file complete: renamed, taken, published, applied at the device.
    tuesday.write_text(_text(_holder(2)))
    tuesday.rename(inbox / "tuesday.jsonl")
    until(lambda: ledger.holder("h-2") is not None, what="the device applied tuesday's batch")
    until((inbox / "done" / "tuesday.jsonl").exists, what="tuesday moved to done/")
    assert ledger.setting("sync.batch_seq") == "2" and not (inbox / "tuesday.jsonl").exists()

    # A bad file: one good line, two bad ones. Nothing of it is published, applied or kept in the copy.
    bad = inbox / ".wednesday.jsonl"
    bad.write_text(_text(_holder(5), {**_holder(6), "version": 0}, _holder(7, display_name="06 12 34 56 78")))
    bad.rename(inbox / "wednesday.jsonl")
    error = inbox / "failed" / "wednesday.jsonl.error"
    until((inbox / "failed" / "wednesday.jsonl").exists, what="wednesday moved to failed/")
    said = error.read_text()
    assert said.startswith("wednesday.jsonl: 2 problem(s), nothing imported")
    assert "line 3: version: " in said and "line 4: display_name: looks like a phone number" in said
    assert "06 12" not in hub.log()  # the log names where, never the value
    # Thursday's good file still goes through after it, and nothing of wednesday's came with it.
    (inbox / "thursday.jsonl").write_text(_text(_holder(8)))
    until(lambda: ledger.holder("h-8") is not None, what="the device applied thursday's batch")
    assert _batches(site) == 3 and ledger.holder("h-5") is None
    with sqlite3.connect(site.dir / "hub-hub-ledger.sqlite") as copy:
        assert copy.execute("SELECT count(*) FROM record WHERE id = 'h-5'").fetchone()[0] == 0
    assert hub.stop() == 0
    ledger.close()


def test_a_hub_whose_inbox_cannot_publish_says_why_and_stops(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    config = site.config("hub", hub={"inbox": "inbox"})  # no ledger key: nothing could be signed
    assert main(["hub", "--config", str(config)]) == 2
    assert "gate hub: hub.inbox needs the ledger key: hub.ledger_key_file" in capsys.readouterr().err
    (site.dir / "taken").write_text("a file where the folder should be")
    config = site.config("hub", hub={"inbox": "taken/inbox", "ledger_key_file": "keys/hub.key"})
    _hub_key(site, capsys)
    assert main(["hub", "--config", str(config)]) == 2
    assert "gate hub: hub.inbox " in capsys.readouterr().err
