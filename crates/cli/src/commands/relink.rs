//! `songrec relink DIR`: keep each song's audio from the user's own file below DIR (a
//! reference by default); what converts a library whose files an earlier songrec copied. The
//! work is in `songrec_app::relink`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use songrec_config::Config;
use songrec_factory::{self as factory, Opened};
use songrec_storage::plural::count;

use crate::exit;
use crate::library::index_music;
use crate::progress::{StepBar, progress_bar};

#[derive(Args, Debug)]
pub struct RelinkArgs {
    /// The folder that holds the songs' files (this machine's copy of the music).
    pub music: PathBuf,
    /// How to keep them: reference (the default), reflink or copy. Default: [library] audio.
    #[arg(long, value_name = "MODE", value_parser = crate::args::audio_mode)]
    pub audio: Option<songrec_storage::AudioMode>,
    /// Machine-readable report.
    #[arg(long)]
    pub json: bool,
}

impl RelinkArgs {
    /// The configuration with this run's `--audio` and music folder.
    pub fn configured(&self, cfg: &Config) -> Config {
        let mut c = cfg.clone();
        if let Some(a) = self.audio {
            c.library.audio = a;
        }
        if c.library.music.is_none() {
            c.library.music = std::path::absolute(&self.music).ok();
        }
        c
    }
}

pub async fn run(args: &RelinkArgs, cfg: &Config, opened: &Opened) -> Result<u8> {
    anyhow::ensure!(
        args.music.is_dir(),
        "{}: no such folder (give the folder that holds your music)",
        args.music.display()
    );
    let folder = index_music(cfg, &args.music, "reading the music folder").await?;
    let bar = progress_bar(
        !args.json,
        "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} songs, eta {eta}",
    );
    let report =
        songrec_app::relink::relink(opened.backend.as_ref(), &folder, &StepBar(bar.clone()))
            .await
            .with_context(|| {
                format!(
                    "relinking the {} to {}; run the same command again to continue",
                    opened.description,
                    args.music.display()
                )
            })?;
    bar.finish_and_clear();
    songrec_app::ingest::remember(
        &factory::ingest_state_file(cfg, &opened.backend.to_string()),
        &report.files,
    );
    if args.json {
        crate::output::print_json(&report)?;
    } else {
        for (id, why) in &report.failed {
            eprintln!("failed: {}: {why}", id.short());
        }
        for (id, name) in report.not_found.iter().take(20) {
            eprintln!(
                "not found below {}: {name} ({}); it keeps what the library holds",
                args.music.display(),
                id.short()
            );
        }
        if report.not_found.len() > 20 {
            eprintln!("… and {} more not found", report.not_found.len() - 20);
        }
        println!(
            "relinked {} to their files below {} as {} ({} already were), {} not found, {} failed; {} identified by their audio",
            count(report.linked, "song"),
            args.music.display(),
            cfg.library.audio,
            report.already,
            report.not_found.len(),
            report.failed.len(),
            report.identified
        );
    }
    Ok(exit::ok_or(report.failed.is_empty(), exit::PARTIAL))
}
