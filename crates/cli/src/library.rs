//! Checks before a command touches a local library: that it exists, or that the command may
//! create it, and that paths to ingest exist.

use std::path::PathBuf;

use anyhow::{Result, bail};
use songrec_config::Config;

/// A path that does not exist is a mistake, not a partly finished job: nothing is ingested.
pub fn paths_exist(paths: &[PathBuf]) -> Result<()> {
    match paths.iter().find(|p| std::fs::symlink_metadata(p).is_err()) {
        Some(p) => bail!(
            "{}: no such file or folder; nothing was ingested",
            p.display()
        ),
        None => Ok(()),
    }
}

/// Commands that work on an existing library refuse a local folder that holds none (a typo in
/// `--library` would otherwise list "0 of 0 songs"); `ingest` and `previews` create it, saying where.
/// `creates` is `Some` for those two, with the paths `ingest` reads (checked first).
pub fn require_library(cfg: &Config, creates: Option<&[PathBuf]>) -> Result<()> {
    if cfg.backend != songrec_config::BackendKind::Local {
        return Ok(());
    }
    let root = &cfg.local.path;
    if root.join("data").is_dir() {
        return Ok(());
    }
    match creates {
        Some(paths) => {
            // A wrong path is reported before anything is created.
            paths_exist(paths)?;
            eprintln!(
                "a new library at {} (made when the first song is stored)",
                root.display()
            );
            Ok(())
        }
        None => bail!(
            "no songrec library at {}: ingest songs first (`songrec --library {} ingest ~/Music`), \
             or point --library / SONGREC_LIBRARY at an existing library",
            root.display(),
            root.display()
        ),
    }
}
