//! `songrec show`: everything known about one song.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use songrec_config::{BackendKind, Config};
use songrec_factory::Backend;
use songrec_storage::SongId;

use crate::exit;
use crate::output::{self, Audio};

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// The song.
    pub song: String,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(a: &ShowArgs, cfg: &Config, backend: Backend) -> Result<u8> {
    let m = songrec_app::resolve::resolve(backend.as_ref(), &a.song).await?;
    let models = backend.models().await?;
    let mut have = Vec::new();
    for s in models {
        if backend.get_embedding(&m.id, &s.model).await?.is_some() {
            have.push(s.model);
        }
    }
    let key = m.audio_key();
    let audio = match backend.has_audio(&key).await? {
        false => Audio::Missing,
        true => match referenced_file(cfg, &backend, &key).await {
            Some(path) => Audio::RefersTo(path),
            None => Audio::Stored,
        },
    };
    output::show(&m, &have, &audio, a.json)?;
    Ok(exit::OK)
}

/// The user's file that a local library's audio `key` refers to, `None` when the library
/// holds a copy of its own (below `<library>/data/audio`) or is not a local library.
async fn referenced_file(cfg: &Config, backend: &Backend, key: &SongId) -> Option<PathBuf> {
    if cfg.backend != BackendKind::Local {
        return None;
    }
    let url = backend
        .audio_url(key, std::time::Duration::from_secs(60))
        .await
        .ok()?;
    let path = url::Url::parse(&url).ok()?.to_file_path().ok()?;
    let own = cfg.local.path.join("data").join("audio");
    let own = std::fs::canonicalize(&own).unwrap_or(own);
    (!path.starts_with(&own)).then_some(path)
}
