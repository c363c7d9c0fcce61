//! The migrate ledger: an SQLite file recording every `songrec migrate` run and how far each
//! song got (planned → audio_done → vectors_done → done, or failed with the reason).
//!
//! An audit trail, never the source of truth (what to copy comes from comparing both sides):
//! it only lets a run skip an existence check on the target for songs no earlier run touched,
//! so a lost ledger costs at most a re-upload. Schema files `migrations/ledger/NNNN_*.sql` are
//! applied in order (`PRAGMA user_version`); WAL with `synchronous=NORMAL`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension as _, params};
use serde::Serialize;
use songrec_storage::SongId;

/// Schema files, in order; file `i` takes the database from version `i` to `i + 1`.
const MIGRATIONS: &[(&str, &str)] = &[(
    "0001_init.sql",
    include_str!("../../../../migrations/ledger/0001_init.sql"),
)];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Why the ledger could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// SQLite failed.
    #[error("migrate ledger {path}: {source}")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    /// Creating the ledger's folder failed.
    #[error("migrate ledger {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file was written by a newer songrec.
    #[error(
        "migrate ledger {path} has schema version {found}, this songrec knows up to {supported}: it was written by a newer songrec (move it away to start a new ledger; it holds history only)"
    )]
    TooNew {
        path: PathBuf,
        /// Its version.
        found: i64,
        /// Ours.
        supported: i64,
    },
}

/// A song's progress within one run.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    strum::IntoStaticStr,
    strum::EnumString,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum SongState {
    /// In the plan; nothing done yet.
    Planned,
    /// The audio is on the target (uploaded now, or found there).
    AudioDone,
    /// Vectors and metadata read and sent in a batch write; acknowledgement pending.
    VectorsDone,
    /// The target acknowledged the whole song.
    Done,
    /// Given up on in this run (see the error).
    Failed,
}

impl SongState {
    /// The name stored in the ledger.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    fn parse(s: &str) -> Option<Self> {
        s.parse().ok()
    }
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, strum::IntoStaticStr, strum::EnumString)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum RunStatus {
    /// Still going (or the process died and no later run has looked yet).
    Running,
    /// Every planned song copied.
    Done,
    /// Finished with some songs failed.
    Partial,
    /// Stopped by an error.
    Failed,
    /// Found unfinished by a later run of the same source and target.
    Interrupted,
}

impl RunStatus {
    /// The name stored in the ledger.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Unknown names read as running.
    fn parse(s: &str) -> Self {
        s.parse().unwrap_or(Self::Running)
    }
}

/// One run as listed by `songrec migrate --status`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunSummary {
    /// Run number.
    pub id: i64,
    pub source: String,
    pub target: String,
    /// RFC 3339.
    pub started_at: String,
    /// RFC 3339, if it finished.
    pub finished_at: Option<String>,
    /// How it ended.
    pub status: RunStatus,
    /// The interrupted run it picked up after.
    pub resumes: Option<i64>,
    pub planned: u64,
    /// Songs already on the target at start.
    pub up_to_date: u64,
    pub copied: u64,
    pub failed: u64,
    /// Why it stopped (status failed).
    pub error: Option<String>,
    pub verify: Option<String>,
    /// Songs per state right now.
    pub states: Vec<(SongState, u64)>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SongEntry {
    pub id: String,
    /// The source version copied.
    pub version: u64,
    /// How far it got.
    pub state: SongState,
    /// Why it failed.
    pub error: Option<String>,
    pub attempts: u64,
}

/// The numbers a finished run records.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunEnd {
    pub copied: u64,
    pub failed: u64,
    /// Why it stopped, if it did.
    pub error: Option<String>,
    pub verify: Option<String>,
}

/// An open ledger (thread-safe; one SQLite connection behind a mutex).
#[derive(Debug)]
pub struct Ledger {
    path: PathBuf,
    conn: Mutex<Connection>,
}

