//! Error paths end to end against the real local Data API server and s3s-fs.

use crate::{Env, api_config, backend_at};
use serde_json::json;
use songrec_astra::{AstraBackend, AstraOptions, CheckStatus, doctor};
use songrec_storage::prelude::*;
use songrec_storage::{Embedding, Filter, ModelInfo, SearchQuery, SongId, StorageError};
use songrec_testkit::cloud::BUCKET;
use songrec_testkit::data::record;

fn model() -> ModelInfo {
    ModelInfo::new("err-test", "1", 8)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_token_is_unauthorized_without_leaking_it() {
    let env = Env::start(true).await;
    let wrong = "AstraCS:wrong-token-that-must-not-leak";
    let b = backend_at(&env.cloud, &env.base_url(), wrong);
    let err = b.count(&Filter::default()).await.expect_err("unauthorized");
    assert!(matches!(err, StorageError::Unauthorized(_)), "{err}");
    let shown = format!("{err} {err:?} {b} {b:?}");
    assert!(!shown.contains(wrong), "token leaked: {shown}");
    assert!(!shown.contains("wrong-token"), "token leaked: {shown}");
    assert!(
        err.to_string().contains("ASTRA_DB_APPLICATION_TOKEN"),
        "message names the variable: {err}"
    );
    // Auth failures are not retried.
    assert_eq!(b.requests_sent(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_used_before_init_says_to_run_init() {
    let env = Env::start(false).await;
    let b = &env.backend;
    let err = b.count(&Filter::default()).await.expect_err("no schema");
    assert!(
        err.to_string().contains("songrec init-astra"),
        "clear message: {err}"
    );
    let err = b
        .put_songs(&[record(1, &model())])
        .await
        .expect_err("no schema");
    assert!(err.to_string().contains("songrec init-astra"), "{err}");
    assert!(!err.is_transient());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dimension_mismatches_are_typed() {
    let env = Env::start(true).await;
    let b = &env.backend;
    let r = record(1, &model());
    b.put_songs(std::slice::from_ref(&r)).await.expect("put");
    let other_dim = ModelInfo::new("err-test", "1", 4);
    let e = Embedding::new(other_dim.clone(), vec![1.0; 4]).expect("valid");
    let err = b
        .put_embedding(&r.metadata.id, &e)
        .await
        .expect_err("mismatch");
    assert!(
        matches!(
            err,
            StorageError::DimensionMismatch {
                expected: 8,
                got: 4,
                ..
            }
        ),
        "{err}"
    );
    let err = b
        .search(&SearchQuery::new(other_dim.clone(), vec![1.0; 4], 3))
        .await
        .expect_err("query mismatch");
    assert!(
        matches!(err, StorageError::DimensionMismatch { .. }),
        "{err}"
    );
    // In a batch, only the offending song fails.
    let mut bad = record(2, &model());
    bad.embeddings = vec![e];
    let good = record(3, &model());
    let report = b
        .put_songs(&[bad.clone(), good.clone()])
        .await
        .expect("batch");
    assert_eq!(report.stored, vec![good.metadata.id.clone()]);
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].0, bad.metadata.id);
    assert!(
        report.failed[0].1.contains("dimension"),
        "{}",
        report.failed[0].1
    );
    assert!(
        b.get_metadata(&bad.metadata.id)
            .await
            .expect("get")
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_is_idempotent_and_refuses_different_settings() {
    let env = Env::start(false).await;
    let b = &env.backend;
    let first = b.init_schema(&[model()]).await.expect("init");
    assert_eq!(first.created, vec!["songrec_songs", "songrec_v_err_test_1"]);
    assert!(first.existing.is_empty());
    assert_eq!(
        first.models,
        vec![(model(), "songrec_v_err_test_1".to_owned())]
    );
    let second = b.init_schema(&[model()]).await.expect("init again");
    assert!(second.created.is_empty(), "{second}");
    assert_eq!(
        second.existing,
        vec!["songrec_songs", "songrec_v_err_test_1"]
    );
    assert_eq!(second.models, first.models);

    // The same model with another dimension.
    let err = b
        .init_schema(&[ModelInfo::new("err-test", "1", 16)])
        .await
        .expect_err("registered with another dim");
    assert!(
        matches!(err, StorageError::DimensionMismatch { .. }),
        "{err}"
    );

    // A collection created by someone else with another dimension.
    let create = json!({"createCollection": {"name": "songrec_v_other_2",
        "options": {"vector": {"dimension": 3, "metric": "cosine"}}}});
    b.client()
        .run_command(None, &create, true)
        .await
        .expect("foreign collection");
    let err = b
        .init_schema(&[ModelInfo::new("other", "2", 8)])
        .await
        .expect_err("different settings");
    let msg = err.to_string();
    assert!(
        msg.contains("songrec_v_other_2"),
        "names the collection: {msg}"
    );
    assert!(
        msg.contains("dimension is 3, expected 8"),
        "says what differs: {msg}"
    );
    assert!(
        msg.contains("init-astra") && msg.contains("collection_prefix"),
        "says what to do: {msg}"
    );
    // On-demand creation by put_songs reports the same problem.
    let err = b
        .put_songs(&[record(1, &ModelInfo::new("other", "2", 8))])
        .await
        .expect_err("on demand");
    assert!(
        err.to_string().contains("dimension is 3, expected 8"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_errors_map_to_storage_errors() {
    let env = Env::start(true).await;
    let b = &env.backend;
    let dir = tempfile::tempdir().expect("tmp");
    let src = dir.path().join("a.wav");
    std::fs::write(&src, b"some audio bytes").expect("write");
    let wrong = SongId::from_bytes(b"other");
    let err = b.put_audio(&wrong, &src).await.expect_err("mismatch");
    assert!(matches!(err, StorageError::HashMismatch { .. }), "{err}");
    let err = b
        .get_audio(&wrong, &dir.path().join("out"))
        .await
        .expect_err("missing");
    assert!(matches!(err, StorageError::NotFound(_)), "{err}");
    // A backend on the cloud's Data API whose blob store is `s3`, without retries.
    let with_s3 = |s3: songrec_astra::blobs::S3Config| {
        let store =
            songrec_astra::blobs::BlobStore::new(s3.with_allow_http(true).with_max_retries(0))
                .expect("store");
        let client =
            songrec_astra::dataapi::DataApiClient::new(api_config(&env.base_url(), env.token()))
                .expect("client");
        AstraBackend::from_parts(client, store, "songrec").expect("backend")
    };
    // Wrong S3 secret → Unauthorized, secret not shown.
    let b2 = with_s3(
        songrec_astra::blobs::S3Config::new(
            BUCKET,
            "us-east-1",
            env.cloud.access_key(),
            songrec_astra::secret::Secret::new("definitely-wrong-secret"),
        )
        .with_endpoint(env.cloud.s3_url()),
    );
    let id = SongId::from_bytes(b"some audio bytes");
    let err = b2.put_audio(&id, &src).await.expect_err("bad secret");
    assert!(matches!(err, StorageError::Unauthorized(_)), "{err}");
    assert!(!format!("{err} {err:?}").contains("definitely-wrong-secret"));
    // Unreachable S3 → Unavailable.
    let b3 = with_s3(
        songrec_astra::blobs::S3Config::new(
            "b",
            "us-east-1",
            "AK",
            songrec_astra::secret::Secret::new("SK"),
        )
        .with_endpoint("http://127.0.0.1:9"),
    );
    let err = b3.has_audio(&id).await.expect_err("unreachable");
    assert!(err.is_unavailable(), "{err}");
}

/// The cloud's options, with `token`.
fn config(env: &Env, token: &str) -> AstraOptions {
    let mut cfg = env.cloud.options();
    cfg.token = songrec_astra::secret::Secret::new(token);
    cfg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_validates_and_displays_without_secrets() {
    let env = Env::start(false).await;
    let cfg = config(&env, env.token());
    let b = AstraBackend::connect(&cfg).expect("connect");
    let shown = b.to_string();
    assert_eq!(
        shown,
        format!(
            "Astra({}/default_keyspace, s3://{})",
            env.cloud.api_addr(),
            BUCKET
        )
    );
    assert!(!format!("{b:?}").contains(env.token()));
    assert!(!format!("{b:?}").contains(env.cloud.secret_key()));
    // init via the config, then the backend works.
    AstraBackend::init(&cfg, &[model()]).await.expect("init");
    assert_eq!(b.count(&Filter::default()).await.expect("count"), 0);

    let mut no_token = cfg.clone();
    no_token.token = songrec_astra::secret::Secret::default();
    let err = AstraBackend::connect(&no_token).expect_err("no token");
    assert!(
        err.to_string().contains("ASTRA_DB_APPLICATION_TOKEN"),
        "{err}"
    );
    let mut no_endpoint = cfg.clone();
    no_endpoint.api_endpoint.clear();
    let err = AstraBackend::connect(&no_endpoint).expect_err("no endpoint");
    assert!(err.to_string().contains("ASTRA_DB_API_ENDPOINT"), "{err}");
    let mut no_bucket = cfg.clone();
    no_bucket.s3.bucket.clear();
    let err = AstraBackend::connect(&no_bucket).expect_err("no bucket");
    assert!(err.to_string().contains("SONGREC_S3_BUCKET"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_reports_each_check() {
    let env = Env::start(false).await;
    let cfg = config(&env, env.token());
    let report = doctor(&cfg).await;
    let names = songrec_astra::backend::doctor_checks::COLLECTIONS;
    let c = report.check(names).expect("collections check");
    assert_eq!(c.status, CheckStatus::Fail, "{report}");
    assert!(c.fix.as_deref().unwrap_or("").contains("init-astra"));
    AstraBackend::init(&cfg, &[model()]).await.expect("init");
    let report = doctor(&cfg).await;
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.worst(), CheckStatus::Ok, "{report}");
    for name in [
        songrec_astra::backend::doctor_checks::SCHEMA,
        songrec_astra::backend::doctor_checks::ENDPOINT,
        songrec_astra::backend::doctor_checks::TOKEN,
        songrec_astra::backend::doctor_checks::KEYSPACE,
        songrec_astra::backend::doctor_checks::BUCKET,
        songrec_astra::backend::doctor_checks::CONDITIONAL_PUT,
    ] {
        assert_eq!(
            report.check(name).map(|c| c.status),
            Some(CheckStatus::Ok),
            "{name}: {report}"
        );
    }
    // A library an earlier songrec made records no schema version: a warning naming the fix.
    let b = AstraBackend::connect(&cfg).expect("connect");
    let songs = b.client().collection(b.songs_collection());
    songs
        .delete_one(serde_json::json!({"_id": "schema"}))
        .await
        .expect("delete");
    let report = doctor(&cfg).await;
    let c = report.check(songrec_astra::backend::doctor_checks::SCHEMA);
    let c = c.expect("schema check");
    assert_eq!(c.status, CheckStatus::Warn, "{report}");
    assert!(c.detail.starts_with("1 of 3"), "{report}");
    assert!(c.fix.as_deref().unwrap_or("").contains("init-astra"));
    let bad = config(&env, "AstraCS:bad-doctor-token");
    let report = doctor(&bad).await;
    let shown = format!("{report} {report:?}");
    assert!(!shown.contains("bad-doctor-token"), "{shown}");
    assert!(!shown.contains(env.cloud.secret_key()), "{shown}");
    let t = report
        .check(songrec_astra::backend::doctor_checks::TOKEN)
        .expect("token check");
    assert_eq!(t.status, CheckStatus::Fail);
    assert!(
        t.fix
            .as_deref()
            .unwrap_or("")
            .contains("ASTRA_DB_APPLICATION_TOKEN")
    );

    let mut unreachable = cfg.clone();
    unreachable.api_endpoint = "http://127.0.0.1:9".into();
    unreachable.s3.endpoint = "http://127.0.0.1:9".into();
    let report = doctor(&unreachable).await;
    let e = report
        .check(songrec_astra::backend::doctor_checks::ENDPOINT)
        .expect("endpoint check");
    assert_eq!(e.status, CheckStatus::Fail, "{report}");
    assert!(
        e.fix
            .as_deref()
            .unwrap_or("")
            .contains("ASTRA_DB_API_ENDPOINT")
    );
    assert_eq!(
        report
            .check(songrec_astra::backend::doctor_checks::BUCKET)
            .map(|c| c.status),
        Some(CheckStatus::Fail)
    );
}
