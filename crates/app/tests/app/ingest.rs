//! The ingest pipeline against a real local library, with synthesised audio.

use std::path::Path;
use std::sync::Arc;

use songrec_app::ingest::{IngestOptions, IngestSummary, NoProgress, Outcome, ingest};
use songrec_audio::synth::{SongSpec, render, write_wav};
use songrec_local::LocalBackend;
use songrec_storage::Filter;
use songrec_storage::prelude::*;

fn opts(state: Option<&Path>) -> IngestOptions {
    IngestOptions {
        jobs: 2,
        embedders: songrec_app::embedders::parse_list("dsp").unwrap(),
        batch_size: 2,
        state_file: state.map(Path::to_path_buf),
        prune: false,
        copy_audio: false,
        exclude: Vec::new(),
        readd: false,
    }
}

/// Ingests `music` into `lib`, with the state file `state`.
async fn ingest_music(lib: &LocalBackend, music: &Path, state: &Path) -> IngestSummary {
    let roots = [music.to_path_buf()];
    ingest(lib, &roots, &opts(Some(state)), Arc::new(NoProgress))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_unchanged_files_and_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("music");
    std::fs::create_dir_all(music.join("sub")).unwrap();
    for (i, style) in ["techno", "ballad", "rock"].iter().enumerate() {
        write_wav(
            &music.join(format!("{style}.wav")),
            &render(&SongSpec::for_style(style, i as u64, 8.0)),
        )
        .unwrap();
    }
    // The same content twice in one run, and a hidden file that is not looked at.
    std::fs::copy(music.join("rock.wav"), music.join("sub/rock copy.wav")).unwrap();
    std::fs::write(music.join(".hidden.wav"), b"junk").unwrap();
    std::fs::write(music.join("cover.jpg"), b"not audio, not a candidate").unwrap();

    let lib = LocalBackend::open(dir.path().join("lib")).unwrap();
    let state = dir.path().join("state.json");
    let s = ingest_music(&lib, &music, &state).await;
    assert_eq!(s.files.len(), 4, "{:?}", s.files);
    assert_eq!(s.added(), 3);
    assert_eq!(s.skipped(), 1, "the copy is the same song");
    assert!(s.failed().is_empty());
    assert_eq!(lib.count(&Filter::default()).await.unwrap(), 3);

    // Metadata comes from the analysis: duration, rate, file name, title from the file name.
    let page = lib
        .list(&songrec_storage::ListQuery::default())
        .await
        .unwrap();
    let techno = page
        .items
        .iter()
        .find(|m| m.file_name == "techno.wav")
        .expect("techno stored");
    assert!((techno.duration_secs - 8.0).abs() < 0.01);
    assert_eq!(techno.sample_rate, 22_050);
    assert_eq!(techno.channels, 1);
    assert_eq!(techno.title, "techno");
    assert!(
        techno.bpm.is_some_and(|b| (120.0..=135.0).contains(&b)),
        "techno bpm {:?}",
        techno.bpm
    );

    // Second run: every file unchanged (size + mtime), not even hashed.
    let s = ingest_music(&lib, &music, &state).await;
    assert_eq!(s.added(), 0);
    assert!(
        s.files.iter().all(|f| f.outcome == Outcome::Unchanged),
        "{:?}",
        s.files
    );

    // A file rewritten with new content is a new song.
    write_wav(
        &music.join("techno.wav"),
        &render(&SongSpec::for_style("techno", 99, 3.0)),
    )
    .unwrap();
    let s = ingest_music(&lib, &music, &state).await;
    assert_eq!(s.added(), 1);
    assert_eq!(lib.count(&Filter::default()).await.unwrap(), 4);
}
