//! `songrec delete`: songs, with their metadata, vectors and audio.

use anyhow::{Context, Result};
use clap::Args;
use songrec_factory::Backend;

use crate::exit;

#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// Songs to delete.
    #[arg(required = true)]
    pub songs: Vec<String>,
}

pub async fn run(a: &DeleteArgs, backend: Backend) -> Result<u8> {
    for s in &a.songs {
        let m = songrec_app::resolve::resolve(backend.as_ref(), s).await?;
        if backend
            .delete_song(&m.id)
            .await
            .with_context(|| format!("deleting {}", m.display_name()))?
        {
            println!("deleted {}  {}", m.id.short(), m.display_name());
        }
    }
    backend.flush().await?;
    Ok(exit::OK)
}
