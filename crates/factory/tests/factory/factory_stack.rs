//! The stack the factory builds for Astra with the cache on —
//! `Fallback(Cache(CircuitBreaker(Astra)), Local(offline copy))` — passes the conformance
//! suite against the local Data API server and s3s-fs on 127.0.0.1, and keeps its offline
//! copy in step with the writes.

use std::collections::HashMap;

use songrec_config::Config;
use songrec_factory::{Reads, open};
use songrec_storage::{Filter, StorageBackend};

const TOKEN: &str = "AstraCS:factory-stack-token-0123456789";
const AK: &str = "factory-stack";
const SK: &str = "factory-stack-secret-0123456789";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_factory_stack_passes_conformance() {
    let dir = tempfile::tempdir().unwrap();
    let api = songrec_dataapi_server::start(songrec_dataapi_server::ServerConfig::ephemeral(
        songrec_dataapi_server::Token::new(TOKEN),
    ))
    .await
    .unwrap();
    let s3 = songrec_devservers::S3Server::start(
        "127.0.0.1:0".parse().unwrap(),
        &dir.path().join("s3"),
        &["music"],
        AK,
        SK,
    )
    .await
    .unwrap();
    let env: HashMap<String, String> = [
        ("SONGREC_STORAGE_BACKEND", "astra".to_owned()),
        ("ASTRA_DB_API_ENDPOINT", api.base_url()),
        ("ASTRA_DB_API_PATH", "/v1".into()),
        ("ASTRA_DB_APPLICATION_TOKEN", TOKEN.into()),
        ("SONGREC_S3_ENDPOINT", s3.endpoint()),
        ("SONGREC_S3_BUCKET", "music".into()),
        ("SONGREC_S3_ALLOW_HTTP", "true".into()),
        ("AWS_ACCESS_KEY_ID", AK.into()),
        ("AWS_SECRET_ACCESS_KEY", SK.into()),
        (
            "SONGREC_CACHE_DIR",
            dir.path().join("cache").display().to_string(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let cfg = Config::from_sources(None, &env).unwrap();
    songrec_astra::AstraBackend::init(&cfg, &[]).await.unwrap();
    let opened = open(&cfg, Reads::MayUseOfflineCopy).unwrap();
    let shown = opened.backend.to_string();
    assert!(
        shown.starts_with("Fallback(Cache(CircuitBreaker(Astra(") && shown.contains(", Local("),
        "{shown}"
    );
    songrec_storage::conformance::run_all(opened.backend.as_ref()).await;
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
