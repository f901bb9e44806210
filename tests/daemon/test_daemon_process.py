"""`gate run` as systemd runs it: a real process, a real NOTIFY_SOCKET, signals, the control socket."""

from __future__ import annotations

import getpass
import json
import signal
import subprocess
import sys
import time

import pytest

from gate.cache import Hold, JournalEntry, Ledger
from gate.cli import main
from gate.daemon.control import request
from gate.point import RESTART_WHY
from tests.daemon.conftest import ROOT, Notifications, Start, Venue, wait_ready


def gate(venue: Venue, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gate", *argv, "--config", str(venue.config)],
        check=False, cwd=ROOT, capture_output=True, text=True, timeout=30,
    )  # fmt: skip


def test_ready_watchdog_status_then_stopping_and_exit_0(
    start_daemon: Start, notify_socket: Notifications, venue: Venue
) -> None:
    started = time.monotonic()
    daemon = start_daemon(notify=notify_socket, watchdog_usec=400_000)
    ready = notify_socket.wait_for("READY", "1")
    assert ready - started < 5  # the figure to beat is 2 s; a loaded CI machine gets some slack
    assert any("lane l1 normal" in s for _, s in notify_socket.fields("STATUS"))
    pings = notify_socket.wait_for("WATCHDOG", "1", after=ready)
    # Pinged every 0.2 s (half of WATCHDOG_USEC) while healthy.
    time.sleep(1.0)
    assert len([t for t, _ in notify_socket.fields("WATCHDOG") if t >= pings]) >= 3

    sent = time.monotonic()
    assert daemon.stop(signal.SIGTERM) == 0
    notify_socket.wait_for("STOPPING", "1", after=sent, timeout=1)
    assert "SIGTERM: stopping" in daemon.log and "stopped" in daemon.log


def test_sigterm_lets_the_passage_in_progress_finish(
    start_daemon: Start, notify_socket: Notifications, venue: Venue
) -> None:
    venue.write_config(timeout=1.5)
    daemon = start_daemon(notify=notify_socket, watchdog_usec=400_000)
    wait_ready(daemon)
    venue.scan("ONE")
    held = daemon.wait_until(lambda s: s["lane"]["passage"] is not None)["lane"]["passage"]["redemption"]
    sent = time.monotonic()
    daemon.process.send_signal(signal.SIGTERM)
    stopping = notify_socket.wait_for("STOPPING", "1", after=sent, timeout=2)
    venue.scan("ONE")  # after SIGTERM: not taken
    assert daemon.process.wait(10) == 0
    ended = time.monotonic()
    assert ended - sent >= 1.0  # it waited for the passage's timeout...
    # ...while still feeding the watchdog, and the passage ended in the ledger, not as a stray hold.
    assert [t for t, _ in notify_socket.fields("WATCHDOG") if stopping < t]
    assert _holds(venue) == []
    assert [e.type for e in _journal(venue) if e.redemption_id == held] == ["redemption.held", "redemption.released"]
    assert [e.type for e in _journal(venue)].count("refusal") == 0


def test_a_blocked_loop_sends_no_watchdog(start_daemon: Start, notify_socket: Notifications, venue: Venue) -> None:
    daemon = start_daemon(notify=notify_socket, watchdog_usec=400_000, hooks=True)
    ready = notify_socket.wait_for("READY", "1")
    notify_socket.wait_for("WATCHDOG", "1", after=ready)

    before = time.monotonic()
    assert request(venue.socket, {"op": "debug_block", "seconds": 1.5}) == {"ok": True}
    after = time.monotonic()
    assert after - before >= 1.5
    during = [t for t, _ in notify_socket.fields("WATCHDOG") if before + 0.25 < t < after - 0.05]
    assert during == []
    # Once the loop runs again, its lag makes the first check fail, then pings resume.
    notify_socket.wait_for("STATUS", "unhealthy: loop: lag", after=before)
    notify_socket.wait_for("WATCHDOG", "1", after=after)
    assert daemon.stop() == 0


def test_debug_block_needs_the_test_hooks(start_daemon: Start, venue: Venue) -> None:
    daemon = start_daemon()
    wait_ready(daemon)
    answer = request(venue.socket, {"op": "debug_block", "seconds": 1})
    assert answer["ok"] is False and "unknown op" in answer["error"]
    assert daemon.stop() == 0


