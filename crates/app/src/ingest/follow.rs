//! Following a collection between ingests: files of songs the library knows (moved, renamed,
//! copied, touched), songs' audio under new tags, and files that are gone.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use songrec_storage::{
    Filter, SongId, StorageBackend, StorageBackendExt, StorageError, VersionEntry,
};

use super::describe::describe_from_tags;
use super::scan::Seen;
use super::{FileReport, IngestSummary, Outcome, failed};
use crate::AppResult;
use crate::extra::audio_id_of;

/// What finds a changed file's song: every live song by the SHA-256 of its file's bytes (its
/// audio key) and by its audio identity.
#[derive(Default)]
pub(super) struct Known {
    pub(super) by_key: HashMap<SongId, SongId>,
    pub(super) by_audio: HashMap<SongId, SongId>,
}

impl Known {
    /// The version listing gives the file hashes; the audio identities are in the songs'
    /// metadata (one listing of the library, only when some file changed).
    pub(super) async fn of(
        backend: &dyn StorageBackend,
        versions: &[VersionEntry],
    ) -> AppResult<Self> {
        let mut k = Self::default();
        for v in versions.iter().filter(|v| !v.deleted) {
            let key = SongId::parse(&v.content_hash).unwrap_or_else(|_| v.id.clone());
            k.by_key.insert(key, v.id.clone());
            // Songs ingested since identities exist are named by theirs.
            k.by_audio.insert(v.id.clone(), v.id.clone());
        }
        for m in backend.list_all(&Filter::default()).await? {
            if let Some(a) = audio_id_of(&m) {
                k.by_audio.insert(a, m.id.clone());
            }
        }
        Ok(k)
    }
}

/// The file of a song the library knows: the song's audio is kept from this file where the
/// one it had is gone (a move), and the path remembered. Nothing is recomputed.
pub(super) async fn known_file(
    backend: &dyn StorageBackend,
    before: &BTreeMap<PathBuf, Seen>,
    path: PathBuf,
    id: SongId,
    seen: Seen,
    state: &mut BTreeMap<PathBuf, Seen>,
) -> AppResult<FileReport> {
    let key = seen.key.clone().unwrap_or_else(|| id.clone());
    // Audio still held (a copy, or a reference whose file is there) stays as it is; a
    // reference whose file moved is pointed at this one.
    let held = match backend.has_audio(&key).await {
        Ok(h) => h,
        Err(e) if e.is_fatal() => return Err(e.into()),
        Err(_) => false,
    };
    if !held && let Err(e) = backend.link_audio(&key, &path).await {
        return storage_failure(e, &path, "could not keep its audio");
    }
    // Where the song's file was before, if that path no longer holds it.
    let earlier: Vec<&PathBuf> = before
        .iter()
        .filter(|(p, s)| s.id == id && **p != path)
        .map(|(p, _)| p)
        .collect();
    let outcome = if before.get(&path).is_some_and(|s| s.id == id) {
        Outcome::Unchanged
    } else if let Some(from) = earlier
        .iter()
        .find(|p| std::fs::symlink_metadata(p).is_err())
    {
        Outcome::Moved {
            id,
            from: (*from).clone(),
        }
    } else {
        Outcome::AlreadyInLibrary { id }
    };
    state.insert(path.clone(), seen);
    Ok(FileReport { path, outcome })
}

/// A storage error while following a file: a library error ends the run, any other fails the
/// file.
fn storage_failure(e: StorageError, path: &Path, what: &str) -> AppResult<FileReport> {
    if e.is_fatal() {
        return Err(e.into());
    }
    Ok(failed(
        path,
        "storage",
        format!("{}: {what}: {e}", path.display()),
    ))
}

