//! Faults injected by a proxy in front of the real Data API server: rate limiting and a
//! connection dropped mid-batch.

mod backend_support;

use std::collections::HashSet;

use backend_support::{Env, Fault, Proxy, Rule, TOKEN, api_config, backend_with, record};
use songrec_storage::{Filter, ModelInfo, SearchQuery, StorageBackend};

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
    let proxy = Proxy::start(
        env.api.addr(),
        vec![
            Rule {
                needle: "countDocuments",
                nth: 0,
                fault: Fault::TooManyRequests,
            },
            Rule {
                needle: "\"find\"",
                nth: 1,
                fault: Fault::TooManyRequests,
            },
        ],
    )
    .await;
    let b = backend_with(api_config(&proxy.base_url, TOKEN), &env.s3);
    assert_eq!(b.count(&Filter::default()).await.expect("count"), 20);
    assert_eq!(b.requests_sent(), 2, "one 429, one retry");
    // find #0 loads the registry, find #1 (the search) is rate limited once.
    let hits = b
        .search(&SearchQuery::new(model(), backend_support::vector(1, 8), 5))
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
    let proxy = Proxy::start(
        env.api.addr(),
        vec![
            // The 2nd vector chunk and the 3rd songs chunk are written by the server, but
            // the client never gets the answer.
            Rule {
                needle: "\"$vector\"",
                nth: 1,
                fault: Fault::DropAfterForward,
            },
            Rule {
                needle: "\"content_hash\"",
                nth: 2,
                fault: Fault::DropAfterForward,
            },
        ],
    )
    .await;
    let b = backend_with(api_config(&proxy.base_url, TOKEN), &env.s3);
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
