//! The stack the factory builds for Astra with the cache on —
//! `Fallback(Cache(CircuitBreaker(Astra)), Local(offline copy))` — passes the conformance
//! suite against the local Data API server and s3s-fs on 127.0.0.1, and keeps its offline
//! copy in step with the writes.

use songrec_factory::{Reads, open};
use songrec_storage::Filter;
use songrec_storage::prelude::*;
use songrec_testkit::LocalCloud;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_factory_stack_passes_conformance() {
    let cloud = LocalCloud::start().await;
    let cfg = cloud.cfg();
    songrec_astra::AstraBackend::init(&cloud.options(), &[])
        .await
        .unwrap();
    let opened = open(&cfg, Reads::MayUseOfflineCopy).unwrap();
    let shown = opened.backend.to_string();
    assert!(
        shown.starts_with("Fallback(Cache(CircuitBreaker(Astra(") && shown.contains(", Local("),
        "{shown}"
    );
    songrec_conformance::run_all(opened.backend.as_ref()).await;
    assert!(
        opened.offline_warning().is_none(),
        "the remote was up throughout"
    );
    let stats = opened.cache.as_ref().unwrap().stats().unwrap();
    assert!(stats.session.hits > 0, "{stats}");

    // The offline copy followed: the suite leaves the library empty, with tombstones.
    let offline = songrec_local::LocalBackend::open(
        songrec_factory::remote_dir(&cfg, &songrec_factory::remote_namespace(&cfg)).join("offline"),
    )
    .unwrap();
    assert_eq!(offline.count(&Filter::default()).await.unwrap(), 0);
    assert!(
        offline
            .list_versions()
            .await
            .unwrap()
            .iter()
            .any(|v| v.deleted)
    );

    // Disabled cache: the plain breaker over Astra.
    let mut off = cfg.clone();
    off.cache.enabled = false;
    let plain = open(&off, Reads::MayUseOfflineCopy).unwrap();
    assert!(
        plain
            .backend
            .to_string()
            .starts_with("CircuitBreaker(Astra(")
    );
    assert!(plain.cache.is_none() && plain.offline.is_none());
}
