//! Sync benchmark: a library of N songs (metadata + one D-d vector, optional audio) on machine
//! A is synced to a remote (the local Data API server + s3s-fs, started in-process on
//! 127.0.0.1), then: a no-op sync (the cost every later run pays when nothing changed), a sync
//! of a few edits, and optionally a second machine pulling everything.
//!
//! ```text
//! cargo run --release -p songrec-factory --example sync_bench -- --songs 10000 [--dim 512] [--audio-bytes 0] [--pull]
//! ```
//!
//! Prints wall time and Data API requests per step (S3 requests of the lease are not counted:
//! 2–3 per run).

use std::sync::Arc;
use std::time::{Duration, Instant};

use songrec_astra::AstraBackend;
use songrec_storage::{Embedding, ModelInfo, SongId, SongMetadata, SongRecord, StorageBackend};
use songrec_sync::engine::{NoSyncProgress, SyncOptions, SyncReport, sync};
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

async fn step(name: &str, s: &Side, remote: &AstraBackend) -> SyncReport {
    let before = remote.requests_sent();
    let t = Instant::now();
    let r = sync(
        &s.m.lib,
        remote,
        &s.lease,
        &s.m.record,
        &SyncOptions::new(s.m.scratch()),
        &NoSyncProgress,
    )
    .await
    .expect("sync");
    let secs = t.elapsed().as_secs_f64();
    assert!(r.is_complete(), "{name}: {:?}", r.failed.first());
    println!(
        "{name:<34} {secs:>8.2} s {:>8} requests   (up {} new + {} changed, down {} new + {} changed)",
        remote.requests_sent() - before,
        r.pushed_new,
        r.pushed_changed,
        r.pulled_new,
        r.pulled_changed
    );
    r
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

    step("first sync (upload everything)", &a, &remote).await;
    for i in 1..=3 {
        step(&format!("no-op sync #{i}"), &a, &remote).await;
    }
    for i in 0..10 {
        let id = match args.audio_bytes {
            0 => SongId::from_bytes(format!("bench song {i}").as_bytes()),
            _ => {
                let mut b = format!("bench audio {i} ").into_bytes();
                b.resize(args.audio_bytes.max(b.len()), (i % 251) as u8);
                SongId::from_bytes(&b)
            }
        };
        let mut m = a.m.lib.get_metadata(&id).await.expect("get").expect("song");
        m.genre = Some("edited".into());
        m.touch();
        a.m.lib.put_metadata(&m).await.expect("edit");
    }
    step("sync of 10 edits", &a, &remote).await;
    if args.pull {
        let b = side(&cloud);
        step("second machine: first sync (download)", &b, &remote).await;
        step("second machine: no-op sync", &b, &remote).await;
    }
}
