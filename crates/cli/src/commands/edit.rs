//! `songrec edit`: change a song's metadata; the work is in `songrec_app::edit`.

use anyhow::{Context, Result};
use clap::Args;
use songrec_factory::Backend;

use crate::exit;

#[derive(Args, Debug)]
pub struct EditArgs {
    /// The song: title, "artist - title", id prefix or path of an ingested file.
    pub song: String,
    /// New title.
    #[arg(long)]
    pub title: Option<String>,
    /// New artist ("" removes it).
    #[arg(long)]
    pub artist: Option<String>,
    /// New album ("" removes it).
    #[arg(long)]
    pub album: Option<String>,
    /// New genre ("" removes it).
    #[arg(long)]
    pub genre: Option<String>,
    /// Add a tag (repeatable).
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// Remove a tag (repeatable).
    #[arg(long = "untag")]
    pub untags: Vec<String>,
    /// Set a field: KEY=VALUE (repeatable): title, artist, album, genre, key, bpm or any
    /// free-form field, e.g. --set label=Warp --set year=1997.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Remove a field (repeatable): artist, album, genre, key, bpm or a free-form field,
    /// e.g. --unset conflicts after looking at a keep-both conflict.
    #[arg(long = "unset", value_name = "KEY")]
    pub unset: Vec<String>,
    /// Print the edited metadata as JSON.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: &EditArgs, backend: Backend) -> Result<u8> {
    let m = songrec_app::resolve::resolve(backend.as_ref(), &args.song).await?;
    let mut set = Vec::new();
    for kv in &args.set {
        let (k, v) = kv
            .split_once('=')
            .with_context(|| format!("--set {kv:?}: expected KEY=VALUE"))?;
        set.push((k.to_owned(), v.to_owned()));
    }
    let e = songrec_app::edit::Edit {
        title: args.title.clone(),
        artist: args.artist.clone(),
        album: args.album.clone(),
        genre: args.genre.clone(),
        add_tags: args.tags.clone(),
        remove_tags: args.untags.clone(),
        set,
        unset: args.unset.clone(),
    };
    let (m, changed, old) = songrec_app::edit::store(backend.as_ref(), &m, &e)
        .await
        .with_context(|| format!("storing the metadata of {}", m.display_name()))?;
    if changed {
        backend.flush().await?;
    }
    if args.json {
        crate::output::print_json(&m)?;
    } else if changed {
        println!(
            "edited {}  {}: version {old} → {}",
            m.id.short(),
            m.display_name(),
            m.version
        );
    } else {
        println!("{}  {}: nothing to change", m.id.short(), m.display_name());
    }
    Ok(exit::OK)
}
