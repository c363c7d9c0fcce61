//! `songrec migrate`: the glue between the arguments, the factory, the ledger and
//! `songrec_app::migrate`.

use anyhow::{Context, Result, bail};
use clap::Args;
use songrec_app::migrate::ledger::{Ledger, RunSummary, SongState};
use songrec_app::migrate::{LedgerContext, MigrateOptions, VerifyLevel};
use songrec_config::{BackendKind, Config};
use songrec_factory as factory;
use songrec_storage::plural::count;

use crate::exit::{self, UsageError};
use crate::progress::{StepBar, progress_bar};

#[derive(Args, Debug)]
pub struct MigrateArgs {
    /// FROM→TO, e.g. local→astra, or 'local->astra' in quotes (unquoted, a shell reads `>` as a
    /// redirect). Same as --from local --to astra.
    pub spec: Option<String>,
    /// Source backend.
    #[arg(long)]
    pub from: Option<String>,
    /// Target backend.
    #[arg(long)]
    pub to: Option<String>,
    /// Print the plan; copy nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// How to compare both sides afterwards: counts (listings and vector counts), sample
    /// (plus 32 songs in depth: metadata, vectors, audio read back and hash-checked),
    /// sample:N, or full (every song in depth).
    #[arg(long, default_value = "sample", value_name = "LEVEL")]
    pub verify: String,
    /// Skip the final comparison of both sides.
    #[arg(long, conflicts_with = "verify")]
    pub no_verify: bool,
    /// Songs copied concurrently.
    #[arg(long, default_value_t = 8, value_parser = crate::args::bounded::<1, 256>)]
    pub concurrency: usize,
    /// Songs per write batch (and per ledger transaction).
    #[arg(long, default_value_t = 100, value_parser = crate::args::bounded::<1, { songrec_storage::query::MAX_PAGE }>)]
    pub batch_size: usize,
    /// Show the last runs recorded in the ledger (and the newest run's failures); copy nothing.
    #[arg(long, conflicts_with_all = ["spec", "from", "to", "dry_run"])]
    pub status: bool,
    /// With --status: machine-readable output.
    #[arg(long, requires = "status")]
    pub json: bool,
}

/// Parses `local->astra`, `local→astra`, `local=>astra`, `local:astra` or `local to astra`.
///
/// An unquoted `local->astra` reaches us as `local-`: the shell took `>astra` as a redirect
/// (and created a file named `astra`). That is recognised and explained, as a usage error.
pub fn parse_migrate_spec(spec: &str) -> Result<(String, String)> {
    for sep in ["->", "→", "=>", " to ", ":"] {
        if let Some((a, b)) = spec.split_once(sep) {
            let (a, b) = (a.trim(), b.trim());
            if !a.is_empty() && !b.is_empty() {
                return Ok((a.to_owned(), b.to_owned()));
            }
        }
    }
    if let Some(from) = spec.strip_suffix('-').or_else(|| spec.strip_suffix('=')) {
        let from = from.trim();
        let to = if from == "astra" { "local" } else { "astra" };
        return Err(UsageError(format!(
            "`{spec}` is what is left of `{from}->{to}` after the shell read `>{to}` as a redirect: \
             it ran `songrec migrate {spec}` and may have created an empty file named `{to}` in this \
             folder{stray} (delete it).\n\
             Type `songrec migrate --from {from} --to {to}`, or quote the arrow: \
             `songrec migrate '{from}->{to}'` (`{from}→{to}` needs no quotes).",
            stray = stray_file_hint(to),
        ))
        .into());
    }
    Err(UsageError(format!(
        "cannot read {spec:?} as FROM→TO; type `songrec migrate --from local --to astra` \
         (or `'local->astra'` in quotes, or local→astra)"
    ))
    .into())
}

/// " (there is one: ./astra, 0 bytes)" when a file left by a redirect is in the working folder.
fn stray_file_hint(name: &str) -> String {
    match std::fs::metadata(name) {
        Ok(m) if m.is_file() => format!(" (there is one: ./{name}, {})", count(m.len(), "byte")),
        _ => String::new(),
    }
}

fn states_text(states: &[(SongState, u64)]) -> String {
    let states: Vec<String> = states
        .iter()
        .map(|(s, n)| format!("{} {n}", s.as_str()))
        .collect();
    crate::output::list_or_dash(&states)
}

fn print_run(r: &RunSummary) {
    let status = match (r.status, r.finished_at.is_some()) {
        (songrec_app::migrate::ledger::RunStatus::Running, false) => {
            "running (or killed: a later run will mark it interrupted)".to_owned()
        }
        (s, _) => s.as_str().to_owned(),
    };
    println!("run #{}  {status}", r.id);
    println!("  {} -> {}", r.source, r.target);
    println!(
        "  started {}{}",
        r.started_at,
        r.finished_at
            .as_deref()
            .map(|f| format!(", finished {f}"))
            .unwrap_or_default()
    );
    if let Some(prev) = r.resumes {
        println!("  picked up after interrupted run #{prev}");
    }
    println!(
        "  planned {}, already there {}, copied {}, failed {}; songs by state: {}",
        r.planned,
        r.up_to_date,
        r.copied,
        r.failed,
        states_text(&r.states)
    );
    if let Some(e) = &r.error {
        println!("  stopped: {e}");
    }
    if let Some(v) = &r.verify {
        println!("  verify: {v}");
    }
}

