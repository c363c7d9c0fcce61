//! A large library at the Data API's real limits, local and on the local cloud (the local Data
//! API server with the real service's 10,000-match sort cap, started in-process on
//! 127.0.0.1), in one run:
//!
//! - `migrate` of N songs (metadata + one D-d vector) from the local library to the cloud, by
//!   the real migrate code (`songrec_app::migrate`);
//! - `list -n 20` as the CLI does it (one page, then the "of N songs" count: exact when the
//!   listing ended or the count is cheap, else one bounded count);
//! - a full listing (pages of 1000, as `list --json`) for three sort keys, each checked against
//!   the local backend's (same songs, same order);
//! - `stats` (the summary and the per-model vector counts);
//! - `sync` of that machine with the cloud: the first one after the migration, a no-op one, and
//!   one after 1,000 edits.
//!
//! Prints a Markdown table: time and Data API requests per step, side by side.
//!
//! ```text
//! cargo run --release -p songrec-benches --example listing_bench -- --songs 100000 --dim 8
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use songrec_app::migrate::{MigrateOptions, NoProgress, migrate, plan_for};
use songrec_astra::AstraBackend;
use songrec_storage::prelude::*;
use songrec_storage::query::MAX_PAGE;
use songrec_storage::{
    Embedding, ListQuery, ModelInfo, SongCount, SongId, SongRecord, SortKey, StorageBackend,
};
use songrec_sync::engine::{RemoteRead, SyncOptions, sync};
use songrec_testkit::LocalCloud;
use songrec_testkit::data::{LibrarySize, song};
use songrec_testkit::sync::{Machine, lease};

/// Listings of a library of synthetic songs, local and on the local cloud.
#[derive(clap::Parser)]
struct Args {
    #[command(flatten)]
    size: LibrarySize,
    /// Songs edited before the last sync.
    #[arg(long, default_value_t = 1000)]
    edits: usize,
}

