//! `songrec sync`: argument parsing and printing; the work is in `songrec_factory::sync` /
//! `songrec_sync`.

use std::collections::HashMap;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use songrec_config::Config;
use songrec_factory::sync::RunError;
use songrec_storage::SongId;
use songrec_storage::plural::count;
use songrec_sync::engine::{RemoteRead, SyncError, SyncOptions, SyncReport};
use songrec_sync::lease::LeaseError;
use songrec_sync::plan::{Action, Rails};

use crate::exit;
use crate::library::index_music;
use crate::progress::{StepBar, progress_bar};

#[derive(Args, Debug)]
pub struct SyncArgs {
    /// How songs changed on both sides are resolved: newer (default), local, remote or
    /// keep-both (the losing values are kept in the song's extra.conflicts).
    #[arg(long)]
    pub conflict: Option<String>,
    /// Refuse to delete more than this percentage of either side's songs in one run (default 50).
    #[arg(long, value_name = "PERCENT", value_parser = crate::args::percent)]
    pub max_delete: Option<u32>,
    /// Override the safety rails (delete limit, empty-listing check).
    #[arg(long)]
    pub force: bool,
    /// Print the plan; change nothing (takes no lease).
    #[arg(long)]
    pub dry_run: bool,
    /// Reconcile fully: list both sides whole instead of reading only the remote's changes
    /// since the last run (done by itself every `[sync] full_every_days`, default 7).
    #[arg(long)]
    pub full: bool,
    /// Songs transferred concurrently.
    #[arg(long, default_value_t = 8, value_parser = crate::args::bounded::<1, 256>)]
    pub concurrency: usize,
    /// Machine-readable report.
    #[arg(long)]
    pub json: bool,
    /// This machine's own copy of the music (default: [library] music): songs whose files are
    /// found below it (the same bytes) are linked to them instead of downloaded; the others
    /// are downloaded. The folder is only read.
    #[arg(long, value_name = "DIR")]
    pub music: Option<std::path::PathBuf>,
}

/// This machine's music folder as sync's source of files.
#[derive(Debug)]
struct Files(songrec_app::music::MusicFolder);

impl songrec_sync::engine::LocalFiles for Files {
    fn find(&self, key: &SongId) -> Option<std::path::PathBuf> {
        self.0.find(key).map(std::path::Path::to_path_buf)
    }
    fn find_audio(&self, audio: &SongId) -> Option<(std::path::PathBuf, SongId)> {
        let (path, key) = self.0.find_audio(audio)?;
        Some((path.to_path_buf(), key.clone()))
    }
    fn fresh(&self) -> Vec<songrec_sync::engine::LocalFile> {
        let file = |f: &songrec_app::music::MusicFile| songrec_sync::engine::LocalFile {
            path: f.path.clone(),
            key: f.key.clone(),
            audio: f.audio.clone(),
        };
        self.0.fresh.iter().map(file).collect()
    }
}

fn plan_line(r: &SyncReport) -> String {
    let s = &r.summary;
    format!(
        "{} to upload ({} new), {} to download ({} new), {} to delete here, {} to delete on the remote, {} to merge, {} unchanged (here {}, remote {}, record {})",
        count(s.push_new + s.push_changed, "song"),
        s.push_new,
        s.pull_new + s.pull_changed,
        s.pull_new,
        s.delete_local,
        s.delete_remote,
        s.reconcile,
        s.unchanged,
        count(s.local_live, "song"),
        s.remote_live,
        s.recorded_live
    )
}

fn read_line(r: &SyncReport) -> String {
    match r.remote_read {
        RemoteRead::Feed { changes } => {
            format!(
                "remote read from its change feed ({} since the last run)",
                count(changes, "change")
            )
        }
        RemoteRead::Full { reason } => format!("full reconciliation ({reason})"),
    }
}

