//! A lease on the remote library, so two machines never sync it at the same time: one small
//! JSON object ([`LeaseInfo`]) in a [`LeaseStore`], a compare-and-swap register (on S3,
//! conditional puts: [`ObjectLeaseStore`](crate::stores::object_lease::ObjectLeaseStore)).
//!
//! - **acquire**: create the object; if it exists, take it over only if it has expired or its
//!   holder is this machine (a killed run of ours: sync also holds the local write lock).
//! - **renew** every `ttl / 3` ([`Lease::keep_alive`]); a failed replace means another machine
//!   took it over after it expired, and the run stops before its next write ([`Lease::check`]).
//! - **release**: replace it with an expired one.
//!
//! Expiry uses the machines' wall clocks: keep them roughly in sync or the TTL well above.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use songrec_storage::{StorageError, StorageResult};

/// An opaque version of the lease object (an S3 ETag, a hash of a lock file's bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseTag(pub String);

/// A compare-and-swap register holding the lease.
#[async_trait]
pub trait LeaseStore: fmt::Display + fmt::Debug + Send + Sync {
    /// The object's bytes and tag, if it exists.
    async fn read(&self) -> StorageResult<Option<(Vec<u8>, LeaseTag)>>;
    /// Creates the object unless it exists (`None` then).
    async fn create(&self, body: &[u8]) -> StorageResult<Option<LeaseTag>>;
    /// Replaces the object if its tag is still `expected` (`None` if it changed or vanished).
    async fn replace(&self, body: &[u8], expected: &LeaseTag) -> StorageResult<Option<LeaseTag>>;
}

/// The lease object's content.
///
/// ```
/// use songrec_sync::lease::LeaseInfo;
/// let i = LeaseInfo::new("machine-a", std::time::Duration::from_secs(60));
/// assert!(!i.is_expired(chrono::Utc::now()));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseInfo {
    /// Machine id of the holder.
    pub holder: String,
    /// This run (a fresh id per `sync` process).
    pub run: String,
    /// Host name, for messages.
    #[serde(default)]
    pub host: String,
    /// Process id, for messages.
    #[serde(default)]
    pub pid: u32,
    /// When the holder took it.
    pub acquired_at: DateTime<Utc>,
    /// When it lapses unless renewed.
    pub expires_at: DateTime<Utc>,
}

impl LeaseInfo {
    /// A lease for `holder` from now for `ttl`.
    pub fn new(holder: &str, ttl: Duration) -> Self {
        let now = Utc::now();
        Self {
            holder: holder.to_owned(),
            run: format!("{:016x}{:08x}", now.timestamp_micros(), std::process::id()),
            host: host_name(),
            pid: std::process::id(),
            acquired_at: now,
            expires_at: expiry(now, ttl),
        }
    }

    /// Whether it has lapsed at `now`.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at <= now
    }
}

/// `now + ttl`, or the end of time when that does not fit (a TTL of `u64::MAX` seconds must
/// not panic: `DateTime + Duration::MAX` overflows).
fn expiry(now: DateTime<Utc>, ttl: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(ttl)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_default()
}

/// Why the lease could not be taken or kept.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// Another machine holds it.
    #[error(
        "the remote library is being synced by machine {} (host {:?}, pid {}) since {}; its lease runs until {} — try again later",
        .0.holder, .0.host, .0.pid, .0.acquired_at.format("%Y-%m-%d %H:%M:%S UTC"), .0.expires_at.format("%Y-%m-%d %H:%M:%S UTC")
    )]
    Held(Box<LeaseInfo>),
    /// The lease lapsed or was taken over while running.
    #[error("lost the sync lease: {0}; stopped before writing more (run sync again)")]
    Lost(String),
    /// The store failed. The message is the store's, once: not also a source, which
    /// `{:#}` would print a second time.
    #[error("sync lease: {0}")]
    Storage(StorageError),
}

impl From<StorageError> for LeaseError {
    fn from(e: StorageError) -> Self {
        Self::Storage(e)
    }
}

/// The lease of one run.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::sync::Arc;
/// use std::time::Duration;
/// use songrec_sync::lease::Lease;
/// use songrec_sync::stores::file_lease::FileLeaseStore;
/// let dir = tempfile::tempdir().unwrap();
/// let store = Arc::new(FileLeaseStore::new(dir.path().join("sync.lease")));
/// let a = Lease::new(store.clone(), "machine-a", Duration::from_secs(60));
/// let b = Lease::new(store.clone(), "machine-b", Duration::from_secs(60));
/// a.acquire().await.unwrap();
/// assert!(b.acquire().await.is_err());
/// a.release().await.unwrap();
/// b.acquire().await.unwrap();
/// # }
/// ```
#[derive(Debug)]
pub struct Lease {
    store: Arc<dyn LeaseStore>,
    holder: String,
    ttl: Duration,
    held: tokio::sync::Mutex<Option<(LeaseTag, LeaseInfo)>>,
    lost: AtomicBool,
}

