//! `songrec playlist`: parse, resolve songs, call `songrec_discover::playlist`, print, write
//! an M3U or append to MPD's queue (`--mpd`, `songrec_mpd::queue_mix`).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use songrec_app::views::{PlaylistAsk, PlaylistShape};
use songrec_config::Config;
use songrec_discover::history::{self, History};
use songrec_discover::m3u::{self, M3uOptions, PathStyle, RemoteAudio};
use songrec_discover::playlist::{Constraints, Entry, Playlist};
use songrec_factory::Backend;
use songrec_storage::StorageBackendExt as _;
use songrec_storage::plural::{count, noun};

use crate::args::RuleArgs;
use crate::exit;
use crate::output::{mmss, trunc};
use crate::vectors::RankedArgs;

#[derive(Args, Debug)]
pub struct PlaylistArgs {
    /// A seed song (repeatable): title, "artist - title", id prefix or path of an ingested file.
    #[arg(long = "seed", value_name = "SONG", conflicts_with_all = ["from", "to", "saved", "delete_saved"], required_unless_present_any = ["from", "saved", "delete_saved"])]
    pub seeds: Vec<String>,
    /// Travel from this song ...
    #[arg(long, value_name = "SONG", requires = "to", conflicts_with_all = ["saved", "delete_saved"])]
    pub from: Option<String>,
    /// ... to this one (both ends are in the playlist).
    #[arg(long, value_name = "SONG", requires = "from")]
    pub to: Option<String>,
    /// Number of songs (with --from/--to, both ends included).
    #[arg(short = 'n', long, default_value_t = 25, value_parser = crate::args::at_least_one)]
    pub n: usize,
    #[command(flatten)]
    pub rules: RuleArgs,
    /// Do not remember this playlist for --exclude-recent.
    #[arg(long)]
    pub no_history: bool,
    /// Write an extended M3U playlist (UTF-8) here.
    #[arg(long, value_name = "FILE")]
    pub m3u: Option<PathBuf>,
    /// Paths in the M3U: relative (to the playlist's folder) or absolute.
    #[arg(long, default_value = "relative", value_parser = ["relative", "absolute"])]
    pub paths: String,
    /// Audio of a remote library: fetch (download next to the M3U) or url (presigned URLs, expire).
    #[arg(long, default_value = "fetch", value_parser = ["fetch", "url"])]
    pub remote_audio: String,
    /// Append the playlist to MPD's queue: [PASSWORD@]HOST[:PORT] or a socket path (default:
    /// MPD_HOST and MPD_PORT as mpc reads them, then [mpd] address, then localhost:6600).
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "")]
    pub mpd: Option<String>,
    /// With --mpd: first delete the songs after the current one (the whole queue when nothing
    /// is current).
    #[arg(long, requires = "mpd")]
    pub replace: bool,
    /// Save the playlist in the library under this name (replacing the songs of a saved
    /// playlist of that name): Subsonic apps see it, `sync` carries it.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["saved", "delete_saved"])]
    pub save: Option<String>,
    /// Use a saved playlist (name or id) instead of making a mix: print it, or write it with
    /// --m3u, or queue it with --mpd. Without a name: list the saved playlists.
    #[arg(long, value_name = "NAME", num_args = 0..=1, default_missing_value = "")]
    pub saved: Option<String>,
    /// Delete a saved playlist (name or id); other machines drop it at their next `sync`.
    #[arg(long, value_name = "NAME", conflicts_with = "saved")]
    pub delete_saved: Option<String>,
    /// Candidates searched per step of a --from/--to path.
    #[arg(long, default_value_t = 30, value_parser = crate::args::at_least_one)]
    pub candidates: usize,
    #[command(flatten)]
    pub ranked: RankedArgs,
}

fn print(p: &Playlist) {
    let names: Vec<String> = p.seeds.iter().map(|s| s.display_name()).collect();
    match p.kind {
        "saved" => println!(
            "Saved playlist {:?} ({}):",
            p.model,
            count(p.entries.len(), "song")
        ),
        "path" => println!(
            "From {} to {} ({}, model {}):",
            names[0],
            names[1],
            count(p.entries.len(), "song"),
            p.model
        ),
        _ => println!(
            "Playlist from {} ({}, model {}):",
            names.join(" + "),
            count(p.entries.len(), "song"),
            p.model
        ),
    }
    let third = if p.kind == "path" { "ALONG" } else { "SEED" };
    println!(
        "{:>3}  {:>6}  {:>6}  {:<12}  {:<44}  {:<12}  {:>6}",
        "#", "PREV", third, "ID", "SONG", "GENRE", "TIME"
    );
    for (i, e) in p.entries.iter().enumerate() {
        let f = |x: Option<f32>| x.map_or_else(|| "-".into(), |v| format!("{v:.3}"));
        println!(
            "{:>3}  {:>6}  {:>6}  {:<12}  {:<44}  {:<12}  {:>6}",
            i + 1,
            f(e.similarity_to_previous),
            f(e.progress.or(e.seed_similarity)),
            e.song.id.short(),
            trunc(&e.song.display_name(), 44),
            trunc(e.song.genre.as_deref().unwrap_or("-"), 12),
            mmss(e.song.duration_secs)
        );
    }
    let total: f64 = p.entries.iter().map(|e| e.song.duration_secs).sum();
    println!("total {}", mmss(total));
}

