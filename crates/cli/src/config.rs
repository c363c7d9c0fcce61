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
        load_env_file(p)?;
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

/// Loads the `.env` file at `path` into the environment, never overriding a variable already
/// set. An error names the file, the line and the variable, never a value: dotenvy's own
/// message quotes the line, and that line may hold a password or token.
///
/// An unquoted value with a space (`NAME=a long passphrase`) is refused with the advice to quote
/// it, not taken whole: dotenvy refuses it, a shell that sources the file runs its second word
/// as a command, and tools that accept it disagree on a ` #` inside it, so any reading would
/// guess at a secret.
fn load_env_file(path: &Path) -> Result<()> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {shown}"))?;
    // Parsed whole first (a value may refer to an earlier one, or span lines in quotes), so
    // that nothing is set from a file with a bad line.
    for item in dotenvy::from_read_iter(text.as_bytes()) {
        if let Err(e) = item {
            let why = match e {
                dotenvy::Error::LineParse(bad, _) => bad_line(&text, &bad),
                // Not expected from text already read (an I/O error of the reader): said
                // without dotenvy's words all the same.
                _ => "a line that cannot be read".to_owned(),
            };
            return Err(anyhow::Error::new(UsageError(format!("{shown}: {why}"))));
        }
    }
    dotenvy::from_read(text.as_bytes()).with_context(|| format!("reading {shown}"))
}

/// Where a line dotenvy refused is, and what is wrong with it, in words that never include
/// the value: "line 3 (SONGREC_SUBSONIC_PASSWORD): ...". `bad` is the text dotenvy refused
/// (the value, or the whole line); it is only searched for, never shown.
fn bad_line(text: &str, bad: &str) -> String {
    let first = bad.lines().next().unwrap_or_default().trim();
    let lines = || {
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim_start().starts_with('#') && !first.is_empty())
    };
    // The line that is `bad`, or whose value is (dotenvy names one or the other); else the
    // first holding it (a value spanning lines).
    let is_it =
        |l: &str| l.trim() == first || l.split_once('=').is_some_and(|(_, v)| v.trim() == first);
    let found = lines()
        .find(|(_, l)| is_it(l))
        .or_else(|| lines().find(|(_, l)| l.contains(first)));
    let Some((i, line)) = found else {
        return "a line that is not NAME=value (an unclosed quote?); the line is not shown, as \
                it may hold a secret"
            .to_owned();
    };
    let at = format!("line {}", i + 1);
    let t = line.trim_start();
    let t = t.strip_prefix("export ").map_or(t, str::trim_start);
    let Some((name, value)) = t.split_once('=') else {
        return format!("{at} is not NAME=value");
    };
    let name = name.trim();
    let is_name = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    if !is_name {
        return format!("{at} does not start with a variable name (NAME=value)");
    }
    let value = value.trim();
    let quoted = value.starts_with(['"', '\'']);
    if !quoted && value.contains([' ', '\t']) {
        return format!(
            "{at}: the value of {name} has a space; quote values with spaces: {name}=\"...\" \
             (the value is not shown)"
        );
    }
    format!(
        "{at}: the value of {name} cannot be read (an unclosed quote, or a backslash before a \
         letter other than n?); the value is not shown"
    )
}

#[cfg(test)]
mod tests {
    use super::bad_line;

    /// Each refused line is placed and explained; the value never appears.
    #[test]
    fn a_bad_env_line_is_named_without_its_value() {
        let text =
            "# songrec\nSONGREC_SUBSONIC_USER=ann\nSONGREC_SUBSONIC_PASSWORD=open sesame now\n";
        let why = bad_line(text, "open sesame now");
        assert_eq!(
            why,
            "line 3: the value of SONGREC_SUBSONIC_PASSWORD has a space; quote values with \
             spaces: SONGREC_SUBSONIC_PASSWORD=\"...\" (the value is not shown)"
        );
        let text = "A=1\nexport TOKEN=\"AstraCS:x\\q\"\n";
        let why = bad_line(text, "\"AstraCS:x\\q\"");
        assert!(
            why.starts_with("line 2: the value of TOKEN cannot be read"),
            "{why}"
        );
        assert!(!why.contains("AstraCS"), "{why}");
        let why = bad_line("A=1\n9LIVES=secret\n", "9LIVES=secret");
        assert_eq!(
            why,
            "line 2 does not start with a variable name (NAME=value)"
        );
        let why = bad_line("A=1\nsecret words\n", "secret words");
        assert_eq!(why, "line 2 is not NAME=value");
        let why = bad_line("A=1\n", "elsewhere");
        assert!(
            why.contains("not shown") && !why.contains("elsewhere"),
            "{why}"
        );
    }
}
