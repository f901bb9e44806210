"""Which hub keys a device trusts to sign its ledger: the config's, changed only by signed batches.

The trusted set starts from the config (`[sync] ledger_keys`, or provisioned files the config
names), never from a key a message brings. A batch signed by a key trusted at that moment may
carry key changes (`KeyChanges`: add a key id with its public key, retire a key id); the device
applies them with the batch, in its transaction, and keeps them in the ledger (the setting
`sync.ledger_keys`: the keys added and the ids retired, with the batch that did it). So:

    trusted = (config keys | keys added by batches) - ids retired by batches

- A retired id never comes back, not even from the config: a retired key may be a stolen one.
- An id trusted already cannot be given another public key: retire it, add a new id.
- A change that would leave no trusted key is refused: the device would be cut off for good.

`trusted_keys(ledger, config_keys)` is the one place the set is read, for batches and for
whatever else the hub signs with its ledger key (a snapshot's manifest).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Annotated, Self

from pydantic import Field, model_validator

from gate.cache import Ledger
from gate.errors import GateError
from gate.records import Id
from gate.sync.payloads import Payload

SETTING = "sync.ledger_keys"  # a device setting of the ledger: the batches' key changes
MAX_ADDED = 64  # keys added by batches, all told
MAX_RETIRED = 256  # ids retired by batches, all told: rotations are rare
PublicKey = Annotated[str, Field(pattern=r"^[A-Za-z0-9+/]{43}=$")]


class TrustError(GateError):
    """Key changes a device does not take (the whole batch is refused with them)."""


class KeyChanges(Payload):
    """A batch's changes to the ledger keys (batch version 2): ids added with their Ed25519 public
    keys (base64, as `gate keys generate` prints them), ids retired."""

    add: dict[Id, PublicKey] = Field(default_factory=dict, max_length=8)
    retire: list[Id] = Field(default_factory=list, max_length=8)

    @model_validator(mode="after")
    def _something(self) -> Self:
        if not self.add and not self.retire:
            raise ValueError("no key added or retired")
        both = sorted(set(self.add) & set(self.retire))
        if both:
            raise ValueError(f"key {both[0]!r} both added and retired")
        return self

    def canonical(self) -> str:
        """The text the hub signs: the same whatever order the JSON's keys came in."""
        return json.dumps({"add": self.add, "retire": self.retire}, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Trust:
    """The ledger keys a device trusts now: `config`, plus `added`, less `retired` (id: the batch)."""

    config: dict[str, str]
    added: dict[str, str] = field(default_factory=dict)
    retired: dict[str, int] = field(default_factory=dict)
    unreadable: bool = False  # the ledger's setting could not be read: nothing is trusted

    @property
    def keys(self) -> dict[str, str]:
        if self.unreadable:
            return {}
        return {k: v for k, v in (self.config | self.added).items() if k not in self.retired}

    @classmethod
    def load(cls, ledger: Ledger, config_keys: dict[str, str]) -> Trust:
        return cls.parse(dict(config_keys), ledger.setting(SETTING))

    @classmethod
    def parse(cls, config_keys: dict[str, str], stored: str | None) -> Trust:
        """From the ledger's setting. Only this module writes it; should it ever be unreadable,
        nothing is trusted (a retired key must not come back by accident) and batches are
        refused, said in `sync.ledger_problem`, until the hub's snapshot or a rebuild."""
        if not stored:
            return cls(config_keys)
        try:
            data = json.loads(stored)
            added = {str(k): str(v) for k, v in data["added"].items()}
            retired = {str(k): int(v) for k, v in data["retired"].items()}
        except (ValueError, KeyError, TypeError, AttributeError):
            return cls(config_keys, unreadable=True)
        return cls(config_keys, added, retired)

    def dump(self) -> str:
        return json.dumps({"added": self.added, "retired": self.retired}, sort_keys=True, separators=(",", ":"))

    def untrusted(self, key_id: str) -> str:
        """Why a batch signed by `key_id` is not taken."""
        if self.unreadable:
            return f"the ledger's {SETTING} cannot be read, so no key is trusted"
        if key_id in self.retired:
            return f"signed by key {key_id!r}, retired by batch {self.retired[key_id]}"
        return f"signed by key {key_id!r}, which this device does not trust"

    def changed(self, changes: KeyChanges, seq: int) -> Trust:
        """The set after batch `seq`'s `changes`; TrustError (changing nothing) when not taken."""
        if self.unreadable:
            raise TrustError(f"the ledger's {SETTING} cannot be read")
        trusted = self.keys
        added, retired = dict(self.added), dict(self.retired)
        for key_id, public in changes.add.items():
            if key_id in retired:
                raise TrustError(f"key {key_id!r} was retired by batch {retired[key_id]}: a retired id never returns")
            if key_id in trusted and trusted[key_id] != public:
                raise TrustError(f"key {key_id!r} is trusted already with another public key: add a new id")
            if not _is_public_key(public):
                raise TrustError(f"key {key_id!r}: not an Ed25519 public key")
            added[key_id] = public
        for key_id in changes.retire:
            added.pop(key_id, None)
            retired.setdefault(key_id, seq)
        after = Trust(self.config, added, retired)
        if not after.keys:
            raise TrustError("it would leave this device no ledger key to trust")
        if len(added) > MAX_ADDED or len(retired) > MAX_RETIRED:
            raise TrustError(f"more than {MAX_ADDED} keys added or {MAX_RETIRED} retired in all")
        return after


def trusted_keys(ledger: Ledger, config_keys: dict[str, str]) -> dict[str, str]:
    """The hub's ledger keys this device trusts now (key id: base64 public key)."""
    return Trust.load(ledger, config_keys).keys


def _is_public_key(text: str) -> bool:
    try:
        return len(base64.b64decode(text, validate=True)) == 32
    except (binascii.Error, ValueError):
        return False
