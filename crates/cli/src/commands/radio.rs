//! `songrec radio`: parse, build the options, call `songrec_mpd::radio::run`, print each line.

use anyhow::{Context, Result};
use clap::Args;
use songrec_config::{Config, MpdConfig};
use songrec_discover::history::{self, History};
use songrec_discover::playlist::Constraints;
use songrec_factory::Backend;
use songrec_mpd::plan::Rules;
use songrec_mpd::radio::{self, RadioOptions};
use songrec_mpd::skips::SkipRule;

use crate::args::{FilterArgs, RuleArgs, mpd_address};
use crate::exit;
use crate::vectors::VectorArgs;

#[derive(Args, Debug)]
pub struct RadioArgs {
    /// MPD to play on: [PASSWORD@]HOST[:PORT] or a socket path (default: MPD_HOST and
    /// MPD_PORT as mpc reads them, then [mpd] address, then localhost:6600).
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "")]
    pub mpd: Option<String>,
    #[arg(long, value_name = "N", value_parser = crate::args::bounded::<1, 1000>,
        help = format!("Songs kept queued after the one playing (default [mpd] ahead, {})",
            MpdConfig::default().ahead))]
    pub ahead: Option<usize>,
    /// Fill the queue once and exit.
    #[arg(long)]
    pub once: bool,
    /// Songs played just before the current one that seed the mix with it.
    #[arg(long, value_name = "N", default_value_t = Rules::default().seed_depth, value_parser = crate::args::count)]
    pub seed_depth: usize,
    #[arg(long, value_name = "SECS",
        help = format!("A song left before this many seconds is a skip (default [mpd] skip_secs, {}) ...",
            MpdConfig::default().skip_secs))]
    pub skip_secs: Option<f64>,
    #[arg(long, value_name = "SHARE",
        help = format!("... or before this share of its length, when that comes first (default [mpd] skip_fraction, {})",
            MpdConfig::default().skip_fraction))]
    pub skip_fraction: Option<f64>,
    /// Songs nearest a skipped one left out of the rest of the session.
    #[arg(long, value_name = "N", default_value_t = RadioOptions::default().avoid_per_skip, value_parser = crate::args::count)]
    pub avoid_per_skip: usize,
    /// Songs the library's listening history says were skipped more than played whose
    /// neighbours are left out from the start (0: ignore the history).
    #[arg(long, value_name = "N", default_value_t = RadioOptions::default().history_skips, value_parser = crate::args::count)]
    pub history_skips: usize,
    /// A private session: plays and skips are not kept in the library's listening history.
    #[arg(long)]
    pub private: bool,
    /// No player: replay, for every label of this field (album, artist, genre or a free-form
    /// field such as game) with at least 4 songs, a listener who starts from one of its songs
    /// and skips every song of it; print how many of its songs the radio still brings, with
    /// the skip steering and without it (--avoid-per-skip 0). Changes nothing.
    #[arg(long, value_name = "FIELD")]
    pub replay: Option<String>,
    /// With --replay: songs met per run.
    #[arg(long, value_name = "N", default_value_t = 15, value_parser = crate::args::at_least_one)]
    pub replay_steps: usize,
    /// With --replay: runs (seeds) per label.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = crate::args::at_least_one)]
    pub replay_seeds: usize,
    #[command(flatten)]
    pub rules: RuleArgs,
    #[command(flatten)]
    pub vectors: VectorArgs,
    #[command(flatten)]
    pub filter: FilterArgs,
}

fn skip_rule(args: &RadioArgs, cfg: &Config) -> Result<SkipRule> {
    let rule = SkipRule {
        min_secs: args.skip_secs.unwrap_or(cfg.mpd.skip_secs),
        min_fraction: args.skip_fraction.unwrap_or(cfg.mpd.skip_fraction),
    };
    if !(rule.min_secs >= 0.0 && (0.0..=1.0).contains(&rule.min_fraction)) {
        return Err(exit::UsageError(
            "--skip-secs must be 0 or more and --skip-fraction from 0 to 1".into(),
        )
        .into());
    }
    Ok(rule)
}

