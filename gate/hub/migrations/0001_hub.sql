-- The hub's store on PostgreSQL, as first released: devices' events once each and their marks,
-- the ledger's log of signed batches, conflicts, devices' versions and remote commands.
-- Every table is by venue (`site`, the config's [sync] site): one database holds many venues.

-- One row per venue: its lock. The log's seq is taken from `head` under it (a PostgreSQL
-- sequence commits out of order, and a reader polling "seq > last seen" would skip a batch).
CREATE TABLE venue (
    site text PRIMARY KEY,
    head bigint NOT NULL DEFAULT 0
);

CREATE TABLE event (
    site text NOT NULL,
    device text NOT NULL,
    incarnation text NOT NULL,
    seq bigint NOT NULL,
    id text NOT NULL,
    at double precision NOT NULL,
    type text NOT NULL,
    lane text,
    entitlement_id text,
    redemption_id text,
    reason text,
    body text NOT NULL,  -- JSON, as the device sent it
    received_at double precision NOT NULL,
    repeat boolean NOT NULL DEFAULT false,  -- a restored ledger's row the hub held already
    PRIMARY KEY (site, device, incarnation, seq)
);
CREATE INDEX event_id ON event (site, device, id);
CREATE INDEX event_entitlement ON event (site, entitlement_id, type);

CREATE TABLE mark (
    site text NOT NULL,
    device text NOT NULL,
    incarnation text NOT NULL,
    through bigint NOT NULL,
    PRIMARY KEY (site, device, incarnation)
);

CREATE TABLE batch (
    site text NOT NULL,
    seq bigint NOT NULL,
    payload text NOT NULL,  -- the signed batch, JSON
    at double precision NOT NULL,
    PRIMARY KEY (site, seq)
);

CREATE TABLE conflict (
    site text NOT NULL,
    id text NOT NULL,
    entitlement_id text NOT NULL,
    found_at double precision NOT NULL,
    record text NOT NULL,
    PRIMARY KEY (site, id)
);
CREATE INDEX conflict_found ON conflict (site, found_at);

CREATE TABLE device (
    site text NOT NULL,
    id text NOT NULL,
    software text NOT NULL,
    format integer NOT NULL,
    payloads text NOT NULL,
    at double precision NOT NULL,
    PRIMARY KEY (site, id)
);

CREATE TABLE command (
    site text NOT NULL,
    nonce text NOT NULL,
    device text NOT NULL,
    payload text NOT NULL,
    expires double precision NOT NULL,
    made_at double precision NOT NULL,
    sent_at double precision,
    outcome text,
    reason text,
    detail text,
    answered_at double precision,
    PRIMARY KEY (site, nonce)
);
CREATE INDEX command_unsent ON command (site, expires) WHERE sent_at IS NULL;
