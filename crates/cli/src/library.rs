//! Checks before a command touches a local library: that it exists, or that the command may
//! create it, and that paths to ingest exist.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use songrec_app::music::MusicFolder;
use songrec_config::Config;

/// A path that does not exist is a mistake, not a partly finished job: nothing is ingested.
pub fn paths_exist(paths: &[PathBuf]) -> Result<()> {
    if let Some(p) = paths.iter().find(|p| std::fs::symlink_metadata(p).is_err()) {
        bail!(
            "{}: no such file or folder; nothing was ingested",
            p.display()
        );
    }
    Ok(())
}

/// The audio files below the music folder `dir`, indexed on a blocking thread (the hashes are
/// remembered in this machine's state file for the folder); `what` names the step on failure.
pub async fn index_music(cfg: &Config, dir: &Path, what: &'static str) -> Result<MusicFolder> {
    let state = songrec_factory::ingest_state_file(cfg, &format!("music {}", dir.display()));
    let (dir, jobs) = (dir.to_path_buf(), cfg.ingest.jobs);
    let exclude = songrec_factory::own_folders(cfg);
    tokio::task::spawn_blocking(move || MusicFolder::index(&dir, &state, jobs, &exclude))
        .await
        .context(what)
}

/// Commands that work on an existing library refuse a local folder that holds none (a typo in
/// `--library` would otherwise list "0 of 0 songs"); `ingest` and `previews` create it.
/// `creates` is `Some` for those two, with the paths `ingest` reads (checked first). Returns
/// whether the command may create the library ([`say_new_library`] says so once it did).
pub fn require_library(cfg: &Config, creates: Option<&[PathBuf]>) -> Result<bool> {
    if cfg.backend != songrec_config::BackendKind::Local {
        return Ok(false);
    }
    let root = &cfg.local.path;
    if root.join("data").is_dir() {
        return Ok(false);
    }
    match creates {
        Some(paths) => {
            // A wrong path is reported before anything is created.
            paths_exist(paths)?;
            Ok(true)
        }
        None => bail!(
            "no songrec library at {}: ingest songs first (`songrec --library {} ingest ~/Music`), \
             or point --library / SONGREC_LIBRARY at an existing library",
            root.display(),
            root.display()
        ),
    }
}

/// After a command that may have created the local library ([`require_library`]): says where
/// the new library is, once it holds a song (so never before an error, nor after a run that
/// stored nothing).
pub fn say_new_library(cfg: &Config, may_create: bool) {
    let root = &cfg.local.path;
    if may_create && root.join("data").is_dir() {
        eprintln!("a new library at {}", root.display());
    }
}

/// The local library folder when it did not exist as the command started: a command that
/// fails removes it again ([`NewFolder::failed`]) unless a song was stored, so `songrec
/// --library NEWDIR sync` without cloud settings leaves no empty library that the next `list`
/// would take for a library of 0 songs.
pub struct NewFolder(Option<PathBuf>);

impl NewFolder {
    /// Notes whether the configured local library folder exists (any backend: `sync` and
    /// `migrate` use it whatever the backend setting).
    pub fn note(cfg: &Config) -> Self {
        let root = &cfg.local.path;
        Self((std::fs::symlink_metadata(root).is_err()).then(|| root.clone()))
    }

    /// The command failed: removes the folder it created if it holds nothing but songrec's
    /// bookkeeping (`data/.songrec/`: the write lock, a sync record); a folder holding audio,
    /// vectors or metadata is kept.
    pub fn failed(self) {
        let Some(root) = self.0 else { return };
        let keep = root.join("data").join(".songrec");
        if root.is_dir()
            && only_under(&root, &keep)
            && let Err(e) = std::fs::remove_dir_all(&root)
        {
            tracing::warn!("could not remove {}: {e}", root.display());
        }
    }
}

/// Whether every file below `dir` is below `keep` (folders alone do not count).
fn only_under(dir: &Path, keep: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().all(|e| {
        let p = e.path();
        p.starts_with(keep)
            || match e.file_type() {
                Ok(t) if t.is_dir() => only_under(&p, keep),
                _ => false,
            }
    })
}
