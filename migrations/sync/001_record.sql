-- songrec sync record, schema version 1 (PRAGMA user_version = 1).
-- Lives in <library>/data/.songrec/sync.sqlite: the per-machine record of the last synced state.

-- Key/value settings of this library: machine_id (generated once, then kept).
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- One row per (remote library, song) this machine has synced: what both sides agreed on.
CREATE TABLE IF NOT EXISTS base (
    remote    TEXT    NOT NULL,  -- identity of the remote library (endpoint, keyspace, prefix, bucket)
    id        TEXT    NOT NULL,  -- song id (hex SHA-256 of the audio)
    version   INTEGER NOT NULL,  -- version both sides had
    digest    TEXT    NOT NULL,  -- metadata content digest ('' for deletions)
    deleted   INTEGER NOT NULL,  -- 1: both sides deleted the song
    metadata  TEXT,              -- the synced metadata as JSON (NULL for deletions), base of merges
    synced_at TEXT    NOT NULL,  -- RFC 3339
    PRIMARY KEY (remote, id)
) WITHOUT ROWID;