impl Lease {
    /// A lease for machine `holder` in `store`, lapsing `ttl` after each renewal.
    pub fn new(store: Arc<dyn LeaseStore>, holder: impl Into<String>, ttl: Duration) -> Self {
        Self {
            store,
            holder: holder.into(),
            ttl,
            held: tokio::sync::Mutex::new(None),
            lost: AtomicBool::new(false),
        }
    }

    /// The store, for messages.
    pub fn store(&self) -> &dyn LeaseStore {
        self.store.as_ref()
    }

    fn body(info: &LeaseInfo) -> StorageResult<Vec<u8>> {
        serde_json::to_vec_pretty(info)
            .map_err(|e| StorageError::InvalidInput(format!("lease: {e}")))
    }

    /// Takes the lease (see the module docs for when an existing one is taken over).
    pub async fn acquire(&self) -> Result<LeaseInfo, LeaseError> {
        let mut held = self.held.lock().await;
        for _ in 0..5 {
            let info = LeaseInfo::new(&self.holder, self.ttl);
            let body = Self::body(&info)?;
            let mut taken = self.store.create(&body).await?;
            if taken.is_none() {
                let Some((bytes, tag)) = self.store.read().await? else {
                    continue; // released and removed in between: try to create again
                };
                // An unreadable lease object cannot name a live holder: treat it as expired.
                let current: Option<LeaseInfo> = serde_json::from_slice(&bytes).ok();
                let free = current
                    .as_ref()
                    .is_none_or(|c| c.holder == self.holder || c.is_expired(Utc::now()));
                if !free && let Some(c) = current {
                    return Err(LeaseError::Held(Box::new(c)));
                }
                // `None`: someone else changed it between our read and replace: look again.
                taken = self.store.replace(&body, &tag).await?;
            }
            if let Some(tag) = taken {
                *held = Some((tag, info.clone()));
                self.lost.store(false, Ordering::SeqCst);
                return Ok(info);
            }
        }
        Err(LeaseError::Lost(
            "the lease object kept changing while taking it".into(),
        ))
    }

    /// Extends the lease by `ttl` from now.
    pub async fn renew(&self) -> Result<(), LeaseError> {
        let mut held = self.held.lock().await;
        let Some((tag, info)) = held.as_ref() else {
            return Err(LeaseError::Lost("not holding the lease".into()));
        };
        let mut next = info.clone();
        next.expires_at = expiry(Utc::now(), self.ttl);
        match self.store.replace(&Self::body(&next)?, tag).await {
            Ok(Some(tag)) => {
                *held = Some((tag, next));
                Ok(())
            }
            Ok(None) => {
                self.lost.store(true, Ordering::SeqCst);
                Err(LeaseError::Lost(
                    "another machine took it over after it expired".into(),
                ))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Whether the lease is still ours: not taken over and not lapsed.
    pub async fn check(&self) -> Result<(), LeaseError> {
        if self.lost.load(Ordering::SeqCst) {
            return Err(LeaseError::Lost(
                "another machine took it over after it expired".into(),
            ));
        }
        match self.held.lock().await.as_ref() {
            None => Err(LeaseError::Lost("not holding the lease".into())),
            Some((_, info)) if info.is_expired(Utc::now()) => Err(LeaseError::Lost(
                "it expired (renewals failed or were too slow)".into(),
            )),
            Some(_) => Ok(()),
        }
    }

    /// Gives the lease up (replaces it with an expired one).
    pub async fn release(&self) -> Result<(), LeaseError> {
        let mut held = self.held.lock().await;
        let Some((tag, mut done)) = held.take() else {
            return Ok(());
        };
        done.expires_at = DateTime::<Utc>::UNIX_EPOCH;
        // A failed replace means someone else holds it now: nothing of ours to release.
        self.store.replace(&Self::body(&done)?, &tag).await?;
        Ok(())
    }

    /// Renews the lease every `ttl / 3` until the returned guard is dropped.
    pub fn keep_alive(self: &Arc<Self>) -> KeepAlive {
        let lease = Arc::clone(self);
        let every = (self.ttl / 3).max(Duration::from_millis(50));
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                match lease.renew().await {
                    Ok(()) => {}
                    Err(LeaseError::Storage(e)) => {
                        tracing::warn!("renewing the sync lease failed (will retry): {e}");
                    }
                    Err(e) => {
                        tracing::warn!("{e}");
                        return;
                    }
                }
            }
        });
        KeepAlive(task)
    }
}

/// Stops renewing when dropped.
#[derive(Debug)]
pub struct KeepAlive(tokio::task::JoinHandle<()>);

impl Drop for KeepAlive {
    fn drop(&mut self) {
        self.0.abort();
    }
}
