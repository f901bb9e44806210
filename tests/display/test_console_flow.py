"""The staff console in Debian's Chromium against a real `gate run` process (mock pins, a pty scanner):
the device-wide PIN lockout and a badge read during it, an override (with the recent-admit warning)
and a confirmed attention verdict found in the journal with the staff id, a steward's console that
offers no supervisor act (and a server that refuses one sent anyway), and axe-core on each screen."""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import time
from typing import Any

import aiohttp
import pytest
from playwright.sync_api import Page, expect

from gate.cache import Ledger
from gate.daemon.control import request as send
from gate.sync.conflicts import CONFLICTS, Conflict, Conflicts, Side, as_setting
from tests.browser import artifact_path, serious_violations
from tests.daemon.conftest import DaemonProcess, Start, Venue
from tests.display.consoles import STEWARD, SUPERVISOR, Console, badge, import_staff
from tests.display.screens import serve_screens


def _log_in(page: Page, staff: str, pin: str) -> None:
    """Staff id typed, the PIN on the page's keypad, then Log in."""
    page.fill("#staff-id", staff)
    page.click("#pin")
    for digit in pin:
        page.click(f'#keypad [data-key="{digit}"]')
    page.click("#login-button")


def _pass(venue: Venue, daemon: DaemonProcess, committed: int) -> None:
    """The simulated passage of the admit the lane holds, until `committed` passages are in."""
    daemon.wait_until(lambda s: s["lane"]["passage"] is not None)
    assert send(venue.socket, {"op": "sim_passage"})["ok"]
    daemon.wait_until(lambda s: [p["outcome"] for p in s["lane"]["last_passages"]].count("committed") == committed)


def test_wrong_pins_lock_pin_entry_and_a_badge_read_at_the_reader_still_opens_the_console(
    venue: Venue, start_daemon: Start, page: Page, request: pytest.FixtureRequest
) -> None:
    import_staff(venue)
    daemon, url = serve_screens(venue, start_daemon, staff={"pin_attempts": 3})
    page.goto(f"{url}console?lang=en")
    screen, message = page.locator("#screen"), page.locator("#login-message")
    expect(screen).to_have_attribute("data-screen", "login", timeout=5000)
    found = {"login": serious_violations(page)}
    # Three wrong PINs, for three staff ids: PIN entry is locked on the device, whoever typed.
    for staff in ("s-1", "s-2", "s-9"):
        _log_in(page, staff, "0000")
        expect(message).not_to_have_text("")
    expect(screen).to_have_attribute("data-screen", "locked", timeout=5000)
    expect(message).to_contain_text("PIN entry locked for")
    expect(page.locator('#keypad [data-key="1"]')).to_be_disabled()
    found["locked"] = serious_violations(page)
    page.screenshot(path=str(artifact_path(request.node, "__locked.png")))
    # The supervisor's right PIN is refused during the lock (sent by the control socket here).
    refused = send(venue.socket, {"op": "status", "login": {"staff": SUPERVISOR[0], "pin": SUPERVISOR[1]}})
    assert not refused["ok"] and "locked" in refused["error"]

    venue.scan(badge())  # a staff badge at the lane's reader: the console opens
    expect(screen).to_have_attribute("data-screen", "console", timeout=5000)
    expect(page.locator("#who")).to_have_text("badge:b-s-2 · Supervisor")
    found["console"] = serious_violations(page)
    assert found == {"login": [], "locked": [], "console": []}
    # A reload is a new connection: it starts at the login screen, never in the old session.
    page.reload()
    expect(screen).to_have_attribute("data-screen", "locked", timeout=5000)
    assert daemon.stop() == 0

    with Ledger.open(venue.ledger) as ledger:
        journal = ledger.journal()
    refusals = [(e.body["via"], e.body["staff_id"], e.reason) for e in journal if e.type == "staff.login_refused"]
    assert refusals == [("pin", "s-1", "wrong_pin"), ("pin", "s-2", "wrong_pin"), ("pin", "s-9", "wrong_pin"),
                        ("pin", "s-2", "pin_locked")]  # fmt: skip
    (lock,) = [e for e in journal if e.type == "staff.pin_lockout"]
    assert (lock.lane, lock.body["attempts"], lock.body["staff_id"]) == ("l1", 3, "s-9")
    (login,) = [e for e in journal if e.type == "staff.login"]
    assert (login.body["via"], login.body["staff"]) == ("badge", "badge:b-s-2")
    assert "0000" not in str([e.body for e in journal])  # never the digits