/// Song `n` of the bench: [`song`] with titles above U+FFFF, in U+E000–U+FFFF, and numbered
/// without padding (natural order: `Track 9` before `Track 10`).
fn record(n: usize, model: &ModelInfo) -> SongRecord {
    let mut m = song(n);
    m.title = match n % 50 {
        0 => format!("\u{1F3B5} {}", m.title),
        1 => format!("\u{FFFD} {}", m.title),
        2 => format!("\u{E000} {}", m.title),
        k if k % 3 == 0 => format!("Track {n}"),
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

fn row(step: &str, local: &str, cloud: &str) {
    println!("| {step} | {local} | {cloud} |");
}

/// Time and requests of one step.
struct Cost {
    secs: f64,
    requests: u64,
}

impl Cost {
    fn show(&self, remote: bool) -> String {
        if remote {
            format!("{:.2} s, {} requests", self.secs, self.requests)
        } else {
            format!("{:.2} s", self.secs)
        }
    }
}

/// `songrec list -n 20 --sort <sort>` as the CLI does it: the first page, then the total.
async fn list_n20(
    b: &dyn StorageBackend,
    astra: Option<&AstraBackend>,
    sort: SortKey,
) -> (Cost, SongCount) {
    let (r0, t) = (requests(astra), Instant::now());
    let q = ListQuery {
        sort,
        limit: 20,
        ..ListQuery::default()
    };
    let mut items = Vec::new();
    let (mut seen, mut stopped) = (0u64, false);
    b.for_each_page(&q, |page| {
        seen += page.len() as u64;
        items.extend(page);
        stopped = items.len() >= 20;
        !stopped
    })
    .await
    .expect("list -n 20");
    let total = if stopped {
        b.quick_count(&q.filter)
            .await
            .expect("count")
            .at_least(seen)
    } else {
        SongCount::Exact(seen)
    };
    assert_eq!(items.len(), 20);
    (
        Cost {
            secs: t.elapsed().as_secs_f64(),
            requests: requests(astra) - r0,
        },
        total,
    )
}

/// A full listing (pages of 1000); its ids and cost.
async fn full_listing(
    b: &dyn StorageBackend,
    astra: Option<&AstraBackend>,
    sort: SortKey,
) -> (Vec<SongId>, Cost) {
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
    (
        ids,
        Cost {
            secs: t.elapsed().as_secs_f64(),
            requests: requests(astra) - r0,
        },
    )
}

/// The REST songs listing's `q=` search (`crates/server`): the listing by artist read in
/// pages that start at the page size plus one and double, until 51 matches (a full page of 50
/// and one showing there are more) or 10,000 songs read.
async fn search_page(
    b: &dyn StorageBackend,
    astra: Option<&AstraBackend>,
    word: &str,
) -> (Cost, usize) {
    let (r0, t) = (requests(astra), Instant::now());
    let mut q = ListQuery {
        sort: SortKey::Artist,
        limit: 51,
        ..ListQuery::default()
    };
    let (mut matched, mut scanned) = (0, 0);
    while matched < 51 && scanned < 10_000 {
        let page = b.list(&q).await.expect("list");
        scanned += page.items.len();
        matched += page
            .items
            .iter()
            .filter(|m| m.title.to_lowercase().contains(word))
            .count();
        match page.next {
            Some(c) => q.cursor = Some(c),
            None => break,
        }
        q.limit = (q.limit * 2).min(MAX_PAGE);
    }
    (
        Cost {
            secs: t.elapsed().as_secs_f64(),
            requests: requests(astra) - r0,
        },
        matched.min(51),
    )
}

async fn stats(b: &dyn StorageBackend, astra: Option<&AstraBackend>) -> (u64, Cost) {
    let (r0, t) = (requests(astra), Instant::now());
    let s = songrec_app::stats::library_stats(b).await.expect("stats");
    (
        s.songs,
        Cost {
            secs: t.elapsed().as_secs_f64(),
            requests: requests(astra) - r0,
        },
    )
}

async fn sync_step(
    name: &str,
    m: &Machine,
    remote: &AstraBackend,
    lease: &Arc<songrec_sync::lease::Lease>,
) {
    let (r0, t) = (remote.requests_sent(), Instant::now());
    let r = sync(
        &m.lib,
        remote,
        lease,
        &m.record,
        &SyncOptions::new(m.scratch()),
        &NoProgress,
    )
    .await
    .expect("sync");
    assert!(r.is_complete(), "{name}: {:?}", r.failed.first());
    let read = match r.remote_read {
        RemoteRead::Feed { changes } => format!("change feed, {changes} changes"),
        RemoteRead::Full { reason } => format!("full listing: {reason}"),
    };
    row(
        name,
        "–",
        &format!(
            "{:.2} s, {} requests ({read}; up {} new + {} changed)",
            t.elapsed().as_secs_f64(),
            remote.requests_sent() - r0,
            r.pushed_new,
            r.pushed_changed
        ),
    );
}

#[tokio::main]
async fn main() {
    let args = <Args as clap::Parser>::parse();
    let n = args.size.songs;
    let model = ModelInfo::new("bench", "1", args.size.dim);
    let machine = Machine::new();
    let local = &machine.lib;
    let cloud = LocalCloud::builder().with_schema().start().await;
    let remote = cloud.astra();

    let t = Instant::now();
    let records: Vec<SongRecord> = (0..n).map(|i| record(i, &model)).collect();
    for chunk in records.chunks(2000) {
        let report = local.put_songs(chunk).await.expect("put_songs");
        assert!(report.is_complete(), "{:?}", report.failed.first());
    }
    local.flush().await.expect("flush");
    drop(records);
    eprintln!(
        "local library of {n} songs built in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    println!("| step ({n} songs) | local | cloud (local Data API server, sort cap 10,000) |");
    println!("|---|---|---|");
    let (r0, t) = (remote.requests_sent(), Instant::now());
    let plan = plan_for(local, &remote).await.expect("plan");
    let report = migrate(
        local,
        &remote,
        plan,
        &MigrateOptions::new(machine.scratch()),
        &NoProgress,
        None,
    )
    .await
    .expect("migrate");
    assert_eq!(report.copied, n, "{:?}", report.failed.first());
    let secs = t.elapsed().as_secs_f64();
    row(
        "`migrate` local → cloud",
        "–",
        &format!(
            "{secs:.1} s ({:.0} songs/s), {} requests",
            n as f64 / secs,
            remote.requests_sent() - r0
        ),
    );

    for sort in [SortKey::Artist, SortKey::Title] {
        let (l, lt) = list_n20(local, None, sort).await;
        let (c, ct) = list_n20(&remote, Some(&remote), sort).await;
        row(
            &format!("`list -n 20 --sort {}` (total shown)", sort.name()),
            &format!("{} ({lt})", l.show(false)),
            &format!("{} ({ct})", c.show(true)),
        );
    }
    for sort in [SortKey::Artist, SortKey::Title, SortKey::Created] {
        let (want, l) = full_listing(local, None, sort).await;
        let (got, c) = full_listing(&remote, Some(&remote), sort).await;
        assert_eq!(got.len(), n, "{sort:?}: complete");
        assert!(
            got == want,
            "{sort:?}: the cloud listing is in the local order"
        );
        row(
            &format!("full `list --json --sort {}`", sort.name()),
            &l.show(false),
            &format!("{} (target ≤ {})", c.show(true), n / 50 + 50),
        );
    }
    for (word, what) in [
        ("track 1", "a common word"),
        ("\u{E000}", "a word in 2 % of titles"),
    ] {
        let (l, ln) = search_page(local, None, word).await;
        let (c, cn) = search_page(&remote, Some(&remote), word).await;
        assert_eq!(ln, cn);
        row(
            &format!("REST `q=` search, first page of 50 ({what})"),
            &l.show(false),
            &c.show(true),
        );
    }
    let (ls, l) = stats(local, None).await;
    let (cs, c) = stats(&remote, Some(&remote)).await;
    assert_eq!((ls, cs), (n as u64, n as u64));
    row("`stats`", &l.show(false), &c.show(true));

    let lease = lease(&cloud, &machine.id(), Duration::from_secs(600));
    sync_step(
        "`sync` right after the migration",
        &machine,
        &remote,
        &lease,
    )
    .await;
    // The next run reads the changes stamped within the feed's overlap once more; wait it out.
    tokio::time::sleep(Duration::from_millis(
        u64::try_from(songrec_astra::OVERLAP_MS).unwrap_or(5000),
    ))
    .await;
    sync_step("`sync` (settling)", &machine, &remote, &lease).await;
    sync_step(
        "no-op `sync` (target ≤ 5 requests)",
        &machine,
        &remote,
        &lease,
    )
    .await;
    let e = args.edits.min(n);
    for i in 0..e {
        let id = song(i * (n / e.max(1)).max(1) % n).id;
        let mut m = local.get_metadata(&id).await.expect("get").expect("song");
        m.genre = Some("edited".into());
        m.touch();
        local.put_metadata(&m).await.expect("edit");
    }
    sync_step(
        &format!("`sync` after {e} edits"),
        &machine,
        &remote,
        &lease,
    )
    .await;
}
