"""Staff PINs: the right PIN verifies and no other does, a malformed stored hash is a clear error,
and five wrong PINs lock a staff id for five minutes on the monotonic clock."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from gate.staff import PinHashError, PinLockout, hash_pin, parse_pin_hash, pin_matches, verify_pin

GOOD = hash_pin("246813")


def test_the_right_pin_verifies_and_others_do_not() -> None:
    assert verify_pin(GOOD, "246813")
    for wrong in ("246814", "2468130", "24681", "", "abcdef", "２４６８１３", "246813 "):
        assert not verify_pin(GOOD, wrong), wrong


def test_a_hash_names_its_parameters_and_a_fresh_salt() -> None:
    assert re.fullmatch(r"scrypt\$n=8192,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}", GOOD)
    again = hash_pin("246813")
    assert again != GOOD and verify_pin(again, "246813")  # same PIN, other salt, other hash
    parsed = parse_pin_hash(GOOD)
    assert (parsed.n, parsed.r, parsed.p, len(parsed.salt), len(parsed.digest)) == (8192, 8, 1, 16, 32)
    assert str(parsed) == GOOD


def test_a_hash_with_other_parameters_still_verifies() -> None:
    salt = bytes(range(16))
    digest = hashlib.scrypt(b"1234", salt=salt, n=1024, r=4, p=2, dklen=32)
    stored = f"scrypt$n=1024,r=4,p=2${base64.b64encode(salt).decode().rstrip('=')}$" + base64.b64encode(
        digest).decode().rstrip("=")  # fmt: skip
    assert verify_pin(stored, "1234") and not verify_pin(stored, "1235")


@pytest.mark.parametrize("pin", ["123", "1234567890123", "12a4", "", " 1234", "١٢٣٤"])
def test_only_4_to_12_ascii_digits_make_a_pin(pin: str) -> None:
    with pytest.raises(ValueError, match="a PIN is 4 to 12 digits"):
        hash_pin(pin)


@pytest.mark.parametrize(
    ("stored", "message"),
    [
        ("", "not a PIN hash"),
        ("1234", "not a PIN hash"),
        ("bcrypt$2b$12$abcdefghijklmnopqrstuv", "not a PIN hash"),
        (GOOD.replace("n=8192", "n=131072"), "power of two up to 65536"),
        (GOOD.replace("n=8192", "n=8191"), "power of two"),
        (GOOD.replace("r=8", "r=0"), "out of range"),
        (GOOD.replace("p=1", "p=9"), "out of range"),
        (GOOD.replace("n=8192,r=8", "n=65536,r=8"), "out of range"),  # 64 MiB of memory
        (GOOD.rsplit("$", 1)[0] + "$" + "A" * 17, "not base64"),
        (GOOD.rsplit("$", 2)[0] + "$QUFBQUFBQUFBQUFB$" + GOOD.rsplit("$", 1)[1], "salt must be at least 16 bytes"),
    ],
    # GOOD has a random salt: ids from the message keep the test ids the same on every xdist worker.
    ids=lambda value: value if " " in value or len(value) < 8 else "hash",
)
def test_a_malformed_stored_hash_is_a_clear_error_not_a_wrong_pin(stored: str, message: str) -> None:
    with pytest.raises(PinHashError, match=re.escape(message)) as caught:
        verify_pin(stored, "246813")
    if len(stored) > 8:
        assert stored not in str(caught.value)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_five_wrong_pins_lock_that_id_for_five_minutes() -> None:
    clock = Clock()
    lockout = PinLockout(clock=clock)
    for attempt in range(1, 5):
        assert lockout.failed("s-17") == 0.0
        assert lockout.failures("s-17") == attempt and not lockout.locked("s-17")
    assert lockout.failed("s-17") == 300.0
    assert lockout.locked("s-17") and lockout.remaining("s-17") == 300.0
    assert not lockout.locked("s-18")  # others are not affected
    clock.now += 299
    assert lockout.remaining("s-17") == pytest.approx(1.0)
    # Leaning on the keypad while locked does not lengthen the lock.
    assert lockout.failed("s-17") == pytest.approx(1.0)
    clock.now += 1
    assert not lockout.locked("s-17")
    assert lockout.failures("s-17") == 0  # a fresh count after the lock
    assert lockout.failed("s-17") == 0.0


def test_a_right_pin_starts_the_count_over() -> None:
    lockout = PinLockout(clock=Clock())
    for _ in range(4):
        lockout.failed("s-17")
    lockout.succeeded("s-17")
    for _ in range(4):
        assert lockout.failed("s-17") == 0.0
    assert not lockout.locked("s-17")


def test_the_policy_is_configurable_and_memory_stays_bounded() -> None:
    clock = Clock()
    lockout = PinLockout(attempts=2, seconds=60, clock=clock, capacity=3)
    lockout.failed("a")
    assert lockout.failed("a") == 60
    for name in ("b", "c", "d", "e"):
        lockout.failed(name)
    assert lockout.failures("b") == 0  # the oldest one-off failures are forgotten first
    assert lockout.failures("e") == 1
    assert lockout.locked("a")  # a lock is never forgotten early
    with pytest.raises(ValueError):
        PinLockout(attempts=0)


def test_five_wrong_pins_lock_even_the_right_one_then() -> None:
    clock = Clock()
    lockout = PinLockout(clock=clock)
    assert pin_matches(GOOD, "246813")
    lockout.succeeded("s-17")
    for _ in range(4):
        assert not pin_matches(GOOD, "111111")
        assert lockout.failed("s-17") == 0.0
    assert not pin_matches(GOOD, "111111")
    assert lockout.failed("s-17") == 300.0
    clock.now += 60
    assert pin_matches(GOOD, "246813") and lockout.remaining("s-17") == 240.0  # right, and still locked
    clock.now += 240
    assert lockout.remaining("s-17") == 0.0


def test_an_id_without_a_usable_pin_answers_like_a_wrong_pin_and_locks_the_same() -> None:
    lockout = PinLockout(clock=Clock())
    answers = [(pin_matches(None, "246813"), lockout.failed("s-404")) for _ in range(5)]
    assert answers == [(False, 0.0)] * 4 + [(False, 300.0)]
    with pytest.raises(PinHashError):
        pin_matches("scrypt$broken", "246813")