def test_an_override_with_the_recent_admit_warning_and_a_confirmed_attention_are_journaled_with_the_staff_id(
    venue: Venue, start_daemon: Start, page: Page, request: pytest.FixtureRequest
) -> None:
    import_staff(venue)
    daemon, url = serve_screens(venue, start_daemon)
    page.goto(f"{url}console")
    screen, dialog, toast = page.locator("#screen"), page.locator("#dialog"), page.locator("#toast")
    expect(screen).to_have_attribute("data-screen", "login", timeout=5000)
    _log_in(page, *SUPERVISOR)
    expect(screen).to_have_attribute("data-screen", "console", timeout=5000)

    # Tomorrow's ticket is refused; the supervisor picks it from the list and overrides it.
    venue.scan("LATER")
    later = page.locator('#recent-list li[data-reason="too_early"]')
    expect(later).to_contain_text("Too early", timeout=5000)
    later.locator('[data-act="override"]').click()
    expect(dialog).to_have_attribute("data-op", "override")
    found = {"dialog": serious_violations(page)}
    page.screenshot(path=str(artifact_path(request.node, "__override.png")))
    page.fill("#reason", "date misprinted")
    page.click("#dialog-send")
    expect(toast).to_contain_text("Admitted")
    page.screenshot(path=str(artifact_path(request.node, "__recent.png")))
    _pass(venue, daemon, 1)

    # A ticket used a moment ago: its override asks first, then goes through confirmed.
    venue.scan("ONE")
    _pass(venue, daemon, 2)
    venue.scan("ONE")
    again = page.locator('#recent-list li[data-reason="already_used"]')
    expect(again).to_contain_text("Marie D.", timeout=5000)
    again.locator('[data-act="override"]').click()
    page.locator("#presets button").first.click()
    page.click("#dialog-send")
    expect(page.locator("#confirm-dialog")).to_have_attribute("open", "", timeout=5000)
    expect(page.locator("#confirm-text")).to_contain_text("admitted here at")
    found["confirm"] = serious_violations(page)
    page.click("#confirm-yes")
    expect(toast).to_contain_text("Admitted")
    _pass(venue, daemon, 3)

    # A child's ticket waits for staff: the pending view offers its check.
    venue.scan("KID")
    page.click("#tab-pending")
    kid = page.locator('#pending-list li[data-reason="child"]')
    kid.locator('[data-act="confirm"]').click(timeout=5000)
    expect(page.locator("#reason")).to_have_value("ID checked")
    page.click("#dialog-send")
    expect(toast).to_contain_text("Admitted")
    expect(page.locator("#pending-empty")).to_be_visible()
    _pass(venue, daemon, 4)
    page.click("#tab-health")
    expect(page.locator("#health-list")).to_have_attribute("data-mode", "normal")
    found["health"] = serious_violations(page)
    page.screenshot(path=str(artifact_path(request.node, "__health.png")))
    assert found == {"dialog": [], "confirm": [], "health": []}
    assert "Dupont" not in page.content()  # the masked name only
    assert daemon.stop() == 0

    with Ledger.open(venue.ledger) as ledger:
        journal = ledger.journal()
    overrides = [(e.entitlement_id, e.body["staff"], e.body["why"], e.body["confirmed"])
                 for e in journal if e.type == "staff.override"]  # fmt: skip
    assert overrides == [("t-later", "pin:s-2", "date misprinted", False), ("t-one", "pin:s-2", "Lost ticket", True)]
    (confirm,) = [e for e in journal if e.type == "staff.confirm"]
    assert (confirm.entitlement_id, confirm.body["staff"], confirm.body["why"]) == ("t-kid", "pin:s-2", "ID checked")


async def _steward_sends_supervisor_acts(url: str) -> list[dict[str, Any]]:
    """What a page that ignores what it was offered gets: the server's refusals."""
    async with aiohttp.ClientSession() as session:
        origin = url.rstrip("/")
        async with session.ws_connect(f"{url}ws?screen=console", origin=origin) as ws:
            page = Console(ws)
            await page.next("status")
            assert (await page.login(*STEWARD))["ok"]
            return [
                await page.command(op="override", decision="x", reason="x"),
                await page.command(op="void", redemption="x", reason="x"),
                await page.command(op="mode", mode="free", reason="x"),
            ]


