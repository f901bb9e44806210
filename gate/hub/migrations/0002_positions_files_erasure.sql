-- Events' positions (snapshots carry usage up to one), snapshots, published files, erasure, and
-- devices' state for reports.

-- Positions are taken from the venue's row under its lock, like the log's seq: they grow in
-- the order events commit. Events stored before this migration stand at 0.
ALTER TABLE venue ADD COLUMN pos bigint NOT NULL DEFAULT 0;
ALTER TABLE event ADD COLUMN pos bigint NOT NULL DEFAULT 0;
CREATE INDEX event_pos ON event (site, pos);
CREATE INDEX event_at ON event (site, at);

CREATE TABLE snapshot (
    site text NOT NULL,
    id text NOT NULL,
    seq bigint NOT NULL,
    at double precision NOT NULL,
    manifest text NOT NULL,
    PRIMARY KEY (site, id)
);
CREATE TABLE snapshot_chunk (
    site text NOT NULL,
    snapshot text NOT NULL,
    idx integer NOT NULL,
    data bytea NOT NULL,
    PRIMARY KEY (site, snapshot, idx)
);

CREATE TABLE published_file (
    site text NOT NULL,
    sha256 text NOT NULL,
    name text NOT NULL,
    first_seq bigint NOT NULL,
    last_seq bigint NOT NULL,
    at double precision NOT NULL,
    PRIMARY KEY (site, sha256)
);

CREATE TABLE erasure (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site text NOT NULL,
    request text NOT NULL,
    at double precision NOT NULL
);
CREATE INDEX erasure_site ON erasure (site, id);
CREATE TABLE erased (
    site text NOT NULL,
    pseudonym text NOT NULL,
    PRIMARY KEY (site, pseudonym)
);
CREATE TABLE hub_meta (
    site text NOT NULL,
    key text NOT NULL,
    value text NOT NULL,
    PRIMARY KEY (site, key)
);

CREATE TABLE device_status (
    site text NOT NULL,
    device text NOT NULL,
    online text,
    online_at double precision,
    health text,
    health_at double precision,
    PRIMARY KEY (site, device)
);
