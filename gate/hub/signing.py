"""The hub's private keys: the ledger key signs the log's batches, the command key remote commands.

Each is an Ed25519 key in a PEM file of mode 0600 (or a systemd credential), read through the
one reader of secret files (gate.sync.link.read_private); what is wrong with it is one line
naming the config key, in the caller's own error.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gate.errors import GateError
from gate.sync.link import LinkError, read_private


def private_key(path: Path | None, *, what: str, purpose: str, error: type[GateError]) -> Ed25519PrivateKey:
    """The key at `path` (config key `what`), or `error` saying why it cannot sign."""
    if path is None:
        raise error(f"{what}: the hub signs with a key of purpose {purpose} (gate keys generate --purpose {purpose})")
    try:
        key = serialization.load_pem_private_key(read_private(path, what=what), password=None)
    except LinkError as exc:
        raise error(str(exc)) from None
    except ValueError as exc:
        raise error(f"{what} {path}: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise error(f"{what} {path}: not an Ed25519 key")
    return key
