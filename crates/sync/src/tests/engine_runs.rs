//! The engine over in-memory backends: leases, rails, random multi-machine histories.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::super::engine::{
    FullReason, NoProgress, RemoteRead, SyncError, SyncOptions, SyncReport, sync,
};
use super::super::lease::{Lease, LeaseError, LeaseInfo, LeaseStore};
use super::super::plan::{Policy, Rails};
use super::super::record::{FeedPosition, RecordStore as _};
use super::memory::{MemoryLeaseStore, MemoryRecord};
use songrec_conformance::MemoryBackend;
use songrec_storage::ChangeCursor;
use songrec_storage::SongMetadata;
use songrec_storage::layers::{Chaos, LayerExt};
use songrec_storage::layers::{CrashPoint, MetricsRecorder};
use songrec_storage::prelude::*;
use songrec_storage::{Embedding, ModelInfo};
use songrec_storage::{Filter, SongId};
use songrec_storage::{SongRecord, StorageBackend};

struct Machine {
    name: String,
    lib: Arc<dyn StorageBackend>,
    record: MemoryRecord,
}

impl Machine {
    fn new(name: &str) -> Self {
        Self {
            name: name.into(),
            lib: Arc::new(MemoryBackend::new()),
            record: MemoryRecord::new(name),
        }
    }
}

struct World {
    dir: tempfile::TempDir,
    remote: Arc<dyn StorageBackend>,
    leases: Arc<MemoryLeaseStore>,
    edits: u64,
    /// Runs that read the remote's change feed / listed it whole.
    feed_runs: std::cell::Cell<u64>,
    full_runs: std::cell::Cell<u64>,
}

fn model() -> ModelInfo {
    ModelInfo::new("test", "1", 4)
}

fn song_bytes(n: u8) -> Vec<u8> {
    format!("song number {n}").into_bytes()
}

fn sid(n: u8) -> SongId {
    SongId::from_bytes(&song_bytes(n))
}

impl Machine {
    /// One run of this machine against `remote` under `lease`.
    async fn sync_to(
        &self,
        remote: &dyn StorageBackend,
        lease: &Arc<Lease>,
        opts: &SyncOptions,
    ) -> Result<SyncReport, SyncError> {
        sync(
            self.lib.as_ref(),
            remote,
            lease,
            &self.record,
            opts,
            &NoProgress,
        )
        .await
    }
}

impl World {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            remote: Arc::new(MemoryBackend::new()),
            leases: Arc::new(MemoryLeaseStore::default()),
            edits: 0,
            feed_runs: std::cell::Cell::new(0),
            full_runs: std::cell::Cell::new(0),
        }
    }

    async fn add(&self, m: &Machine, n: u8) {
        let id = sid(n);
        if m.lib.get_metadata(&id).await.unwrap().is_some() {
            return;
        }
        let f = self.dir.path().join(format!("in-{}-{n}.wav", m.name));
        std::fs::write(&f, song_bytes(n)).unwrap();
        m.lib.put_audio(&id, &f).await.unwrap();
        let mut meta = SongMetadata::new(id.clone(), format!("Song {n}"));
        meta.file_name = format!("song-{n}.wav");
        let rep = m
            .lib
            .put_songs(&[SongRecord {
                metadata: meta,
                embeddings: vec![Embedding {
                    model: model(),
                    vector: vec![f32::from(n), 1.0, 0.5, 0.25],
                }],
            }])
            .await
            .unwrap();
        assert!(rep.is_complete());
    }

    async fn edit(&mut self, m: &Machine, n: u8, field: u64) {
        if let Some(mut meta) = m.lib.get_metadata(&sid(n)).await.unwrap() {
            self.edits += 1;
            match field % 3 {
                0 => meta.title = format!("edit {} on {}", self.edits, m.name),
                1 => meta.genre = Some(format!("genre {}", self.edits)),
                _ => meta.tags.push(format!("tag{}", self.edits)),
            }
            meta.touch();
            m.lib.put_metadata(&meta).await.unwrap();
        }
    }

    async fn sync(&self, m: &Machine, policy: Policy, force: bool) -> SyncReport {
        let lease = Arc::new(Lease::new(
            self.leases.clone(),
            m.name.clone(),
            Duration::from_secs(60),
        ));
        let mut opts = SyncOptions::new(self.dir.path().join(format!("scratch-{}", m.name)));
        opts.policy = policy;
        opts.batch_size = 3;
        opts.rails = Rails {
            max_delete_percent: 50,
            force,
        };
        // The plan from the change feed must be the plan from the full listings: compare
        // the two dry runs whenever the record has a usable feed position.
        let mut dry = opts.clone();
        dry.dry_run = true;
        let from_feed = m.sync_to(self.remote.as_ref(), &lease, &dry).await.unwrap();
        if let RemoteRead::Feed { .. } = from_feed.remote_read {
            dry.full = true;
            let full = m.sync_to(self.remote.as_ref(), &lease, &dry).await.unwrap();
            assert_eq!(
                full.remote_read,
                RemoteRead::Full {
                    reason: FullReason::Asked
                }
            );
            assert_eq!(
                from_feed.actions, full.actions,
                "feed and full plans differ"
            );
            assert_eq!(from_feed.conflicts, full.conflicts);
            assert_eq!(from_feed.violations, full.violations);
            assert_eq!(from_feed.summary, full.summary);
        }
        let r = m
            .sync_to(self.remote.as_ref(), &lease, &opts)
            .await
            .unwrap();
        match r.remote_read {
            RemoteRead::Feed { .. } => self.feed_runs.set(self.feed_runs.get() + 1),
            RemoteRead::Full { .. } => self.full_runs.set(self.full_runs.get() + 1),
        }
        r
    }
}