/// One step of a dry run's plan, naming the song by `Artist – Title` (from `names`) and its
/// short id.
fn describe(a: &Action, names: &HashMap<SongId, String>) -> String {
    let id = a.id();
    let song = match names.get(id) {
        Some(name) => format!("{name:?} ({})", id.short()),
        None => id.short().to_owned(),
    };
    match a {
        Action::Copy { from, full, .. } => {
            let local = *from == songrec_sync::plan::Side::Local;
            let verb = if local { "upload" } else { "download" };
            format!(
                "{verb} {}{song}",
                if *full { "" } else { "the metadata of " }
            )
        }
        Action::Delete { on, .. } => format!("delete {song} on the {on} side"),
        Action::Reconcile { added_both, .. } => {
            let how = if *added_both { "added" } else { "changed" };
            format!("merge {song} ({how} on both sides)")
        }
        Action::RecordDeleted { .. } => format!("record the deletion of {song}"),
    }
}

/// Whether sync stopped because a side could not be reached (the cloud, almost always: the
/// local library is a folder).
fn unreachable(e: &RunError) -> bool {
    use songrec_storage::StorageError;
    matches!(
        e,
        RunError::Open(StorageError::Unavailable { .. })
            | RunError::Sync(
                SyncError::Storage(StorageError::Unavailable { .. })
                    | SyncError::Lease(LeaseError::Storage(StorageError::Unavailable { .. }))
            )
    )
}

