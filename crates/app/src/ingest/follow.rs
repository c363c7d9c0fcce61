//! Following a collection between ingests: files of songs the library knows (moved, renamed,
//! copied, touched), songs' audio under new tags, and files that are gone.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use songrec_storage::{
    Filter, SongId, StorageBackend, StorageBackendExt, StorageError, VersionEntry,
};

use super::describe::describe_from_tags;
use super::report::{FileReport, IngestSummary, Outcome, failed};
use super::scan::Seen;
use crate::AppResult;

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
            if let Some(a) = m.audio_identity() {
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
    seen: Seen,
    state: &mut BTreeMap<PathBuf, Seen>,
    copy: bool,
) -> AppResult<FileReport> {
    let (id, key) = (seen.id.clone(), seen.audio_key());
    // Audio still held (a copy, or a reference whose file is as it was) stays as it is; a
    // reference whose file moved or changed its stamp is pointed at this one.
    if let Err(e) = keep_audio(backend, &key, &path, copy).await {
        return storage_failure(e, &path, "could not keep its audio");
    }
    // Where the song's file was before, if that path no longer holds it.
    let gone_from = |(p, s): &(&PathBuf, &Seen)| {
        s.id == id && **p != path && std::fs::symlink_metadata(p).is_err()
    };
    let outcome = if before.get(&path).is_some_and(|s| s.id == id) {
        Outcome::Unchanged
    } else if let Some((from, _)) = before.iter().find(gone_from) {
        let from = from.to_path_buf();
        Outcome::Moved { id, from }
    } else {
        Outcome::AlreadyInLibrary { id }
    };
    state.insert(path.clone(), seen);
    Ok(FileReport { path, outcome })
}

/// Keeps `path` as the audio stored under `key`: a copy when the run copies (a file that will
/// not stay, such as a download), else the way the library is set to keep files.
pub(super) async fn keep_audio(
    backend: &dyn StorageBackend,
    key: &SongId,
    path: &Path,
    copy: bool,
) -> Result<songrec_storage::PutOutcome, StorageError> {
    if copy {
        backend.put_audio(key, path).await
    } else {
        backend.link_audio(key, path).await
    }
}

/// A storage error while following a file: a library error ends the run, any other fails the
/// file.
pub(super) fn storage_failure(e: StorageError, path: &Path, what: &str) -> AppResult<FileReport> {
    if e.is_fatal() {
        return Err(e.into());
    }
    let reason = format!("{}: {what}: {e}", path.display());
    Ok(failed(path, "storage", reason))
}

