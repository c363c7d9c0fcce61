//! Insert benchmark: N songs (metadata + 512-d vectors) through `AstraBackend::put_songs`.
//!
//! ```text
//! cargo run --release -p songrec-benches --example insert_bench -- --songs 10000
//!     [--dim 512] [--endpoint http://127.0.0.1:PORT --token T [--api-path /v1]]
//! ```
//!
//! Without `--endpoint` a local Data API server (`songrec-dataapi-server`, in memory) is
//! started in-process on 127.0.0.1. Prints songs/s and Data API requests per 1000 songs. With
//! `SONGREC_TEST_PYTHON` set (a python with astrapy, see `scripts/astrapy/README.md`), also
//! runs `scripts/astrapy/insert_bench.py` against the same server and prints the ratio.

use std::time::Instant;

use songrec_astra::AstraBackend;
use songrec_astra::blobs::{BlobStore, S3Config};
use songrec_astra::dataapi::{DataApiClient, DataApiConfig};
use songrec_astra::secret::Secret;
use songrec_storage::prelude::*;
use songrec_storage::{Embedding, ModelInfo, SongId, SongMetadata, SongRecord};
use songrec_testkit::data::{LibrarySize, XorShift};

const PREFIX: &str = "songrec_bench";

/// Insert throughput of the Data API client.
#[derive(clap::Parser)]
struct Args {
    #[command(flatten)]
    size: LibrarySize,
    /// A Data API server to use instead of the in-process one.
    #[arg(long)]
    endpoint: Option<String>,
    /// Its token (with --endpoint).
    #[arg(long, default_value = "bench-token")]
    token: String,
    /// Its API path (with --endpoint).
    #[arg(long, default_value = "/v1")]
    api_path: String,
}

fn parse_args() -> Result<Args, String> {
    let a = <Args as clap::Parser>::parse();
    if a.size.songs == 0 || a.size.dim == 0 {
        return Err("--songs and --dim must be positive".into());
    }
    Ok(a)
}

fn records(n: usize, model: &ModelInfo) -> Vec<SongRecord> {
    let genres = ["rock", "jazz", "pop", "folk", "classical", "electronic"];
    let mut x = XorShift::new(1);
    (0..n)
        .map(|i| {
            let id = SongId::from_bytes(format!("bench song {i}").as_bytes());
            let mut m = SongMetadata::new(id, format!("Track {i}"));
            m.artist = Some(format!("Artist {}", i % 97));
            m.album = Some(format!("Album {}", i % 311));
            m.genre = Some(genres[i % genres.len()].to_owned());
            m.duration_secs = 120.0 + (i % 240) as f64;
            m.file_name = format!("track{i}.flac");
            m.bpm = Some(60.0 + (i % 120) as f32);
            let vector = x.vector(model.dim);
            SongRecord {
                metadata: m,
                embeddings: vec![Embedding {
                    model: model.clone(),
                    vector,
                }],
            }
        })
        .collect()
}

fn astrapy(python: &str, endpoint: &str, token: &str, n: usize, dim: usize) -> Result<f64, String> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/astrapy/insert_bench.py"
    );
    let out = std::process::Command::new(python)
        .args([script, "--endpoint", endpoint, "--token", token])
        .args(["-n", &n.to_string(), "--dim", &dim.to_string()])
        .output()
        .map_err(|e| format!("cannot run {python}: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "insert_bench.py failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ));
    }
    print!("{stdout}");
    stdout
        .split_whitespace()
        .find_map(|w| w.strip_prefix("docs_per_s="))
        .and_then(|r| r.parse().ok())
        .ok_or_else(|| format!("no docs_per_s in astrapy output: {stdout}"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let (_cloud, endpoint, token) = match &args.endpoint {
        Some(e) => (None, e.clone(), args.token.clone()),
        None => {
            let cloud = songrec_testkit::LocalCloud::start().await;
            let (url, token) = (cloud.api_url(), cloud.token().to_owned());
            (Some(cloud), url, token)
        }
    };
    let client = DataApiClient::new(
        DataApiConfig::new(&endpoint, Secret::new(token.clone()))
            .with_api_path(&args.api_path)
            .with_insert_chunk_size(songrec_astra::INSERT_CHUNK),
    )?;
    // put_songs never touches the blob store; this one is never contacted.
    let blobs = BlobStore::new(
        S3Config::new("unused", "us-east-1", "unused", Secret::new("unused"))
            .with_endpoint("http://127.0.0.1:9")
            .with_allow_http(true),
    )?;
    let model = ModelInfo::new("bench", "1", args.size.dim);
    for c in client.find_collections(false).await? {
        if c.name.starts_with(PREFIX) {
            client.delete_collection(&c.name).await?;
        }
    }
    let backend = AstraBackend::from_parts(client, blobs, PREFIX)?;
    backend.init_schema(std::slice::from_ref(&model)).await?;
    let recs = records(args.size.songs, &model);

    let before = backend.requests_sent();
    let start = Instant::now();
    let report = backend.put_songs(&recs).await?;
    let secs = start.elapsed().as_secs_f64();
    let requests = backend.requests_sent() - before;
    if !report.is_complete() {
        return Err(format!(
            "{} songs failed, first: {:?}",
            report.failed.len(),
            report.failed.first()
        )
        .into());
    }
    let songs_per_s = args.size.songs as f64 / secs;
    println!(
        "songrec_put_songs songs={} dim={} seconds={secs:.3} songs_per_s={songs_per_s:.1} docs_per_s={:.1} requests={requests} requests_per_1k_songs={:.1} endpoint={}",
        args.size.songs,
        args.size.dim,
        2.0 * songs_per_s,
        requests as f64 * 1000.0 / args.size.songs as f64,
        backend
    );
    match std::env::var("SONGREC_TEST_PYTHON") {
        Ok(py) if !py.is_empty() => {
            match astrapy(&py, &endpoint, &token, args.size.songs, args.size.dim) {
                Ok(astrapy_docs_per_s) => println!(
                    "ratio ours/astrapy: songs/s vs astrapy docs/s = {:.2} (each song is 2 documents: vector + metadata; docs/s ratio = {:.2})",
                    songs_per_s / astrapy_docs_per_s,
                    2.0 * songs_per_s / astrapy_docs_per_s
                ),
                Err(e) => println!("astrapy comparison skipped: {e}"),
            }
        }
        _ => println!(
            "astrapy comparison skipped (set SONGREC_TEST_PYTHON, see scripts/astrapy/README.md)"
        ),
    }
    Ok(())
}
