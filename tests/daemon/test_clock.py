"""The decision clock against an injected wall clock, monotonic clock and sync state."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from gate.daemon.clock import DecisionClock, Sync, system_sync

T0 = dt.datetime(2026, 6, 1, 10, 0, tzinfo=dt.UTC)


class Clocks:
    """A wall clock and a monotonic clock the test moves by hand, and what time sync says."""

    def __init__(self) -> None:
        self.wall = T0
        self.mono = 1000.0
        self.sync = Sync(since_boot=True, now=True)

    def tick(self, seconds: float) -> None:
        self.wall += dt.timedelta(seconds=seconds)
        self.mono += seconds

    def clock(self, **kwargs: object) -> DecisionClock:
        return DecisionClock(
            wall=lambda: self.wall, monotonic=lambda: self.mono, sync=lambda: self.sync, sync_every_s=0,
            max_jump_s=30, **kwargs,  # type: ignore[arg-type]
        )  # fmt: skip


@pytest.fixture
def clocks() -> Clocks:
    return Clocks()


def test_a_synchronised_clock_is_followed(clocks: Clocks) -> None:
    clock = clocks.clock()
    assert clock.now() == T0
    clocks.tick(3600)
    assert clock.now() == T0 + dt.timedelta(hours=1)
    assert clock.state.trusted and clock.state.reason is None and clock.state.synchronised


def test_small_steps_are_followed_and_do_not_add_up(clocks: Clocks) -> None:
    clock = clocks.clock()
    clock.now()
    for _ in range(10):  # ten 20 s corrections: each below max_jump_s, 200 s in all
        clocks.tick(60)
        clocks.wall += dt.timedelta(seconds=20)
        assert clock.now() == clocks.wall
    assert clock.state.trusted


def test_a_jump_without_sync_keeps_the_last_trusted_time_plus_monotonic(
    clocks: Clocks, caplog: pytest.LogCaptureFixture
) -> None:
    clock = clocks.clock()
    clock.now()
    clocks.tick(10)
    clocks.sync = Sync(since_boot=True, now=False)  # settimeofday() marks the kernel clock unsynchronised
    clocks.wall += dt.timedelta(days=-1)  # someone set yesterday's date
    with caplog.at_level(logging.WARNING, logger="gate.clock"):
        assert clock.now() == T0 + dt.timedelta(seconds=10)
        clocks.tick(5)
        assert clock.now() == T0 + dt.timedelta(seconds=15)
    state = clock.state
    assert not state.trusted
    assert state.reason == "clock jumped -86400 s; deciding on the last trusted time"
    assert state.offset_s == -86400
    assert caplog.messages == ["clock not trusted: clock jumped -86400 s; deciding on the last trusted time"]


def test_a_jump_made_by_time_sync_is_a_correction(clocks: Clocks, caplog: pytest.LogCaptureFixture) -> None:
    clock = clocks.clock()
    clock.now()
    clocks.wall += dt.timedelta(hours=2)  # NTP steps the clock, and the kernel says synchronised
    with caplog.at_level(logging.INFO, logger="gate.clock"):
        assert clock.now() == T0 + dt.timedelta(hours=2)
    assert clock.state.trusted
    assert "clock stepped +7200.0 s by time sync; following it" in caplog.messages


def test_trust_returns_when_the_wall_clock_agrees_again_or_sync_corrects_it(clocks: Clocks) -> None:
    clock = clocks.clock()
    clock.now()
    clocks.sync = Sync(since_boot=True, now=False)
    clocks.wall += dt.timedelta(minutes=10)
    clocks.tick(1)
    assert clock.now() == T0 + dt.timedelta(seconds=1)
    assert not clock.state.trusted
    clocks.wall -= dt.timedelta(minutes=10)  # set back by hand: agrees with the anchor again
    clocks.tick(1)
    assert clock.now() == T0 + dt.timedelta(seconds=2) and clock.state.trusted

    clocks.wall += dt.timedelta(minutes=10)
    assert not (clock.now(), clock.state.trusted)[1]
    clocks.sync = Sync(since_boot=True, now=True)  # time sync confirms the new time
    assert clock.now() == clocks.wall and clock.state.trusted


def test_no_sync_since_boot_is_reported_yet_the_wall_clock_is_the_best_guess(clocks: Clocks) -> None:
    clocks.sync = Sync(since_boot=False, now=False)
    clock = clocks.clock()
    assert clock.now() == T0
    assert not clock.state.trusted and clock.state.reason == "no time sync since boot"
    clocks.tick(60)
    clocks.sync = Sync(since_boot=True, now=True)
    assert clock.now() == T0 + dt.timedelta(seconds=60)
    assert clock.state.trusted


def test_an_offline_site_with_an_rtc_may_trust_an_unsynchronised_clock(clocks: Clocks) -> None:
    clocks.sync = Sync(since_boot=False, now=None)
    clock = clocks.clock(require_sync=False)
    clock.now()
    assert clock.state.trusted
    clocks.wall += dt.timedelta(hours=5)  # still a jump: not followed
    assert clock.now() == T0 and not clock.state.trusted


def test_sync_lost_after_boot_is_still_synced_since_boot(clocks: Clocks) -> None:
    clock = clocks.clock()
    clock.now()
    # After hours without an NTP answer the kernel drops its synchronised flag; no jump happened.
    clocks.sync = Sync(since_boot=False, now=False)
    clocks.tick(3600)
    assert clock.now() == T0 + dt.timedelta(hours=1) and clock.state.trusted


def test_the_system_sync_source_answers_here() -> None:
    state = system_sync()  # adjtimex(2) read-only, plus timesyncd's flag file
    assert isinstance(state.since_boot, bool) and state.now in (True, False, None)


def test_a_clock_far_off_the_hub_s_is_not_trusted_even_when_time_sync_says_it_is(clocks: Clocks) -> None:
    clock = clocks.clock()
    assert clock.state.trusted
    clock.hub_offset(-45.0)  # gate sync measured the hub 45 s behind this device
    clocks.tick(1)
    state = clock.state
    assert not state.trusted and state.reason == "+45 s off the hub's clock" and state.offset_s == 45.0
    assert clock.now() == T0 + dt.timedelta(seconds=1)  # still the best guess there is
    clock.hub_offset(0.4)  # within max_jump_s: trusted again
    assert clock.state.trusted
    clock.hub_offset(None)  # no hub heard: nothing to say
    assert clock.state.trusted