/// A song's audio under new bytes: its described fields (not those edited by hand), file hash,
/// size and name updated, its vectors kept; the old file's copy or reference goes after.
pub(super) async fn retagged(
    backend: &dyn StorageBackend,
    path: PathBuf,
    seen: Seen,
    tags: &songrec_audio::Tags,
    state: &mut BTreeMap<PathBuf, Seen>,
    copy: bool,
) -> AppResult<FileReport> {
    let id = seen.id.clone();
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
    let (old, key) = (m.audio_key(), seen.audio_key());
    let store = async {
        keep_audio(backend, &key, &path, copy).await?;
        describe_from_tags(&mut m, tags, &path);
        m.content_hash = key.as_str().to_owned();
        m.file_size = seen.size;
        m.file_name = super::describe::lossy(path.file_name());
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
    let title = m.display_name();
    let outcome = Outcome::Retagged { id, title };
    Ok(FileReport { path, outcome })
}

/// Files the last ingests saw below `folders` that are gone, whose songs no file of this run
/// holds: reported missing, or with `prune` removed from the library (see [`prune_blocker`]).
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
    pruned: &mut BTreeMap<SongId, songrec_storage::SongMetadata>,
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
    // Every folder that holds a file walked now, and every folder that held one before.
    let yields = ancestors_of(walked.iter().copied());
    let held_before = ancestors_of(before.keys().map(PathBuf::as_path));
    let below = |p: &Path| folders.iter().find(|f| p.starts_with(f));
    let mut out = Vec::new();
    let mut removed: HashSet<SongId> = HashSet::new();
    for (path, s) in before {
        let Some(folder) = below(path) else { continue };
        // A path walked now that holds another song (its file replaced): the song it held
        // keeps playing from another file of its own, where there is one.
        if walked.contains(path.as_path())
            && state.get(path).is_some_and(|now| now.id != s.id)
            && live.contains(&s.id)
        {
            if let Some(r) = repoint(backend, s, state, folders).await? {
                out.push(r);
            }
            continue;
        }
        if walked.contains(path.as_path())
            || unreadable.iter().any(|u| path.starts_with(u))
            || std::fs::symlink_metadata(path).is_ok()
        {
            continue;
        }
        // Followed to another path this run, still at another path the last ingests saw (in
        // a folder not walked now), or no longer in the library: nothing to remember.
        let elsewhere = || {
            before
                .iter()
                .any(|(p, o)| o.id == s.id && p != path && std::fs::metadata(p).is_ok())
        };
        if held.contains(&s.id) || !live.contains(&s.id) || elsewhere() {
            state.remove(path);
            if live.contains(&s.id)
                && let Some(r) = repoint(backend, s, state, folders).await?
            {
                out.push(r);
            }
            continue;
        }
        if !prune && !removed.insert(s.id.clone()) {
            continue; // another path of the same song, already reported
        }
        let meta = backend.get_metadata(&s.id).await?;
        let title = meta
            .as_ref()
            .map_or_else(|| s.id.short().to_owned(), |m| m.display_name());
        let blocker = prune_blocker(path, folder, &yields, &held_before);
        let outcome = if !prune {
            Outcome::Missing {
                id: s.id.clone(),
                title,
            }
        } else if let Some(why) = blocker {
            failed(
                path,
                "not_pruned",
                format!("{}: {why}; nothing was removed", path.display()),
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
                    if let Some(m) = meta {
                        pruned.insert(s.id.clone(), m);
                    }
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

/// The song of a gone file held at another path: where its audio was kept from the gone file,
/// it is kept from a twin (same bytes), else from the same audio under other tags (a retag).
async fn repoint(
    backend: &dyn StorageBackend,
    gone: &Seen,
    state: &mut BTreeMap<PathBuf, Seen>,
    folders: &[PathBuf],
) -> AppResult<Option<FileReport>> {
    let key = gone.audio_key();
    // Held, and served (a local reference is checked against its file).
    let served = match backend.has_audio(&key).await {
        Ok(true) => {
            backend
                .audio_url(&key, std::time::Duration::from_secs(60))
                .await
        }
        Ok(false) => Err(StorageError::NotFound(key.to_string())),
        Err(e) => Err(e),
    };
    match served {
        Ok(_) => return Ok(None),
        Err(e) if e.is_fatal() => return Err(e.into()),
        Err(_) => {}
    }
    let mut same_song: Vec<(PathBuf, Seen)> = state
        .iter()
        .filter(|(p, o)| o.id == gone.id && std::fs::metadata(p).is_ok())
        .map(|(p, o)| (p.clone(), o.clone()))
        .collect();
    // Byte-identical twins first.
    same_song.sort_by_key(|(_, o)| o.audio_key() != key);
    for (p, seen) in same_song {
        if seen.audio_key() == key {
            match backend.link_audio(&key, &p).await {
                Ok(_) => return Ok(None),
                Err(e) if e.is_fatal() => return Err(e.into()),
                Err(e) => tracing::debug!("{}: not its audio: {e}", p.display()),
            }
            continue;
        }
        let path = p.clone();
        let identified =
            tokio::task::spawn_blocking(move || songrec_audio::identity::identify(&path)).await;
        let Ok(Ok(i)) = identified else { continue };
        if SongId::from_raw(&i.audio) != gone.id {
            continue;
        }
        let tags = i
            .tags
            .with_file_name_fallback(&p)
            .with_path_fallback(super::scan::below_root(&p, folders));
        return Ok(Some(retagged(backend, p, seen, &tags, state, false).await?));
    }
    Ok(None)
}

/// Every folder above each of `paths` (the paths' own parents and up).
fn ancestors_of<'a>(paths: impl Iterator<Item = &'a Path>) -> HashSet<&'a Path> {
    let mut out = HashSet::new();
    for p in paths {
        for a in p.ancestors().skip(1) {
            if !out.insert(a) {
                break;
            }
        }
    }
    out
}

/// Why the songs of the gone file `path` must not be pruned, if they must not: a folder on its
/// way up to `folder` is a mount point, or held songs before and yields none now while it is
/// there (an unmounted disk). A folder that is itself gone was deleted, which prunes.
fn prune_blocker(
    path: &Path,
    folder: &Path,
    yields: &HashSet<&Path>,
    held_before: &HashSet<&Path>,
) -> Option<String> {
    for dir in path.ancestors().skip(1) {
        if !dir.starts_with(folder) {
            break;
        }
        let Some(here) = songrec_fs::stamp(dir) else {
            continue; // deleted with its songs
        };
        if held_before.contains(dir) && !yields.contains(dir) {
            return Some(format!(
                "nothing was found below {} where songs were; is it mounted? (if you deleted \
                 those files, remove the empty folder and ingest with --prune again)",
                dir.display()
            ));
        }
        if dir != folder
            && let Some(parent) = dir.parent().and_then(songrec_fs::stamp)
            && parent.dev != here.dev
        {
            return Some(format!(
                "{} is a mount point: songrec does not prune below a mount point inside the folder it walks (ingest {} itself with --prune to prune there)",
                dir.display(),
                dir.display()
            ));
        }
    }
    None
}
