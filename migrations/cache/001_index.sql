-- songrec read cache: the index of cached audio blobs and embeddings (SQLite, WAL mode).
--
-- Applied by songrec_storage::cache when a cache folder is opened (idempotent: every
-- statement is IF NOT EXISTS). The schema version is kept in PRAGMA user_version; a cache
-- written by a newer songrec (user_version > 1) is refused rather than misread.
--
-- Files: audio blobs live next to this index under blobs/<first 2 hex>/<song id> (named by
-- content hash, so they never go stale); embeddings are small and live inline in `entries`.

CREATE TABLE IF NOT EXISTS entries (
    -- 'a:<song id>' for audio; 'e:<namespace>:<song id>:<model name@version>' for embeddings.
    key         TEXT PRIMARY KEY NOT NULL,
    -- 'audio' or 'embedding'.
    kind        TEXT NOT NULL CHECK (kind IN ('audio', 'embedding')),
    -- Which remote library the entry came from ('' for audio: content-addressed, shared).
    ns          TEXT NOT NULL,
    song        TEXT NOT NULL,
    -- Embeddings: model name, version and dimension; the song version the vector belongs to
    -- (0 when it was unknown when cached).
    model_name    TEXT,
    model_version TEXT,
    dim           INTEGER,
    song_version  INTEGER,
    -- Embeddings: little-endian f32 values. Audio: NULL (the file holds the bytes).
    data        BLOB,
    -- Hex SHA-256 of `data` (embeddings); audio is checked against its id (its content hash).
    checksum    TEXT,
    -- Bytes this entry occupies (file size, or data size), counted against [cache] max_bytes.
    bytes       INTEGER NOT NULL,
    -- Recency: a tick from counters('tick'); the smallest is evicted first.
    last_access INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_by_access ON entries (last_access);
CREATE INDEX IF NOT EXISTS entries_by_song ON entries (ns, song);

-- The latest song version seen per remote library; embeddings of other versions are dropped.
CREATE TABLE IF NOT EXISTS versions (
    ns      TEXT NOT NULL,
    song    TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (ns, song)
);

-- Counters shared by every process using the folder: total_bytes, entries, tick, generation
-- (bumped whenever entries are added or removed) and the cumulative statistics (hits, misses,
-- bytes_served, bytes_fetched, evictions, corrupt).
CREATE TABLE IF NOT EXISTS counters (
    name  TEXT PRIMARY KEY NOT NULL,
    value INTEGER NOT NULL
);