/// `songrec migrate --status`: the last runs, and the failures of the newest one.
fn status(cfg: &Config, json: bool) -> Result<u8> {
    let path = factory::migrate_ledger_path(cfg);
    if !path.exists() {
        if json {
            println!("{}", serde_json::json!({"ledger": path, "runs": []}));
        } else {
            println!("no migrations recorded yet (ledger: {})", path.display());
        }
        return Ok(exit::OK);
    }
    let ledger = Ledger::open(&path)?;
    let runs = ledger.runs(10)?;
    let failures = runs
        .first()
        .map(|r| ledger.songs(r.id, Some(SongState::Failed)))
        .transpose()?
        .unwrap_or_default();
    if json {
        println!(
            "{}",
            serde_json::json!({"ledger": path, "runs": runs, "latest_failures": failures})
        );
        return Ok(exit::OK);
    }
    println!("ledger: {}", path.display());
    for r in &runs {
        print_run(r);
    }
    if !failures.is_empty() {
        println!("failed songs of run #{}:", runs[0].id);
        for f in failures.iter().take(20) {
            println!(
                "  {}  {}",
                f.id.get(..12).unwrap_or(&f.id),
                f.error.as_deref().unwrap_or("")
            );
        }
        if failures.len() > 20 {
            println!("  … and {} more", failures.len() - 20);
        }
    }
    Ok(exit::OK)
}

