//! The configuration a run uses: the environment file, the config file, then the global flags.

use std::path::Path;

use anyhow::{Context, Result};

use crate::args::GlobalArgs;
use crate::exit::UsageError;

/// Loads the environment file (never overriding variables already set), the config file, then
/// applies flags. Only the user's configuration folder, `--config`/`--env-file` and the
/// environment are trusted; files in the working directory are read only when named.
pub fn load_config(global: &GlobalArgs) -> Result<songrec_config::Config> {
    use songrec_config::Config;
    let env = songrec_config::process_env();
    let env_file = global
        .env_file
        .clone()
        .or_else(|| Config::default_env_file(&env));
    if let Some(p) = &env_file {
        dotenvy::from_path(p).with_context(|| format!("reading {}", p.display()))?;
    }
    let env = songrec_config::process_env();
    let file = global.config.clone().or_else(|| Config::default_file(&env));
    if let Some(note) = unused_local_files(file.as_deref(), env_file.as_deref()) {
        if note.worth_saying && !global.quiet {
            eprintln!("info: {}", note.text);
        } else {
            // The example songrec ships (the repository's own ./config.toml): only with -v.
            tracing::info!("{}", note.text);
        }
    }
    let mut cfg = Config::from_sources(file.as_deref(), &env).map_err(|e| match e {
        // A value that cannot mean anything (out of range, unknown word): a usage error.
        songrec_storage::StorageError::InvalidInput(m) => {
            anyhow::Error::new(UsageError(format!("configuration: {m}")))
        }
        e => anyhow::Error::new(e).context("loading configuration"),
    })?;
    if let Some(b) = &global.storage_backend {
        cfg.backend = b.parse().context("--storage-backend")?;
    }
    if let Some(l) = &global.library {
        cfg.local.path = songrec_config::expand_home(l);
    }
    if global.no_cache {
        cfg.cache.enabled = false;
    }
    Ok(cfg)
}

/// The example configuration songrec ships (the repository's `config.toml`).
const SHIPPED_EXAMPLE: &str = include_str!("../../../config.toml");

/// A line about files in the working directory that are not read.
struct UnusedFiles {
    text: String,
    /// Whether to say it without `-v`: not when the only such file is an unchanged copy of
    /// the shipped example (every command run in the repository folder would print it).
    worth_saying: bool,
}

/// One line naming a `config.toml` or `.env` in the working directory that is not used (and how
/// to use it), or `None` when there is none or it is the file in use.
fn unused_local_files(config: Option<&Path>, env_file: Option<&Path>) -> Option<UnusedFiles> {
    let same = |used: Option<&Path>, local: &Path| {
        used.is_some_and(
            |u| matches!((u.canonicalize(), local.canonicalize()), (Ok(a), Ok(b)) if a == b),
        )
    };
    let mut unused = Vec::new();
    let mut worth_saying = false;
    let local_config = Path::new("config.toml");
    if local_config.is_file() && !same(config, local_config) {
        unused.push(("./config.toml", "--config ./config.toml"));
        worth_saying |= std::fs::read_to_string(local_config)
            .map_or(true, |text| text.trim() != SHIPPED_EXAMPLE.trim());
    }
    let local_env = Path::new(".env");
    if local_env.is_file() && !same(env_file, local_env) {
        unused.push(("./.env", "--env-file ./.env"));
        worth_saying = true;
    }
    if unused.is_empty() {
        return None;
    }
    let (names, flags): (Vec<&str>, Vec<&str>) = unused.into_iter().unzip();
    let text = format!(
        "{} in the working directory {} not read (settings come from ~/.config/songrec, \
         $SONGREC_CONFIG, $SONGREC_ENV_FILE and the environment); to use {}, pass {}",
        names.join(" and "),
        if names.len() == 1 { "is" } else { "are" },
        if names.len() == 1 { "it" } else { "them" },
        flags.join(" ")
    );
    Some(UnusedFiles { text, worth_saying })
}
