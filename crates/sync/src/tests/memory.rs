//! In-memory record and lease stores for the tests.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use async_trait::async_trait;
use songrec_storage::{SongId, SongMetadata, StorageResult};

use crate::lease::{LeaseStore, LeaseTag};
use crate::record::{BaseEntry, FeedPosition, RecordChange, RecordStore, entry_of};

/// An in-memory [`RecordStore`].
#[derive(Debug, Default)]
pub struct MemoryRecord {
    machine: String,
    rows: Mutex<HashMap<SongId, (BaseEntry, Option<SongMetadata>)>>,
    feed: Mutex<Option<FeedPosition>>,
}

impl MemoryRecord {
    /// An empty record for `machine`.
    pub fn new(machine: impl Into<String>) -> Self {
        Self {
            machine: machine.into(),
            rows: Mutex::default(),
            feed: Mutex::default(),
        }
    }

    fn rows(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<SongId, (BaseEntry, Option<SongMetadata>)>> {
        self.rows.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl RecordStore for MemoryRecord {
    fn machine_id(&self) -> String {
        self.machine.clone()
    }

    fn load(&self) -> StorageResult<HashMap<SongId, BaseEntry>> {
        Ok(self
            .rows()
            .iter()
            .map(|(id, (e, _))| (id.clone(), e.clone()))
            .collect())
    }

    fn base_metadata(&self, ids: &[SongId]) -> StorageResult<HashMap<SongId, SongMetadata>> {
        let rows = self.rows();
        Ok(ids
            .iter()
            .filter_map(|id| {
                rows.get(id)
                    .and_then(|(_, m)| m.clone())
                    .map(|m| (id.clone(), m))
            })
            .collect())
    }

    fn commit(&self, changes: &[RecordChange]) -> StorageResult<()> {
        let mut rows = self.rows();
        for c in changes {
            let meta = match c {
                RecordChange::Live(m) => Some(m.clone()),
                RecordChange::Deleted { .. } => None,
            };
            rows.insert(c.id().clone(), (entry_of(c), meta));
        }
        Ok(())
    }

    fn feed_position(&self) -> StorageResult<Option<FeedPosition>> {
        Ok(self.feed.lock().unwrap_or_else(|p| p.into_inner()).clone())
    }

    fn set_feed_position(&self, position: Option<&FeedPosition>) -> StorageResult<()> {
        *self.feed.lock().unwrap_or_else(|p| p.into_inner()) = position.cloned();
        Ok(())
    }
}

/// An in-memory [`LeaseStore`].
#[derive(Debug, Default)]
pub struct MemoryLeaseStore {
    state: std::sync::Mutex<Option<(Vec<u8>, u64)>>,
}

impl fmt::Display for MemoryLeaseStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("memory lease")
    }
}

#[async_trait]
impl LeaseStore for MemoryLeaseStore {
    async fn read(&self) -> StorageResult<Option<(Vec<u8>, LeaseTag)>> {
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        Ok(s.as_ref()
            .map(|(b, n)| (b.clone(), LeaseTag(n.to_string()))))
    }

    async fn create(&self, body: &[u8]) -> StorageResult<Option<LeaseTag>> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.is_some() {
            return Ok(None);
        }
        *s = Some((body.to_vec(), 1));
        Ok(Some(LeaseTag("1".into())))
    }

    async fn replace(&self, body: &[u8], expected: &LeaseTag) -> StorageResult<Option<LeaseTag>> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match s.as_ref() {
            Some((_, n)) if n.to_string() == expected.0 => {
                let next = n + 1;
                *s = Some((body.to_vec(), next));
                Ok(Some(LeaseTag(next.to_string())))
            }
            _ => Ok(None),
        }
    }
}

#[test]
fn feed_file_keeps_a_position_per_remote_and_machine() {
    use crate::record::FeedFile;
    use songrec_storage::ChangeCursor;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sync-feed.json");
    let open =
        |machine: &str, remote: &str| FeedFile::new(MemoryRecord::new(machine), &path, remote);
    let r = open("m", "remote-1");
    assert!(r.feed_position().unwrap().is_none());
    let p = FeedPosition {
        cursor: ChangeCursor::new("c"),
        full_at: chrono::Utc::now(),
    };
    r.set_feed_position(Some(&p)).unwrap();
    assert_eq!(open("m", "remote-1").feed_position().unwrap(), Some(p));
    assert!(open("m", "remote-2").feed_position().unwrap().is_none());
    assert!(open("other", "remote-1").feed_position().unwrap().is_none());
}