pub async fn run(args: &SyncArgs, cfg: &Config) -> Result<u8> {
    let mut cfg = cfg.clone();
    if let Some(dir) = &args.music {
        anyhow::ensure!(
            dir.is_dir(),
            "--music {}: no such folder (give the folder that holds this machine's copy of the music)",
            dir.display()
        );
        let dir = std::path::absolute(dir).context("--music")?;
        // Remembered for this machine's library: a plain `sync` here links the same files.
        songrec_factory::remember_music(&cfg, &dir)
            .context("remembering --music for the next sync")?;
        cfg.library.music = Some(dir);
    } else if cfg.library.music.is_none() {
        cfg.library.music = songrec_factory::remembered_music(&cfg);
    }
    let cfg = &cfg;
    let policy = match &args.conflict {
        Some(p) => p.parse().context("--conflict")?,
        None => cfg.sync.conflict,
    };
    let max_delete = args.max_delete.unwrap_or(cfg.sync.max_delete);
    if max_delete > 100 {
        anyhow::bail!("--max-delete is a percentage (0-100), got {max_delete}");
    }
    let scratch = tempfile::Builder::new()
        .prefix("songrec-sync-")
        .tempdir()
        .context("creating a scratch folder")?;
    let mut opts = SyncOptions::new(scratch.path().join("transit"));
    opts.policy = policy;
    opts.rails = Rails {
        max_delete_percent: max_delete,
        force: args.force,
    };
    opts.dry_run = args.dry_run;
    opts.full = args.full;
    opts.full_every =
        std::time::Duration::from_secs(u64::from(cfg.sync.full_every_days.max(1)) * 24 * 3600);
    opts.concurrency = args.concurrency.max(1);
    songrec_factory::sync::apply_test_hooks(&mut opts);
    let mut music_line = None;
    if let Some(dir) = &cfg.library.music
        && !args.dry_run
    {
        let folder = index_music(cfg, dir, "indexing the music folder").await?;
        for (p, why) in &folder.unreadable {
            eprintln!("skipped: {}: {why}", p.display());
        }
        music_line = Some(format!(
            "music: {} below {} ({} read now)",
            count(folder.len(), "audio file"),
            dir.display(),
            folder.hashed
        ));
        opts.local_files = Some(std::sync::Arc::new(Files(folder)));
    }
    let bar = progress_bar(
        !args.json && !args.dry_run,
        "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} steps, eta {eta}",
    );
    let started = Instant::now();
    let run = songrec_factory::sync::run(cfg, &opts, &StepBar(bar.clone())).await;
    bar.finish_and_clear();
    let run = match run {
        Ok(r) => r,
        Err(RunError::Sync(SyncError::Lease(e @ LeaseError::Held(_)))) => {
            eprintln!("refused: {e}");
            return Ok(exit::REFUSED);
        }
        Err(e) if unreachable(&e) => {
            // Said first, with what to do; the client's own words (which endpoint) follow.
            return Err(e).context(
                "the cloud is unreachable, so sync stopped: check the network and the cloud \
                 settings (`songrec doctor` checks them), then run `songrec sync` again (it \
                 carries on from where it stopped)",
            );
        }
        Err(e) => return Err(e).context("sync"),
    };
    let r = &run.report;
    let secs = started.elapsed().as_secs_f64();
    let code = if !r.violations.is_empty() {
        exit::REFUSED
    } else if !r.failed.is_empty() {
        exit::PARTIAL
    } else if !r.conflicts.is_empty() {
        exit::CONFLICTS
    } else {
        exit::OK
    };
    if args.json {
        crate::output::print_json(&serde_json::json!({
            "machine": run.machine,
            "report": r,
            "names": run.names,
            "requests": run.requests,
            "elapsed_secs": secs,
            "exit_code": code,
        }))?;
        return Ok(code);
    }
    if let Some(l) = &music_line {
        println!("{l}");
    }
    println!(
        "sync {} ⇄ remote as machine {}: {}; {}",
        cfg.local.path.display(),
        run.machine.get(..12).unwrap_or(&run.machine),
        read_line(r),
        plan_line(r)
    );
    for v in &r.violations {
        eprintln!("refused: {v}");
    }
    if !r.violations.is_empty() {
        return Ok(code);
    }
    if r.dry_run {
        for a in r.actions.iter().take(50) {
            println!("  would {}", describe(a, &run.names));
        }
        if r.actions.len() > 50 {
            println!("  … and {} more", r.actions.len() - 50);
        }
        for c in &r.conflicts {
            println!("  {c}");
        }
        let pl = &r.playlists;
        if pl.pushed + pl.pulled > 0 {
            println!(
                "  playlists: would upload {}, download {}",
                pl.pushed, pl.pulled
            );
        }
        println!("dry run: nothing changed");
        return Ok(exit::OK);
    }
    for c in &r.conflicts {
        println!("{c}");
    }
    for (id, why) in &r.failed {
        eprintln!("failed: {}: {why}", id.short());
    }
    let linked = (r.audio_linked > 0).then(|| {
        let songs = count(r.audio_linked, "song");
        format!(" ({songs} linked to this machine's files, not downloaded)")
    });
    println!(
        "synced: uploaded {} new + {} changed, downloaded {} new + {} changed{}, deleted {} here + {} on the remote, {}, {} failed (retried by the next run); {:.1} s, {}",
        r.pushed_new,
        r.pushed_changed,
        r.pulled_new,
        r.pulled_changed,
        linked.unwrap_or_default(),
        r.deleted_local,
        r.deleted_remote,
        count(r.conflicts.len(), "conflict"),
        r.failed.len(),
        secs,
        count(run.requests, "Data API request")
    );
    let pl = &r.playlists;
    if pl.pushed + pl.pulled > 0 {
        let deletions =
            (pl.deletions > 0).then(|| format!(" ({} of them deletions)", pl.deletions));
        println!(
            "playlists: uploaded {}, downloaded {}{}",
            pl.pushed,
            pl.pulled,
            deletions.unwrap_or_default()
        );
    }
    for (name, why) in &pl.failed {
        eprintln!("failed: playlist {name:?}: {why}");
    }
    // After a full reconciliation the offline copy of the cloud library holds all of it, so
    // offline answers are complete (only what changed is copied).
    if cfg.cache.enabled && matches!(r.remote_read, RemoteRead::Full { .. }) {
        match crate::commands::cache::refresh_offline(cfg, false).await {
            Ok(line) => println!("{line}"),
            Err(e) => eprintln!(
                "warning: the offline copy was not refreshed ({e:#}); `songrec cache refresh` does it"
            ),
        }
    }
    Ok(code)
}
