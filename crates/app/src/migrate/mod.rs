//! `songrec migrate`: copy a whole library from one backend to another.
//!
//! Every song's metadata, vectors (all models) and audio move, in batches with bounded
//! concurrency. The source is only read. A song counts as migrated once its metadata is stored
//! on the target (audio and vectors are written first), so the operation is idempotent and
//! resumable: a second run, or a run after a crash or kill, copies only what is missing or
//! older on the target. A verify step compares counts, versions and content hashes.

use std::collections::HashMap;
use std::path::PathBuf;

use futures::StreamExt;
use serde::Serialize;
use songrec_storage::{ModelInfo, SongId, SongRecord, StorageBackend, StorageError, VersionEntry};

use crate::AppResult;

/// Which songs a migration will copy.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Plan {
    /// Songs missing or older on the target.
    pub to_copy: Vec<SongId>,
    /// Songs already on the target at the same or a newer version.
    pub up_to_date: usize,
    /// Source tombstones (deletions are not migrated; sync carries them).
    pub source_tombstones: usize,
}

/// Compares the two listings (pure).
pub fn plan(source: &[VersionEntry], target: &[VersionEntry]) -> Plan {
    let tgt: HashMap<&SongId, &VersionEntry> = target.iter().map(|v| (&v.id, v)).collect();
    let mut p = Plan::default();
    for v in source {
        if v.deleted {
            p.source_tombstones += 1;
            continue;
        }
        match tgt.get(&v.id) {
            Some(t) if !t.deleted && t.version >= v.version => p.up_to_date += 1,
            _ => p.to_copy.push(v.id.clone()),
        }
    }
    p
}

/// Options.
#[derive(Clone, Debug)]
pub struct MigrateOptions {
    /// Songs per write batch.
    pub batch_size: usize,
    /// Songs read and uploaded concurrently.
    pub concurrency: usize,
    /// Folder for audio in transit (created; emptied as songs complete).
    pub scratch_dir: PathBuf,
}

/// Receives progress.
pub trait MigrateProgress: Send + Sync {
    /// Songs to copy.
    fn start(&self, total: u64);
    /// Songs done (copied or failed) since the last call.
    fn advance(&self, n: u64);
}

/// Ignores progress.
pub struct NoMigrateProgress;
impl MigrateProgress for NoMigrateProgress {
    fn start(&self, _: u64) {}
    fn advance(&self, _: u64) {}
}

/// What a migration did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct MigrateReport {
    /// The plan it followed.
    pub plan: Plan,
    /// Songs copied.
    pub copied: usize,
    /// Songs that could not be copied, with the reason.
    pub failed: Vec<(SongId, String)>,
}

/// The result of comparing both sides after a migration.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct VerifyReport {
    /// Live songs on the source.
    pub source_songs: usize,
    /// Of those, how many the target has at the same or a newer version with the same content hash.
    pub matching: usize,
    /// Songs missing on the target.
    pub missing: Vec<SongId>,
    /// Songs whose content hash differs.
    pub hash_mismatch: Vec<SongId>,
}

impl VerifyReport {
    /// Whether the target holds every source song intact.
    pub fn is_clean(&self) -> bool {
        self.missing.is_empty()
            && self.hash_mismatch.is_empty()
            && self.matching == self.source_songs
    }
}

/// Compares counts, versions and content hashes of both sides.
pub async fn verify(
    source: &dyn StorageBackend,
    target: &dyn StorageBackend,
) -> AppResult<VerifyReport> {
    let src = source.list_versions().await?;
    let tgt: HashMap<SongId, VersionEntry> = target
        .list_versions()
        .await?
        .into_iter()
        .map(|v| (v.id.clone(), v))
        .collect();
    let mut r = VerifyReport::default();
    for v in src.iter().filter(|v| !v.deleted) {
        r.source_songs += 1;
        match tgt.get(&v.id) {
            Some(t) if !t.deleted && t.version >= v.version => {
                if t.content_hash == v.content_hash {
                    r.matching += 1;
                } else {
                    r.hash_mismatch.push(v.id.clone());
                }
            }
            _ => r.missing.push(v.id.clone()),
        }
    }
    Ok(r)
}

