"""Staff PINs: hashing, verification (`pin_matches`, as long for an unknown id as for a real
one) and the lockout after repeated wrong PINs; the decision point's StaffDesk combines them.

A staff record (`gate.records.Staff`) carries its PIN as a hash string that names its own
parameters, so a hash made today keeps verifying after the defaults change:

    scrypt$n=8192,r=8,p=1$<salt>$<hash>

salt and hash are standard base64 without padding (16 and 32 bytes).

Why n=8192, r=8, p=1 (8 MiB of memory per hash): one verification should cost about 50 to
100 ms on a Raspberry Pi 4, slow for whoever copies a ledger file and tries every PIN, still
unnoticeable for staff at a console. Measured with OpenSSL 3.0 on the 2-core AMD EPYC (Zen,
2 GHz, KVM) the project is built on: n=4096 18 ms, 8192 29-35 ms, 16384 58 ms, 32768 136 ms
(scrypt's time doubles with n). A Pi 4's Cortex-A72 at 1.5-1.8 GHz runs this memory-bound
Salsa20 loop some 2 to 3 times slower, which puts n=8192 at about 60-100 ms there and 16384
beyond the budget. This is no substitute for the lockout: a 4-digit PIN has 10^4 values, an
afternoon's work on a stolen ledger at any cost per hash, so the ledger file stays readable
by the gate user only and PINs of 6 digits or more are the better advice.

This module depends on nothing else of gate's: the ledger's record model validates hash
strings with it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

SCHEME = "scrypt"
N, R, P = 8192, 8, 1
SALT_BYTES = 16
HASH_BYTES = 32
PIN = re.compile(r"[0-9]{4,12}")

# Bounds on what a stored hash may ask of a verification: a bad or hostile ledger line must
# not make a gate spend seconds or hundreds of megabytes on one PIN.
_MAX_N = 1 << 16
_MAX_MEMORY = 32 * 1024 * 1024  # 128 * n * r bytes
_MAX_R, _MAX_P = 16, 4
_MAXMEM = 2 * _MAX_MEMORY  # what OpenSSL may allocate, with room for its own overhead
_HASH = re.compile(
    r"scrypt\$n=(?P<n>[0-9]{1,7}),r=(?P<r>[0-9]{1,2}),p=(?P<p>[0-9]{1,2})"
    r"\$(?P<salt>[A-Za-z0-9+/]{16,88})\$(?P<hash>[A-Za-z0-9+/]{16,88})"
)


class PinHashError(ValueError):
    """A stored PIN hash that cannot be used: says what is wrong, never the hash itself."""


@dataclass(frozen=True, slots=True)
class PinHash:
    """A parsed hash string."""

    n: int
    r: int
    p: int
    salt: bytes
    digest: bytes

    def __str__(self) -> str:
        return f"{SCHEME}$n={self.n},r={self.r},p={self.p}${_b64(self.salt)}${_b64(self.digest)}"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def parse_pin_hash(stored: str) -> PinHash:
    """The parameters, salt and digest of a stored hash; PinHashError if it is not usable."""
    match = _HASH.fullmatch(stored)
    if match is None:
        raise PinHashError("not a PIN hash of the form scrypt$n=N,r=R,p=P$<salt>$<hash> (see `gate staff pin`)")
    n, r, p = int(match["n"]), int(match["r"]), int(match["p"])
    if n < 2 or n & (n - 1) or n > _MAX_N:
        raise PinHashError(f"scrypt n must be a power of two up to {_MAX_N}")
    if not (1 <= r <= _MAX_R and 1 <= p <= _MAX_P) or 128 * n * r > _MAX_MEMORY:
        raise PinHashError(f"scrypt parameters out of range (r 1-{_MAX_R}, p 1-{_MAX_P}, 128*n*r at most 32 MiB)")
    try:
        salt, digest = _unb64(match["salt"]), _unb64(match["hash"])
    except (binascii.Error, ValueError):
        raise PinHashError("salt or hash is not base64") from None
    if len(salt) < SALT_BYTES or len(digest) < 16:
        raise PinHashError(f"salt must be at least {SALT_BYTES} bytes and hash at least 16")
    return PinHash(n, r, p, salt, digest)


def check_pin_hash(stored: str) -> str:
    """`stored` if it is a usable hash string, else PinHashError (a validator for the record model)."""
    parse_pin_hash(stored)
    return stored


def is_pin(pin: str) -> bool:
    """Whether `pin` has the form of a PIN: 4 to 12 ASCII digits."""
    return PIN.fullmatch(pin) is not None


def _derive(pin: str, parsed: PinHash) -> bytes:
    return hashlib.scrypt(
        pin.encode("ascii"), salt=parsed.salt, n=parsed.n, r=parsed.r, p=parsed.p, maxmem=_MAXMEM,
        dklen=len(parsed.digest),
    )  # fmt: skip


def hash_pin(pin: str) -> str:
    """The hash string of a PIN of 4 to 12 digits, with a fresh salt; ValueError for another PIN."""
    if not is_pin(pin):
        raise ValueError("a PIN is 4 to 12 digits")
    salt = secrets.token_bytes(SALT_BYTES)
    template = PinHash(N, R, P, salt, bytes(HASH_BYTES))
    return str(PinHash(N, R, P, salt, _derive(pin, template)))


def verify_pin(stored: str, pin: str) -> bool:
    """Whether `pin` is the PIN `stored` was made from.

    PinHashError when `stored` is malformed (a ledger problem, not a wrong PIN). A `pin` that
    is not 4 to 12 digits is simply wrong, but still costs one derivation, so the time taken
    says nothing about what was typed.
    """
    parsed = parse_pin_hash(stored)
    well_formed = is_pin(pin)
    derived = _derive(pin if well_formed else "0000", parsed)
    return hmac.compare_digest(derived, parsed.digest) and well_formed


class PinLockout:
    """After `attempts` wrong PINs in a row for one key, that key is locked for `seconds`.

    The key is what the caller counts: a staff id, or one key for a whole device (the
    decision point's `StaffDesk` counts every wrong PIN typed on the device together, so
    trying many staff ids does not multiply the attempts).

    Pure bookkeeping in memory, on the monotonic clock (a wall-clock jump must neither unlock
    nor lock anyone). Ids that do not exist count like any other, so a locked id tells nobody
    whether it is real. At most `capacity` ids are tracked; beyond that the ones not locked
    are forgotten first, so typing random ids cannot grow a console's memory without end.
    """

    def __init__(
        self, *, attempts: int = 5, seconds: float = 300.0, clock: Callable[[], float] = time.monotonic,
        capacity: int = 1024,
    ) -> None:  # fmt: skip
        if attempts < 1 or seconds <= 0 or capacity < 1:
            raise ValueError("attempts, seconds and capacity must be positive")
        self._attempts = attempts
        self._seconds = seconds
        self._clock = clock
        self._capacity = capacity
        self._failures: dict[str, int] = {}
        self._locked_until: dict[str, float] = {}

    def remaining(self, staff_id: str) -> float:
        """Seconds until `staff_id` may try again; 0.0 when it may try now."""
        until = self._locked_until.get(staff_id)
        if until is None:
            return 0.0
        left = until - self._clock()
        if left > 0:
            return left
        # The lock has run out: a fresh count of attempts starts.
        del self._locked_until[staff_id]
        self._failures.pop(staff_id, None)
        return 0.0

    def locked(self, staff_id: str) -> bool:
        return self.remaining(staff_id) > 0

    def failed(self, staff_id: str) -> float:
        """Count a wrong PIN; returns the seconds of the lock it starts (0.0 while not locked).

        A failure while locked does not lengthen the lock: nobody should be locked out for
        ever by someone else leaning on the keypad.
        """
        if self.locked(staff_id):
            return self.remaining(staff_id)
        count = self._failures.pop(staff_id, 0) + 1
        if count >= self._attempts:
            self._locked_until[staff_id] = self._clock() + self._seconds
            return self._seconds
        self._failures[staff_id] = count  # re-inserted last: the oldest failures go first
        self._forget()
        return 0.0

    def succeeded(self, staff_id: str) -> None:
        """A right PIN: the count of failures starts over."""
        self._failures.pop(staff_id, None)

    def failures(self, staff_id: str) -> int:
        """Wrong PINs counted since the last right one or the last lock."""
        self.remaining(staff_id)
        return self._failures.get(staff_id, 0)

    def _forget(self) -> None:
        while len(self._failures) > self._capacity:
            del self._failures[next(iter(self._failures))]
        if len(self._locked_until) > self._capacity:
            now = self._clock()
            self._locked_until = {k: v for k, v in self._locked_until.items() if v > now}


# Verified in place of a staff member's hash when the id has none (unknown, badge only, or
# expired), so the answer takes as long as for a real one. Its digest comes from no PIN at all.
_NOBODY = str(PinHash(N, R, P, secrets.token_bytes(SALT_BYTES), secrets.token_bytes(HASH_BYTES)))


def pin_matches(stored: str | None, pin: str) -> bool:
    """Whether `pin` is the PIN of `stored`, a usable hash (None: unknown id, badge only or
    expired, which the caller knows from the ledger). None costs one derivation too, so the
    time taken says nothing about whether the id exists. PinHashError for a malformed `stored`."""
    return verify_pin(_NOBODY if stored is None else stored, pin) and stored is not None