/// An SQLite failure on the ledger at `path`.
fn sql_error(path: &Path) -> impl Fn(rusqlite::Error) -> LedgerError + Copy + '_ {
    move |source| LedgerError::Sqlite {
        path: path.to_path_buf(),
        source,
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Ledger {
    /// Opens (creating if needed) the ledger at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self, LedgerError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| LedgerError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let sql = sql_error(path);
        let mut conn = Connection::open(path).map_err(sql)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(sql)?;
        for (pragma, value) in [
            ("journal_mode", "WAL"),
            ("synchronous", "NORMAL"),
            ("foreign_keys", "ON"),
        ] {
            conn.pragma_update(None, pragma, value).map_err(sql)?;
        }
        Self::apply_migrations(&mut conn, path)?;
        Ok(Self {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
        })
    }

    fn apply_migrations(conn: &mut Connection, path: &Path) -> Result<(), LedgerError> {
        let sql = sql_error(path);
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sql)?;
        let version: i64 = tx
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(sql)?;
        if version > SCHEMA_VERSION {
            return Err(LedgerError::TooNew {
                path: path.to_path_buf(),
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        for (i, (_name, body)) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.execute_batch(body).map_err(sql)?;
            tx.pragma_update(None, "user_version", i as i64 + 1)
                .map_err(sql)?;
        }
        tx.commit().map_err(sql)
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, LedgerError> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut conn).map_err(sql_error(&self.path))
    }

    /// Starts a run: earlier unfinished runs of the same pair are marked interrupted (the
    /// newest is recorded as the one this run resumes), and every planned song is inserted, all
    /// in one transaction.
    pub fn begin_run(
        &self,
        source: &str,
        target: &str,
        planned: &[(SongId, u64)],
        up_to_date: u64,
    ) -> Result<i64, LedgerError> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let resumes: Option<i64> = tx
                .query_row(
                    "SELECT max(id) FROM runs WHERE source = ?1 AND target = ?2 AND status = 'running'",
                    params![source, target],
                    |r| r.get(0),
                )
                .optional()?
                .flatten();
            tx.execute(
                "UPDATE runs SET status = 'interrupted' WHERE source = ?1 AND target = ?2 AND status = 'running'",
                params![source, target],
            )?;
            let started = now();
            tx.execute(
                "INSERT INTO runs (source, target, started_at, status, resumes, planned, up_to_date, pid)
                 VALUES (?1, ?2, ?3, 'running', ?4, ?5, ?6, ?7)",
                params![
                    source,
                    target,
                    started,
                    resumes,
                    planned.len() as i64,
                    up_to_date as i64,
                    std::process::id()
                ],
            )?;
            let run = tx.last_insert_rowid();
            {
                let mut ins = tx.prepare(
                    "INSERT INTO songs (run_id, song_id, version, state, updated_at) VALUES (?1, ?2, ?3, 'planned', ?4)",
                )?;
                for (id, version) in planned {
                    ins.execute(params![run, id.as_str(), *version as i64, started])?;
                }
            }
            tx.commit()?;
            Ok(run)
        })
    }

    /// Records new states for songs of a run, in one transaction. Moving to `done` or
    /// `failed` counts a write attempt.
    pub fn record(
        &self,
        run: i64,
        updates: &[(SongId, SongState, Option<String>)],
    ) -> Result<(), LedgerError> {
        if updates.is_empty() {
            return Ok(());
        }
        self.with(|c| {
            let tx = c.transaction()?;
            {
                let mut up = tx.prepare(
                    "UPDATE songs SET state = ?3, error = ?4, updated_at = ?5,
                            attempts = attempts + (CASE WHEN ?3 IN ('done', 'failed') THEN 1 ELSE 0 END)
                     WHERE run_id = ?1 AND song_id = ?2",
                )?;
                let t = now();
                for (id, state, error) in updates {
                    up.execute(params![run, id.as_str(), state.as_str(), error, t])?;
                }
            }
            tx.commit()
        })
    }

    /// Ends a run with its numbers; the status follows from them.
    pub fn finish_run(&self, run: i64, end: &RunEnd) -> Result<RunStatus, LedgerError> {
        let status = match (&end.error, end.failed) {
            (Some(_), _) => RunStatus::Failed,
            (None, 0) => RunStatus::Done,
            (None, _) => RunStatus::Partial,
        };
        self.with(|c| {
            c.execute(
                "UPDATE runs SET finished_at = ?2, status = ?3, copied = ?4, failed = ?5, error = ?6, verify = ?7, pid = NULL
                 WHERE id = ?1",
                params![
                    run,
                    now(),
                    status.as_str(),
                    end.copied as i64,
                    end.failed as i64,
                    end.error,
                    end.verify
                ],
            )?;
            Ok(status)
        })
    }

    /// Stores the verify summary of a finished run.
    pub fn set_verify(&self, run: i64, summary: &str) -> Result<(), LedgerError> {
        let sql = "UPDATE runs SET verify = ?2 WHERE id = ?1";
        self.with(|c| c.execute(sql, params![run, summary]).map(|_| ()))
    }

    /// Songs whose audio an earlier run of this pair may have put on the target (state
    /// audio_done or later, or failed after some attempt). Used only to decide whether to ask
    /// the target first; see the module docs.
    pub fn audio_maybe_on_target(
        &self,
        source: &str,
        target: &str,
    ) -> Result<HashSet<String>, LedgerError> {
        self.with(|c| {
            let mut q = c.prepare(
                "SELECT DISTINCT s.song_id FROM songs s JOIN runs r ON r.id = s.run_id
                 WHERE r.source = ?1 AND r.target = ?2 AND s.state <> 'planned'",
            )?;
            let rows = q.query_map(params![source, target], |r| r.get::<_, String>(0))?;
            rows.collect()
        })
    }

    /// The latest `limit` runs, newest first.
    pub fn runs(&self, limit: usize) -> Result<Vec<RunSummary>, LedgerError> {
        self.with(|c| {
            let mut q = c.prepare(
                "SELECT id, source, target, started_at, finished_at, status, resumes, planned, up_to_date,
                        copied, failed, error, verify
                 FROM runs ORDER BY id DESC LIMIT ?1",
            )?;
            let mut runs: Vec<RunSummary> = q
                .query_map(params![limit as i64], |r| {
                    Ok(RunSummary {
                        id: r.get(0)?,
                        source: r.get(1)?,
                        target: r.get(2)?,
                        started_at: r.get(3)?,
                        finished_at: r.get(4)?,
                        status: RunStatus::parse(&r.get::<_, String>(5)?),
                        resumes: r.get(6)?,
                        planned: r.get::<_, i64>(7)? as u64,
                        up_to_date: r.get::<_, i64>(8)? as u64,
                        copied: r.get::<_, i64>(9)? as u64,
                        failed: r.get::<_, i64>(10)? as u64,
                        error: r.get(11)?,
                        verify: r.get(12)?,
                        states: Vec::new(),
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            let mut st = c.prepare(
                "SELECT state, count(*) FROM songs WHERE run_id = ?1 GROUP BY state ORDER BY state",
            )?;
            for run in &mut runs {
                let rows: Vec<(String, i64)> = st
                    .query_map(params![run.id], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<rusqlite::Result<_>>()?;
                let parsed = rows.into_iter().map(|(s, n)| Some((SongState::parse(&s)?, n as u64)));
                run.states = parsed.flatten().collect();
                run.states.sort();
            }
            Ok(runs)
        })
    }

    /// A run's songs, optionally only those in `state`.
    pub fn songs(&self, run: i64, state: Option<SongState>) -> Result<Vec<SongEntry>, LedgerError> {
        self.with(|c| {
            let mut q = c.prepare(
                "SELECT song_id, version, state, error, attempts FROM songs
                 WHERE run_id = ?1 AND (?2 IS NULL OR state = ?2) ORDER BY song_id",
            )?;
            q.query_map(params![run, state.map(SongState::as_str)], |r| {
                Ok(SongEntry {
                    id: r.get(0)?,
                    version: r.get::<_, i64>(1)? as u64,
                    state: SongState::parse(&r.get::<_, String>(2)?).unwrap_or(SongState::Planned),
                    error: r.get(3)?,
                    attempts: r.get::<_, i64>(4)? as u64,
                })
            })?
            .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn doc_ledgererror() {
        use crate::migrate::ledger::LedgerError;
        let e = LedgerError::TooNew {
            path: "l.sqlite".into(),
            found: 9,
            supported: 1,
        };
        assert!(e.to_string().contains("newer songrec"));
    }

    #[test]
    fn doc_songstate() {
        use crate::migrate::ledger::SongState;
        assert_eq!(SongState::VectorsDone.as_str(), "vectors_done");
        assert!(SongState::AudioDone < SongState::Done);
    }

    use super::*;

    fn id(n: u8) -> SongId {
        SongId::from_bytes(&[n])
    }

    #[test]
    fn schema_is_applied_once_and_versioned() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub").join("ledger.sqlite");
        let l = Ledger::open(&p).unwrap();
        let run = l.begin_run("a", "b", &[(id(1), 1)], 0).unwrap();
        drop(l);
        let l = Ledger::open(&p).unwrap();
        assert_eq!(l.runs(10).unwrap()[0].id, run, "history kept on reopen");
        let v: i64 = l
            .with(|c| c.pragma_query_value(None, "user_version", |r| r.get(0)))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        // A ledger from the future is refused with a clear message.
        l.with(|c| c.pragma_update(None, "user_version", 99))
            .unwrap();
        drop(l);
        let e = Ledger::open(&p).unwrap_err();
        assert!(matches!(e, LedgerError::TooNew { found: 99, .. }), "{e}");
    }

    #[test]
    fn runs_states_and_interruptions() {
        let dir = tempfile::tempdir().unwrap();
        let l = Ledger::open(&dir.path().join("l.sqlite")).unwrap();
        let plan: Vec<_> = (1..=4).map(|n| (id(n), 1)).collect();
        let r1 = l.begin_run("src", "dst", &plan, 2).unwrap();
        l.record(
            r1,
            &[
                (id(1), SongState::AudioDone, None),
                (id(2), SongState::Done, None),
                (id(3), SongState::Failed, Some("boom".into())),
            ],
        )
        .unwrap();
        // A second run of the same pair finds r1 unfinished: r1 becomes interrupted.
        let r2 = l.begin_run("src", "dst", &plan[..1], 5).unwrap();
        let other = l.begin_run("src", "elsewhere", &[], 0).unwrap();
        let runs = l.runs(10).unwrap();
        assert_eq!(
            runs.iter().map(|r| r.id).collect::<Vec<_>>(),
            vec![other, r2, r1]
        );
        let (s1, s2) = (&runs[2], &runs[1]);
        assert_eq!(s1.status, RunStatus::Interrupted);
        assert_eq!(s2.resumes, Some(r1));
        assert_eq!(runs[0].resumes, None, "other pairs are not linked");
        assert_eq!(
            s1.states,
            vec![
                (SongState::Planned, 1),
                (SongState::AudioDone, 1),
                (SongState::Done, 1),
                (SongState::Failed, 1)
            ]
        );
        assert_eq!((s1.planned, s1.up_to_date), (4, 2));
        let failed = l.songs(r1, Some(SongState::Failed)).unwrap();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].error.as_deref(), Some("boom"));
        assert_eq!(failed[0].attempts, 1);
        let touched = l.audio_maybe_on_target("src", "dst").unwrap();
        assert_eq!(
            touched,
            [id(1), id(2), id(3)]
                .iter()
                .map(|i| i.as_str().to_owned())
                .collect()
        );
        assert!(
            l.audio_maybe_on_target("src", "elsewhere")
                .unwrap()
                .is_empty()
        );

        let st = l
            .finish_run(
                r2,
                &RunEnd {
                    copied: 1,
                    ..RunEnd::default()
                },
            )
            .unwrap();
        assert_eq!(st, RunStatus::Done);
        let st = l
            .finish_run(
                other,
                &RunEnd {
                    failed: 2,
                    ..RunEnd::default()
                },
            )
            .unwrap();
        assert_eq!(st, RunStatus::Partial);
        l.set_verify(r2, "clean").unwrap();
        let runs = l.runs(2).unwrap();
        assert_eq!(runs[1].verify.as_deref(), Some("clean"));
        assert!(runs[1].finished_at.is_some());
    }
}
