"""The kiosk screen in Debian's Chromium against a real `gate run` kiosk (a pty serial scanner): a
voucher redeemed, its QR cut from the screen and read by gate's own decoder, then admitted at a
second `gate run` lane on the kiosk's ledger; two vouchers together; credits with choices and what
is left to pay; the inactivity countdown, "More time", the wipe and the hold it releases; axe-core
on each of its screens."""

from __future__ import annotations

import re
import signal
import time
from typing import Any

import cv2
import numpy as np
import pytest
from playwright.sync_api import Page, expect

from gate.cache import Ledger
from gate.cache.redemptions import JournalEntry
from gate.scanner.decoders import decode
from tests.browser import artifact_path, serious_violations
from tests.daemon.conftest import Start, Venue
from tests.display.kiosks import lane_daemon, serve_kiosk


def _journal(venue: Venue, kind: str, entitlement: str, timeout: float = 10.0) -> JournalEntry:
    """The journal's `kind` row for `entitlement`, once a daemon wrote it."""
    deadline = time.monotonic() + timeout
    while True:
        with Ledger.open(venue.ledger, create=False) as ledger:
            for entry in ledger.journal(limit=10_000):
                if entry.type == kind and entry.entitlement_id == entitlement:
                    return entry
        assert time.monotonic() < deadline, f"no {kind} for {entitlement}"
        time.sleep(0.1)


def _qr(page: Page, index: int = 0) -> list[str | bytes]:
    """The codes gate's decoder reads in the QR image as the screen shows it (its screenshot)."""
    png = page.locator("img.qr").nth(index).screenshot()
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    return [d.payload for d in decode(image)]


def test_a_voucher_redeemed_at_the_kiosk_shows_a_qr_that_opens_a_lane_on_its_ledger(
    venue: Venue, start_daemon: Start, page: Page, request: pytest.FixtureRequest
) -> None:
    daemon, url = serve_kiosk(venue, start_daemon)
    with lane_daemon(venue) as (lane, lane_process):
        page.goto(url)
        screen = page.locator("#screen")
        expect(screen).to_have_attribute("data-screen", "idle", timeout=5000)
        venue.scan("GIFT-1")
        expect(screen).to_have_attribute("data-screen", "session", timeout=5000)
        # Hamlet's three performances are folded, nearest first once expanded; Tosca's one is not.
        hamlet = page.locator("button.expand[data-event=hamlet]")
        expect(hamlet).to_have_attribute("aria-expanded", "false")
        expect(page.locator("button.choice[data-performance=p-hamlet-0]")).to_be_hidden()
        expect(page.locator("button.choice[data-performance=p-tosca]")).to_contain_text("Stalls")
        hamlet.click()
        expect(hamlet).to_have_attribute("aria-expanded", "true")
        choices = page.locator("#event-hamlet button.choice")
        expect(choices).to_have_count(3)
        assert [choices.nth(i).get_attribute("data-performance") for i in range(3)] == [
            "p-hamlet-0", "p-hamlet-1", "p-hamlet-2"]  # fmt: skip
        page.locator("button.choice[data-performance=p-hamlet-0]").click()
        expect(page.locator("#held")).to_contain_text("Hamlet")
        expect(page.locator("button.choice[data-performance=p-hamlet-0]")).to_have_attribute("aria-pressed", "true")
        page.locator("#confirm").click()
        expect(screen).to_have_attribute("data-screen", "done", timeout=5000)
        expect(page.locator(".done-line")).to_have_text(
            re.compile(r"^Your voucher now opens the lanes for Hamlet, \d\d:\d\d$")
        )
        page.screenshot(path=str(artifact_path(request.node, "__done.png")))

        # The QR, cut from the screen, is the voucher's own code: read at the lane, it is its admission.
        assert _qr(page) == ["GIFT-1"]
        lane.scan("GIFT-1")
        _journal(venue, "redemption.held", "v-1:admission")
        assert lane.ask({"op": "sim_passage"})["ok"]
        committed = _journal(venue, "redemption.committed", "v-1:admission")
        assert committed.lane == "l1"
        assert lane_process.stop() == 0
    assert daemon.stop() == 0


