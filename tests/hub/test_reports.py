"""`gate hub report`, on a hub store holding the real journal rows of two devices' lanes and a kiosk:
each report's figures as a back office would check them by hand."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from gate.cache import Ledger
from gate.cli import main
from gate.config import load_config
from gate.decision import Ask
from gate.engine import Engine
from gate.hub.conflicts import Judge, mirror_path
from gate.hub.store import SqliteHubStore
from gate.sync.outbox import event_of
from gate.sync.payloads import Events, Health
from tests.configs import config_text
from tests.display.kiosks import kiosk_records

PARIS = ZoneInfo("Europe/Paris")
DAY = dt.date(2026, 3, 14)
NOW = dt.datetime.combine(DAY, dt.time(14, 0), PARIS)  # Hamlet at 14:30 (p-hamlet-0), Tosca at 15:30


def at(hh: int, mm: int) -> dt.datetime:
    return dt.datetime.combine(DAY, dt.time(hh, mm), PARIS)


def _records() -> list[dict[str, Any]]:
    tickets = [{"type": "entitlement", "kind": "ticket", "id": f"t-{n}", "version": 1, "performance": "p-hamlet-0",
                "pax": pax, "references": [f"T{n}"], **extra}
               for n, pax, extra in ((1, 2, {"holder": "h-k"}), (2, 1, {}), (3, 5, {"state": "cancelled"}))
               ]  # fmt: skip
    entry = {"type": "product", "id": "entry", "version": 1, "name": "Entry", "price_cents": 1500}
    return [*kiosk_records(NOW), entry, *tickets]


def _device(tmp: Path, name: str, lanes: dict[str, Any]) -> tuple[Ledger, Engine]:
    config = tmp / f"{name}.toml"
    config.write_text(config_text({"ledger": {"path": f"{name}.sqlite"}, "device": {"id": name},
                                   "zones": {"hall": {"name": "Hall"}}, "lanes": lanes}))  # fmt: skip
    ledger = Ledger.open(tmp / f"{name}.sqlite")
    ledger.import_lines([json.dumps(r) for r in _records()], source="venue")  # as the hub's batches brought it
    return ledger, Engine(ledger, load_config(config))


def _pass(engine: Engine, code: str, lane: str, when: dt.datetime, ask: Ask | None = None) -> str:
    held = engine.admit(code, lane=lane, at=when, ask=ask or Ask())
    assert held.redemption is not None, (code, held.decision.reason)
    engine.commit(held.redemption, at=when)
    return held.redemption


@pytest.fixture
def hub(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """The hub's config, its store holding both devices' journals, its ledger copy the venue's file."""
    assert main(["keys", "generate", "--id", "hub", "--purpose", "ledger", "--out", str(tmp_path / "keys")]) == 0
    config = tmp_path / "hub.toml"
    config.write_text(config_text({"ledger": {"path": "unused.sqlite"}, "hub": {
        "store": "hub.sqlite", "ledger_key_file": "keys/hub.key"}}))  # fmt: skip
    venue = tmp_path / "venue.jsonl"
    venue.write_text("\n".join(json.dumps(r) for r in _records()) + "\n")
    assert main(["hub", "publish", str(venue), "--config", str(config)]) == 0

    d1, one = _device(tmp_path, "d1", {"l1": {"zone": "main", "product": "entry"},
                                       "k1": {"zone": "main", "kiosk": True}})  # fmt: skip
    d2, two = _device(tmp_path, "d2", {"l2": {"zone": "hall", "product": "entry"}})
    _pass(one, "T1", "l1", at(13, 40))  # 2 persons, Hamlet
    _pass(one, "GIFT-1", "k1", at(13, 50), Ask(performance="p-hamlet-0"))  # the kiosk: an admission, nobody in
    _pass(one, "CARD-1", "l1", at(14, 5))  # a credit
    _pass(one, "GIFT-1", "l1", at(14, 15))  # the admission, at a lane: Hamlet
    _pass(two, "MEMBER-1", "l2", at(14, 10))
    _pass(two, "CARD-1", "l2", at(14, 20))  # the second credit, at the other device
    voided = _pass(two, "T2", "l2", at(14, 25))
    d2.void(voided, at=at(14, 26), window_s=3600, body={"staff": "s-1", "why": "scanned twice by mistake"})
    assert two.decide("T3", lane="l2", at=at(14, 27)).decision.verdict.value == "deny"  # cancelled: refused
    d2.refuse(two.decide("T3", lane="l2", at=at(14, 27)).decision, lane=two.lane("l2"), reference="T3",
              at=at(14, 27))  # fmt: skip

    store = SqliteHubStore(tmp_path / "hub.sqlite")
    for name, ledger in (("d1", d1), ("d2", d2)):
        rows = [event_of(entry) for entry in ledger.journal(limit=10_000)]
        incarnation = ledger.outbox().incarnation()
        store.add(Events(v=1, device=name, incarnation=incarnation, floor=0, events=rows))
        store.add(Events(v=1, device=name, incarnation=incarnation, floor=0, events=rows))  # sent again: once
        ledger.close()
    store.note_presence("d1", True, NOW.timestamp())
    store.note_presence("d2", False, NOW.timestamp())
    health = Health(v=2, device="d1", at=NOW.timestamp(), software="1.0", format=1, payloads=[1, 2], outbox=3,
                    confirmed_through=12, batch=1, head=1, clock_offset_s=0.25, ledger_problem="",
                    lanes={"l1": "normal", "k1": "locked"}, readers={"cam": True, "scan": False},
                    clock_trusted=True, storage_free=5_400_000_000)  # fmt: skip
    store.note_device(health)
    store.close()
    capsys.readouterr()
    return config


