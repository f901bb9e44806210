"""The README's main command serves the demo page: in Debian's Chromium, a click on a demo code is
read at the lane (the terminal says so too), the framed visitor screen shows the result, the
turnstile's outputs switch on the page, and the kiosk, the console and the demo staff's PINs
are a click away."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser import artifact_path, serious_violations

ROOT = Path(__file__).parents[2]


class RunningDemo:
    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        self.process = process
        self.url = url
        self.lines: list[str] = []

    def drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[RunningDemo]:
    env = {"GATE_STATE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    process = subprocess.Popen(
        [sys.executable, "-m", "gate", "demo", "--display-port", "0", "--pace", "0"], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, text=True, env=env,
    )  # fmt: skip
    assert process.stdout is not None and process.stdin is not None
    url = None
    for line in process.stdout:
        found = re.match(r"screens: (http://127\.0\.0\.1:\d+/) ", line)
        url = url or (found[1] if found else None)
        if line.startswith("Your turn"):  # the tour is over: the lane waits for codes
            break
    assert url is not None, "the demo printed no screen address"
    running = RunningDemo(process, url)
    reader = threading.Thread(target=running.drain, daemon=True)
    reader.start()
    try:
        yield running
    finally:
        _, errors = process.communicate(timeout=60)  # stdin closed (Ctrl-D): the demo ends
        reader.join(timeout=5)
        assert process.returncode == 0, errors


def test_a_click_on_a_demo_code_is_read_at_the_lane_and_the_page_shows_it_all(
    demo: RunningDemo, page: Page, request: pytest.FixtureRequest
) -> None:
    page.goto(demo.url)
    expect(page.locator("#link-state")).to_have_text("Live", timeout=5000)
    visitor = page.frame_locator("#visitor").locator("#screen")
    expect(visitor).to_have_attribute("data-screen", "normal", timeout=5000)
    # The staff console and the kiosk a click away, with the demo staff's PINs stated.
    expect(page.locator("#staff")).to_contain_text("Sam D. (supervisor): staff id demo-sup, PIN 2468")
    expect(page.locator("#console-link")).to_have_attribute("href", "/console")
    expect(page.locator("#kiosk-link")).to_have_attribute("href", "/kiosk?lane=hall-kiosk")
    expect(page.locator("#lamp-green")).to_have_attribute("data-on", "false")
    assert serious_violations(page) == []

    page.locator("#codes button[data-code='TICKET-1']").first.click()
    expect(visitor).to_have_attribute("data-screen", "admit", timeout=5000)
    expect(page.frame_locator("#visitor").locator("#word")).to_have_text("Enter")
    expect(page.locator("#lamp-green")).to_have_attribute("data-on", "true", timeout=3000)
    page.screenshot(path=str(artifact_path(request.node, "__admit.png")))
    # The simulated visitor walks through: the passage is committed, the lane goes back to idle.
    expect(page.locator("#passage")).to_contain_text("committed", timeout=5000)
    expect(visitor).to_have_attribute("data-screen", "normal", timeout=5000)
    expect(page.locator("#decisions")).to_contain_text("TICKET-1")

    page.locator("#codes button[data-code='TICKET-1']").first.click()  # used now: refused
    expect(visitor).to_have_attribute("data-screen", "deny", timeout=5000)
    expect(page.locator("#lamp-red")).to_have_attribute("data-on", "true", timeout=3000)
    # The terminal view tells the same story: the page's reads went the demo's own read path.
    assert any("TICKET-1" in line for line in demo.lines), demo.lines[-5:]
