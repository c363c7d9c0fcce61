//! `songrec reembed`: compute one embedder's vectors for every song, resumably; the work is in
//! `songrec_app::reembed`.

use anyhow::{Context, Result};
use clap::Args;
use songrec_config::Config;
use songrec_factory::{self as factory, Opened};
use songrec_storage::plural::count;

use crate::exit;
use crate::progress::{StepBar, progress_bar};

#[derive(Args, Debug)]
pub struct ReembedArgs {
    /// The embedder whose vectors to compute: mix (the default), musicnn, dsp or aisfx.
    #[arg(long, default_value = "mix")]
    pub embedder: String,
    /// Recompute songs that already have a vector of this model.
    #[arg(long)]
    pub force: bool,
    /// Songs analysed at once (default: one per core).
    #[arg(short, long, value_parser = crate::args::jobs)]
    pub jobs: Option<usize>,
    /// Machine-readable summary.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: &ReembedArgs, cfg: &Config, opened: &Opened) -> Result<u8> {
    let (backend, library) = (&opened.backend, &opened.description);
    let embedder = songrec_app::embedders::by_name_with(&args.embedder, &cfg.embedder)?;
    if !args.json
        && let Some(line) = songrec_app::embedders::runtime_line(&args.embedder, &cfg.embedder)?
    {
        eprintln!("{line}");
    }
    let model = songrec_app::embedders::model_of(embedder.as_ref());
    let opts = songrec_app::reembed::ReembedOptions {
        embedder,
        jobs: args.jobs.unwrap_or(cfg.ingest.jobs),
        force: args.force,
        state_file: factory::reembed_state_file(cfg, &backend.to_string(), &model),
        scratch_dir: factory::reembed_scratch_dir(cfg),
    };
    let bar = progress_bar(
        !args.json,
        "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} songs, eta {eta}",
    );
    let report = songrec_app::reembed::reembed(backend.as_ref(), &opts, &StepBar(bar.clone()))
        .await
        .with_context(|| {
            format!(
                "computing {} vectors in the {library}; run the same command again to continue",
                model.key()
            )
        })?;
    bar.finish_and_clear();
    if args.json {
        crate::output::print_json(&report)?;
    } else {
        for (id, why) in &report.failed {
            eprintln!("failed: {} {why}", id.short());
        }
        println!(
            "{}: computed {} ({:.0} s of audio in {:.1} s), {} already had one, {} failed, of {} in the {library}",
            report.model,
            count(report.computed, "song"),
            report.audio_secs,
            report.elapsed_secs,
            report.already,
            report.failed.len(),
            report.songs
        );
        if report.deleted > 0 {
            println!(
                "{} deleted elsewhere while this run analysed them: left deleted",
                report.deleted
            );
        }
    }
    Ok(exit::ok_or(report.failed.is_empty(), exit::PARTIAL))
}
