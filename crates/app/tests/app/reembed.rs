//! A forced `reembed` that was interrupted resumes from its state file.

use std::sync::Arc;

use songrec_app::ingest::{IngestOptions, NoProgress};
use songrec_app::reembed::{ReembedOptions, reembed};
use songrec_storage::prelude::*;
use songrec_storage::{Filter, StorageBackendExt};

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
            prune: false,
            copy_audio: false,
            exclude: Vec::new(),
            readd: false,
        },
        Arc::new(NoProgress),
    )
    .await
    .unwrap();
    assert_eq!(summary.added(), 5);
    let songs = backend.list_all(&Filter::default()).await.unwrap();
    // Pretend an earlier forced run finished two songs before it was killed.
    let state = dir.path().join("state.json");
    let done: Vec<_> = songs.iter().take(2).map(|s| s.id.clone()).collect();
    std::fs::write(
        &state,
        serde_json::to_vec(&serde_json::json!({"model": format!("songrec-dsp@{}", songrec_audio::DSP_VERSION), "done": done})).unwrap(),
    )
    .unwrap();
    let opts = ReembedOptions {
        embedder: dsp,
        jobs: 2,
        force: true,
        state_file: state.clone(),
        scratch_dir: dir.path().join("scratch"),
    };
    let r = reembed(&backend, &opts, &NoProgress).await.unwrap();
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
    let after = backend.list_all(&Filter::default()).await.unwrap();
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

/// A library written by another build holds musicnn vectors of another version: they are never
/// compared with this build's. `auto` falls back to the DSP vectors, `similar --embedder
/// musicnn` asks for a `reembed`, the old vectors stay reachable as `musicnn@VERSION`, and
/// `reembed --embedder musicnn` adds this build's version next to them.
#[tokio::test]
async fn old_musicnn_vectors_are_never_mixed_with_the_new_version() {
    use songrec_app::similar::{Choice, Target, choose_parts, similar};
    use songrec_rank::{Question, Space};
    use songrec_storage::{Embedding, ModelInfo, Ranking};

    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("music");
    std::fs::create_dir_all(&music).unwrap();
    for (i, style) in songrec_audio::synth::STYLES.iter().take(3).enumerate() {
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
    songrec_app::ingest::ingest(
        &backend,
        &[music],
        &IngestOptions {
            jobs: 1,
            embedders: vec![dsp],
            batch_size: 8,
            state_file: None,
            prune: false,
            copy_audio: false,
            exclude: Vec::new(),
            readd: false,
        },
        Arc::new(NoProgress),
    )
    .await
    .unwrap();
    let songs = backend.list_all(&Filter::default()).await.unwrap();
    assert_eq!(songs.len(), 3);
    // The other build's vectors.
    let old = ModelInfo::new(
        songrec_neural::MUSICNN_NAME,
        (songrec_neural::MUSICNN_VERSION + 1).to_string(),
        songrec_neural::MUSICNN_DIM,
    );
    for (i, s) in songs.iter().enumerate() {
        let mut v = vec![0.0f32; songrec_neural::MUSICNN_DIM];
        v[i] = 1.0;
        backend
            .put_embedding(&s.id, &Embedding::new(old.clone(), v).unwrap())
            .await
            .unwrap();
    }
    let new = songrec_app::embedders::model_by_name("musicnn").unwrap();
    assert_eq!(new.version, songrec_neural::MUSICNN_VERSION.to_string());
    assert_ne!(new, old);
    let pool = songrec_app::embedders::Pool::new(Default::default());
    let target = Target::Song(Box::new(songs[0].clone()));
    let models = |space: &Space| {
        space
            .parts
            .iter()
            .map(|p| p.model.key())
            .collect::<Vec<_>>()
    };
    let dsp_key = songrec_app::embedders::model_by_name("dsp").unwrap().key();
    let parts = choose_parts(&backend, &target, &Choice::Auto, None)
        .await
        .unwrap();
    assert_eq!(
        models(&parts),
        std::slice::from_ref(&dsp_key),
        "auto must not use another musicnn version"
    );
    let request = |space| Question {
        space,
        ranking: Ranking {
            k: 5,
            exact: true,
            ..Ranking::default()
        },
    };
    let parts = choose_parts(&backend, &target, &Choice::Embedder("musicnn".into()), None)
        .await
        .unwrap();
    let err = similar(&backend, &target, &request(parts), &pool)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("reembed"), "{err}");
    // The old vectors are still there under their own name.
    let parts = choose_parts(&backend, &target, &Choice::Model(old.key()), None)
        .await
        .unwrap();
    assert_eq!(models(&parts), [old.key()]);
    assert_eq!(
        similar(&backend, &target, &request(parts), &pool)
            .await
            .unwrap()
            .len(),
        2
    );

    // `reembed` adds this build's version to every song; the other stays untouched beside it.
    let musicnn = songrec_app::embedders::by_name("musicnn").unwrap();
    let r = reembed(
        &backend,
        &ReembedOptions {
            embedder: musicnn,
            jobs: 1,
            force: false,
            state_file: dir.path().join("state.json"),
            scratch_dir: dir.path().join("scratch"),
        },
        &NoProgress,
    )
    .await
    .unwrap();
    assert_eq!((r.songs, r.already, r.computed), (3, 0, 3));
    for s in &songs {
        let v2 = backend.get_embedding(&s.id, &new).await.unwrap().unwrap();
        let v1 = backend.get_embedding(&s.id, &old).await.unwrap().unwrap();
        assert_eq!(v2.model, new);
        assert_ne!(v1.vector, v2.vector);
    }
    let parts = choose_parts(&backend, &target, &Choice::Auto, None)
        .await
        .unwrap();
    assert_eq!(models(&parts), [new.key(), dsp_key]);
}

