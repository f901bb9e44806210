"""Sync over MQTT: the journal's events up to the hub, confirmed; the hub's batches down; peers in step.

    topics.py    the topic layout, versioned (gate/v1/<site>/...)
    payloads.py  every payload as a versioned, bounded model; a bad one is logged and dropped
    link.py      the MQTT link: aiomqtt 2, MQTT v5, a persistent session, reconnects with backoff
    outbox.py    publishes the journal's unconfirmed rows; confirmations mark them published
    batches.py   the ledger's signed batches: checked and applied in order
    down.py      batches received, the head followed, gaps healed by catch-up
    service.py   `gate sync`: one process per ledger file, its own connection and thread;
                 peers' redemptions applied (gate/cache/peers.py)

The hub side (`gate hub`) is gate/hub/. Topics, payloads and guarantees: docs/sync.md.
"""
