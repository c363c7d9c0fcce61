//! `songrec sync`'s engine against the real local Data API server and s3s-fs on 127.0.0.1:
//! transient faults on both sides, the request counts of syncs with a change cursor and of
//! full reconciliations at 1,000 songs, and a write landing during a sync.

use std::sync::Arc;
use std::time::Duration;

use songrec_storage::prelude::*;

use songrec_storage::StorageBackend;
use songrec_storage::layers::{Chaos, LayerExt, Retry};
use songrec_sync::engine::{FullReason, NoProgress, RemoteRead, SyncOptions, SyncReport, sync};
use songrec_sync::plan::Policy;
use songrec_testkit::LocalCloud;
use songrec_testkit::data::live;
use songrec_testkit::sync::{Machine, add_songs, astra, lease, sid, snapshot};

async fn run(
    local: &dyn StorageBackend,
    remote: &dyn StorageBackend,
    cloud: &LocalCloud,
    m: &Machine,
    policy: Policy,
) -> SyncReport {
    run_with(local, remote, cloud, m, policy, 4).await
}

async fn run_with(
    local: &dyn StorageBackend,
    remote: &dyn StorageBackend,
    cloud: &LocalCloud,
    m: &Machine,
    policy: Policy,
    batch_size: usize,
) -> SyncReport {
    let lease = lease(cloud, &m.id(), Duration::from_secs(30));
    let mut opts = SyncOptions::new(m.scratch());
    opts.policy = policy;
    opts.batch_size = batch_size;
    sync(local, remote, &lease, &m.record, &opts, &NoProgress)
        .await
        .expect("sync")
}

/// ~20 % of every call on both sides fails transiently (before reaching the backend), and 5 %
/// of repeat-safe writes lose their acknowledgement after succeeding; the Retry layer over the
/// Chaos layer absorbs them. Two machines sync adds, edits, a conflict and a deletion, and end
/// identical to the remote, blobs verified by hash.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_completes_and_verifies_with_20_percent_transient_faults() {
    let cloud = LocalCloud::builder().with_schema().start().await;
    let (a, b) = (Machine::new(), Machine::new());
    let tmp = a.dir.path().join("in");
    add_songs(&a.lib, 0..10, true, &tmp).await;
    add_songs(&b.lib, 7..13, true, &tmp).await;
    let retry = || {
        Retry::default()
            .max_retries(10)
            .delays(Duration::from_millis(1), Duration::from_millis(20))
    };
    let chaos = |seed| Chaos::new(seed).fail_ratio(0.2).after_ratio(0.05);
    let la = a.lib.clone().layer(chaos(1)).layer(retry());
    let lb = b.lib.clone().layer(chaos(2)).layer(retry());
    let ra = astra(&cloud).layer(chaos(3)).layer(retry());
    let rb = astra(&cloud).layer(chaos(4)).layer(retry());
    assert!(ra.to_string().starts_with("Retry(Chaos(Astra("), "{ra}");

    let r = run(&la, &ra, &cloud, &a, Policy::Newer).await;
    assert!(r.is_complete(), "{:?}", r.failed);
    assert_eq!(r.pushed_new, 10);
    let r = run(&lb, &rb, &cloud, &b, Policy::Newer).await;
    assert!(r.is_complete(), "{:?}", r.failed);
    assert_eq!((r.pulled_new, r.pushed_new, r.summary.reconcile), (7, 3, 3));
    // Edits on both sides (one conflicting), a deletion on b.
    let edit = |lib: &songrec_local::LocalBackend, n: usize, title: &'static str| {
        let lib = lib.clone();
        async move {
            let mut m = lib.get_metadata(&sid(n)).await.unwrap().unwrap();
            m.title = title.into();
            m.touch();
            lib.put_metadata(&m).await.unwrap();
        }
    };
    edit(&a.lib, 1, "A edits one").await;
    edit(&a.lib, 2, "A edits two").await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    edit(&b.lib, 2, "B edits two").await;
    assert!(b.lib.delete_song(&sid(3)).await.unwrap());
    let r = run(&la, &ra, &cloud, &a, Policy::Newer).await;
    assert!(r.is_complete(), "{:?}", r.failed);
    let r = run(&lb, &rb, &cloud, &b, Policy::KeepBoth).await;
    assert!(r.is_complete(), "{:?}", r.failed);
    assert_eq!(r.conflicts.len(), 1, "{:?}", r.conflicts);
    let r = run(&la, &ra, &cloud, &a, Policy::Newer).await;
    assert!(r.is_complete() && r.conflicts.is_empty(), "{r:?}");

    let injected = la.inner().injected()
        + lb.inner().injected()
        + ra.inner().injected()
        + rb.inner().injected();
    assert!(injected >= 10, "faults were injected: {injected}");

    // Verify through fault-free views.
    let remote = snapshot(&astra(&cloud), &a.dir.path().join("v")).await;
    let sa = snapshot(&a.lib, &a.dir.path().join("va")).await;
    let sb = snapshot(&b.lib, &b.dir.path().join("vb")).await;
    assert_eq!(remote.len(), 12, "13 songs, one deleted, none twice");
    assert!(!remote.contains_key(&sid(3)));
    assert_eq!(sa, remote);
    assert_eq!(sb, remote);
    assert!(remote.values().all(|(_, audio, v)| *audio && v.is_some()));
    assert_eq!(remote[&sid(1)].0.title, "A edits one");
    let two = &remote[&sid(2)].0;
    assert_eq!(two.title, "B edits two", "newer edit wins");
    assert_eq!(two.extra["conflicts"][0]["fields"]["title"], "A edits two");
    assert_eq!(
        live(&a.lib.list_versions().await.unwrap()),
        live(&astra(&cloud).list_versions().await.unwrap())
    );
}

