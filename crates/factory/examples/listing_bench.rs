//! Listing benchmark at the Data API's real limits: a library of N songs (metadata + one
//! D-d vector) in a local backend and on the local cloud (the local Data API server with the
//! real service's 10,000-match sort cap, started in-process on 127.0.0.1). Times uploading
//! it (`put_songs` in batches of 1000, as `migrate` does), `list -n 20` and a full listing
//! (pages of 1000, as `list --json`) for three sort keys, and `stats` (the summary), side by
//! side; checks every cloud listing against the local one (same songs, same order).
//!
//! ```text
//! cargo run --release -p songrec-factory --example listing_bench -- --songs 100000 --dim 8
//! ```

use std::time::Instant;

use songrec_astra::AstraBackend;
use songrec_local::LocalBackend;
use songrec_storage::query::MAX_PAGE;
use songrec_storage::{
    Embedding, ListQuery, ModelInfo, SongId, SongRecord, SortKey, StorageBackend,
    StorageBackendExt as _,
};
use songrec_testkit::LocalCloud;
use songrec_testkit::data::{LibrarySize, song};

/// Listings of a library of synthetic songs, local and on the local cloud.
#[derive(clap::Parser)]
struct Args {
    #[command(flatten)]
    size: LibrarySize,
}

/// Song `n` of the bench: [`song`] with some titles above U+FFFF and in U+E000–U+FFFF.
fn record(n: usize, model: &ModelInfo) -> SongRecord {
    let mut m = song(n);
    m.title = match n % 50 {
        0 => format!("\u{1F3B5} {}", m.title),
        1 => format!("\u{FFFD} {}", m.title),
        2 => format!("\u{E000} {}", m.title),
        _ => m.title,
    };
    let v: Vec<f32> = (0..model.dim)
        .map(|i| ((n * 31 + i) % 17) as f32 + 1.0)
        .collect();
    SongRecord {
        metadata: m,
        embeddings: vec![Embedding::new(model.clone(), v).expect("a valid vector")],
    }
}

fn requests(b: Option<&AstraBackend>) -> u64 {
    b.map_or(0, AstraBackend::requests_sent)
}

/// A first page and a full listing; returns the full listing's ids.
async fn listings(
    name: &str,
    b: &dyn StorageBackend,
    astra: Option<&AstraBackend>,
    sort: SortKey,
) -> Vec<SongId> {
    let q = ListQuery {
        sort,
        limit: 20,
        ..ListQuery::default()
    };
    let (r0, t) = (requests(astra), Instant::now());
    let page = b.list(&q).await.expect("list -n 20");
    println!(
        "| {name} | `list -n 20 --sort {sort:?}` | {:.3} s | {} |",
        t.elapsed().as_secs_f64(),
        requests(astra) - r0
    );
    assert_eq!(page.items.len(), 20);
    let q = ListQuery {
        sort,
        limit: MAX_PAGE,
        ..ListQuery::default()
    };
    let (r0, t) = (requests(astra), Instant::now());
    let mut ids = Vec::new();
    b.for_each_page(&q, |items| {
        ids.extend(items.into_iter().map(|m| m.id));
        true
    })
    .await
    .expect("full listing");
    println!(
        "| {name} | full `list --json --sort {sort:?}` ({} songs) | {:.2} s | {} |",
        ids.len(),
        t.elapsed().as_secs_f64(),
        requests(astra) - r0
    );
    ids
}

#[tokio::main]
async fn main() {
    let args = <Args as clap::Parser>::parse();
    let n = args.size.songs;
    let model = ModelInfo::new("bench", "1", args.size.dim);
    let dir = tempfile::tempdir().expect("tempdir");
    let local = LocalBackend::open(dir.path().join("library")).expect("local library");
    let cloud = LocalCloud::builder().with_schema().start().await;
    let remote = cloud.astra();
    println!("| backend | step | time | Data API requests |");
    println!("|---|---|---|---|");
    for (name, b, astra) in [
        ("local", &local as &dyn StorageBackend, None),
        ("cloud", &remote as &dyn StorageBackend, Some(&remote)),
    ] {
        let (r0, t) = (requests(astra), Instant::now());
        let records: Vec<SongRecord> = (0..n).map(|i| record(i, &model)).collect();
        for chunk in records.chunks(1000) {
            let report = b.put_songs(chunk).await.expect("put_songs");
            assert!(report.is_complete(), "{:?}", report.failed.first());
        }
        let secs = t.elapsed().as_secs_f64();
        println!(
            "| {name} | store {n} songs (as `migrate`) | {secs:.1} s ({:.0} songs/s) | {} |",
            n as f64 / secs,
            requests(astra) - r0
        );
    }
    for sort in [SortKey::Artist, SortKey::Title, SortKey::Created] {
        let want = listings("local", &local, None, sort).await;
        let got = listings("cloud", &remote, Some(&remote), sort).await;
        assert_eq!(got.len(), n, "{sort:?}: complete");
        assert!(
            got == want,
            "{sort:?}: the cloud listing is in the local order"
        );
    }
    for (name, b, astra) in [
        ("local", &local as &dyn StorageBackend, None),
        ("cloud", &remote as &dyn StorageBackend, Some(&remote)),
    ] {
        let (r0, t) = (requests(astra), Instant::now());
        let s = b.summary().await.expect("summary");
        println!(
            "| {name} | `stats` ({} songs) | {:.2} s | {} |",
            s.songs,
            t.elapsed().as_secs_f64(),
            requests(astra) - r0
        );
        let all = b.list_all(&Default::default()).await.expect("list_all");
        assert_eq!(all.len(), n);
    }
}
