//! [`FallbackStatus`]: what the fallback layer did (served reads, mirror errors), and when the
//! offline copy was last synced, persisted next to it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use songrec_storage::error::StorageError;

/// When the offline copy was last brought up to date (persisted next to it).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct SyncState {
    /// Last successful call to the primary (what was read then was copied).
    #[serde(default)]
    synced_at: Option<DateTime<Utc>>,
    /// Last complete refresh (every song's metadata and vectors).
    #[serde(default)]
    full_refresh_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Default)]
pub(super) struct StatusInner {
    state: SyncState,
    state_file: Option<PathBuf>,
    /// Whether this process wrote `synced_at` yet.
    contact_saved: bool,
    pub(super) served: u64,
    reason: Option<String>,
    mirror_errors: u64,
    mirror_warned: bool,
}

/// What a [`FallbackLayer`](super::FallbackLayer) did, shared with whoever prints it (the CLI's warning line).
#[derive(Clone, Debug, Default)]
pub struct FallbackStatus {
    inner: Arc<Mutex<StatusInner>>,
}

impl FallbackStatus {
    pub(super) fn lock(&self) -> MutexGuard<'_, StatusInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The status recorded in a state file by an earlier process (see [`Fallback::state_file`](super::Fallback::state_file)):
    /// when that offline copy was last synced. Nothing was served from it yet.
    pub fn from_state_file(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let read = std::fs::read(&path).ok();
        let state = read.and_then(|b| serde_json::from_slice(&b).ok());
        Self {
            inner: Arc::new(Mutex::new(StatusInner {
                state: state.unwrap_or_default(),
                state_file: Some(path),
                ..StatusInner::default()
            })),
        }
    }

    /// Reads answered by the offline copy in this process.
    pub fn served_from_fallback(&self) -> u64 {
        self.lock().served
    }

    /// When the offline copy was last updated from the primary.
    pub fn synced_at(&self) -> Option<DateTime<Utc>> {
        self.lock().state.synced_at
    }

    /// When the offline copy was last completely refreshed.
    pub fn full_refresh_at(&self) -> Option<DateTime<Utc>> {
        self.lock().state.full_refresh_at
    }

    /// Copy operations to the offline copy that failed (they never fail a call).
    pub fn mirror_errors(&self) -> u64 {
        self.lock().mirror_errors
    }

    /// One line for the user when anything was served from the offline copy, e.g.
    /// `remote unavailable (astra unavailable: ...); showing cached data from 2026-11-22 10:31`.
    pub fn warning(&self) -> Option<String> {
        let s = self.lock();
        if s.served == 0 {
            return None;
        }
        let reason = s.reason.as_deref().unwrap_or("unknown error");
        let mut line = format!("remote unavailable ({reason}); ");
        match s.state.synced_at {
            Some(t) => line.push_str(&format!(
                "showing cached data from {}",
                t.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M")
            )),
            None => line.push_str("showing cached data (never synced: it may be empty)"),
        }
        if s.state.full_refresh_at.is_none() {
            line.push_str(
                " (partial: only what this machine has read or written; run `songrec cache refresh` while online for a complete copy)",
            );
        }
        Some(line)
    }

    pub(super) fn served(&self, reason: &StorageError) {
        let mut s = self.lock();
        s.served += 1;
        if s.reason.is_none() {
            s.reason = Some(reason.brief());
        }
    }

    pub(super) fn mirror_failed(&self, what: &str, e: &StorageError) {
        let mut s = self.lock();
        s.mirror_errors += 1;
        if matches!(e, StorageError::Locked { .. }) || s.mirror_warned {
            tracing::debug!("offline copy: {what}: {e}");
        } else {
            s.mirror_warned = true;
            tracing::warn!("offline copy not updated ({what}): {e}");
        }
    }

    /// Records a successful call to the primary; persists the time the first time per process
    /// (and whenever `force`).
    pub(super) fn contact(&self, force: bool, full: bool) {
        let (file, state) = {
            let mut s = self.lock();
            let now = Utc::now();
            s.state.synced_at = Some(now);
            if full {
                s.state.full_refresh_at = Some(now);
            }
            if s.contact_saved && !force {
                return;
            }
            s.contact_saved = true;
            (s.state_file.clone(), s.state.clone())
        };
        if let Some(f) = file
            && let Err(e) = write_json_atomic(&f, &state)
        {
            tracing::debug!(
                "offline copy: cannot record the sync time in {}: {e}",
                f.display()
            );
        }
    }
}

fn write_json_atomic(path: &Path, v: &impl Serialize) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let bytes = serde_json::to_vec_pretty(v).map_err(std::io::Error::other)?;
    songrec_fs::write_atomic(path, |w| w.write_all(&bytes))
}
