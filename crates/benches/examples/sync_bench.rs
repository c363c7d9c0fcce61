//! Sync benchmark: a library of N songs (metadata + one D-d vector, optional audio) on machine
//! A is synced to a remote (the local Data API server + s3s-fs, started in-process on
//! 127.0.0.1), then, each with the change cursor (`feed`) and as a full reconciliation
//! (`--full`): no-op syncs (the cost every later run pays when nothing changed) and a sync of E
//! edits; optionally a second machine pulling everything.
//!
//! ```text
//! cargo run --release -p songrec-benches --example sync_bench -- --songs 10000 [--dim 512] [--edits 10] [--audio-bytes 0] [--pull]
//! ```
//!
//! Prints wall time, Data API requests and how the remote was read per step (S3 requests of
//! the lease are not counted: 2–3 per run). The run right after an upload reads its own
//! uploads back from the feed once (they were stamped after its cursor); writes stamped within
//! the overlap window (5 s) before a run's feed read are read again by the following run, so
//! the bench pauses that long after the upload (as syncs minutes apart would).

use std::sync::Arc;
use std::time::{Duration, Instant};

use songrec_astra::AstraBackend;
use songrec_storage::prelude::*;
use songrec_storage::{Embedding, ModelInfo, SongId, SongMetadata, SongRecord};
use songrec_sync::engine::{NoProgress, RemoteRead, SyncOptions, SyncReport, sync};
use songrec_sync::lease::Lease;
use songrec_testkit::LocalCloud;
use songrec_testkit::data::{LibrarySize, XorShift};
use songrec_testkit::sync::{Machine, lease};

/// A sync of a library of synthetic songs against the local cloud.
#[derive(clap::Parser)]
struct Args {
    #[command(flatten)]
    size: LibrarySize,
    /// Audio bytes a song.
    #[arg(long, default_value_t = 0)]
    audio_bytes: usize,
    /// Also time pulling the library into a new machine.
    #[arg(long)]
    pull: bool,
    /// Songs edited for the edit steps.
    #[arg(long, default_value_t = 10)]
    edits: usize,
}

fn parse_args() -> Result<Args, String> {
    Ok(<Args as clap::Parser>::parse())
}

/// A machine and its sync lease.
struct Side {
    m: Machine,
    lease: Arc<Lease>,
}

fn side(cloud: &LocalCloud) -> Side {
    let m = Machine::new();
    let lease = lease(cloud, &m.id(), Duration::from_secs(120));
    Side { m, lease }
}

async fn step(name: &str, s: &Side, remote: &AstraBackend, full: bool) -> SyncReport {
    let before = remote.requests_sent();
    let t = Instant::now();
    let mut opts = SyncOptions::new(s.m.scratch());
    opts.full = full;
    let r = sync(&s.m.lib, remote, &s.lease, &s.m.record, &opts, &NoProgress)
        .await
        .expect("sync");
    let secs = t.elapsed().as_secs_f64();
    assert!(r.is_complete(), "{name}: {:?}", r.failed.first());
    let read = match r.remote_read {
        RemoteRead::Feed { changes } => format!("feed ({changes} changes)"),
        RemoteRead::Full { reason } => format!("full ({reason})"),
    };
    println!(
        "{name:<44} {secs:>8.2} s {:>8} requests   {read:<48} (up {} new + {} changed, down {} new + {} changed)",
        remote.requests_sent() - before,
        r.pushed_new,
        r.pushed_changed,
        r.pulled_new,
        r.pulled_changed
    );
    r
}

/// Edits songs `from..from + n` on machine A (genre changed, version bumped).
async fn edit(a: &Side, audio_bytes: usize, from: usize, n: usize, tag: &str) {
    for i in from..from + n {
        let id = match audio_bytes {
            0 => SongId::from_bytes(format!("bench song {i}").as_bytes()),
            _ => {
                let mut b = format!("bench audio {i} ").into_bytes();
                b.resize(audio_bytes.max(b.len()), (i % 251) as u8);
                SongId::from_bytes(&b)
            }
        };
        let mut m = a.m.lib.get_metadata(&id).await.expect("get").expect("song");
        m.genre = Some(tag.into());
        m.touch();
        a.m.lib.put_metadata(&m).await.expect("edit");
    }
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let cloud = LocalCloud::builder().with_schema().start().await;
    let remote = cloud.astra();
    let dir = tempfile::tempdir().expect("tempdir");

    let a = side(&cloud);
    let model = ModelInfo::new("bench", "1", args.size.dim);
    let t = Instant::now();
    let mut x = XorShift::new(1);
    let audio_dir = dir.path().join("audio");
    std::fs::create_dir_all(&audio_dir).expect("audio dir");
    let mut batch = Vec::new();
    for i in 0..args.size.songs {
        let bytes = if args.audio_bytes > 0 {
            let mut b = format!("bench audio {i} ").into_bytes();
            b.resize(args.audio_bytes.max(b.len()), (i % 251) as u8);
            Some(b)
        } else {
            None
        };
        let id = match &bytes {
            Some(b) => SongId::from_bytes(b),
            None => SongId::from_bytes(format!("bench song {i}").as_bytes()),
        };
        if let Some(b) = &bytes {
            let f = audio_dir.join(format!("{i}.flac"));
            std::fs::write(&f, b).expect("audio");
            a.m.lib.put_audio(&id, &f).await.expect("put audio");
            std::fs::remove_file(&f).expect("rm");
        }
        let mut m = SongMetadata::new(id, format!("Track {i}"));
        m.artist = Some(format!("Artist {}", i % 97));
        m.genre = Some(["rock", "jazz", "pop", "folk"][i % 4].to_owned());
        m.file_name = format!("track{i}.flac");
        let vector = x.vector(args.size.dim);
        batch.push(SongRecord {
            metadata: m,
            embeddings: vec![Embedding {
                model: model.clone(),
                vector,
            }],
        });
        if batch.len() == 2000 || i + 1 == args.size.songs {
            let r = a.m.lib.put_songs(&batch).await.expect("load");
            assert!(r.is_complete());
            batch.clear();
        }
    }
    a.m.lib.flush().await.expect("flush");
    println!(
        "songs {} × {}-d vectors, audio {} B each; local library built in {:.1} s",
        args.size.songs,
        args.size.dim,
        args.audio_bytes,
        t.elapsed().as_secs_f64()
    );

    let e = args.edits.min(args.size.songs / 2);
    step("first sync (upload everything)", &a, &remote, false).await;
    // A pause of one overlap window: the next run's feed read then covers every upload.
    tokio::time::sleep(Duration::from_millis(
        u64::try_from(songrec_astra::OVERLAP_MS).unwrap_or(5000),
    ))
    .await;
    step("next sync (reads its own uploads once)", &a, &remote, false).await;
    for i in 1..=3 {
        step(&format!("no-op sync #{i} (cursor)"), &a, &remote, false).await;
    }
    for i in 1..=2 {
        step(&format!("no-op sync #{i} --full"), &a, &remote, true).await;
    }
    edit(&a, args.audio_bytes, 0, e, "edited").await;
    step(&format!("sync of {e} edits (cursor)"), &a, &remote, false).await;
    edit(&a, args.audio_bytes, e, e, "edited again").await;
    step(&format!("sync of {e} edits --full"), &a, &remote, true).await;
    step("next sync (reads the edits back)", &a, &remote, false).await;
    if args.pull {
        let b = side(&cloud);
        step("second machine: first sync (download)", &b, &remote, false).await;
        step("second machine: no-op sync (cursor)", &b, &remote, false).await;
        step("second machine: no-op sync --full", &b, &remote, true).await;
    }
}
