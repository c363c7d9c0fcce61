//! Faults injected by a proxy in front of the real Data API server: rate limiting and a
//! connection dropped mid-batch.

use std::collections::HashSet;

use crate::{Env, api_config, s3_config};
use songrec_storage::prelude::*;
use songrec_storage::{Filter, ModelInfo, SearchQuery};
use songrec_testkit::data::{record, vector};
use songrec_testkit::{Fault, FaultKind, FaultPlan, FaultProxy, Rule, When};

fn model() -> ModelInfo {
    ModelInfo::new("fault-test", "1", 8)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_then_success() {
    let env = Env::start(true).await;
    env.backend
        .put_songs(&(0..20).map(|n| record(n, &model())).collect::<Vec<_>>())
        .await
        .expect("seed");
    let slow = Fault::new(
        FaultKind::TooManyRequests {
            retry_after_secs: 0,
        },
        When::Before,
    );
    let proxy = FaultProxy::start(
        env.cloud.api_addr(),
        FaultPlan::rules(vec![
            Rule::new("countDocuments", 0, slow),
            Rule::new("\"find\"", 1, slow),
        ]),
    )
    .await
    .expect("proxy");
    let b = env.cloud.astra_with(
        api_config(&proxy.base_url(), env.token()),
        s3_config(&env.cloud),
    );
    assert_eq!(b.count(&Filter::default()).await.expect("count"), 20);
    assert_eq!(b.requests_sent(), 2, "one 429, one retry");
    // find #0 loads the registry, find #1 (the search) is rate limited once.
    let hits = b
        .search(&SearchQuery::new(model(), vector(1, 8), 5))
        .await
        .expect("search");
    assert_eq!(hits.len(), 5);
    assert_eq!(proxy.injected(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_dropped_mid_batch_loses_and_duplicates_nothing() {
    let env = Env::start(true).await;
    // Register the model first so the batch's requests are just the inserts.
    env.backend
        .put_songs(&[record(10_000, &model())])
        .await
        .expect("seed");
    // The 2nd vector chunk and the 3rd songs chunk are written by the server, but the
    // client never gets the answer (the connection is reset).
    let lost = Fault::new(FaultKind::Reset, When::After);
    let proxy = FaultProxy::start(
        env.cloud.api_addr(),
        FaultPlan::rules(vec![
            Rule::new("\"$vector\"", 1, lost),
            Rule::new("\"content_hash\"", 2, lost),
        ]),
    )
    .await
    .expect("proxy");
    let b = env.cloud.astra_with(
        api_config(&proxy.base_url(), env.token()),
        s3_config(&env.cloud),
    );
    let records: Vec<_> = (0..350).map(|n| record(n, &model())).collect();
    let report = b.put_songs(&records).await.expect("put_songs");
    assert_eq!(proxy.injected(), 2, "both faults fired");
    assert!(report.is_complete(), "{:?}", report.failed.first());
    assert_eq!(report.stored.len(), 350);

    // Every song present exactly once, in metadata and vectors.
    assert_eq!(b.count(&Filter::default()).await.expect("count"), 351);
    let versions = env.backend.list_versions().await.expect("versions");
    assert_eq!(versions.len(), 351);
    let ids: HashSet<_> = versions.iter().map(|v| v.id.clone()).collect();
    assert_eq!(ids.len(), 351, "no duplicate entries");
    for r in &records {
        assert!(ids.contains(&r.metadata.id), "song {} lost", r.metadata.id);
    }
    assert!(versions.iter().all(|v| v.version == 1 && !v.deleted));
    let stats = env.backend.models().await.expect("models");
    assert_eq!(stats[0].count, 351, "vectors: each exactly once");
    let got = env
        .backend
        .get_metadata_many(
            &records
                .iter()
                .map(|r| r.metadata.id.clone())
                .collect::<Vec<_>>(),
        )
        .await
        .expect("many");
    assert_eq!(got.len(), 350);
    assert!(got.iter().zip(&records).all(|(g, r)| *g == r.metadata));
}

/// The blob store's own retry loop covers what object_store deliberately leaves alone: a
/// conditional PUT whose answer was lost (the object exists; the repeat answers "already
/// exists"), a PUT that hangs past the request timeout, and a download cut off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_uploads_and_downloads_survive_lost_answers_and_hangs() {
    use songrec_astra::blobs::{BlobStore, PutOutcome};
    let env = Env::start(false).await;
    let proxy = FaultProxy::start(
        env.cloud.s3_addr(),
        FaultPlan::rules(vec![
            Rule::new("PUT ", 0, Fault::new(FaultKind::Reset, When::After)),
            Rule::new("PUT ", 1, Fault::new(FaultKind::Timeout, When::Before)),
            Rule::new("PUT ", 3, Fault::new(FaultKind::Timeout, When::After)),
            Rule::new("GET ", 0, Fault::new(FaultKind::Reset, When::Before)),
            Rule::new(
                "HEAD ",
                0,
                Fault::new(FaultKind::ServiceUnavailable, When::Before),
            ),
        ])
        .with_hold(std::time::Duration::from_secs(10)),
    )
    .await
    .expect("proxy");
    let store = BlobStore::new(
        env.cloud
            .s3_config()
            .with_endpoint(proxy.base_url())
            .with_prefix("faults")
            .with_max_retries(3)
            .with_request_timeout(std::time::Duration::from_secs(1)),
    )
    .expect("store");
    let dir = tempfile::tempdir().expect("tmp");
    let put = |n: u8| {
        let p = dir.path().join(format!("{n}.bin"));
        let bytes: Vec<u8> = (0..5000u32).map(|i| (i as u8) ^ n).collect();
        std::fs::write(&p, &bytes).expect("write");
        (p, songrec_storage::SongId::from_bytes(&bytes), bytes)
    };
    // PUT #0 is applied and its answer lost (reset): the repeat (PUT #1) hangs before reaching
    // the server and times out; PUT #2 answers "already exists".
    let (p1, id1, b1) = put(1);
    let out = store.put_file(id1.as_str(), &p1).await.expect("put 1");
    assert_eq!(
        out,
        PutOutcome::AlreadyPresent,
        "the lost first attempt did land"
    );
    // PUT #3 is applied, then hangs: the repeat (#4) answers "already exists".
    let (p2, id2, b2) = put(2);
    let out = store.put_file(id2.as_str(), &p2).await.expect("put 2");
    assert_eq!(out, PutOutcome::AlreadyPresent);
    // A fresh blob goes straight through.
    let (p3, id3, _) = put(3);
    assert_ne!(
        store.put_file(id3.as_str(), &p3).await.expect("put 3"),
        PutOutcome::AlreadyPresent
    );
    assert_eq!(proxy.injected(), 3, "all PUT faults fired");

    assert!(store.exists(id1.as_str()).await.expect("head after 503"));
    let dest = dir.path().join("back");
    assert_eq!(
        store
            .get_to_file(id1.as_str(), &dest)
            .await
            .expect("get after reset"),
        b1.len() as u64
    );
    assert_eq!(std::fs::read(&dest).expect("read"), b1);
    store.get_to_file(id2.as_str(), &dest).await.expect("get 2");
    assert_eq!(std::fs::read(&dest).expect("read"), b2);
    assert_eq!(proxy.injected(), 5);
}
