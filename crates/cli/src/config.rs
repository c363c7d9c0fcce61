//! The configuration a run uses: the environment file, the config file, then the global flags.

use std::collections::HashMap;

use anyhow::{Context, Result};

use crate::args::GlobalArgs;

/// Loads the environment file (never overriding variables already set), the config file, then
/// applies flags. Only the user's configuration folder, `--config`/`--env-file` and the
/// environment are trusted; files in the working directory are read only when named.
pub fn load_config(global: &GlobalArgs) -> Result<songrec_config::Config> {
    use songrec_config::Config;
    let env: HashMap<String, String> = std::env::vars().collect();
    let env_file = global
        .env_file
        .clone()
        .or_else(|| Config::default_env_file(&env));
    if let Some(p) = &env_file {
        dotenvy::from_path(p).with_context(|| format!("reading {}", p.display()))?;
    }
    let env: HashMap<String, String> = std::env::vars().collect();
    let file = global.config.clone().or_else(|| Config::default_file(&env));
    if !global.quiet
        && let Some(note) = unused_local_files(file.as_deref(), env_file.as_deref())
    {
        eprintln!("info: {note}");
    }
    let mut cfg = Config::from_sources(file.as_deref(), &env).context("loading configuration")?;
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

/// One line naming a `config.toml` or `.env` in the working directory that is not used (and how
/// to use it), or `None` when there is none or it is the file in use.
fn unused_local_files(
    config: Option<&std::path::Path>,
    env_file: Option<&std::path::Path>,
) -> Option<String> {
    let same = |used: Option<&std::path::Path>, local: &std::path::Path| {
        used.is_some_and(|u| match (u.canonicalize(), local.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        })
    };
    let mut unused = Vec::new();
    let local_config = std::path::Path::new("config.toml");
    if local_config.is_file() && !same(config, local_config) {
        unused.push(("./config.toml", "--config ./config.toml"));
    }
    let local_env = std::path::Path::new(".env");
    if local_env.is_file() && !same(env_file, local_env) {
        unused.push(("./.env", "--env-file ./.env"));
    }
    if unused.is_empty() {
        return None;
    }
    let names: Vec<&str> = unused.iter().map(|u| u.0).collect();
    let flags: Vec<&str> = unused.iter().map(|u| u.1).collect();
    Some(format!(
        "{} in the working directory {} not read (settings come from ~/.config/songrec, \
         $SONGREC_CONFIG, $SONGREC_ENV_FILE and the environment); to use {}, pass {}",
        names.join(" and "),
        if names.len() == 1 { "is" } else { "are" },
        if names.len() == 1 { "it" } else { "them" },
        flags.join(" ")
    ))
}
