//! `songrec ingest`: decode, analyse and store audio files and folders.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::{Result, bail};
use clap::Args;
use songrec_app::ingest::{IngestOptions, Outcome};
use songrec_config::Config;
use songrec_factory::{self as factory, Opened};
use songrec_storage::plural::count;

use crate::exit;
use crate::library::paths_exist;
use crate::progress::{Bar, progress_bar, report_lines, stop_on_ctrl_c};

#[derive(Args, Debug)]
pub struct IngestArgs {
    /// Files or folders (searched recursively).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Embedders to run (a comma list): mix (the default: musicnn, aisfx and the DSP analysis
    /// in one vector), dsp (several times faster), musicnn, aisfx, or both (musicnn and dsp
    /// apart). Unset: mix, plus musicnn and dsp while some songs of the library have only
    /// those (see `songrec reembed`). The networks run on tract, or on ONNX Runtime when one
    /// is installed or SONGREC_ORT_LIBRARY / [embedder] onnxruntime_library is set.
    #[arg(long)]
    pub embedder: Option<String>,
    /// Parallel analysis jobs (default: one per core; at most 1024).
    #[arg(short, long, value_parser = crate::args::jobs)]
    pub jobs: Option<usize>,
    /// Re-read files even if their size and modification time are unchanged.
    #[arg(long)]
    pub force: bool,
    /// Remove from the library the songs whose files are gone since the last ingest of these
    /// folders (their files are not touched: they are already gone). Without it they are only
    /// reported as missing.
    #[arg(long)]
    pub prune: bool,
    /// Bring back songs deleted from the library (`songrec delete`, `dupes --delete`) whose
    /// files are still here; without it a deletion sticks.
    #[arg(long)]
    pub readd: bool,
    /// How the local library keeps each new file: reference (the default: it stays where it
    /// is, nothing is copied), reflink (a copy-on-write clone; a copy where the file system
    /// cannot clone) or copy. Default: [library] audio.
    #[arg(long, value_name = "MODE", value_parser = crate::args::audio_mode)]
    pub audio: Option<songrec_storage::AudioMode>,
    /// Print one JSON report per file and a summary.
    #[arg(long)]
    pub json: bool,
}

impl IngestArgs {
    /// The configuration with this run's `--audio`.
    pub fn configured(&self, cfg: &Config) -> Config {
        let mut c = cfg.clone();
        if let Some(a) = self.audio {
            c.library.audio = a;
        }
        c
    }
}

