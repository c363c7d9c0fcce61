//! Every layer, alone and stacked, passes the conformance suite over the in-memory oracle.

use std::time::Duration;

use songrec_conformance::{MemoryBackend, run_all};
use songrec_storage::layers::*;
use songrec_storage::prelude::*;
use songrec_storage::{Filter, ModelInfo, SearchQuery, SongId, SongMetadata, StorageError};

fn fast_retry() -> Retry {
    Retry::default()
        .max_retries(40)
        .delays(Duration::from_millis(1), Duration::from_millis(20))
}

#[tokio::test]
async fn memory_backend_passes_conformance() {
    run_all(&MemoryBackend::new()).await;
    // Without a feed (the trait's default), as the local files.
    run_all(&MemoryBackend::without_feed()).await;
}

#[tokio::test]
async fn shared_and_boxed_backends_pass_conformance() {
    use std::sync::Arc;
    let shared: Arc<dyn songrec_storage::StorageBackend> = Arc::new(MemoryBackend::new());
    run_all(&shared).await;
    let boxed: Box<dyn songrec_storage::StorageBackend> = Box::new(MemoryBackend::new());
    run_all(&boxed).await;
    // A layer stacks over the factory's shared handle; `Display` reads through the pointer.
    let layered = shared.layer(MetricsRecorder::new());
    assert_eq!(layered.to_string(), "Metrics(Memory)");
}

#[tokio::test]
async fn retry_layer_passes_conformance() {
    run_all(&MemoryBackend::new().layer(Retry::default())).await;
}

#[tokio::test]
async fn timeout_layer_passes_conformance() {
    run_all(&MemoryBackend::new().layer(Timeout::new(Duration::from_secs(30)))).await;
}

#[tokio::test]
async fn metrics_layer_passes_conformance() {
    let b = MemoryBackend::new().layer(MetricsRecorder::new());
    run_all(&b).await;
    let m = b.metrics();
    assert!(m.total_calls() > 100, "{m}");
    // audio_roundtrip's file, delete_leaves_tombstone's, link_audio_leaves_the_file's.
    assert_eq!(m.audio_bytes_put, 300_000 + 1200 + 200_000);
    assert_eq!(m.audio_bytes_got, 300_000 + 200_000);
}

#[tokio::test]
async fn chaos_layer_without_faults_passes_conformance() {
    let b = MemoryBackend::new().layer(Chaos::new(3));
    run_all(&b).await;
    assert_eq!(b.injected(), 0);
}

#[tokio::test]
async fn circuit_breaker_layer_passes_conformance() {
    run_all(&MemoryBackend::new().layer(CircuitBreaker::new(3, Duration::from_secs(30)))).await;
}

