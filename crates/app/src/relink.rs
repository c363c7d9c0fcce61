//! `songrec relink DIR`: keeps each song's audio from the user's own file below DIR (the same
//! bytes), the way the library is set to (`[library] audio`: a reference by default); songs
//! whose files are not found keep their copies. Songs without an audio identity get one.

use std::path::PathBuf;

use serde::Serialize;
use songrec_storage::{Filter, SongId, StorageBackend, StorageBackendExt};

use crate::AppResult;
use crate::extra::AUDIO_ID;
use crate::music::MusicFolder;

/// What [`relink`] did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RelinkReport {
    /// Songs whose audio is now kept from their file (a copy replaced, or a first link).
    pub linked: usize,
    /// Songs already kept from their file that way.
    pub already: usize,
    /// Songs whose audio identity was recorded now.
    pub identified: usize,
    /// Songs whose file is not below the folder (by the hash of their bytes); they keep what
    /// the library holds.
    pub not_found: Vec<(SongId, String)>,
    /// Songs that could not be linked, with the reason.
    pub failed: Vec<(SongId, String)>,
    /// The files linked (path, song, audio key), for the ingest state.
    #[serde(skip)]
    pub files: Vec<(PathBuf, SongId, SongId)>,
}

/// Links every song of `backend` whose file `folder` holds (see the module docs).
pub async fn relink(
    backend: &dyn StorageBackend,
    folder: &MusicFolder,
    progress: &dyn songrec_storage::Progress,
) -> AppResult<RelinkReport> {
    let songs = backend.list_all(&Filter::default()).await?;
    progress.start(songs.len() as u64);
    let mut r = RelinkReport::default();
    for mut m in songs {
        progress.advance(1);
        let key = m.audio_key();
        let Some(path) = folder.find(&key).map(|p| p.to_path_buf()) else {
            r.not_found.push((m.id.clone(), m.display_name()));
            continue;
        };
        match backend.link_audio(&key, &path).await {
            Ok(out) if out.already_present => r.already += 1,
            Ok(_) => r.linked += 1,
            Err(e) if e.is_fatal() => return Err(e.into()),
            Err(e) => {
                r.failed
                    .push((m.id.clone(), format!("{}: {e}", path.display())));
                continue;
            }
        }
        if m.audio_identity().is_none() {
            let p = path.clone();
            let identified =
                tokio::task::spawn_blocking(move || songrec_audio::identity::identify(&p))
                    .await
                    .map_err(|e| crate::AppError::Invalid(format!("identifying: {e}")))?;
            match identified {
                Ok(i) => {
                    m.extra.insert(
                        AUDIO_ID.into(),
                        SongId::from_raw(&i.audio).to_string().into(),
                    );
                    m.touch();
                    backend.put_metadata(&m).await?;
                    r.identified += 1;
                }
                Err(e) => r.failed.push((m.id.clone(), e.to_string())),
            }
        }
        r.files.push((path, m.id.clone(), key));
    }
    backend.flush().await?;
    Ok(r)
}