pub async fn run(args: &IngestArgs, cfg: &Config, opened: &Opened) -> Result<u8> {
    let backend = opened.backend.clone();
    paths_exist(&args.paths)?;
    let spec = match &args.embedder {
        Some(spec) => spec.clone(),
        None => songrec_app::embedders::default_ingest_spec(&backend.models().await?),
    };
    let embedders = songrec_app::embedders::parse_list_with(&spec, &cfg.embedder)?;
    // Chosen (or refused) before any file is read; said once, after a run that analysed songs
    // (not after "0 new" or a run where every file failed).
    let runtime = songrec_app::embedders::runtime_line(&spec, &cfg.embedder)?;
    let state_file = (!args.force).then(|| factory::ingest_state_file(cfg, &backend.to_string()));
    let opts = IngestOptions {
        state_file,
        prune: args.prune,
        exclude: factory::own_folders(cfg),
        readd: args.readd,
        ..IngestOptions::new(embedders, args.jobs.unwrap_or(cfg.ingest.jobs))
    };
    let bar = progress_bar(
        !args.json,
        "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} files, eta {eta} {wide_msg}",
    );
    let progress = Arc::new(Bar {
        bar: bar.clone(),
        json: args.json,
        lock: Mutex::new(()),
        stop: Some(stop_on_ctrl_c(&bar)),
    });
    let summary =
        songrec_app::ingest::ingest(backend.as_ref(), &args.paths, &opts, progress).await?;
    bar.finish_and_clear();
    let failed = summary.failed();
    if summary.files.is_empty() && !summary.interrupted {
        let roots: Vec<String> = args.paths.iter().map(|p| p.display().to_string()).collect();
        let seen = songrec_app::ingest::unsupported_extensions(&args.paths);
        let mut msg = format!("no audio files found under {}", roots.join(", "));
        if !seen.is_empty() {
            let list: Vec<String> = seen
                .iter()
                .map(|(ext, n)| format!(".{ext} ({n})"))
                .collect();
            msg.push_str(&format!(
                "; files seen but not read: {} (songrec reads {}; convert others with ffmpeg)",
                list.join(", "),
                songrec_app::ingest::readable_extensions()
                    .map(|e| format!(".{e}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ));
        }
        bail!(msg);
    }
    let n = |f: fn(&Outcome) -> bool| summary.count(f);
    let (moved, retagged, removed) = (
        n(|o| matches!(o, Outcome::Moved { .. })),
        n(|o| matches!(o, Outcome::Retagged { .. })),
        n(|o| matches!(o, Outcome::Removed { .. })),
    );
    let kept_out = n(|o| matches!(o, Outcome::Deleted { .. }));
    let missing = n(|o| matches!(o, Outcome::Missing { .. }));
    if args.json {
        println!(
            "{}",
            serde_json::json!({"summary": {"added": summary.added(), "skipped": summary.skipped(), "failed": failed.len(),
                "moved": moved, "retagged": retagged, "missing": missing,
                "removed": removed, "kept_out": kept_out, "copies": summary.copies,
                "elapsed_secs": summary.elapsed_secs, "audio_secs": summary.audio_secs,
                "interrupted": summary.interrupted}})
        );
    } else {
        // With a visible bar, failures and warnings were printed as they happened.
        if bar.is_hidden() {
            for line in summary.files.iter().flat_map(report_lines) {
                eprintln!("{line}");
            }
        }
        // What the collection did since the last ingest, when it did anything.
        let it = |n: usize| if n == 1 { "it" } else { "them" };
        let followed: String = [
            (moved, "moved".to_owned()),
            (retagged, "retagged".into()),
            (removed, "removed (files gone)".into()),
            (
                kept_out,
                format!(
                    "kept out (deleted from the library; --readd brings {} back)",
                    it(kept_out)
                ),
            ),
            (
                missing,
                format!(
                    "missing (files gone; --prune removes {} from the library)",
                    it(missing)
                ),
            ),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}, "))
        .collect();
        println!(
            "ingested {} new, {} already in the library, {followed}{} failed ({} in {:.1} s; {} of music) into the {}",
            summary.added(),
            summary.skipped(),
            failed.len(),
            count(summary.files.len(), "file"),
            summary.elapsed_secs,
            crate::output::length_of_music(summary.audio_secs),
            opened.description
        );
    }
    if !args.json
        && summary.added() > 0
        && let Some(line) = &runtime
    {
        eprintln!("{line}");
    }
    if cfg.library.audio == songrec_storage::AudioMode::Reflink && summary.copies > 0 {
        eprintln!(
            "note: this file system cannot clone files (reflink), so {} made instead",
            if summary.copies == 1 {
                "a copy was".to_owned()
            } else {
                format!("{} copies were", summary.copies)
            }
        );
    }
    if summary.interrupted {
        let again: Vec<String> = args
            .paths
            .iter()
            .map(|p| shell_word(&p.display().to_string()))
            .collect();
        eprintln!(
            "interrupted: {} stored, every file read so far is kept; rerun `songrec ingest {}` to continue (files already stored are skipped)",
            count(summary.added(), "song"),
            again.join(" ")
        );
        return Ok(exit::INTERRUPTED);
    }
    Ok(exit::ok_or(failed.is_empty(), exit::PARTIAL))
}

/// `word` quoted for a shell when it holds anything but safe characters.
fn shell_word(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "/._-+,:@%=~".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::shell_word;

    #[test]
    fn lengths_and_shell_words_read_well() {
        assert_eq!(crate::output::length_of_music(45.4), "45 s");
        assert_eq!(crate::output::length_of_music(36_560.0), "10.2 h");
        assert_eq!(crate::output::length_of_music(600.0), "10 min");
        assert_eq!(shell_word("/home/me/Music"), "/home/me/Music");
        assert_eq!(shell_word("My Music"), "'My Music'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
    }
}
