-- songrec migrate ledger, schema version 1 (PRAGMA user_version = 1 after this file).
-- The ledger is an audit trail and progress record of `songrec migrate`, never the source of
-- truth: what to copy is always decided by comparing both backends, so a lost or stale
-- ledger cannot lose or skip data.

-- One row per `songrec migrate` invocation that copied (dry runs are not recorded).
CREATE TABLE runs (
    id            INTEGER PRIMARY KEY,
    source        TEXT    NOT NULL,           -- the source backend as displayed, e.g. Local(/music)
    target        TEXT    NOT NULL,           -- the target backend as displayed
    started_at    TEXT    NOT NULL,           -- RFC 3339, UTC
    finished_at   TEXT,                       -- NULL while running, or if the process died
    -- running | done | partial (some songs failed) | failed (aborted with an error)
    -- | interrupted (found unfinished by a later run of the same pair)
    status        TEXT    NOT NULL DEFAULT 'running'
                  CHECK (status IN ('running', 'done', 'partial', 'failed', 'interrupted')),
    resumes       INTEGER REFERENCES runs(id), -- the interrupted run this one picked up after
    planned       INTEGER NOT NULL DEFAULT 0, -- songs the plan said to copy
    up_to_date    INTEGER NOT NULL DEFAULT 0, -- songs already on the target at start
    copied        INTEGER NOT NULL DEFAULT 0,
    failed        INTEGER NOT NULL DEFAULT 0,
    error         TEXT,                       -- why the run stopped, for status 'failed'
    verify        TEXT,                       -- one-line verify summary, NULL if not verified
    pid           INTEGER                     -- process id while running (diagnostics only)
);

CREATE INDEX runs_by_pair ON runs (source, target, id);

-- Per song and run: how far the copy got.
--   planned       in the plan, nothing done yet
--   audio_done    the audio is on the target (uploaded now or found there)
--   vectors_done  vectors and metadata were read and sent to the target in a batch write whose
--                 acknowledgement has not arrived yet (metadata is the commit point, written last)
--   done          the target acknowledged the song (metadata, vectors, audio all stored)
--   failed        gave up on it in this run; `error` says why
CREATE TABLE songs (
    run_id        INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    song_id       TEXT    NOT NULL,           -- 64 hex digits
    version       INTEGER NOT NULL,           -- the source version being copied
    state         TEXT    NOT NULL DEFAULT 'planned'
                  CHECK (state IN ('planned', 'audio_done', 'vectors_done', 'done', 'failed')),
    error         TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0,
    updated_at    TEXT    NOT NULL,
    PRIMARY KEY (run_id, song_id)
) WITHOUT ROWID;

CREATE INDEX songs_by_state ON songs (run_id, state);