async fn read_song(
    source: &dyn StorageBackend,
    target: &dyn StorageBackend,
    models: &[ModelInfo],
    id: &SongId,
    scratch: &std::path::Path,
) -> Result<SongRecord, String> {
    let metadata = source
        .get_metadata(id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "deleted on the source during the migration".to_owned())?;
    let mut embeddings = Vec::new();
    for m in models {
        if let Some(e) = source
            .get_embedding(id, m)
            .await
            .map_err(|e| e.to_string())?
        {
            embeddings.push(e);
        }
    }
    if source.has_audio(id).await.map_err(|e| e.to_string())?
        && !target.has_audio(id).await.map_err(|e| e.to_string())?
    {
        let tmp = scratch.join(format!("{id}.audio"));
        let result = async {
            source.get_audio(id, &tmp).await?;
            target.put_audio(id, &tmp).await
        }
        .await;
        let _ = std::fs::remove_file(&tmp);
        result.map_err(|e: StorageError| format!("audio: {e}"))?;
    }
    Ok(SongRecord {
        metadata,
        embeddings,
    })
}

/// Copies every song the target lacks (or has at an older version). Never changes the source.
pub async fn migrate(
    source: &dyn StorageBackend,
    target: &dyn StorageBackend,
    opts: &MigrateOptions,
    progress: &dyn MigrateProgress,
) -> AppResult<MigrateReport> {
    let plan = plan(
        &source.list_versions().await?,
        &target.list_versions().await?,
    );
    let models: Vec<ModelInfo> = source
        .models()
        .await?
        .into_iter()
        .map(|s| s.model)
        .collect();
    std::fs::create_dir_all(&opts.scratch_dir)
        .map_err(|e| StorageError::io(&opts.scratch_dir, e))?;
    progress.start(plan.to_copy.len() as u64);
    let mut report = MigrateReport {
        plan: plan.clone(),
        ..MigrateReport::default()
    };
    for chunk in plan.to_copy.chunks(opts.batch_size.max(1)) {
        let reads = futures::stream::iter(chunk.iter())
            .map(|id| {
                let models = &models;
                let scratch = &opts.scratch_dir;
                async move {
                    (
                        id.clone(),
                        read_song(source, target, models, id, scratch).await,
                    )
                }
            })
            .buffer_unordered(opts.concurrency.max(1))
            .collect::<Vec<_>>()
            .await;
        let mut records = Vec::new();
        for (id, r) in reads {
            match r {
                Ok(rec) => records.push(rec),
                Err(why) => report.failed.push((id, why)),
            }
        }
        if !records.is_empty() {
            match target.put_songs(&records).await {
                Ok(rep) => {
                    report.copied += rep.stored.len();
                    report.failed.extend(rep.failed);
                }
                Err(e)
                    if e.is_unavailable()
                        || matches!(
                            e,
                            StorageError::Unauthorized(_) | StorageError::Locked { .. }
                        ) =>
                {
                    return Err(e.into());
                }
                Err(e) => report.failed.extend(
                    records
                        .iter()
                        .map(|r| (r.metadata.id.clone(), e.to_string())),
                ),
            }
        }
        progress.advance(chunk.len() as u64);
    }
    target.flush().await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(n: u8, version: u64, deleted: bool) -> VersionEntry {
        VersionEntry {
            id: SongId::from_bytes(&[n]),
            version,
            content_hash: String::new(),
            deleted,
        }
    }

    #[test]
    fn plan_copies_missing_and_older_only() {
        let src = [
            v(1, 1, false),
            v(2, 3, false),
            v(3, 1, false),
            v(4, 2, true),
            v(5, 1, false),
        ];
        let tgt = [
            v(1, 1, false),
            v(2, 2, false),
            v(3, 5, false),
            v(5, 9, true),
        ];
        let p = plan(&src, &tgt);
        assert_eq!(
            p.to_copy,
            vec![SongId::from_bytes(&[2]), SongId::from_bytes(&[5])]
        );
        assert_eq!(p.up_to_date, 2);
        assert_eq!(p.source_tombstones, 1);
    }
}