#[tokio::test]
async fn crash_layer_passes_conformance_when_not_hit() {
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let h = hits.clone();
    let point = CrashPoint::parse("flush:1000000")
        .unwrap()
        .with_action(std::sync::Arc::new(move || {
            h.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }));
    let b = MemoryBackend::new().layer(point);
    assert_eq!(b.to_string(), "Crash(Memory)");
    run_all(&b).await;
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[tokio::test]
async fn crash_point_fires_once_at_the_nth_call_before_or_after_it() {
    for (spec, calls_seen_by_action) in [("put_metadata:2:before", 1), ("put_metadata:2:after", 2)]
    {
        let metrics = MetricsRecorder::new();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (m, s) = (metrics.clone(), seen.clone());
        let point = CrashPoint::parse(spec)
            .unwrap()
            .with_action(std::sync::Arc::new(move || {
                let calls = m.metrics().op("put_metadata").map_or(0, |o| o.calls);
                s.lock().unwrap().push(calls);
            }));
        let b = MemoryBackend::new().layer(metrics.clone()).layer(point);
        for n in 0..4u8 {
            b.put_metadata(&SongMetadata::new(SongId::from_bytes(&[n]), "t"))
                .await
                .unwrap();
            b.flush().await.unwrap();
        }
        assert_eq!(*seen.lock().unwrap(), vec![calls_seen_by_action], "{spec}");
    }
    assert_eq!(
        CrashPoint::parse("astra:put_audio:3").unwrap().to_string(),
        "astra:put_audio:3:after"
    );
    for bad in [
        "",
        "put_songs",
        "nope:1",
        "put_songs:x",
        "a:b:put_songs:1",
        "put_songs:0",
    ] {
        assert!(CrashPoint::parse(bad).is_err(), "{bad:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn full_stack_passes_conformance_and_displays_itself() {
    let metrics = MetricsRecorder::new();
    let b = MemoryBackend::new()
        .layer(Chaos::new(11).fail_ratio(0.2).after_ratio(0.1))
        .layer(metrics.clone())
        .layer(Timeout::new(Duration::from_secs(5)))
        .layer(fast_retry())
        .layer(CircuitBreaker::new(50, Duration::from_secs(30)));
    assert_eq!(
        b.to_string(),
        "CircuitBreaker(Retry(Timeout(Metrics(Chaos(Memory)))))"
    );
    run_all(&b).await;
    let m = metrics.metrics();
    let errors: u64 = m.ops.values().map(|o| o.errors).sum();
    assert!(errors > 0, "chaos injected nothing: {m}");
}

#[tokio::test(start_paused = true)]
async fn retry_over_chaos_passes_conformance() {
    for seed in [1, 2, 3] {
        let b = MemoryBackend::new()
            .layer(Chaos::new(seed).fail_ratio(0.3).after_ratio(0.1))
            .layer(fast_retry());
        run_all(&b).await;
        assert!(
            b.inner().injected() > 20,
            "seed {seed}: only {} faults",
            b.inner().injected()
        );
    }
}

#[tokio::test]
async fn retry_does_not_repeat_permanent_errors() {
    let b = MemoryBackend::new()
        .layer(MetricsRecorder::new())
        .layer(fast_retry());
    let q = SearchQuery::new(ModelInfo::new("m", "1", 2), vec![1.0, 0.0], 0);
    let err = b.search(&q).await.expect_err("k = 0");
    assert!(matches!(err, StorageError::InvalidInput(_)), "{err}");
    assert_eq!(b.inner().metrics().op("search").map(|o| o.calls), Some(1));
}

#[tokio::test(start_paused = true)]
async fn retry_gives_up_after_max_retries() {
    let b = MemoryBackend::new()
        .layer(Chaos::new(5).fail_ratio(1.0))
        .layer(MetricsRecorder::new())
        .layer(Retry::default().max_retries(3));
    let err = b
        .count(&Filter::default())
        .await
        .expect_err("always failing");
    assert!(err.is_transient() && err.is_unavailable(), "{err}");
    assert_eq!(b.inner().metrics().op("count").map(|o| o.calls), Some(4));
}

#[tokio::test(start_paused = true)]
async fn timeout_turns_slow_calls_into_transient_unavailable() {
    let b = MemoryBackend::new()
        .layer(Chaos::new(0).latency(Duration::from_secs(10)))
        .layer(Timeout::new(Duration::from_millis(50)));
    let err = b.count(&Filter::default()).await.expect_err("too slow");
    match &err {
        StorageError::Unavailable {
            message, transient, ..
        } => {
            assert!(*transient);
            assert!(
                message.contains("count") && message.contains("50ms"),
                "{message}"
            );
        }
        other => panic!("want Unavailable, got {other:?}"),
    }
    // A fast enough call passes.
    let b = MemoryBackend::new()
        .layer(Chaos::new(0).latency(Duration::from_millis(10)))
        .layer(Timeout::new(Duration::from_millis(50)));
    assert_eq!(b.count(&Filter::default()).await.expect("fast"), 0);
}

#[tokio::test]
async fn metrics_count_a_known_sequence_exactly() {
    let recorder = MetricsRecorder::new();
    let b = MemoryBackend::new().layer(recorder.clone());
    let m = SongMetadata::new(SongId::from_bytes(b"one"), "One");
    b.put_metadata(&m).await.expect("put");
    assert!(b.get_metadata(&m.id).await.expect("get").is_some());
    assert!(b.get_metadata(&m.id).await.expect("get").is_some());
    let unknown = SongId::from_bytes(b"unknown");
    assert!(b.get_metadata(&unknown).await.expect("get").is_none());
    assert_eq!(b.count(&Filter::default()).await.expect("count"), 1);
    let q = SearchQuery::new(ModelInfo::new("m", "1", 2), vec![1.0, 0.0], 0);
    assert!(b.search(&q).await.is_err());

    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("a.wav");
    std::fs::write(&src, b"0123456789").expect("write");
    let id = SongId::from_bytes(b"0123456789");
    b.put_audio(&id, &src).await.expect("put_audio");
    b.put_audio(&id, &src).await.expect("put_audio again");
    let n = b
        .get_audio(&id, &dir.path().join("b.wav"))
        .await
        .expect("get_audio");
    assert_eq!(n, 10);

    let s = b.metrics();
    let calls = |op: &str| s.op(op).map(|o| (o.calls, o.errors));
    assert_eq!(calls("put_metadata"), Some((1, 0)));
    assert_eq!(calls("get_metadata"), Some((3, 0)));
    assert_eq!(calls("count"), Some((1, 0)));
    assert_eq!(calls("search"), Some((1, 1)));
    assert_eq!(calls("put_audio"), Some((2, 0)));
    assert_eq!(calls("get_audio"), Some((1, 0)));
    assert_eq!(calls("list"), None);
    let errors: u64 = s.ops.values().map(|o| o.errors).sum();
    assert_eq!((s.total_calls(), errors), (9, 1));
    assert_eq!((s.audio_bytes_put, s.audio_bytes_got), (10, 10));
    let table = s.to_string();
    assert!(
        table.contains("get_metadata") && table.contains("10 put, 10 got"),
        "{table}"
    );
    recorder.reset();
    assert_eq!(b.metrics(), Metrics::default());
}

#[tokio::test(start_paused = true)]
async fn circuit_breaker_fails_fast_then_recovers() {
    let b = MemoryBackend::new()
        .layer(Chaos::new(9).fail_ratio(1.0))
        .layer(MetricsRecorder::new())
        .layer(CircuitBreaker::new(3, Duration::from_secs(30)));
    let inner_calls = || b.inner().metrics().total_calls();
    let all = Filter::default();
    for i in 0..3 {
        let err = b.count(&all).await.expect_err("chaos");
        assert!(err.is_transient(), "{err}");
        assert_eq!(inner_calls(), i + 1);
    }
    assert!(b.is_open());
    for _ in 0..5 {
        let err = b.count(&all).await.expect_err("open");
        assert!(err.is_unavailable() && !err.is_transient(), "{err}");
        assert!(
            err.to_string().contains("songrec tries it again in"),
            "{err}"
        );
    }
    assert_eq!(inner_calls(), 3, "open circuit must not call the backend");

    // Half-open after the cool-down: one failure re-opens it at once.
    tokio::time::advance(Duration::from_secs(31)).await;
    assert!(!b.is_open());
    assert!(
        b.count(&all)
            .await
            .expect_err("still failing")
            .is_transient()
    );
    assert_eq!(inner_calls(), 4);
    assert!(b.is_open());
    assert!(!b.count(&all).await.expect_err("open again").is_transient());
    assert_eq!(inner_calls(), 4);

    // The remote heals: after the cool-down the trial call succeeds and closes the circuit.
    b.inner().inner().set_config(Chaos::new(9));
    tokio::time::advance(Duration::from_secs(31)).await;
    assert_eq!(b.count(&all).await.expect("healed"), 0);
    assert!(!b.is_open());
    assert_eq!(b.count(&all).await.expect("closed"), 0);
    assert_eq!(inner_calls(), 6);
}

#[test]
fn display_shows_the_stack() {
    let b = MemoryBackend::new()
        .layer(MetricsRecorder::new())
        .layer(Timeout::new(Duration::from_secs(1)))
        .layer(Retry::default());
    assert_eq!(b.to_string(), "Retry(Timeout(Metrics(Memory)))");
    let b = MemoryBackend::new()
        .layer(Chaos::new(1))
        .layer(CircuitBreaker::new(2, Duration::from_secs(1)));
    assert_eq!(b.to_string(), "CircuitBreaker(Chaos(Memory))");
}

#[tokio::test]
async fn layers_forward_the_change_feed_and_count_it() {
    let metrics = MetricsRecorder::new();
    let b = MemoryBackend::new()
        .layer(metrics.clone())
        .layer(Timeout::new(Duration::from_secs(30)))
        .layer(fast_retry());
    let head = b.changes_since(None).await.expect("feed").expect("a feed");
    let m = SongMetadata::new(SongId::from_bytes(b"fed"), "Fed");
    b.put_metadata(&m).await.expect("put");
    let ch = b
        .changes_since(Some(&head.cursor))
        .await
        .expect("feed")
        .expect("known cursor");
    assert_eq!(ch.entries.len(), 1);
    assert_eq!(ch.entries[0].id, m.id);
    assert_eq!(
        b.versions_of(std::slice::from_ref(&m.id))
            .await
            .expect("versions")
            .len(),
        1
    );
    let s = metrics.metrics();
    assert_eq!(s.op("changes_since").map(|o| o.calls), Some(2));
    assert_eq!(s.op("versions_of").map(|o| o.calls), Some(1));
    // A layer over a backend without a feed says so too.
    let none = MemoryBackend::without_feed().layer(fast_retry());
    assert!(none.changes_since(None).await.expect("no feed").is_none());
}
