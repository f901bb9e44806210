"""`gate hub keys add ID PUBLIC_KEY | retire ID`: the ledger keys rotated by a signed batch.

A key change is a version-2 batch of the log (gate.sync.trust), with no records, signed by the
key the hub signs with now, so every device takes it on the trust it has. A rotation:

    gate keys generate --id hub2 --purpose ledger             # prints hub2's public key
    gate hub keys add hub2 PUBLIC_KEY --retire hub --config hub.toml
    # then [hub] ledger_key_id = "hub2", ledger_key_file = the new key, for the batches after

A device of the version before cannot read a version-2 batch: the hub refuses the change while
it knows one (gate/hub/versions.py).
"""

from __future__ import annotations

from pydantic import ValidationError

from gate.cache.exchange import HEADER
from gate.config import GateConfig
from gate.hub.publish import PublishError, ledger_key, ready_to_sign
from gate.hub.store import open_store
from gate.hub.versions import check_payload
from gate.sync.batches import Batch, sign_batch
from gate.sync.trust import KeyChanges


def change_keys(config: GateConfig, *, add: dict[str, str] | None = None, retire: list[str] | None = None) -> Batch:
    """Append the batch that adds and retires these ledger keys; PublishError or TooNew when not."""
    key = ledger_key(config)
    try:
        changes = KeyChanges(add=add or {}, retire=retire or [])
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise PublishError(f"keys: {where + ': ' if where else ''}{error['msg']}") from None
    store = open_store(config)
    try:
        site, key_id = config.sync.site, config.hub.ledger_key_id
        ready_to_sign(store, key_id)
        check_payload(store, 2, "a key change")
        lines = HEADER + "\n"
        return store.append(lambda seq: sign_batch(site, seq, lines, key_id=key_id, key=key, keys=changes))
    finally:
        store.close()

