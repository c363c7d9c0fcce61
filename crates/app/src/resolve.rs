//! Finding the one song a user means.
//!
//! Tried in order: an existing file path (hashed: the song with that content); a full id or an
//! id prefix of at least 4 hex characters; an exact title (case-insensitive); "Artist - Title";
//! a unique title or "artist – title" containing the words. Ambiguity is an error that lists
//! the candidates with their ids, so the user can pick one.

use std::path::Path;

use songrec_storage::{
    Condition, Field, Filter, SongId, SongMetadata, StorageBackend, StorageBackendExt, Value,
};

use crate::{AppError, AppResult};

const SHOW_CANDIDATES: usize = 10;
/// Ids a prefix lookup returns at most (how many match is said up to this number).
const SHOW_CANDIDATES_MAX: usize = 1000;

/// The song a file holds: the one named by the file's audio identity (songs ingested since
/// songs are identified by their audio, whatever the file's tags now), else by the SHA-256 of
/// its bytes (songs of earlier releases, whose file is unchanged).
pub async fn song_of_file(
    backend: &dyn StorageBackend,
    path: &Path,
) -> AppResult<Option<SongMetadata>> {
    let p = path.to_path_buf();
    let audio = tokio::task::spawn_blocking(move || songrec_audio::identity::identify(&p))
        .await
        .map_err(|e| AppError::Invalid(format!("reading {}: {e}", path.display())))?;
    if let Ok(i) = audio
        && let Some(m) = backend.get_metadata(&SongId::from_raw(&i.audio)).await?
    {
        return Ok(Some(m));
    }
    let (key, _) = SongId::from_file(path)?;
    Ok(backend.get_metadata(&key).await?)
}

/// Resolves a song reference.
pub async fn resolve(backend: &dyn StorageBackend, what: &str) -> AppResult<SongMetadata> {
    let what = what.trim();
    if what.is_empty() {
        return Err(AppError::Resolve("empty song reference".into()));
    }
    let as_path = Path::new(what);
    if as_path.is_file() {
        return song_of_file(backend, as_path).await?.ok_or_else(|| {
            AppError::Resolve(format!(
                "{what} is not in the library; ingest it first or use --file to query by it"
            ))
        });
    }
    if what.len() >= 4 && what.len() <= 64 && what.bytes().all(|b| b.is_ascii_hexdigit()) {
        let prefix = what.to_ascii_lowercase();
        if let Ok(id) = SongId::parse(&prefix)
            && let Some(m) = backend.get_metadata(&id).await?
        {
            return Ok(m);
        }
        let ids: Vec<SongId> = backend
            .ids_with_prefix(&prefix, SHOW_CANDIDATES_MAX)
            .await?;
        if ids.len() > 1 {
            let shown = &ids[..ids.len().min(SHOW_CANDIDATES)];
            let ms = backend.get_metadata_many(shown).await?;
            return Err(ambiguous(what, &ms, ids.len()));
        }
        if let [id] = ids.as_slice()
            && let Some(m) = backend.get_metadata(id).await?
        {
            return Ok(m);
        }
    }
    let is = |field, v: &str| Condition::Eq(field, Value::Text(v.trim().into()));
    // Exact title.
    let title = Filter::default().and(is(Field::Title, what));
    let exact = backend.list_all(&title).await?;
    if let Some(m) = pick(what, exact)? {
        return Ok(m);
    }
    // "Artist - Title".
    for sep in [" - ", " – ", " — "] {
        if let Some((artist, title)) = what.split_once(sep) {
            let f = Filter::default()
                .and(is(Field::Artist, artist))
                .and(is(Field::Title, title));
            if let Some(m) = pick(what, backend.list_all(&f).await?)? {
                return Ok(m);
            }
        }
    }
    // Words contained in "artist title".
    let lower = what.to_lowercase();
    let mut fuzzy = backend.list_all(&Filter::default()).await?;
    fuzzy.retain(|m| {
        let artist = m.artist.as_deref().unwrap_or("");
        let hay = format!("{artist} {} {}", m.title, m.file_name).to_lowercase();
        lower.split_whitespace().all(|w| hay.contains(w))
    });
    match pick(what, fuzzy)? {
        Some(m) => Ok(m),
        None => Err(AppError::Resolve(match deleted(backend, what).await? {
            Some(id) => format!(
                "song {} was deleted (`songrec delete`); only its tombstone is left, so `sync` \
                 deletes it on other machines too. Ingest the file again to bring it back",
                id.short()
            ),
            None => format!(
                "no song matches {what:?}; try `songrec list` to see titles, or pass an id prefix"
            ),
        })),
    }
}

/// The deleted song `what` names by its id or an id prefix (of at least 8 hex digits, so a
/// short word is not mistaken for one), if it names exactly one tombstone. Only asked when
/// nothing live matched.
async fn deleted(backend: &dyn StorageBackend, what: &str) -> AppResult<Option<SongId>> {
    if what.len() < 8 || what.len() > 64 || !what.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let prefix = what.to_ascii_lowercase();
    let versions = match SongId::parse(&prefix) {
        Ok(id) => backend.versions_of(std::slice::from_ref(&id)).await?,
        Err(_) => backend.list_versions().await?,
    };
    let mut gone = versions
        .into_iter()
        .filter(|v| v.deleted && v.id.as_str().starts_with(&prefix));
    Ok(gone.next().filter(|_| gone.next().is_none()).map(|v| v.id))
}

fn pick(what: &str, mut ms: Vec<SongMetadata>) -> AppResult<Option<SongMetadata>> {
    match ms.len() {
        0 => Ok(None),
        1 => Ok(ms.pop()),
        n => Err(ambiguous(what, &ms, n)),
    }
}

/// The candidates of an ambiguous reference, one line each with what tells them apart when
/// their titles are the same: id, name, file name, format and duration.
fn ambiguous(what: &str, ms: &[SongMetadata], total: usize) -> AppError {
    let shown = &ms[..ms.len().min(SHOW_CANDIDATES)];
    let name = |m: &SongMetadata| {
        let n = m.display_name();
        if n.chars().count() > 40 {
            format!("{}…", n.chars().take(39).collect::<String>())
        } else {
            n
        }
    };
    let width = shown.iter().map(|m| name(m).chars().count()).max();
    let width = width.unwrap_or(0);
    let mut lines: Vec<String> = shown
        .iter()
        .map(|m| {
            let format = m
                .extra
                .get("codec")
                .and_then(|c| c.as_str())
                .map(str::to_owned)
                .or_else(|| {
                    Path::new(&m.file_name)
                        .extension()
                        .map(|e| e.to_string_lossy().to_lowercase())
                })
                .unwrap_or_else(|| "?".into());
            let secs = m.duration_secs.max(0.0).round() as u64;
            let file = if m.file_name.is_empty() {
                "-"
            } else {
                &m.file_name
            };
            let (id, name) = (m.id.short(), name(m));
            format!(
                "  {id}  {name:<width$}  {file}  ({format}, {}:{:02})",
                secs / 60,
                secs % 60
            )
        })
        .collect();
    if total > SHOW_CANDIDATES {
        lines.push(format!("  … and {} more", total - SHOW_CANDIDATES));
    }
    AppError::Resolve(format!(
        "{what:?} matches {total} songs; use an id prefix:\n{}",
        lines.join("\n")
    ))
}
