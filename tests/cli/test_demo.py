"""The demo: what a newcomer sees in the first minute, on the real lane with simulated pins.

`gate` with no command, stdin piped (so the view writes plain lines): every tour step's
decision, and what the lane did about it (relay pulses, passages committed, lamps), then
the codes typed on stdin through the same lane.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).parents[2]


def _env(tmp_path: Path) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "GATE_CONFIG"} | {"GATE_STATE_DIR": str(tmp_path)}


def test_the_demo_tour_goes_through_the_lane(tmp_path: Path) -> None:
    typed = "TICKET-1\nnonsense\nTICKET-1 nowhere\nTICKET-1\nCREDIT-1 exit\n"
    done = subprocess.run(
        [sys.executable, "-m", "gate"], input=typed, cwd=ROOT,
        capture_output=True, text=True, env=_env(tmp_path), timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    out = done.stdout
    tour_text, _, after = out.partition("\nYour turn.")
    blocks = tour_text.split("\n# ")
    tour = {block.splitlines()[0]: block for block in blocks[1:]}

    def shown(what: str) -> str:
        return tour[what].splitlines()[2].strip()

    renewed = shown("a member shows last year's card: it finds the renewed membership")
    assert renewed.startswith("ADMIT")
    assert "Marie D." in renewed and "m-marie]" in renewed
    assert "limit_reached" in shown("the same member again with the new card: one entry a day")
    assert "not_yet_valid" in shown("a membership that starts in three days")
    assert "already_used" in shown("the same ticket again")
    assert "partial" in shown("a 2-seat subscription, three people")
    assert "unpaid" in shown("an unpaid reservation")
    assert "kiosk_only" in shown("a gift voucher at a turnstile")
    # At the kiosk the code alone asks for a choice; the choice holds its admission, then it is confirmed.
    assert "choose_performance" in shown("the voucher redeemed at the kiosk")
    assert "[redeemed, v-gift]  (at hall-kiosk, held)" in tour["the voucher redeemed at the kiosk"]
    assert "confirmed" in tour["the voucher redeemed at the kiosk"]
    assert shown("the same code now opens the admission").startswith("ADMIT")
    assert shown("a child's ticket needs staff").startswith("STAFF")
    assert "test_at_live_lane" in shown("a test ticket at a live lane")
    assert "revoked" in shown("a revoked ticket")
    assert "unknown_code" in shown("a code nobody knows")

    # The lane moved: one unlock pulse per person admitted, each passage committed...
    family = tour["a family ticket: one scan admits four"]
    assert len(re.findall(r"entry relay ON: person \d of 4 may pass", family)) == 4
    assert family.count("a visitor pushes the entry arm") == 4
    assert "passage committed: 4 of 4 went through (all passed" in family
    assert "green lamp on" in family
    subscription = tour["a 2-seat subscription, three people"]
    assert subscription.count("entry relay ON") == 2 and "passage committed: 2 of 2 went through" in subscription
    leaving = tour["leaving through the exit"]
    assert shown("leaving through the exit").startswith("ADMIT")
    assert "exit relay ON" in leaving and "entry relay ON" not in leaving
    assert "passage committed: 1 of 1 went through" in leaving
    # ...a refusal lights the red lamp and never touches a relay...
    for what in ("the same member again with the new card: one entry a day", "a gift voucher at a turnstile"):
        assert "red lamp on" in tour[what] and "relay ON" not in tour[what], tour[what]
    assert "amber lamp on" in tour["a child's ticket needs staff"]
    assert "relay ON" not in tour["a child's ticket needs staff"]
    # ...and the kiosk, which has no turnstile, redeems at once.
    assert "relay" not in tour["the voucher redeemed at the kiosk"]

    # Typed codes go through the same lane, one passage after the other.
    lines = after.splitlines()
    decided = [(lines[i].strip(), lines[i + 1].strip()) for i, line in enumerate(lines) if line.endswith(":")
               and line.startswith("  ") and not line.startswith("    ")]  # fmt: skip
    codes = ["TICKET-1 at north-1:", "nonsense at north-1:", "TICKET-1 at north-1:", "CREDIT-1 at north-1, exit:"]
    assert [code for code, _ in decided] == codes
    first, unknown, again, leave = (decision for _, decision in decided)
    assert first.startswith("ADMIT") and "t-single]" in first
    assert "unknown_code" in unknown
    assert "already_used" in again  # the first passage was committed
    assert leave.startswith("ADMIT") and "[exit, c-jonas]" in leave
    assert "'TICKET-1 nowhere' is not a code" in after
    assert after.count("passage committed") == 2 and "exit relay ON" in after
    assert re.search(r"done: 21 read\(s\) decided at north-1; passages: 9 committed, 0 released", after)
    # Privacy: first name and initial only, anywhere.
    assert not {"Dupont", "Weber", "Lima"} & set(re.findall(r"\w+", out))


def test_the_demo_serves_the_visitor_screen_and_prints_its_address(tmp_path: Path) -> None:
    demo = subprocess.Popen(
        [sys.executable, "-m", "gate", "demo", "--display-port", "0"], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, text=True, env=_env(tmp_path),
    )  # fmt: skip
    assert demo.stdout is not None and demo.stdin is not None
    try:
        for line in demo.stdout:
            found = re.match(r"screens: (http://127\.0\.0\.1:\d+/) ", line)
            if found:
                break
        else:
            raise AssertionError("the demo printed no screen address")
        with urllib.request.urlopen(found[1], timeout=10) as page:
            assert page.status == 200 and "text/html" in page.headers["Content-Type"]
            assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    finally:
        _, errors = demo.communicate(timeout=120)  # stdin closed (Ctrl-D): the demo ends after its tour
    assert demo.returncode == 0, errors