def test_lane_commands_and_bad_requests_against_the_running_daemon(start_daemon: Start, venue: Venue) -> None:
    daemon = start_daemon()
    wait_ready(daemon)

    venue.scan("ONE")
    status = daemon.wait_until(lambda s: s["lane"]["last_decisions"] and s["lane"]["passage"])
    assert status["lane"]["last_decisions"][-1]["verdict"] == "admit"
    assert status["readers"][0] | {"reads": 1} == {**status["readers"][0], "running": True, "connected": True}

    shown = gate(venue, "lane", "status")
    assert shown.returncode == 0, shown.stderr
    assert "lane l1: normal" in shown.stdout and "passage: entry, 0/1 passed" in shown.stdout
    assert "reader scan (serial, entry): connected, 1 read(s)" in shown.stdout
    as_json = json.loads(gate(venue, "lane", "status", "--json").stdout)
    assert as_json["lane"]["lane"] == "l1" and as_json["health"]["ok"] is True

    # Bad requests are answered, never fatal.
    for bad in (b"not json\n", b'{"op": "fly"}\n', b'{"op": "mode", "mode": "party", "reason": "x"}\n',
                b'{"op": "mode", "mode": "locked"}\n', b'{"op": "status", "extra": 1}\n', b"[1, 2]\n"):  # fmt: skip
        answer = _raw(venue, bad)
        assert answer["ok"] is False and answer["error"], bad
    assert str(_raw(venue, b'{"op": "fly"}\n')["error"]).startswith("unknown op (ops: status, mode, open, lookup")

    locked = gate(venue, "lane", "mode", "locked", "--reason", "cleaning")
    assert locked.returncode == 0, locked.stderr
    assert locked.stdout.strip() == "lane l1: mode locked"
    status = daemon.status()
    assert status["lane"]["mode"] == "locked" and status["lane"]["mode_reason"] == "cleaning"
    # Locking released the passage in progress: nothing consumed.
    assert status["lane"]["passage"] is None
    assert status["lane"]["last_passages"][-1]["outcome"] == "released"

    assert gate(venue, "lane", "mode", "normal", "--reason", "done").returncode == 0
    opened = gate(venue, "lane", "open", "--reason", "wheelchair", "--direction", "entry")
    assert opened.returncode == 0, opened.stderr
    assert opened.stdout.strip() == "lane l1: opened once (entry)"
    assert daemon.status()["lane"]["passage"]["redemption"] is None  # staff's passage holds no redemption
    refused = gate(venue, "lane", "open", "--reason", "x", "--direction", "exit")
    assert refused.returncode == 1 and "no exit direction" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1

    assert daemon.process.poll() is None  # nothing above killed it
    # Locked again, so the stop has no 30 s passage to drain.
    assert gate(venue, "lane", "mode", "locked", "--reason", "closing").returncode == 0
    assert daemon.stop(signal.SIGINT) == 0
    staff = [(e.type, e.body.get("staff")) for e in _journal(venue) if e.type.startswith("staff")]
    assert [t for t, _ in staff] == ["staff.mode", "staff.mode", "staff.open_once", "staff.mode"]
    assert {who for _, who in staff} == {f"unix:{getpass.getuser()}"}  # from the socket's peer credentials
    assert "Marie" not in daemon.log  # logs name entitlements, never holders


def test_lane_commands_say_clearly_when_no_daemon_runs(venue: Venue) -> None:
    for argv in (("lane", "status"), ("lane", "mode", "locked", "--reason", "x"), ("lane", "open", "--reason", "x")):
        done = gate(venue, *argv)
        assert done.returncode == 1
        assert done.stderr.startswith("gate: no gate daemon is running for this config")
        assert len(done.stderr.strip().splitlines()) == 1


def test_kill_9_mid_passage_then_restart_releases_the_hold(start_daemon: Start, venue: Venue) -> None:
    first = start_daemon()
    wait_ready(first)
    venue.scan("ONE")
    status = first.wait_until(lambda s: s["lane"]["passage"] is not None)
    held = status["lane"]["passage"]["redemption"]
    assert held and [h.id for h in _holds(venue)] == [held]
    first.stop(signal.SIGKILL)  # no drain, no goodbye: as a power cut or the OOM killer would

    second = start_daemon()
    status = wait_ready(second)
    assert [(h["redemption"], h["outcome"]) for h in status["lane"]["restart_holds"]] == [(held, "released")]
    assert _holds(venue) == []
    held_row, released = [e for e in _journal(venue) if e.redemption_id == held]
    assert (held_row.type, released.type) == ("redemption.held", "redemption.released")
    assert RESTART_WHY in json.dumps(released.body) or released.reason == RESTART_WHY
    assert "released: passage not confirmed" in "".join(second.output)

    # Nothing was consumed: the same code admits again.
    venue.scan("ONE")
    status = second.wait_until(lambda s: bool(s["lane"]["last_decisions"]))
    assert status["lane"]["last_decisions"][-1]["verdict"] == "admit"
    assert request(venue.socket, {"op": "mode", "mode": "locked", "reason": "end of test"})["ok"]
    assert second.stop() == 0