/// Runs one sync with a full reconciliation forced or not; returns the report and the Data
/// API requests it sent (on a fresh remote object whose feed overlap is 0: the local server
/// makes writes visible at once, so counts are exact).
async fn counted(cloud: &LocalCloud, m: &Machine, full: bool) -> (SyncReport, usize) {
    let remote = astra(cloud).with_feed_overlap(Duration::ZERO);
    let lease = lease(cloud, &m.id(), Duration::from_secs(30));
    let mut opts = SyncOptions::new(m.scratch());
    opts.batch_size = 100;
    opts.full = full;
    let r = sync(&m.lib, &remote, &lease, &m.record, &opts, &NoProgress)
        .await
        .expect("sync");
    assert!(r.is_complete(), "{:?}", r.failed.first());
    (r, remote.requests_sent() as usize)
}

/// With a change cursor a no-op sync costs 3 Data API requests (the clock, one empty page of
/// the feed, a check that the library holds songs) whatever the library size, edits cost requests in proportion to the edits, and a
/// full reconciliation (`--full`, the first sync) costs one request per listing page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_requests_are_proportional_to_changes_with_a_cursor() {
    const N: usize = 1000;
    const PAGE: usize = 50;
    let cloud = LocalCloud::builder().with_schema().start().await;
    let (a, b) = (Machine::new(), Machine::new());
    add_songs(&a.lib, 0..N, false, &a.dir.path().join("in")).await;
    let full = |reason| RemoteRead::Full { reason };
    let (r, _) = counted(&cloud, &a, false).await;
    assert_eq!(
        (r.pushed_new, r.remote_read),
        (N, full(FullReason::NoPosition))
    );
    let (r, _) = counted(&cloud, &b, false).await;
    assert_eq!(
        (r.pulled_new, r.remote_read),
        (N, full(FullReason::NoPosition))
    );
    // a's next run reads its own uploads once (they were stamped after its cursor).
    let (r, requests) = counted(&cloud, &a, false).await;
    assert_eq!(r.remote_read, RemoteRead::Feed { changes: N });
    assert!(r.summary.is_noop());
    assert!(requests <= 1 + N / PAGE + 1, "{requests}");

    for m in [&a, &b] {
        let (r, requests) = counted(&cloud, m, false).await;
        assert_eq!(r.remote_read, RemoteRead::Feed { changes: 0 });
        assert!(r.summary.is_noop(), "{:?}", r.summary);
        assert_eq!(
            r.summary.unchanged, N,
            "the record stands in for the remote"
        );
        assert_eq!(
            requests, 4,
            "a no-op sync of {N} songs: the clock, one empty page, a check that songs exist, \
             the saved playlists (one page)"
        );
    }

    // Five edits on a: the run pushes them; b's next run pulls exactly those.
    for n in 0..5 {
        let mut m = a.lib.get_metadata(&sid(n)).await.unwrap().unwrap();
        m.genre = Some("edited".into());
        m.touch();
        a.lib.put_metadata(&m).await.unwrap();
    }
    let (r, requests) = counted(&cloud, &a, false).await;
    assert_eq!(
        (r.pushed_changed, r.remote_read),
        (5, RemoteRead::Feed { changes: 0 })
    );
    assert!(requests <= 3 + 5 * 4, "5 edits cost {requests} requests");
    let (r, requests) = counted(&cloud, &b, false).await;
    assert_eq!(
        (r.pulled_changed, r.remote_read),
        (5, RemoteRead::Feed { changes: 5 })
    );
    assert!(
        requests <= 3 + 5 * 4,
        "pulling 5 edits cost {requests} requests"
    );
    assert_eq!(
        live(&b.lib.list_versions().await.unwrap()),
        live(&astra(&cloud).list_versions().await.unwrap())
    );

    // --full lists everything: one request per page of the listing (+ the head: 2).
    let (r, requests) = counted(&cloud, &b, true).await;
    assert_eq!(r.remote_read, full(FullReason::Asked));
    assert!(r.summary.is_noop());
    assert!(
        (N / PAGE..=N / PAGE + 4).contains(&requests),
        "a full no-op sync of {N} songs sent {requests} Data API requests"
    );
    let (r, requests) = counted(&cloud, &b, false).await;
    assert_eq!(
        (r.remote_read, requests),
        (RemoteRead::Feed { changes: 0 }, 4)
    );
}