/// Where the radio keeps plays and skips: counted under this machine's id, waiting in a file
/// of the radio's own while another process holds the library for long (applied every few
/// seconds, and at the next verdict).
fn radio_marks(
    cfg: &Config,
    backend: &Backend,
) -> Result<std::sync::Arc<songrec_app::marks::Marks>> {
    let machine = songrec_factory::sync::machine_id(cfg)
        .context("reading this machine's id (plays are counted under it)")?;
    let pending = songrec_factory::pending_marks_file(cfg, &backend.to_string(), "radio");
    let marks = std::sync::Arc::new(songrec_app::marks::Marks::new(
        backend.clone(),
        machine,
        Some(pending),
    ));
    std::sync::Arc::clone(&marks).keep_applying(std::time::Duration::from_secs(2));
    Ok(marks)
}

pub async fn run(args: &RadioArgs, cfg: &Config, backend: Backend) -> Result<u8> {
    let addr = mpd_address(args.mpd.as_deref(), cfg)?;
    let exclude = if args.rules.exclude_recent > 0 {
        let path = history::path_for(&cfg.cache.path, &backend.to_string());
        History::load(&path)
            .context("reading the playlist history")?
            .recent(args.rules.exclude_recent)
    } else {
        Default::default()
    };
    let opts = RadioOptions {
        rules: Rules {
            ahead: args.ahead.unwrap_or(cfg.mpd.ahead),
            seed_depth: args.seed_depth,
            no_repeat_artist: args.rules.no_repeat_artist,
            no_repeat_album: args.rules.no_repeat_album,
        },
        skip: skip_rule(args, cfg)?,
        once: args.once,
        avoid_per_skip: args.avoid_per_skip,
        constraints: Constraints {
            exclude,
            filter: args.filter.to_filter()?,
            ..Constraints::default()
        },
        choice: args.vectors.choice()?,
        music_directory: cfg.mpd.music_directory.clone(),
        history_skips: args.history_skips,
        private: args.private,
        marks: Some(radio_marks(cfg, &backend)?),
    };
    if let Some(field) = &args.replay {
        return replay(backend, field, args, &opts).await;
    }
    radio::run(
        backend.as_ref(),
        &addr,
        &opts,
        &mut |e: songrec_mpd::Event| println!("{e}"),
    )
    .await?;
    Ok(exit::OK)
}

/// `--replay FIELD`: the skip steering measured on this library, against the control.
async fn replay(
    backend: Backend,
    field: &str,
    args: &RadioArgs,
    opts: &RadioOptions,
) -> Result<u8> {
    use songrec_mpd::replay::{EARLY, steering};
    use songrec_storage::StorageBackendExt as _;
    let field = songrec_storage::Field::parse(field)?;
    let songs = backend
        .list_all(&opts.constraints.filter)
        .await
        .context("listing the library")?;
    let mut opts = opts.clone();
    opts.history_skips = 0;
    let (steps, seeds) = (args.replay_steps, args.replay_seeds);
    let run = |o: RadioOptions| {
        let (backend, songs, field) = (backend.clone(), &songs, &field);
        async move { steering(backend.as_ref(), songs, field, 4, seeds, steps, &o).await }
    };
    let steered = run(opts.clone()).await?;
    let plain = run(RadioOptions {
        avoid_per_skip: 0,
        ..opts.clone()
    })
    .await?;
    if steered.is_empty() {
        println!("no label of that field has 4 songs or more");
        return Ok(exit::OK);
    }
    println!(
        "a listener starts from a song of LABEL and skips every song of it; {steps} songs met per run, ahead {}; songs of LABEL among the first {EARLY} met / the rest, and the last one met at (steered | without steering):",
        opts.rules.ahead
    );
    println!(
        "{:<28} {:>4}  {:>6} {:>6} {:>7}  |  {:>6} {:>6} {:>7}",
        "LABEL", "RUNS", "FIRST", "REST", "LAST", "FIRST", "REST", "LAST"
    );
    let row = |label: &str, runs: String, v: [f64; 6]| {
        println!(
            "{label:<28} {runs:>4}  {:>6.2} {:>6.2} {:>7.2}  |  {:>6.2} {:>6.2} {:>7.2}",
            v[0], v[1], v[2], v[3], v[4], v[5]
        )
    };
    let (mut sums, mut n) = ([0.0f64; 6], 0.0);
    for (s, c) in steered.iter().zip(&plain) {
        let v = [s.early, s.late, s.last_at, c.early, c.late, c.last_at];
        row(&crate::output::trunc(&s.label, 28), s.runs.to_string(), v);
        sums.iter_mut().zip(v).for_each(|(sum, x)| *sum += x);
        n += 1.0;
    }
    row("mean", String::new(), sums.map(|x| x / n));
    Ok(exit::OK)
}