def _report(capsys: pytest.CaptureFixture[str], config: Path, *argv: str) -> dict[str, Any]:
    assert main(["hub", "report", *argv, "--day", DAY.isoformat(), "--json", "--config", str(config)]) == 0
    result: dict[str, Any] = json.loads(capsys.readouterr().out)
    return result


def test_entries_per_hour_and_zone_count_persons_at_lanes_not_kiosks_nor_voided(
    hub: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = _report(capsys, hub, "hours")
    rows = [(r["hour"], r["zone"], r["entries"]) for r in report["rows"]]
    assert rows == [("2026-03-14T13:00+01:00", "main", 2), ("2026-03-14T14:00+01:00", "hall", 2),
                    ("2026-03-14T14:00+01:00", "main", 2)]  # fmt: skip
    assert report["totals"]["entries"] == 6 and (report["from"], report["to"]) == ("2026-03-14", "2026-03-14")


def test_attendance_scanned_against_sold_counts_a_kiosk_s_admission_as_sold(
    hub: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = {r["performance"]: r for r in _report(capsys, hub, "attendance")["rows"]}
    assert set(rows) == {"p-hamlet-0", "p-tosca"}  # the two that start that day
    hamlet = rows["p-hamlet-0"]
    # Sold: t-1 (2) and t-2 (1), not the cancelled t-3; one admission a kiosk made from a voucher.
    assert (hamlet["tickets"], hamlet["kiosk"], hamlet["sold"]) == (3, 1, 4)
    # Scanned: t-1's two and the admission; t-2's entry was voided, and the kiosk let nobody in.
    assert (hamlet["scanned"], hamlet["rate"]) == (3, "75 %")
    assert (rows["p-tosca"]["sold"], rows["p-tosca"]["rate"]) == (0, "-")


def test_member_activity_and_balances_across_both_devices(hub: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = _report(capsys, hub, "members")
    rows = {r["entitlement"]: r for r in report["rows"]}
    assert set(rows) == {"cm-1", "m-1"}
    card, member = rows["cm-1"], rows["m-1"]
    assert (card["holder"], card["visits"], card["entries"], card["credits_used"], card["credits_left"]) == (
        "h-k", 2, 2, 2, 0)  # 2 bought, one spent at each device
    assert (member["kind"], member["visits"], member["entries"], member["credits_left"]) == ("membership", 1, 1, None)
    assert "Anna" not in json.dumps(report) and "Keller" not in json.dumps(report)  # ids, never names


def test_device_status_from_presence_health_and_events(hub: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = {r["device"]: r for r in _report(capsys, hub, "devices")["rows"]}
    assert (rows["d1"]["state"], rows["d1"]["outbox"], rows["d1"]["clock_offset_s"]) == ("online", 3, 0.25)
    d1 = rows["d1"]
    assert (d1["lanes"], d1["readers"], d1["clock"]) == ("l1 normal, k1 locked", "1/2", "trusted")
    assert d1["storage_free_mb"] == 5400
    assert (rows["d2"]["state"], rows["d2"]["outbox"], rows["d2"]["lanes"]) == ("offline", None, None)
    assert rows["d1"]["events"] == 8 and rows["d2"]["events"] == 8  # each row once, though sent twice


def test_text_for_people_and_bad_days_refused(hub: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hub", "report", "hours", "--from", "2026-03-13", "--to", "2026-03-14", "--config", str(hub)]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0] == "Entries per hour, 2026-03-13 to 2026-03-14 (Europe/Paris)"
    assert "2026-03-14T13:00+01:00  main  2" in text and "total: entries 6, exits 0" in text
    assert main(["hub", "report", "hours", "--day", "14/03/2026", "--config", str(hub)]) == 2
    assert "--day 14/03/2026: not a day (YYYY-MM-DD)" in capsys.readouterr().err
    assert main(["hub", "report", "hours", "--from", "2026-03-14", "--to", "2026-03-01", "--config", str(hub)]) == 2
    assert main(["hub", "report", "sales", "--config", str(hub)]) == 2
    assert "no such report (reports: members, attendance, hours, devices, conflicts)" in capsys.readouterr().err


def test_conflicts_name_both_uses_of_a_ticket_used_at_two_devices(
    hub: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A third device, cut off, let T1's party in again at 14:30; the hub judges it as it arrives.
    d3, three = _device(tmp_path, "d3", {"l3": {"zone": "main", "product": "entry"}})
    _pass(three, "T1", "l3", at(14, 30))
    store = SqliteHubStore(tmp_path / "hub.sqlite")
    events = Events(v=1, device="d3", incarnation=d3.outbox().incarnation(), floor=0,
                    events=[event_of(entry) for entry in d3.journal()])  # fmt: skip
    store.add(events)
    judge = Judge(store, mirror_path(tmp_path / "hub.sqlite"))
    assert [c.entitlement_id for c in judge.judge(events.events)] == ["t-1"]
    assert judge.judge(events.events) == []  # judged again: nothing new
    judge.close()
    store.close()
    d3.close()
    table = _report(capsys, hub, "conflicts")
    [row] = table["rows"]
    assert (row["entitlement"], row["kind"]) == ("t-1", "ticket")
    assert row["first"] == "d1 l1 13:40:00" and row["second"] == "d3 l3 14:30:00"
    assert table["totals"] == {"conflicts": 1}


def test_the_hour_a_clock_goes_back_stays_two_rows(tmp_path: Path) -> None:
    from gate.hub.reports import Period, report  # noqa: PLC0415
    from gate.sync.payloads import Event  # noqa: PLC0415

    store = SqliteHubStore(tmp_path / "hub.sqlite")
    autumn = dt.datetime(2026, 10, 25, 0, 30, tzinfo=dt.UTC)  # 02:30 summer time, then 02:30 winter time

    def entry(n: int, at: dt.datetime) -> Event:
        use = {"entitlement_id": "t-1", "at": at.isoformat(), "direction": "entry", "persons": 1, "credits": 0,
               "lane": "l1", "zone": "main"}  # fmt: skip
        return Event(seq=n, id=f"e{n}", at=at.timestamp(), type="redemption.committed", lane="l1",
                     entitlement_id="t-1", redemption_id=f"r{n}", body={"kind": "ticket", "uses": [use]})  # fmt: skip

    store.add(Events(v=1, device="d1", incarnation="0" * 16, floor=0,
                     events=[entry(1, autumn), entry(2, autumn + dt.timedelta(hours=1))]))  # fmt: skip
    table = report(store, tmp_path / "hub.sqlite", "hours", Period(autumn.date(), autumn.date(), PARIS))
    store.close()
    hours = [(r["hour"], r["entries"]) for r in table.rows]
    assert hours == [("2026-10-25T02:00+02:00", 1), ("2026-10-25T02:00+01:00", 1)]