def test_two_vouchers_scanned_in_one_session_are_redeemed_together_and_a_dead_daemon_wipes_them(
    venue: Venue, start_daemon: Start, page: Page
) -> None:
    daemon, url = serve_kiosk(venue, start_daemon)
    page.goto(url)
    screen = page.locator("#screen")
    expect(screen).to_have_attribute("data-screen", "idle", timeout=5000)
    venue.scan("GIFT-1")
    expect(page.locator("button.choice[data-performance=p-tosca]")).to_be_visible(timeout=5000)
    venue.scan("GIFT-2")
    expect(page.locator(".together")).to_have_text("2 vouchers, redeemed together", timeout=5000)
    page.locator("button.choice[data-performance=p-tosca]").click()
    expect(page.locator("#confirm")).to_be_enabled()
    page.locator("#confirm").click()
    expect(page.locator(".done-line")).to_contain_text("Your 2 vouchers now open the lanes for Tosca, ")
    expect(page.locator("img.qr")).to_have_count(2)
    assert sorted(_qr(page, 0) + _qr(page, 1)) == ["GIFT-1", "GIFT-2"]
    for voucher in ("v-1", "v-2"):
        _journal(venue, "redemption.committed", voucher)

    # Never a stale screen: the daemon killed, "out of order" within 5 s and the QR codes gone.
    daemon.process.send_signal(signal.SIGKILL)
    expect(screen).to_have_attribute("data-screen", "offline", timeout=5500)
    expect(page.locator("#session > *")).to_have_count(0)
    expect(page.locator("#notice-text")).to_have_text("Out of order — please use another kiosk")


def test_credits_pay_for_the_chosen_items_and_the_rest_is_to_pay_at_the_desk(
    venue: Venue, start_daemon: Start, page: Page
) -> None:
    daemon, url = serve_kiosk(venue, start_daemon)
    page.goto(url + "?lang=de")
    expect(page.locator("#screen")).to_have_attribute("data-screen", "idle", timeout=5000)
    venue.scan("CARD-1")
    expect(page.locator(".holder")).to_have_text("Hallo, Anna K.", timeout=5000)
    expect(page.locator(".facts")).to_contain_text("Verbleibende Guthaben: 2")
    expect(page.locator("#confirm")).to_be_disabled()
    for product, times in (("entry", 2), ("guide", 1)):
        for _ in range(times):
            page.locator(f".product[data-product={product}] button[data-step=more]").click()
    expect(page.locator(".product[data-product=entry] output")).to_have_text("2")
    page.locator("#check").click()
    held = page.locator("#held")
    expect(held).to_contain_text("Mit Ihren Guthaben bezahlt: 1 × Audio guide, 1 × Entry", timeout=5000)
    expect(held).to_contain_text("An der Kasse zu zahlen: 15,00\u00a0€")
    # Nothing is committed before the confirm; then the credits are.
    with Ledger.open(venue.ledger, create=False) as ledger:
        assert [e.type for e in ledger.journal() if e.entitlement_id == "cm-1"] == ["lookup", "redemption.held"]
    page.locator("#confirm").click()
    expect(page.locator(".done-line").first).to_have_text("Erledigt — Ihre Guthaben haben 1 × Audio guide, "
                                                          "1 × Entry bezahlt")  # fmt: skip
    committed = _journal(venue, "redemption.committed", "cm-1")
    assert committed.lane == "k1"
    page.get_by_role("button", name="Fertig").click()
    expect(page.locator("#screen")).to_have_attribute("data-screen", "idle")
    expect(page.locator("#session > *")).to_have_count(0)
    assert daemon.stop() == 0