/// Three real recordings (freedesktop's Ogg sounds) stored with their audio and no vector, as a
/// library migrated from a source without this model's vectors is: `reembed` has each to do.
async fn bare_library(
    dir: &std::path::Path,
) -> (
    Arc<songrec_local::LocalBackend>,
    Vec<songrec_storage::SongMetadata>,
) {
    use songrec_storage::{SongId, SongMetadata};
    let b = Arc::new(songrec_local::LocalBackend::open(dir.join("lib")).unwrap());
    let mut songs = Vec::new();
    for name in ["bell.oga", "complete.oga", "message.oga"] {
        let path = songrec_testkit::fixtures::real_recording("freedesktop", name);
        let id = SongId::from_bytes(&std::fs::read(&path).unwrap());
        b.put_audio(&id, &path).await.unwrap();
        let mut m = SongMetadata::new(id, name);
        m.file_name = name.into();
        b.put_metadata(&m).await.unwrap();
        songs.push(m);
    }
    songs.sort_by(|x, y| x.id.cmp(&y.id));
    (b, songs)
}

fn dsp_options(dir: &std::path::Path) -> ReembedOptions {
    ReembedOptions {
        embedder: songrec_app::embedders::by_name("dsp").unwrap(),
        jobs: 1,
        force: false,
        state_file: dir.join("state/reembed.json"),
        scratch_dir: dir.join("scratch"),
    }
}

/// A run killed between a song's vector and its metadata: the vector is stored, the new version
/// and analysis are not. The next run skipped the song ("it has the vector") and `sync`, which
/// compares versions, never carried that vector. Killed at the crash layer's two points where
/// that can happen (after the vector alone; inside the one record write, the vector stored and
/// the metadata not), the next run finishes every song: each carries the model's vector and a
/// new version with the analysis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_between_vector_and_metadata_is_finished_by_the_next_run() {
    use songrec_storage::layers::{CrashLayer, CrashPoint};
    for spec in ["put_embedding:1:after", "put_songs:1:before"] {
        let dir = tempfile::tempdir().unwrap();
        let (b, songs) = bare_library(dir.path()).await;
        let opts = dsp_options(dir.path());
        let model = songrec_app::embedders::model_of(opts.embedder.as_ref());
        let (lib, inflight, m) = (
            b.clone(),
            dir.path().join("state/reembed.json.inflight"),
            model.clone(),
        );
        let storing_record = spec.starts_with("put_songs");
        // The kill: inside the record write, the backend had stored the vector of the song
        // being written (named by the in-flight file) but not its metadata.
        let kill = move || {
            if storing_record {
                let named: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(&inflight).unwrap()).unwrap();
                let id: songrec_storage::SongId =
                    serde_json::from_value(named["id"].clone()).unwrap();
                let e = songrec_storage::Embedding::new(m.clone(), vec![0.5; m.dim]).unwrap();
                futures::executor::block_on(lib.put_embedding(&id, &e)).unwrap();
            }
            panic!("killed at {spec}");
        };
        let point = CrashPoint::parse(spec).unwrap().with_action(Arc::new(kill));
        let crashing = CrashLayer::new(b.clone(), point);
        let first_opts = opts.clone();
        let first =
            tokio::spawn(async move { reembed(&crashing, &first_opts, &NoProgress).await }).await;
        if let Err(e) = &first {
            assert!(e.is_panic(), "{spec}: {e}");
        }
        let r = reembed(b.as_ref(), &opts, &NoProgress).await.unwrap();
        assert!(r.failed.is_empty(), "{spec}: {:?}", r.failed);
        for s in &songs {
            let now = b.get_metadata(&s.id).await.unwrap().unwrap();
            assert!(
                now.version > s.version && now.extra.contains_key("descriptors"),
                "{spec}: {} kept version {} without its analysis",
                s.title,
                now.version
            );
            let v = b.get_embedding(&s.id, &model).await.unwrap().unwrap();
            assert_ne!(
                v.vector,
                vec![0.5; model.dim],
                "{spec}: the vector is recomputed"
            );
        }
        assert!(
            !dir.path().join("state/reembed.json.inflight").exists(),
            "{spec}: a finished run leaves no in-flight file"
        );
    }
}

/// A song deleted elsewhere while `reembed` analysed it stays deleted: the run used to store
/// the metadata it had read at its start (`unwrap_or_else(|| song.clone())`), re-creating it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_song_deleted_during_the_run_stays_deleted() {
    use songrec_storage::layers::{CrashLayer, CrashPoint};
    let dir = tempfile::tempdir().unwrap();
    let (b, songs) = bare_library(dir.path()).await;
    let opts = dsp_options(dir.path());
    let (lib, first) = (b.clone(), songs[0].id.clone());
    // Songs are analysed in id order, one at a time: the first audio fetched is songs[0]'s.
    let delete = move || {
        assert!(futures::executor::block_on(lib.delete_song(&first)).unwrap());
    };
    let point = CrashPoint::parse("get_audio:1:after")
        .unwrap()
        .with_action(Arc::new(delete));
    let layered = CrashLayer::new(b.clone(), point);
    let r = reembed(&layered, &opts, &NoProgress).await.unwrap();
    assert_eq!((r.computed, r.deleted), (2, 1), "{r:?}");
    assert_eq!(b.get_metadata(&songs[0].id).await.unwrap(), None);
    assert_eq!(b.count(&Default::default()).await.unwrap(), 2);
}