/// A song another machine writes to the remote while a run is between its feed read and its
/// cursor commit is not in that run's plan, and the next run picks it up (no gap at the
/// cursor's boundary, with the server's own timestamps).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_during_a_sync_is_picked_up_by_the_next_run() {
    use songrec_storage::layers::CrashPoint;
    let cloud = LocalCloud::builder().with_schema().start().await;
    let (a, other) = (Machine::new(), Machine::new());
    add_songs(&a.lib, 0..5, false, &a.dir.path().join("in")).await;
    add_songs(&other.lib, 100..101, false, &other.dir.path().join("in")).await;
    counted(&cloud, &a, false).await;
    counted(&cloud, &a, false).await;
    // Right after a's feed read, song 100 is written to the remote (as by another machine).
    let landed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (rec, flag) = (
        other.lib.get_metadata(&sid(100)).await.unwrap().unwrap(),
        landed.clone(),
    );
    let writer = Arc::new(astra(&cloud));
    let handle = tokio::runtime::Handle::current();
    let racy = astra(&cloud).with_feed_overlap(Duration::ZERO).layer(
        CrashPoint::parse("changes_since:1:after")
            .unwrap()
            .with_action(Arc::new(move || {
                let song = songrec_storage::SongRecord {
                    metadata: rec.clone(),
                    embeddings: Vec::new(),
                };
                let report = tokio::task::block_in_place(|| {
                    handle.block_on(writer.put_songs(std::slice::from_ref(&song)))
                })
                .expect("put");
                assert!(report.is_complete());
                flag.store(true, std::sync::atomic::Ordering::SeqCst);
            })),
    );
    let lease = lease(&cloud, &a.id(), Duration::from_secs(30));
    let opts = SyncOptions::new(a.scratch());
    let r = sync(&a.lib, &racy, &lease, &a.record, &opts, &NoProgress)
        .await
        .expect("sync");
    assert!(landed.load(std::sync::atomic::Ordering::SeqCst));
    assert!(matches!(r.remote_read, RemoteRead::Feed { .. }));
    assert!(r.cursor_advanced && r.pulled_new == 0, "{r:?}");
    let (r, _) = counted(&cloud, &a, false).await;
    assert!(matches!(r.remote_read, RemoteRead::Feed { .. }));
    assert_eq!(r.pulled_new, 1, "picked up by the next run");
    assert!(a.lib.get_metadata(&sid(100)).await.unwrap().is_some());
}

#[allow(dead_code)]
fn _assert_send(_: Arc<dyn StorageBackend>) {}