def test_a_config_with_several_errors_refuses_to_start_with_all_of_them(venue: Venue) -> None:
    text = venue.config.read_text()
    text = text.replace('name = "Test venue"', 'name = "Test venue"\ncolour = "blue"')  # a wrong key
    text = text.replace("max_loop_lag_s = 0.5", 'max_loop_lag_s = "short"')  # a wrong type
    text = text.replace("sensor = 27", "sensor = 17")  # a pin used twice
    venue.config.write_text(text)
    done = gate(venue, "run")
    assert done.returncode == 2
    assert done.stderr.splitlines()[1:] == [
        "  site.colour: unknown key",
        "  turnstile.entry.sensor: GPIO17 is already used by turnstile.entry.relay",
        "  daemon.watchdog.max_loop_lag_s: Input should be a valid number, got text 'short'",
    ]
    assert done.stderr.startswith(f"gate: {venue.config}: 3 problem(s)")
    checked = subprocess.run(
        [sys.executable, "-m", "gate", "config", "check", str(venue.config)],
        check=False, cwd=ROOT, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert (checked.returncode, checked.stderr) == (2, done.stderr)


def test_a_pin_used_twice_is_reported_by_both_keys(venue: Venue) -> None:
    venue.config.write_text(venue.config.read_text().replace("sensor = 27", "sensor = 17"))
    done = gate(venue, "run")
    assert done.returncode == 2
    assert "turnstile.entry.sensor: GPIO17 is already used by turnstile.entry.relay" in done.stderr


def test_run_needs_a_lane_when_the_config_has_several(venue: Venue) -> None:
    venue.config.write_text(venue.config.read_text().replace('lane = "l1"\ncontrol', "control"))
    done = gate(venue, "run")
    assert done.returncode == 2
    assert "daemon.lane: required when the config has several lanes (l1, l2)" in done.stderr
    unknown = gate(venue, "run", "--lane", "nope")
    assert unknown.returncode == 2 and "--lane: unknown lane 'nope'" in unknown.stderr


def _raw(venue: Venue, line: bytes) -> dict[str, object]:
    import socket  # noqa: PLC0415

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(str(venue.socket))
        sock.sendall(line)
        answer: dict[str, object] = json.loads(sock.makefile().readline())
        return answer


def _journal(venue: Venue) -> list[JournalEntry]:
    with Ledger.open(venue.ledger, create=False) as ledger:
        return ledger.journal()


def _holds(venue: Venue) -> list[Hold]:
    with Ledger.open(venue.ledger, create=False) as ledger:
        return ledger.open_holds()


@pytest.fixture(autouse=True)
def _quick(request: pytest.FixtureRequest) -> None:
    """Every test here runs a daemon or two: keep them bounded."""
    request.node.add_marker(pytest.mark.timeout(60))


def test_a_config_the_lane_cannot_drive_is_refused(venue: Venue) -> None:
    text = venue.config.read_text()
    venue.config.write_text(text[: text.index("[turnstile]")] + text[text.index("[readers.scan]") :])
    done = gate(venue, "run")
    assert done.returncode == 2
    assert done.stderr.splitlines()[1:] == [
        "  turnstile: lane 'l1' is not a kiosk: its daemon needs a [turnstile] section"
        ' (pin_factory = "mock" without hardware)'
    ]


def test_gpio_that_cannot_start_is_said_in_one_line_and_exit_1(venue: Venue) -> None:
    venue.config.write_text(venue.config.read_text().replace('pin_factory = "mock"', 'pin_factory = "lgpio"'))
    done = gate(venue, "run")
    assert done.returncode == 1
    (line,) = [line for line in done.stdout.splitlines() if "CRITICAL" in line]
    assert "daemon failed: LaneHardwareError: turnstile.pin_factory 'lgpio' cannot start" in line
    assert "Traceback" not in done.stdout + done.stderr


def test_run_needs_a_config(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("GATE_CONFIG", raising=False)
    assert main(["run"]) == 2
    assert capsys.readouterr().err.startswith("gate: gate run needs a config: --config FILE")