/// A song's audio under new bytes: its described fields (those not edited by hand) read again
/// from the file, its file hash, size and name updated, the version bumped; its vectors stay.
/// The new file is kept before the metadata is written; the old file's copy or reference goes
/// after.
pub(super) async fn retagged(
    backend: &dyn StorageBackend,
    path: PathBuf,
    id: SongId,
    seen: Seen,
    tags: &songrec_audio::Tags,
    state: &mut BTreeMap<PathBuf, Seen>,
) -> AppResult<FileReport> {
    let Some(mut m) = backend.get_metadata(&id).await? else {
        return Ok(failed(
            &path,
            "storage",
            format!(
                "{}: its song was deleted while ingesting; ingest it again",
                path.display()
            ),
        ));
    };
    let old = m.audio_key();
    let key = seen.key.clone().unwrap_or_else(|| id.clone());
    let store = async {
        backend.link_audio(&key, &path).await?;
        describe_from_tags(&mut m, tags, &path);
        m.content_hash = key.as_str().to_owned();
        m.file_size = seen.size;
        m.file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        m.touch();
        backend.put_metadata(&m).await
    };
    if let Err(e) = store.await {
        return storage_failure(e, &path, "could not store the new tags");
    }
    if old != key
        && let Err(e) = backend.delete_audio(&old).await
    {
        tracing::warn!(
            "{}: the earlier file's audio stays stored: {e}",
            path.display()
        );
    }
    state.insert(path.clone(), seen);
    Ok(FileReport {
        outcome: Outcome::Retagged {
            id,
            title: m.display_name(),
        },
        path,
    })
}

/// Files the last ingests saw below `folders` that are gone, whose songs no file of this run
/// holds: reported missing, or with `prune` removed from the library (never from the disk).
/// A folder that held such files and now yields none at all (an unmounted disk, an empty
/// share) prunes nothing, and folders that could not be read are not looked at.
#[allow(clippy::too_many_arguments)]
pub(super) async fn gone(
    backend: &dyn StorageBackend,
    before: &BTreeMap<PathBuf, Seen>,
    state: &mut BTreeMap<PathBuf, Seen>,
    summary: &IngestSummary,
    folders: &[PathBuf],
    unreadable: &[PathBuf],
    live: &HashSet<SongId>,
    prune: bool,
) -> AppResult<Vec<FileReport>> {
    let held: HashSet<SongId> = summary
        .files
        .iter()
        .filter_map(|r| match &r.outcome {
            Outcome::Added { id, .. }
            | Outcome::AlreadyInLibrary { id }
            | Outcome::Moved { id, .. }
            | Outcome::Retagged { id, .. } => Some(id.clone()),
            Outcome::Unchanged => before.get(&r.path).map(|s| s.id.clone()),
            _ => None,
        })
        .collect();
    let walked: HashSet<&Path> = summary.files.iter().map(|r| r.path.as_path()).collect();
    let below = |p: &Path| folders.iter().find(|f| p.starts_with(f));
    let mut out = Vec::new();
    let mut removed: HashSet<SongId> = HashSet::new();
    for (path, s) in before {
        let Some(folder) = below(path) else { continue };
        if walked.contains(path.as_path())
            || unreadable.iter().any(|u| path.starts_with(u))
            || std::fs::symlink_metadata(path).is_ok()
        {
            continue;
        }
        if held.contains(&s.id) || !live.contains(&s.id) {
            // Followed to another path, or no longer in the library: nothing to remember.
            state.remove(path);
            continue;
        }
        if !prune && !removed.insert(s.id.clone()) {
            continue; // another path of the same song, already reported
        }
        let title = backend
            .get_metadata(&s.id)
            .await?
            .map_or_else(|| s.id.short().to_owned(), |m| m.display_name());
        let emptied = !summary.files.iter().any(|r| r.path.starts_with(folder));
        let outcome = if !prune {
            Outcome::Missing {
                id: s.id.clone(),
                title,
            }
        } else if emptied {
            failed(
                path,
                "not_pruned",
                format!(
                    "{}: nothing was found below {} where songs were; is it mounted? nothing was removed",
                    path.display(),
                    folder.display()
                ),
            )
            .outcome
        } else if removed.contains(&s.id) {
            state.remove(path);
            continue;
        } else {
            match backend.delete_song(&s.id).await {
                Ok(_) => {
                    removed.insert(s.id.clone());
                    state.remove(path);
                    Outcome::Removed {
                        id: s.id.clone(),
                        title,
                    }
                }
                Err(e) if e.is_fatal() => return Err(e.into()),
                Err(e) => failed(path, "storage", format!("{}: {e}", path.display())).outcome,
            }
        };
        out.push(FileReport {
            path: path.clone(),
            outcome,
        });
    }
    Ok(out)
}