def test_a_stewards_console_offers_no_supervisor_act_and_the_server_refuses_one_sent_anyway(
    venue: Venue, start_daemon: Start, page: Page, request: pytest.FixtureRequest
) -> None:
    import_staff(venue)
    daemon, url = serve_screens(venue, start_daemon)
    page.goto(f"{url}console?lang=fr")
    screen = page.locator("#screen")
    expect(screen).to_have_attribute("data-screen", "login", timeout=5000)
    _log_in(page, *STEWARD)
    expect(page.locator("#who")).to_have_text("pin:s-1 · Agent", timeout=5000)
    venue.scan("LATER")
    expect(page.locator('#recent-list li[data-reason="too_early"]')).to_have_count(1, timeout=5000)
    venue.scan("ONE")
    expect(page.locator('#recent-list li[data-verdict="admit"]')).to_have_count(1, timeout=5000)
    assert page.locator('#recent-list [data-act="override"], #recent-list [data-act="void"]').count() == 0
    page.click("#tab-acts")
    for op, shown in (("open", True), ("typed", True), ("lookup", True), ("mode", False), ("occupancy", False)):
        button = page.locator(f'#view-acts [data-op="{op}"]')
        expect(button).to_be_visible() if shown else expect(button).to_be_hidden()
    _pass(venue, daemon, 1)

    # A code the reader cannot read, typed by the steward: decided as a read at the lane.
    page.click('#view-acts [data-op="typed"]')
    page.fill("#reference", "one")
    page.click("#dialog-send")
    expect(page.locator("#toast")).to_contain_text("Refusé")  # used a moment ago
    page.click('#view-acts [data-op="lookup"]')
    page.fill("#reference", "ONE")
    page.click("#dialog-send")
    expect(page.locator("#lookup-result")).to_contain_text("t-one")
    assert serious_violations(page) == []
    page.screenshot(path=str(artifact_path(request.node, "__acts.png")))
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        answers = pool.submit(asyncio.run, _steward_sends_supervisor_acts(url)).result(timeout=30)
    assert [a["error"] for a in answers] == [
        f"{op}: not allowed for a steward (allowed: supervisor)" for op in ("override", "void", "mode")
    ]
    assert daemon.stop() == 0
    # The daemon gone: "offline" within the heartbeat's 5 s, and nothing of the session left on the page.
    expect(page.locator("#screen")).to_have_attribute("data-screen", "offline", timeout=5000)
    expect(page.locator("#recent-list li")).to_have_count(0)
    expect(page.locator("#lookup-result")).to_be_hidden()
    assert "Marie" not in page.content()
    with Ledger.open(venue.ledger) as ledger:
        journal = ledger.journal()
    assert [e.body["staff"] for e in journal if e.type == "lookup"] == ["pin:s-1"]
    (typed,) = [e for e in journal if e.type == "staff.typed"]
    assert (typed.body["staff"], typed.reason, typed.body["reference"]) == ("pin:s-1", "already_used", "ONE")
    assert not [e for e in journal if e.type in ("staff.override", "staff.void", "staff.mode")]


def test_with_a_sync_process_the_console_shows_each_decisions_state_and_the_hubs_conflicts(
    venue: Venue, start_daemon: Start, page: Page, request: pytest.FixtureRequest
) -> None:
    import_staff(venue)
    daemon, url = serve_screens(venue, start_daemon)
    now = time.time()
    conflicts = Conflicts(v=1, at=now, conflicts=[Conflict(
        id="r-2", entitlement_id="t-one", kind="ticket", found_at=now,
        first=Side(device="lane-north-1", redemption="r-1", at=now - 90, lane="l1"),
        second=Side(device="lane-south-2", redemption="r-2", at=now - 30, lane="l1", offline=True, untrusted=True),
    )])  # fmt: skip
    with Ledger.open(venue.ledger) as ledger:  # what `gate sync` writes; the daemon reads it every 2 s
        ledger.touch(settings={"sync.link": "up", "sync.since": dt.datetime.now(dt.UTC).isoformat(),
                               "sync.outbox": "1", "sync.head_at": f"{now - 600:.3f}",
                               CONFLICTS: as_setting(conflicts)})  # fmt: skip
    daemon.wait_until(lambda s: s["sync"] is not None and s["sync"]["conflicts"])
    page.goto(f"{url}console?lang=en")
    _log_in(page, *SUPERVISOR)
    venue.scan("ONE")
    row = page.locator("#recent-list li[data-verdict=admit]")
    expect(row.locator(".mark")).to_have_text("not yet confirmed", timeout=5000)
    page.click("#tab-health")
    health = page.locator("#health-list")
    expect(health).to_contain_text("last word from the hub 10 min ago")
    conflict = health.locator("dd.bad", has_text="ticket t-one")
    expect(conflict).to_contain_text("first lane-north-1 · l1")
    expect(conflict).to_contain_text("then lane-south-2 · l1")
    expect(conflict).to_contain_text("(decided offline, clock not trusted)")
    page.screenshot(path=str(artifact_path(request.node, "__sync.png")))
    assert serious_violations(page) == []
    _pass(venue, daemon, 1)
    assert daemon.stop() == 0