/// A saved playlist as a [`Playlist`] of the songs the library holds, in its order.
async fn saved_playlist(backend: &Backend, name: &str) -> Result<Playlist> {
    let saved = backend
        .find_playlist(name)
        .await
        .with_context(|| format!("finding the saved playlist {name:?}"))?;
    let held = backend
        .playlist_songs(&saved)
        .await
        .context("reading the playlist's songs")?;
    let entries: Vec<Entry> = held
        .into_iter()
        .map(|song| Entry {
            song,
            similarity_to_previous: None,
            seed_similarity: None,
            progress: None,
        })
        .collect();
    let gone = saved.songs.len() - entries.len();
    if gone > 0 {
        eprintln!(
            "note: {} of the saved playlist {:?} {} no longer in the library (kept in the playlist)",
            count(gone, "song"),
            saved.name,
            if gone == 1 { "is" } else { "are" }
        );
    }
    Ok(Playlist {
        kind: "saved",
        model: saved.name,
        seeds: Vec::new(),
        requested: entries.len(),
        entries,
    })
}

/// `--saved` without a name: the saved playlists.
async fn list_saved(backend: &Backend, json: bool) -> Result<u8> {
    let all = backend
        .playlists()
        .await
        .context("listing the saved playlists")?;
    if json {
        crate::output::print_json(&serde_json::to_value(&all)?)?;
        return Ok(exit::OK);
    }
    if all.is_empty() {
        println!("no saved playlists (make one with `songrec playlist --seed SONG --save NAME`)");
        return Ok(exit::OK);
    }
    println!(
        "{:<40}  {:>6}  {:<20}  {:<19}",
        "NAME", "SONGS", "CHANGED", "ID"
    );
    for p in &all {
        println!(
            "{:<40}  {:>6}  {:<20}  {:<19}",
            trunc(&p.name, 40),
            p.songs.len(),
            p.updated_at.format("%Y-%m-%d %H:%M UTC"),
            p.id
        );
    }
    Ok(exit::OK)
}

pub async fn run(args: &PlaylistArgs, cfg: &Config, backend: Backend) -> Result<u8> {
    if let Some(name) = &args.delete_saved {
        let p = backend
            .find_playlist(name)
            .await
            .with_context(|| format!("finding the saved playlist {name:?}"))?;
        backend
            .delete_playlist(&p.id)
            .await
            .with_context(|| format!("deleting the saved playlist {name:?}"))?;
        println!(
            "deleted the saved playlist {:?} ({}); other machines drop it at their next sync",
            p.name,
            count(p.songs.len(), "song")
        );
        return Ok(exit::OK);
    }
    if args.saved.as_deref() == Some("") {
        return list_saved(&backend, args.ranked.json).await;
    }
    if let Some(name) = &args.saved {
        let p = saved_playlist(&backend, name).await?;
        return report(args, cfg, &backend, p, None).await;
    }
    let history_path = history::path_for(&cfg.cache.path, &backend.to_string());
    let mut hist = (args.rules.exclude_recent > 0 || !args.no_history)
        .then(|| History::load(&history_path).context("reading the playlist history"))
        .transpose()?;
    let constraints = Constraints {
        no_repeat_artist: args.rules.no_repeat_artist,
        no_repeat_album: args.rules.no_repeat_album,
        exclude: hist
            .as_ref()
            .map(|h| h.recent(args.rules.exclude_recent))
            .unwrap_or_default(),
        filter: args.ranked.filter.to_filter()?,
    };
    let resolve = |s: String| {
        let b = backend.clone();
        async move {
            songrec_app::resolve::resolve(b.as_ref(), &s)
                .await
                .with_context(|| format!("finding {s:?}"))
        }
    };
    let shape = match (&args.from, &args.to) {
        (Some(f), Some(t)) => PlaylistShape::Path {
            from: Box::new(resolve(f.clone()).await?),
            to: Box::new(resolve(t.clone()).await?),
            candidates: args.candidates,
        },
        _ => {
            if args.seeds.is_empty() {
                bail!("give --seed SONG (repeatable) or --from SONG --to SONG");
            }
            let mut seeds = Vec::new();
            for s in &args.seeds {
                seeds.push(resolve(s.clone()).await?);
            }
            PlaylistShape::Seeds(seeds)
        }
    };
    let ask = PlaylistAsk {
        shape,
        n: args.n,
        constraints,
        choice: args.ranked.vectors.choice()?,
    };
    let p = songrec_app::views::playlist(backend.as_ref(), &ask).await?;
    report(
        args,
        cfg,
        &backend,
        p,
        hist.as_mut().map(|h| (h, &history_path)),
    )
    .await
}