/// `songrec migrate`: copies every song from one backend to another, then verifies.
pub async fn run(args: &MigrateArgs, cfg: &Config) -> Result<u8> {
    if args.status {
        return status(cfg, args.json);
    }
    let (from, to) = match (&args.spec, &args.from, &args.to) {
        (Some(s), None, None) => parse_migrate_spec(s)?,
        (None, Some(f), Some(t)) => (f.clone(), t.clone()),
        _ => {
            return Err(UsageError(
                "say where from and to: `songrec migrate --from local --to astra` (or \
                 `'local->astra'` in quotes, or local→astra)"
                    .into(),
            )
            .into());
        }
    };
    let (from_kind, to_kind): (BackendKind, BackendKind) = (
        from.parse().context("migration source")?,
        to.parse().context("migration target")?,
    );
    if from_kind == to_kind {
        bail!("source and target are both {from_kind}; nothing to migrate");
    }
    let verify_level: Option<VerifyLevel> =
        (!args.no_verify).then(|| args.verify.parse()).transpose()?;
    let build = |kind| {
        let mut c = cfg.clone();
        c.backend = kind;
        songrec_factory::build(&c)
            .with_context(|| format!("opening the {}", songrec_factory::describe(cfg, kind)))
    };
    let (source, target) = (build(from_kind)?, build(to_kind)?);
    let (from_lib, to_lib) = (
        factory::describe(cfg, from_kind),
        factory::describe(cfg, to_kind),
    );
    let listing = |lib: &str| format!("listing the songs of the {lib}");
    let plan = songrec_app::migrate::plan(
        &source
            .list_versions()
            .await
            .with_context(|| listing(&from_lib))?,
        &target
            .list_versions()
            .await
            .with_context(|| listing(&to_lib))?,
    );
    tracing::info!("migrating {source} -> {target}");
    println!(
        "{from_lib} -> {to_lib}: {} to copy, {} already there, {} on the source (left to sync)",
        count(plan.to_copy.len(), "song"),
        plan.up_to_date,
        count(plan.source_tombstones, "deletion"),
    );
    if args.dry_run {
        for v in plan.to_copy.iter().take(20) {
            println!("  would copy {} (version {})", v.id.short(), v.version);
        }
        if plan.to_copy.len() > 20 {
            println!("  … and {} more", plan.to_copy.len() - 20);
        }
        return Ok(exit::OK);
    }

    // The ledger is a record: if it cannot be opened, say so and go on without it.
    let ledger = Ledger::open(&factory::migrate_ledger_path(cfg))
        .inspect_err(|e| {
            eprintln!("warning: {e}; migrating without a ledger (it is a record only)")
        })
        .ok();
    let ctx = ledger.as_ref().map(|l| LedgerContext {
        ledger: l,
        source: songrec_app::migrate::identity(cfg, from_kind),
        target: songrec_app::migrate::identity(cfg, to_kind),
    });
    let scratch_root = factory::migrate_dir(cfg);
    std::fs::create_dir_all(&scratch_root)
        .with_context(|| format!("creating {}", scratch_root.display()))?;
    let scratch = tempfile::Builder::new()
        .prefix("scratch-")
        .tempdir_in(&scratch_root)
        .context("creating a scratch folder")?;

    let mut code = exit::OK;
    let nothing = plan.to_copy.is_empty();
    let bar = progress_bar(
        !nothing,
        "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} songs, {per_sec}, eta {eta}",
    );
    let mut opts = MigrateOptions::new(scratch.path());
    opts.batch_size = args.batch_size.max(1);
    opts.concurrency = args.concurrency.max(1);
    let report = songrec_app::migrate::migrate(
        source.as_ref(),
        target.as_ref(),
        plan,
        &opts,
        &StepBar(bar.clone()),
        ctx.as_ref(),
    )
    .await
    .context("migrating (run it again to continue where it stopped)")?;
    bar.finish_and_clear();
    if let Some(prev) = report.resumed {
        println!("picked up after interrupted run #{prev}");
    }
    if nothing {
        println!(
            "nothing to do: {} already on target",
            count(report.plan.up_to_date, "song")
        );
    } else {
        for (id, why) in report.failed.iter().take(20) {
            eprintln!("failed: {}: {why}", id.short());
        }
        if report.failed.len() > 20 {
            eprintln!("… and {} more", count(report.failed.len() - 20, "failure"));
        }
        let secs = report.elapsed_secs;
        let rate = if secs > 0.0 {
            report.copied as f64 / secs
        } else {
            0.0
        };
        let rounds = report.retry_rounds;
        let retries = (rounds > 0).then(|| format!(", {}", count(rounds, "retry round")));
        println!(
            "copied {}, {} failed ({} uploaded, {:.1} s, {:.1} songs/s{})",
            count(report.copied, "song"),
            report.failed.len(),
            count(report.audio_uploaded, "audio file"),
            report.elapsed_secs,
            rate,
            retries.unwrap_or_default()
        );
        if !report.failed.is_empty() {
            code = exit::PARTIAL;
        }
    }
    if let Some(level) = verify_level {
        let seed = report.run.unwrap_or(0) as u64 ^ u64::from(std::process::id());
        let v = songrec_app::migrate::verify(
            source.as_ref(),
            target.as_ref(),
            level,
            seed,
            &report.plan.held,
            &scratch.path().join("verify"),
        )
        .await
        .context("verifying")?;
        println!("verify: {}", v.summary());
        let show = |what: &str, ids: &[songrec_storage::SongId]| {
            for id in ids.iter().take(10) {
                println!("  {what}: {}", id.short());
            }
            if ids.len() > 10 {
                println!("  … and {} more {what}", ids.len() - 10);
            }
        };
        show("missing", &v.missing);
        show("older on the target", &v.older);
        show("content hash differs", &v.hash_mismatch);
        for d in v.differences.iter().take(20) {
            println!("  {}: {}", d.id.short(), d.what);
        }
        if v.differences.len() > 20 {
            println!(
                "  … and {} more",
                count(v.differences.len() - 20, "difference")
            );
        }
        for d in v.held_differently.iter().take(10) {
            println!("  {}: already on the target, {}", d.id.short(), d.what);
        }
        if v.held_differently.len() > 10 {
            println!(
                "  … and {} more already on the target with other metadata",
                v.held_differently.len() - 10
            );
        }
        if let (Some(l), Some(run)) = (&ledger, report.run)
            && let Err(e) = l.set_verify(run, &v.summary())
        {
            eprintln!("warning: {e}");
        }
        if !v.is_clean() {
            code = exit::PARTIAL;
        }
    }
    if code != exit::OK {
        println!("see `songrec migrate --status` for the record; run the migration again to retry");
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::parse_migrate_spec;

    #[test]
    fn migrate_spellings() {
        for s in [
            "local->astra",
            "local→astra",
            "local => astra",
            "local to astra",
            "local:astra",
        ] {
            assert_eq!(
                parse_migrate_spec(s).unwrap(),
                ("local".to_owned(), "astra".to_owned()),
                "{s}"
            );
        }
        assert!(parse_migrate_spec("local").is_err());
        assert!(parse_migrate_spec("->astra").is_err());
    }

    #[test]
    fn migrate_spec_cut_by_a_shell_redirect_is_explained() {
        for (typed, from, to) in [
            ("local-", "local", "astra"),
            ("astra-", "astra", "local"),
            ("local=", "local", "astra"),
        ] {
            let e = parse_migrate_spec(typed).unwrap_err();
            assert!(
                e.downcast_ref::<crate::exit::UsageError>().is_some(),
                "{typed}: a usage error"
            );
            let msg = e.to_string();
            assert!(msg.contains("redirect"), "{msg}");
            assert!(msg.contains(&format!("--from {from} --to {to}")), "{msg}");
            assert!(msg.contains(&format!("'{from}->{to}'")), "{msg}");
            assert!(msg.contains(&format!("file named `{to}`")), "{msg}");
        }
    }
}
