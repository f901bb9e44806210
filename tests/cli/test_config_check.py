"""`gate config check FILE` checks a config as `gate run` loads it: a daemon's lane must be runnable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gate.cache import Ledger
from gate.cli import main
from tests.configs import write_config

MISSING = (
    "  turnstile: lane 'l1' is not a kiosk: its daemon needs a [turnstile] section"
    ' (pin_factory = "mock" without hardware)'
)
TURNSTILE = {"pin_factory": "mock", "entry": {"relay": 17, "sensor": 27}, "exit": {"relay": 22, "sensor": 23}}


def _check(tmp_path: Path, capsys: pytest.CaptureFixture[str], **sections: Any) -> tuple[int, str, str]:
    path = write_config(tmp_path / "gate.toml", **sections)
    code = main(["config", "check", str(path)])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_daemon_lane_that_is_no_kiosk_needs_a_turnstile_said_with_the_other_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The only lane, no [turnstile]: said by key path, with the config's other problems at once.
    code, _, err = _check(tmp_path, capsys, readers={"scan": {"type": "serial", "lane": "nowhere", "port": "/dev/x"}})
    assert code == 2
    assert err.splitlines()[1:] == ["  readers.scan.lane: unknown lane 'nowhere' (lanes: l1)", MISSING]
    # [daemon] lane names it among several lanes.
    code, _, err = _check(tmp_path, capsys, lanes={"k": {"zone": "main", "kiosk": True}}, daemon={"lane": "l1"})
    assert (code, err.splitlines()[1:]) == (2, [MISSING])


def test_a_kiosk_with_its_screen_needs_time_before_the_screen_s_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kiosk = {"lanes": {"l1": {"kiosk": True}}, "display": {"enabled": True}}
    code, _, err = _check(tmp_path, capsys, **kiosk, kiosk={"inactivity_s": 24})
    assert (code, err.splitlines()[1:]) == (2, [
        "  kiosk.inactivity_s: 24 s leaves no time before the screen's warning: at least kiosk.warn_s + 5 s (25 s)"
    ])  # fmt: skip
    code, _, err = _check(tmp_path, capsys, **kiosk, kiosk={"inactivity_s": 45, "warn_s": 40})
    assert "at least kiosk.warn_s + 5 s (45 s)" not in err and code == 0
    # Without its screen a kiosk's sessions may be as short as the tests want.
    code, _, err = _check(tmp_path, capsys, lanes={"l1": {"kiosk": True}}, kiosk={"inactivity_s": 2})
    assert (code, err) == (0, "")


@pytest.mark.parametrize(
    "sections",
    [
        {"turnstile": TURNSTILE},  # the only lane, with its turnstile
        {"lanes": {"l1": {"kiosk": True}}},  # a kiosk has none
        {"lanes": {"k": {"zone": "main", "kiosk": True}}, "daemon": {"lane": "k"}},  # the daemon runs the kiosk
        {"lanes": {"l2": {"zone": "main"}}},  # several lanes, none named: the CLI tools' config
    ],
)
def test_configs_that_need_no_turnstile_check_ok(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sections: dict[str, Any]
) -> None:
    code, out, err = _check(tmp_path, capsys, **sections)
    assert (code, err) == (0, "") and ": ok (" in out


def test_the_cli_tools_still_take_a_lane_without_a_turnstile(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(tmp_path / "gate.toml")  # the only lane, no [turnstile]: fine for gate check
    Ledger.open(tmp_path / "ledger.sqlite").close()
    code = main(["--config", str(path), "check", "NOBODY", "--lane", "l1"])
    out, err = capsys.readouterr()
    assert code == 1 and "unknown_code" in out and "turnstile" not in err
