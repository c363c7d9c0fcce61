//! A forced `reembed` that was interrupted resumes from its state file.

use std::sync::Arc;

use songrec_app::ingest::{IngestOptions, NoProgress};
use songrec_app::migrate::NoMigrateProgress;
use songrec_app::reembed::{ReembedOptions, reembed};
use songrec_storage::StorageBackend;

#[tokio::test]
async fn forced_run_resumes_from_its_state_file() {
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("music");
    std::fs::create_dir_all(&music).unwrap();
    for (i, style) in songrec_audio::synth::STYLES.iter().enumerate() {
        let spec = songrec_audio::synth::SongSpec::for_style(style, i as u64 + 1, 2.0);
        songrec_audio::synth::write_wav_tagged(
            &music.join(format!("{style}.wav")),
            &songrec_audio::synth::render(&spec),
            &[("INAM", style)],
        )
        .unwrap();
    }
    let backend = songrec_local::LocalBackend::open(dir.path().join("lib")).unwrap();
    let dsp = songrec_app::embedders::by_name("dsp").unwrap();
    let summary = songrec_app::ingest::ingest(
        &backend,
        &[music],
        &IngestOptions {
            jobs: 1,
            embedders: vec![dsp.clone()],
            batch_size: 8,
            state_file: None,
        },
        Arc::new(NoProgress),
    )
    .await
    .unwrap();
    assert_eq!(summary.added(), 5);
    let songs = songrec_app::reembed::all_songs(&backend).await.unwrap();
    // Pretend an earlier forced run finished two songs before it was killed.
    let state = dir.path().join("state.json");
    let done: Vec<_> = songs.iter().take(2).map(|s| s.id.clone()).collect();
    std::fs::write(
        &state,
        serde_json::to_vec(&serde_json::json!({"model": "songrec-dsp@1", "done": done})).unwrap(),
    )
    .unwrap();
    let opts = ReembedOptions {
        embedder: dsp,
        jobs: 2,
        force: true,
        state_file: state.clone(),
        scratch_dir: dir.path().join("scratch"),
    };
    let r = reembed(&backend, &opts, &NoMigrateProgress).await.unwrap();
    assert_eq!((r.songs, r.already, r.computed), (5, 2, 3));
    assert!(r.failed.is_empty());
    // Completed: the state file is gone and the scratch audio was cleaned up.
    assert!(!state.exists());
    assert_eq!(
        std::fs::read_dir(dir.path().join("scratch"))
            .unwrap()
            .count(),
        0
    );
    // Exactly the three recomputed songs got a new version.
    let after = songrec_app::reembed::all_songs(&backend).await.unwrap();
    let bumped = after
        .iter()
        .filter(|a| {
            songs
                .iter()
                .any(|b| b.id == a.id && a.version == b.version + 1)
        })
        .count();
    assert_eq!(bumped, 3);
    assert_eq!(backend.count(&Default::default()).await.unwrap(), 5);
}