/// Prints, writes, queues and (`--save`) saves the playlist `p`.
async fn report(
    args: &PlaylistArgs,
    cfg: &Config,
    backend: &Backend,
    p: Playlist,
    hist: Option<(&mut History, &PathBuf)>,
) -> Result<u8> {
    if p.entries.len() < p.requested {
        eprintln!(
            "note: {} of {} {}: the library (with these rules and filters) has no more that fit",
            p.entries.len(),
            p.requested,
            noun(p.requested, "song")
        );
    }
    let m3u_report = match &args.m3u {
        Some(path) => {
            let opts = M3uOptions {
                paths: if args.paths == "absolute" {
                    PathStyle::Absolute
                } else {
                    PathStyle::Relative
                },
                remote: if args.remote_audio == "url" {
                    RemoteAudio::Url
                } else {
                    RemoteAudio::Fetch
                },
                ..M3uOptions::default()
            };
            let r = m3u::write(backend.as_ref(), &p, path, &opts)
                .await
                .with_context(|| format!("writing {}", path.display()))?;
            Some((path.clone(), r))
        }
        None => None,
    };
    let mpd_report = match &args.mpd {
        Some(given) => {
            let addr = crate::args::mpd_address(Some(given.as_str()), cfg)?;
            let songs: Vec<_> = p.entries.iter().map(|e| e.song.clone()).collect();
            let dir = cfg.mpd.music_directory.as_deref();
            let r =
                songrec_mpd::queue_mix(backend.as_ref(), &addr, dir, &songs, args.replace).await?;
            Some((addr, r))
        }
        None => None,
    };
    if args.ranked.json {
        let mut v = serde_json::to_value(&p)?;
        if let Some((path, r)) = &m3u_report {
            v["m3u"] = serde_json::json!({"path": path, "report": r});
        }
        if let Some((addr, r)) = &mpd_report {
            v["mpd"] = serde_json::json!({
                "address": addr.to_string(),
                "removed": r.removed,
                "queued": r.added,
                "refused": r.refused.iter().map(|(song, why)| serde_json::json!({"song": song, "why": why})).collect::<Vec<_>>(),
            });
        }
        crate::output::print_json(&v)?;
    } else {
        print(&p);
        if let Some((path, r)) = &m3u_report {
            let fetched = count(r.fetched, "audio file");
            let fetched = (r.fetched > 0).then(|| format!(", {fetched} fetched"));
            let how = if r.urls == 1 {
                "a URL that expires"
            } else {
                "URLs that expire"
            };
            let urls = (r.urls > 0).then(|| format!(", {} as {how}", r.urls));
            println!(
                "wrote {} ({}{}{})",
                path.display(),
                count(r.written, "song"),
                fetched.unwrap_or_default(),
                urls.unwrap_or_default()
            );
        }
    }
    if let Some((_, r)) = &m3u_report {
        for name in &r.missing {
            eprintln!("left out of the M3U (no audio stored): {name}");
        }
    }
    if let Some((addr, r)) = &mpd_report {
        if !args.ranked.json {
            let removed = (r.removed > 0).then(|| count(r.removed, "song"));
            println!(
                "queued {} on MPD at {addr}{}",
                count(r.added.len(), "song"),
                removed
                    .map(|n| format!(" (deleted {n} after the current song first)"))
                    .unwrap_or_default()
            );
        }
        for (song, why) in &r.refused {
            eprintln!("not queued: {song}: {why}");
        }
    }
    if let Some(name) = &args.save {
        let saved = backend
            .save_playlist(name, p.ids())
            .await
            .with_context(|| format!("saving the playlist {name:?}"))?;
        if !args.ranked.json {
            println!(
                "saved as the playlist {:?} ({}); `songrec sync` carries it to other machines",
                saved.name,
                count(saved.songs.len(), "song")
            );
        }
    }
    if !args.no_history
        && let Some((h, path)) = hist
    {
        h.record(p.ids());
        h.save(path).context("saving the playlist history")?;
    }
    Ok(exit::OK)
}