def test_an_idle_session_warns_gives_more_time_then_is_wiped_and_its_hold_released(
    venue: Venue, start_daemon: Start, page: Page, request: pytest.FixtureRequest
) -> None:
    daemon, url = serve_kiosk(venue, start_daemon, inactivity_s=25)
    page.goto(url)
    screen = page.locator("#screen")
    expect(screen).to_have_attribute("data-screen", "idle", timeout=5000)
    venue.scan("CARD-1")
    page.locator(".product[data-product=entry] button[data-step=more]").click(timeout=5000)
    page.locator("#check").click()
    expect(page.locator("#held")).to_contain_text("Entry")
    _journal(venue, "redemption.held", "cm-1")
    # Idle for 5 s: warned 20 s before the end (warn_s, WCAG 2.2.1), with a countdown, a sound and "More time".
    warning = page.locator("#warning")
    expect(warning).to_be_visible(timeout=10_000)
    expect(page.locator("#warning-text")).to_have_text(re.compile(r"clears in (20|1[0-9]) s$"))
    expect(warning).to_have_attribute("data-sounds", "1")
    page.screenshot(path=str(artifact_path(request.node, "__warning.png")))
    assert serious_violations(page) == []
    started = time.monotonic()
    page.locator("#more-time").click()
    expect(warning).to_be_hidden()
    expect(warning).to_have_attribute("data-sounds", "2", timeout=10_000)  # warned again: its 25 s started again
    # Then nobody touches it: the point ends the session and the screen is wiped, nothing left of her.
    expect(screen).to_have_attribute("data-screen", "idle", timeout=45_000)  # 20 s from here, with room for a busy CI
    assert time.monotonic() - started > 24  # "More time" bought the session its 25 s again
    expect(page.locator("#session > *")).to_have_count(0)
    expect(warning).to_be_hidden()
    assert "Anna" not in page.content()
    released = _journal(venue, "redemption.released", "cm-1")
    assert released.body["why"] == "kiosk: expired"
    with Ledger.open(venue.ledger, create=False) as ledger:
        assert ledger.open_holds() == []
        assert [e.type for e in ledger.journal() if e.entitlement_id == "cm-1"] == [
            "lookup", "redemption.held", "redemption.released"]  # fmt: skip
    assert daemon.stop() == 0



def test_the_kiosk_screens_have_no_serious_accessibility_violation(
    venue: Venue, start_daemon: Start, page: Page, request: pytest.FixtureRequest
) -> None:
    def check(state: str) -> list[dict[str, Any]]:  # each screen kept as an artefact too
        page.screenshot(path=str(artifact_path(request.node, f"__{state}.png")))
        return serious_violations(page)

    daemon, url = serve_kiosk(venue, start_daemon)
    page.goto(url)
    screen = page.locator("#screen")
    expect(screen).to_have_attribute("data-screen", "idle", timeout=5000)
    found = {"idle": check("idle")}
    page.locator("#type-open").click()
    for key in "GIFT-3":
        page.locator(f"#keys button[data-key='{key}']").click()
    expect(page.locator("#code")).to_have_value("GIFT-3")
    found["keypad"] = check("keypad")
    page.locator("#typed-go").click()
    expect(screen).to_have_attribute("data-screen", "session", timeout=5000)
    page.locator("button.expand[data-event=hamlet]").click()
    found["voucher"] = check("voucher")
    page.locator("button.choice[data-performance=p-tosca]").click()
    expect(page.locator("#held")).to_be_visible()
    page.locator("#confirm").click()
    expect(page.locator("img.qr")).to_be_visible()
    found["done"] = check("done")
    venue.scan("CARD-1")
    expect(page.locator(".product")).to_have_count(2, timeout=5000)
    found["credits"] = check("credits")
    venue.scan("RES-1")
    expect(page.locator(".pay")).to_be_visible(timeout=5000)
    found["reservation"] = check("reservation")
    assert found == {k: [] for k in ("idle", "keypad", "voucher", "done", "credits", "reservation")}
    assert daemon.stop() == 0
