//! Option groups and value parsers shared by several commands: the global options, the song
//! filters, `--json`, and counts that must be at least 1.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use songrec_storage::Filter;

/// The options every command takes (`--library`, `--config`, `-v`, ...).
#[derive(Args, Debug)]
pub struct GlobalArgs {
    /// Storage backend: local (default) or astra.
    #[arg(long, global = true, value_parser = backend_name, help_heading = GLOBAL)]
    pub storage_backend: Option<String>,
    /// Local library folder (holds data/); default ~/.local/share/songrec.
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub library: Option<PathBuf>,
    /// Configuration file (default: $SONGREC_CONFIG, else ~/.config/songrec/config.toml; a
    /// config.toml in the working directory is read only when named here).
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub config: Option<PathBuf>,
    /// Environment file to load (default: $SONGREC_ENV_FILE, else ~/.config/songrec/.env; a .env
    /// in the working directory is read only when named here). Never overrides variables
    /// already set.
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub env_file: Option<PathBuf>,
    /// More log output (-v, -vv).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, help_heading = GLOBAL)]
    pub verbose: u8,
    /// Only errors.
    #[arg(short, long, global = true, help_heading = GLOBAL)]
    pub quiet: bool,
    /// Do not use the disk cache or the offline copy of a remote library.
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub no_cache: bool,
}

/// The heading of the options every command takes, apart from each command's own.
const GLOBAL: &str = "Global options";

/// `--storage-backend`: checked by clap, so a wrong name is a usage error (exit 2).
fn backend_name(s: &str) -> Result<String, String> {
    s.parse::<songrec_config::BackendKind>()
        .map(|_| s.to_owned())
        .map_err(|_| "use local or astra".to_owned())
}

/// A count that must be at least 1 (`-k`, `-n`): clap refuses 0 as a usage error (exit 2).
pub fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_owned()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

#[derive(Args, Debug, Clone, Default)]
pub struct FilterArgs {
    /// Only this genre (case-insensitive).
    #[arg(long)]
    pub genre: Option<String>,
    /// Only this artist.
    #[arg(long)]
    pub artist: Option<String>,
    /// Only this album.
    #[arg(long)]
    pub album: Option<String>,
    /// Only this key, e.g. "A minor", "Am", "F#".
    #[arg(long)]
    pub key: Option<String>,
    /// Tempo range, e.g. 110..130, 120.., ..90.
    #[arg(long)]
    pub bpm: Option<String>,
    /// Duration range in seconds, e.g. 60..300.
    #[arg(long)]
    pub duration: Option<String>,
    /// Only songs with this tag.
    #[arg(long)]
    pub tag: Option<String>,
    /// Any field: FIELD=VALUE or FIELD=MIN..MAX (repeatable), e.g. extra.label=Warp.
    #[arg(long = "where", value_name = "FIELD=VALUE")]
    pub conditions: Vec<String>,
}

impl FilterArgs {
    /// The same filters as the REST API (`songrec_app::filters`).
    pub fn to_filter(&self) -> Result<Filter> {
        let spec = songrec_app::filters::FilterSpec {
            genre: self.genre.clone(),
            artist: self.artist.clone(),
            album: self.album.clone(),
            key: self.key.clone(),
            bpm: self.bpm.clone(),
            duration: self.duration.clone(),
            tag: self.tag.clone(),
            conditions: self.conditions.clone(),
        };
        Ok(spec.to_filter()?)
    }
}

#[derive(Args, Debug)]
pub struct JsonFlag {
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}
