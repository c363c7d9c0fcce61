//! `songrec show`: everything known about one song.

use anyhow::Result;
use clap::Args;
use songrec_factory::Backend;

use crate::exit;
use crate::output;

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// The song.
    pub song: String,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(a: &ShowArgs, backend: Backend) -> Result<u8> {
    let m = songrec_app::resolve::resolve(backend.as_ref(), &a.song).await?;
    let models = backend.models().await?;
    let mut have = Vec::new();
    for s in models {
        if backend.get_embedding(&m.id, &s.model).await?.is_some() {
            have.push(s.model);
        }
    }
    let audio = backend.has_audio(&m.audio_key()).await?;
    output::show(&m, &have, audio, a.json)?;
    Ok(exit::OK)
}