/// Everything a side holds, comparable: live metadata (whole), audio and vectors.
async fn state(b: &dyn StorageBackend) -> BTreeMap<SongId, (SongMetadata, bool, bool)> {
    let mut out = BTreeMap::new();
    for v in b.list_versions().await.unwrap() {
        if v.deleted {
            continue;
        }
        let m = b.get_metadata(&v.id).await.unwrap().unwrap();
        let audio = b.has_audio(&v.id).await.unwrap();
        let vec = b.get_embedding(&v.id, &model()).await.unwrap().is_some();
        out.insert(v.id, (m, audio, vec));
    }
    out
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Random histories of adds, edits, deletes and syncs on two machines: after everyone
/// syncs twice all three libraries are identical (metadata, audio, vectors), a further
/// round changes nothing, and no song disappears unless some machine deleted it.
#[tokio::test(flavor = "current_thread")]
async fn random_histories_converge() {
    let policies = [
        Policy::Newer,
        Policy::Local,
        Policy::Remote,
        Policy::KeepBoth,
    ];
    let (mut conflicts, mut deletions, mut merges) = (0, 0, 0);
    let (mut feed_runs, mut full_runs) = (0, 0);
    for seed in 1..=60u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let mut w = World::new();
        let ms = [Machine::new("a"), Machine::new("b")];
        let policy = policies[(seed % 4) as usize];
        let mut deleted_ever: BTreeSet<SongId> = BTreeSet::new();
        let mut added_ever: BTreeSet<SongId> = BTreeSet::new();
        for _ in 0..40 {
            let m = &ms[rng.below(2) as usize];
            let n = rng.below(8) as u8;
            match rng.below(10) {
                0..=2 => {
                    w.add(m, n).await;
                    added_ever.insert(sid(n));
                }
                3..=5 => {
                    let f = rng.next();
                    w.edit(m, n, f).await;
                }
                6 => {
                    if m.lib.delete_song(&sid(n)).await.unwrap() {
                        deleted_ever.insert(sid(n));
                    }
                }
                _ => {
                    let r = w.sync(m, policy, true).await;
                    conflicts += r.conflicts.len();
                    deletions += r.deleted_local + r.deleted_remote;
                    merges += r.summary.reconcile;
                }
            }
        }
        for m in ms.iter().chain(ms.iter()) {
            let r = w.sync(m, policy, true).await;
            assert!(r.is_complete(), "seed {seed}: {:?}", r.failed);
            conflicts += r.conflicts.len();
            deletions += r.deleted_local + r.deleted_remote;
            merges += r.summary.reconcile;
        }
        let remote = state(w.remote.as_ref()).await;
        for m in &ms {
            let r = w.sync(m, policy, false).await;
            assert!(
                r.summary.is_noop(),
                "seed {seed}: another round is a no-op: {:?}",
                r.summary
            );
            assert!(r.conflicts.is_empty());
            assert_eq!(
                state(m.lib.as_ref()).await,
                remote,
                "seed {seed} machine {}",
                m.name
            );
        }
        for (id, (_, audio, vector)) in &remote {
            assert!(*audio && *vector, "seed {seed}: {id} is whole");
        }
        for id in added_ever.difference(&deleted_ever) {
            assert!(
                remote.contains_key(id),
                "seed {seed}: {id} was never deleted"
            );
        }
        feed_runs += w.feed_runs.get();
        full_runs += w.full_runs.get();
    }
    eprintln!(
        "random histories: {conflicts} conflicts, {deletions} deletions, {merges} merges; {feed_runs} runs from the change feed, {full_runs} full"
    );
    // Most runs after a machine's first read the change feed (each checked against a full plan).
    assert!(feed_runs > 3 * full_runs, "{feed_runs} {full_runs}");
    // The histories exercised the interesting paths.
    assert!(
        conflicts > 20 && deletions > 20 && merges > 20,
        "{conflicts} {deletions} {merges}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn two_machines_all_cases() {
    let mut w = World::new();
    let (a, b) = (Machine::new("a"), Machine::new("b"));
    for n in 1..=4 {
        w.add(&a, n).await;
    }
    let r = w.sync(&a, Policy::Newer, false).await;
    assert_eq!(r.pushed_new, 4);
    let r = w.sync(&b, Policy::Newer, false).await;
    assert_eq!(r.pulled_new, 4);
    // Same song added independently on both machines, and one on each.
    w.add(&a, 5).await;
    w.add(&b, 5).await;
    w.add(&b, 6).await;
    // An edit on a; a deletion on b; edit on a of what b deletes.
    w.edit(&a, 1, 0).await;
    b.lib.delete_song(&sid(2)).await.unwrap();
    w.edit(&a, 3, 1).await;
    b.lib.delete_song(&sid(3)).await.unwrap();
    let ra = w.sync(&a, Policy::Newer, false).await;
    assert_eq!((ra.pushed_new, ra.pushed_changed), (1, 2), "{ra:?}");
    let rb = w.sync(&b, Policy::Newer, false).await;
    // 3: deleted on b, edited on a (already pushed) → the edit wins, restored on b.
    assert_eq!(rb.conflicts.len(), 1, "{:?}", rb.conflicts);
    assert_eq!(rb.conflicts[0].id, sid(3));
    assert!(
        rb.conflicts[0].title.starts_with("Song 3"),
        "{:?}",
        rb.conflicts[0]
    );
    w.sync(&a, Policy::Newer, false).await;
    let remote = state(w.remote.as_ref()).await;
    assert_eq!(state(a.lib.as_ref()).await, remote);
    assert_eq!(state(b.lib.as_ref()).await, remote);
    let ids: Vec<&SongId> = remote.keys().collect();
    let mut want = [sid(1), sid(3), sid(4), sid(5), sid(6)];
    want.sort();
    assert_eq!(ids, want.iter().collect::<Vec<_>>(), "2 deleted, 5 once");
    assert!(remote[&sid(1)].0.title.starts_with("edit"));
    assert_eq!(remote[&sid(3)].0.genre.as_deref(), Some("genre 2"));
    assert_eq!(w.remote.count(&Filter::default()).await.unwrap(), 5);
}

/// A new vector (as `songrec reembed` adds, bumping the version) travels with the change,
/// also when the other side changed the song's metadata meanwhile (a merge).
#[tokio::test(flavor = "current_thread")]
async fn new_vectors_travel_with_changes_and_merges() {
    let mut w = World::new();
    let (a, b) = (Machine::new("a"), Machine::new("b"));
    for n in 1..=3 {
        w.add(&a, n).await;
    }
    w.sync(&a, Policy::Newer, false).await;
    w.sync(&b, Policy::Newer, false).await;
    let second = ModelInfo::new("second", "2", 3);
    for n in [1, 2] {
        let id = sid(n);
        let e = Embedding {
            model: second.clone(),
            vector: vec![f32::from(n), 0.5, 0.25],
        };
        a.lib.put_embedding(&id, &e).await.unwrap();
        let mut m = a.lib.get_metadata(&id).await.unwrap().unwrap();
        m.touch();
        a.lib.put_metadata(&m).await.unwrap();
    }
    w.edit(&b, 2, 1).await; // b changes song 2's metadata meanwhile
    w.sync(&a, Policy::Newer, false).await;
    let r = w.sync(&b, Policy::Newer, false).await;
    assert_eq!(r.summary.reconcile, 1);
    w.sync(&a, Policy::Newer, false).await;
    for lib in [&a.lib, &b.lib, &w.remote] {
        for n in [1u8, 2] {
            let v = lib.get_embedding(&sid(n), &second).await.unwrap();
            assert_eq!(
                v.map(|e| e.vector),
                Some(vec![f32::from(n), 0.5, 0.25]),
                "{lib} song {n}"
            );
        }
        assert!(lib.get_embedding(&sid(3), &second).await.unwrap().is_none());
        assert!(
            lib.get_embedding(&sid(1), &model())
                .await
                .unwrap()
                .is_some()
        );
    }
    assert_eq!(state(a.lib.as_ref()).await, state(w.remote.as_ref()).await);
    assert_eq!(state(b.lib.as_ref()).await, state(w.remote.as_ref()).await);
}

#[tokio::test(flavor = "current_thread")]
async fn failed_transfers_are_finished_by_the_next_run() {
    let w = World::new();
    let a = Machine::new("a");
    for n in 1..=9 {
        w.add(&a, n).await;
    }
    // A flaky remote without retries: some songs fail, the record advances only for
    // the others.
    let flaky: Arc<dyn StorageBackend> =
        Arc::new(MemoryBackend::new().layer(Chaos::new(3).fail_ratio(0.3)));
    let lease = Arc::new(Lease::new(w.leases.clone(), "a", Duration::from_secs(60)));
    let mut opts = SyncOptions::new(w.dir.path().join("s"));
    opts.batch_size = 2;
    let mut failures = 0;
    let mut runs = 0;
    loop {
        runs += 1;
        let r = a.sync_to(flaky.as_ref(), &lease, &opts).await;
        match r {
            Ok(r) if r.is_complete() && r.summary.is_noop() => break,
            Ok(r) => {
                // A run with failed songs keeps the old feed position (the next run re-reads).
                assert!(r.failed.is_empty() || !r.cursor_advanced, "{r:?}");
                failures += r.failed.len();
            }
            Err(SyncError::Storage(_)) => failures += 1,
            Err(e) => panic!("{e}"),
        }
        assert!(runs < 50, "never converged");
    }
    assert!(failures > 0, "the chaos layer injected failures");
    let local = state(a.lib.as_ref()).await;
    assert_eq!(local.len(), 9);
    // Read the remote through a calm view: the same data without faults.
    for (id, (m, _, _)) in &local {
        let mut got = None;
        for _ in 0..20 {
            if let Ok(x) = flaky.get_metadata(id).await {
                got = x;
                break;
            }
        }
        assert_eq!(got.as_ref(), Some(m));
    }
}

#[tokio::test(flavor = "current_thread")]
async fn lease_held_by_another_machine_refuses_and_an_expired_one_is_taken_over() {
    let w = World::new();
    let a = Machine::new("a");
    w.add(&a, 1).await;
    let mut other = LeaseInfo::new("machine-b", Duration::from_secs(600));
    other.host = "elsewhere".into();
    let tag = w
        .leases
        .create(&serde_json::to_vec(&other).unwrap())
        .await
        .unwrap()
        .unwrap();
    let lease = Arc::new(Lease::new(w.leases.clone(), "a", Duration::from_secs(60)));
    let opts = SyncOptions::new(w.dir.path().join("s"));
    let err = a
        .sync_to(w.remote.as_ref(), &lease, &opts)
        .await
        .unwrap_err();
    match &err {
        SyncError::Lease(LeaseError::Held(info)) => assert_eq!(info.holder, "machine-b"),
        e => panic!("{e}"),
    }
    assert!(err.to_string().contains("machine-b"));
    assert_eq!(
        w.remote.count(&Filter::default()).await.unwrap(),
        0,
        "nothing written"
    );
    // Dry runs take no lease.
    let mut dry = opts.clone();
    dry.dry_run = true;
    let r = a.sync_to(w.remote.as_ref(), &lease, &dry).await.unwrap();
    assert_eq!(r.summary.push_new, 1);
    assert_eq!(r.actions.len(), 1);
    // Expired: taken over.
    other.expires_at = chrono::Utc::now() - chrono::Duration::seconds(1);
    w.leases
        .replace(&serde_json::to_vec(&other).unwrap(), &tag)
        .await
        .unwrap()
        .unwrap();
    let r = a.sync_to(w.remote.as_ref(), &lease, &opts).await.unwrap();
    assert_eq!(r.pushed_new, 1);
    assert_eq!(r.lease.map(|l| l.holder), Some("a".to_owned()));
    // Released at the end: another machine may start at once.
    let b = Lease::new(w.leases.clone(), "machine-b", Duration::from_secs(60));
    b.acquire().await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn a_lost_lease_stops_the_run() {
    let store = Arc::new(MemoryLeaseStore::default());
    let a = Arc::new(Lease::new(store.clone(), "a", Duration::from_millis(300)));
    a.acquire().await.unwrap();
    a.check().await.unwrap();
    // b takes over after expiry; a's renewal then fails and check reports the loss.
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert!(a.check().await.is_err(), "lapsed");
    let b = Lease::new(store.clone(), "b", Duration::from_secs(60));
    b.acquire().await.unwrap();
    assert!(matches!(a.renew().await, Err(LeaseError::Lost(_))));
    assert!(matches!(a.check().await, Err(LeaseError::Lost(_))));
    // The same machine may take its own lease back (a killed run of ours).
    let b2 = Lease::new(store.clone(), "b", Duration::from_secs(60));
    b2.acquire().await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn rails_refuse_without_changing_anything() {
    let w = World::new();
    let (a, b) = (Machine::new("a"), Machine::new("b"));
    for n in 1..=4 {
        w.add(&a, n).await;
    }
    w.sync(&a, Policy::Newer, false).await;
    w.sync(&b, Policy::Newer, false).await;
    for n in 1..=3 {
        a.lib.delete_song(&sid(n)).await.unwrap();
    }
    let r = w.sync(&a, Policy::Newer, false).await;
    assert_eq!(r.violations.len(), 1, "{:?}", r.violations);
    assert_eq!(w.remote.count(&Filter::default()).await.unwrap(), 4);
    let r = w.sync(&a, Policy::Newer, true).await;
    assert_eq!(r.deleted_remote, 3);
    let r = w.sync(&b, Policy::Newer, true).await;
    assert_eq!(r.deleted_local, 3);
    let _ = Path::new("");
}

/// A song stored straight into `remote` (as another machine's `songrec ingest` would).
fn land(remote: &MemoryBackend, n: u8) {
    let mut meta = SongMetadata::new(sid(n), format!("Landed {n}"));
    meta.file_name = format!("song-{n}.wav");
    let rep = futures::executor::block_on(remote.put_songs(&[SongRecord {
        metadata: meta,
        embeddings: Vec::new(),
    }]))
    .unwrap();
    assert!(rep.is_complete());
}

/// Writes that land on the remote while a run is under way (right after its feed read, or
/// right after its full listing) are not in that run's plan, and the next run picks them up:
/// the recorded cursor never skips them.
#[tokio::test(flavor = "current_thread")]
async fn a_write_landing_during_a_run_is_picked_up_by_the_next() {
    let w = World::new();
    let a = Machine::new("a");
    for n in 1..=3 {
        w.add(&a, n).await;
    }
    let inner = Arc::new(MemoryBackend::new());
    let lease = Arc::new(Lease::new(w.leases.clone(), "a", Duration::from_secs(60)));
    let opts = SyncOptions::new(w.dir.path().join("s"));
    let r = a.sync_to(inner.as_ref(), &lease, &opts).await.unwrap();
    assert_eq!(r.pushed_new, 3);
    assert!(r.cursor_advanced);

    // Feed path: song 7 lands right after the feed was read.
    let target = inner.clone();
    let racy = inner.clone().layer(
        CrashPoint::parse("changes_since:1:after")
            .unwrap()
            .with_action(Arc::new(move || land(&target, 7))),
    );
    let r = a.sync_to(&racy, &lease, &opts).await.unwrap();
    assert_eq!(r.remote_read, RemoteRead::Feed { changes: 3 });
    assert_eq!(r.pulled_new, 0, "not in this run's plan");
    assert!(r.cursor_advanced);
    assert!(inner.get_metadata(&sid(7)).await.unwrap().is_some());
    let r = a.sync_to(inner.as_ref(), &lease, &opts).await.unwrap();
    assert!(matches!(r.remote_read, RemoteRead::Feed { .. }));
    assert_eq!(r.pulled_new, 1, "picked up by the next run");
    assert!(a.lib.get_metadata(&sid(7)).await.unwrap().is_some());

    // Full path: song 8 lands right after the remote's full listing.
    let target = inner.clone();
    let racy = inner.clone().layer(
        CrashPoint::parse("list_versions:1:after")
            .unwrap()
            .with_action(Arc::new(move || land(&target, 8))),
    );
    let mut full = opts.clone();
    full.full = true;
    let r = a.sync_to(&racy, &lease, &full).await.unwrap();
    assert_eq!(
        r.remote_read,
        RemoteRead::Full {
            reason: FullReason::Asked
        }
    );
    assert_eq!(r.pulled_new, 0);
    assert!(r.cursor_advanced);
    let r = a.sync_to(inner.as_ref(), &lease, &opts).await.unwrap();
    assert!(matches!(r.remote_read, RemoteRead::Feed { .. }));
    assert_eq!(r.pulled_new, 1);
    assert!(a.lib.get_metadata(&sid(8)).await.unwrap().is_some());
    assert_eq!(state(a.lib.as_ref()).await, state(inner.as_ref()).await);
}

/// `--full`, a missing, expired or unknown position and a remote without a feed take the full
/// path; otherwise runs read the feed and a no-op asks the remote for nothing but the feed.
#[tokio::test(flavor = "current_thread")]
async fn when_the_full_path_runs() {
    let w = World::new();
    let a = Machine::new("a");
    for n in 1..=5 {
        w.add(&a, n).await;
    }
    let metrics = MetricsRecorder::new();
    let remote = MemoryBackend::new().layer(metrics.clone());
    let lease = Arc::new(Lease::new(w.leases.clone(), "a", Duration::from_secs(60)));
    let opts = SyncOptions::new(w.dir.path().join("s"));
    let full = |reason| RemoteRead::Full { reason };
    let run = |o: SyncOptions| {
        let (a, remote, lease) = (&a, &remote, &lease);
        async move { a.sync_to(remote, lease, &o).await.unwrap() }
    };

    let r = run(opts.clone()).await;
    assert_eq!(r.remote_read, full(FullReason::NoPosition));
    assert_eq!(r.pushed_new, 5);
    metrics.reset();
    let r = run(opts.clone()).await;
    assert_eq!(
        r.remote_read,
        RemoteRead::Feed { changes: 5 },
        "its own writes, once"
    );
    let r = run(opts.clone()).await;
    assert_eq!(r.remote_read, RemoteRead::Feed { changes: 0 });
    assert!(r.summary.is_noop());
    let m = metrics.metrics();
    assert_eq!(
        m.op("list_versions"),
        None,
        "no full listing on the feed path"
    );
    assert_eq!(m.op("changes_since").map(|o| o.calls), Some(2));
    let flushes = m.op("flush").map_or(0, |o| o.calls);
    let playlists = m.op("list_playlists").map_or(0, |o| o.calls);
    assert_eq!(playlists, 2, "one listing of the saved playlists per run");
    assert_eq!(
        m.total_calls() - flushes - playlists,
        2,
        "a no-op reads only the feed and the playlists (and flushes, free on a remote): {m}"
    );

    // Edits cost what changed: one feed read, the songs' reads and writes.
    let mut w = w;
    w.edit(&a, 1, 0).await;
    w.edit(&a, 2, 1).await;
    metrics.reset();
    let r = run(opts.clone()).await;
    assert_eq!(r.pushed_changed, 2);
    assert!(matches!(r.remote_read, RemoteRead::Feed { .. }));
    assert_eq!(metrics.metrics().op("list_versions"), None);

    let mut forced = opts.clone();
    forced.full = true;
    assert_eq!(run(forced).await.remote_read, full(FullReason::Asked));
    assert!(matches!(
        run(opts.clone()).await.remote_read,
        RemoteRead::Feed { .. }
    ));

    // A position whose full reconciliation is older than the limit.
    let mut p = a.record.feed_position().unwrap().expect("a position");
    p.full_at -= chrono::Duration::days(8);
    a.record.set_feed_position(Some(&p)).unwrap();
    let r = run(opts.clone()).await;
    assert_eq!(r.remote_read, full(FullReason::Expired));
    let fresh = a.record.feed_position().unwrap().expect("renewed");
    assert!(fresh.full_at > p.full_at + chrono::Duration::days(7));
    let mut weekly = opts.clone();
    weekly.full_every = Duration::from_secs(3600);
    assert!(matches!(
        run(weekly).await.remote_read,
        RemoteRead::Feed { .. }
    ));

    // A cursor the remote does not know (another library, a recreated one).
    a.record
        .set_feed_position(Some(&FeedPosition {
            cursor: ChangeCursor::new("mem:999999:1"),
            full_at: chrono::Utc::now(),
        }))
        .unwrap();
    assert_eq!(
        run(opts.clone()).await.remote_read,
        full(FullReason::CursorUnknown)
    );
    assert!(matches!(
        run(opts.clone()).await.remote_read,
        RemoteRead::Feed { .. }
    ));

    // A remote without a feed: every run is full and no position is kept.
    let b = Machine::new("b");
    let plain = MemoryBackend::without_feed();
    for _ in 0..2 {
        let r = b.sync_to(&plain, &lease, &opts).await.unwrap();
        assert_eq!(r.remote_read, full(FullReason::NoPosition));
        assert!(!r.cursor_advanced);
        assert!(b.record.feed_position().unwrap().is_none());
    }
}

/// A playlist made on one machine reaches the other, an edit there comes back, a deletion
/// travels as a tombstone; plays and skips heard on both machines between syncs add up.
#[tokio::test(flavor = "current_thread")]
async fn playlists_travel_and_plays_add_up() {
    use songrec_storage::StorageBackendExt as _;
    use songrec_storage::listening::{Heard, Listening, record};
    use songrec_storage::playlist::SavedPlaylist;
    let w = World::new();
    let (a, b) = (Machine::new("a"), Machine::new("b"));
    for n in 1..=3 {
        w.add(&a, n).await;
    }
    let now = chrono::Utc::now();
    let p = SavedPlaylist::new("Made on a phone", vec![sid(2), sid(1), sid(2)], now).unwrap();
    a.lib.put_playlist(&p).await.unwrap();
    let r = w.sync(&a, Policy::Newer, false).await;
    assert_eq!((r.playlists.pushed, r.playlists.pulled), (1, 0));
    let r = w.sync(&b, Policy::Newer, false).await;
    assert_eq!((r.playlists.pushed, r.playlists.pulled), (0, 1));
    assert_eq!(b.lib.find_playlist("made on a phone").await.unwrap(), p);

    // Edited on b, played on both.
    let mut edited = b.lib.get_playlist(&p.id).await.unwrap().unwrap();
    edited.songs.push(sid(3));
    edited.touch(now);
    b.lib.put_playlist(&edited).await.unwrap();
    let hear = |m: &Machine, times: usize, heard: Heard| {
        let lib = m.lib.clone();
        let machine = m.name.clone();
        async move {
            for i in 0..times {
                let mut s = lib.get_metadata(&sid(1)).await.unwrap().unwrap();
                record(
                    &mut s,
                    heard,
                    now + chrono::Duration::seconds(i as i64),
                    &machine,
                );
                lib.put_metadata(&s).await.unwrap();
            }
        }
    };
    hear(&a, 2, Heard::Played).await;
    hear(&b, 3, Heard::Played).await;
    hear(&b, 1, Heard::Skipped).await;
    let r = w.sync(&b, Policy::Newer, false).await;
    assert_eq!(r.playlists.pushed, 1);
    let r = w.sync(&a, Policy::Newer, false).await;
    assert_eq!(r.playlists.pulled, 1);
    assert!(r.conflicts.is_empty(), "{:?}", r.conflicts);
    w.sync(&b, Policy::Newer, false).await;
    for m in [&a, &b] {
        let s = m.lib.get_metadata(&sid(1)).await.unwrap().unwrap();
        let l = Listening::of(&s);
        assert_eq!((l.plays, l.skips), (5, 1), "on {}", m.name);
        assert_eq!(m.lib.get_playlist(&p.id).await.unwrap().unwrap(), edited);
    }

    // Deleted on a: gone on b after its next sync, as a tombstone.
    assert!(a.lib.delete_playlist(&p.id).await.unwrap());
    let r = w.sync(&a, Policy::Newer, false).await;
    assert_eq!((r.playlists.pushed, r.playlists.deletions), (1, 1));
    w.sync(&b, Policy::Newer, false).await;
    assert!(b.lib.playlists().await.unwrap().is_empty());
    assert!(b.lib.get_playlist(&p.id).await.unwrap().unwrap().deleted);
    let r = w.sync(&b, Policy::Newer, false).await;
    assert_eq!(r.playlists, Default::default(), "nothing left to carry");
}
