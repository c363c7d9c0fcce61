//! `songrec sync`'s engine against the real local Data API server and s3s-fs on 127.0.0.1:
//! transient faults on both sides, and the request count of a no-op sync at 1,000 songs.

use std::sync::Arc;
use std::time::Duration;

use songrec_storage::StorageBackend;
use songrec_storage::layers::{Chaos, LayerExt, Retry};
use songrec_sync::engine::{NoSyncProgress, SyncOptions, SyncReport, sync};
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
    sync(local, remote, &lease, &m.record, &opts, &NoSyncProgress)
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

/// A no-op sync costs the two listings and the lease: at 1,000 songs ⌈1000 / page⌉ (+1)
/// Data API requests (page size 50 on the local server, 20 on older Astra), nothing per song.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn noop_sync_of_1000_songs_costs_one_request_per_listing_page() {
    const N: usize = 1000;
    const PAGE: usize = 50;
    let cloud = LocalCloud::builder().with_schema().start().await;
    let (a, b) = (Machine::new(), Machine::new());
    add_songs(&a.lib, 0..N, false, &a.dir.path().join("in")).await;
    let t = std::time::Instant::now();
    let push = astra(&cloud);
    let r = run_with(&a.lib, &push, &cloud, &a, Policy::Newer, 100).await;
    eprintln!("push {N}: {:?}", t.elapsed());
    assert!(r.is_complete());
    assert_eq!(r.pushed_new, N);
    let t = std::time::Instant::now();
    let pull = astra(&cloud);
    let r = run_with(&b.lib, &pull, &cloud, &b, Policy::Newer, 100).await;
    eprintln!("pull {N}: {:?}", t.elapsed());
    assert_eq!(r.pulled_new, N);
    let t = std::time::Instant::now();

    for m in [&a, &b] {
        let remote = astra(&cloud);
        let r = run(&m.lib, &remote, &cloud, m, Policy::Newer).await;
        assert!(r.summary.is_noop() && r.is_complete(), "{:?}", r.summary);
        assert_eq!(r.summary.unchanged, N);
        let requests = remote.requests_sent() as usize;
        assert!(
            (N / PAGE..=N / PAGE + 2).contains(&requests),
            "no-op sync of {N} songs sent {requests} Data API requests"
        );
    }

    eprintln!("no-op x2: {:?}", t.elapsed());
    // A few edits add a bounded number of requests, not one per song in the library.
    for n in 0..5 {
        let mut m = a.lib.get_metadata(&sid(n)).await.unwrap().unwrap();
        m.genre = Some("edited".into());
        m.touch();
        a.lib.put_metadata(&m).await.unwrap();
    }
    let remote = astra(&cloud);
    let r = run(&a.lib, &remote, &cloud, &a, Policy::Newer).await;
    assert_eq!(r.pushed_changed, 5);
    let requests = remote.requests_sent() as usize;
    assert!(
        requests <= N / PAGE + 2 + 5 * 4,
        "5 edits cost {requests} requests"
    );
}

#[allow(dead_code)]
fn _assert_send(_: Arc<dyn StorageBackend>) {}
