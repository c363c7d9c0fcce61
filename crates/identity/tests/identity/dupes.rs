//! Duplicate detection on a real local library: exact copies (same audio, other tags), near
//! copies (noisy "re-encode", trimmed, and an mp3 when ffmpeg is installed) and a song that only
//! sounds similar (same style, other notes), which must not be grouped.

use std::path::Path;
use std::sync::Arc;

use songrec_app::ingest::{IngestOptions, NoProgress, ingest};
use songrec_audio::synth::{SongSpec, render, write_wav_tagged};
use songrec_identity::dupes::{self, DupesOptions, Kind};
use songrec_identity::fingerprint::{EXTRA_KEY, FingerprintRecord};
use songrec_local::LocalBackend;
use songrec_storage::prelude::*;
use songrec_storage::{Filter, SearchQuery};

const SR: f32 = 22_050.0;

fn wav(dir: &Path, name: &str, samples: &[f32], title: &str, extra_tag: &str) {
    write_wav_tagged(
        &dir.join(format!("{name}.wav")),
        samples,
        &[("INAM", title), ("IART", "Dupes Band"), ("ICMT", extra_tag)],
    )
    .unwrap();
}

fn ffmpeg_mp3(src: &Path, dest: &Path) -> bool {
    std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-i"])
        .arg(src)
        .args(["-ar", "44100", "-ac", "2", "-b:a", "128k"])
        .arg(dest)
        .status()
        .is_ok_and(|s| s.success())
}

/// Ingests a folder with the dsp embedder; no file may fail.
async fn ingest_dsp(lib: &LocalBackend, music: &Path) -> songrec_app::ingest::IngestSummary {
    let opts = IngestOptions {
        jobs: 2,
        embedders: songrec_app::embedders::parse_list("dsp").unwrap(),
        batch_size: 16,
        state_file: None,
        prune: false,
        copy_audio: false,
        exclude: Vec::new(),
        readd: false,
    };
    let s = ingest(lib, &[music.to_path_buf()], &opts, Arc::new(NoProgress))
        .await
        .unwrap();
    assert!(s.failed().is_empty(), "{:?}", s.failed());
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_and_near_duplicates_but_not_lookalikes() {
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("music");
    std::fs::create_dir_all(&music).unwrap();
    let orig = render(&SongSpec::for_style("techno", 1, 20.0));
    wav(&music, "orig", &orig, "Pulse", "first rip");
    // Exact: the same samples, other tags (different file bytes, so a different song id).
    wav(
        &music,
        "retagged",
        &orig,
        "Pulse (Remastered)",
        "second rip, other tags",
    );
    // Near: a lossy-like copy: quieter, with low-level noise.
    let noisy = songrec_testkit::audio::noisy_copy(&orig);
    wav(&music, "noisy", &noisy, "Pulse noisy", "");
    // Near: the first 2.5 s cut off.
    let cut = (2.5 * SR) as usize;
    wav(&music, "trimmed", &orig[cut..], "Pulse trimmed", "");
    // Look-alikes: other songs of the same style (same tempo range, drums, timbre), and others.
    for (name, style, seed) in [
        ("lookalike", "techno", 2),
        ("lookalike2", "techno", 4),
        ("rock", "rock", 1),
        ("pads", "ambient", 1),
    ] {
        wav(
            &music,
            name,
            &render(&SongSpec::for_style(style, seed, 20.0)),
            name,
            "",
        );
    }
    // Exact, as another song: the same samples in another container (big-endian AIFF: other
    // packets, so another audio identity; equal decoded audio).
    songrec_testkit::audio::convert(
        &music.join("retagged.wav"),
        &music.join("retagged.aiff"),
        &["-c:a", "pcm_s16be"],
    );
    let mp3 = ffmpeg_mp3(&music.join("orig.wav"), &music.join("orig-128k.mp3"));
    if !mp3 {
        eprintln!("ffmpeg not available: the mp3 copy is not part of this run");
    }

    let lib = LocalBackend::open(dir.path().join("lib")).unwrap();
    let s = ingest_dsp(&lib, &music).await;
    // The retagged WAV is the same audio as the original: the same song, not a second one.
    let total = 8 + usize::from(mp3);
    assert_eq!(s.added(), total, "{:#?}", s.files);
    // Which of the two was stored first depends on the analysis order.
    let as_song: Vec<&str> = ["orig.wav", "retagged.wav"]
        .into_iter()
        .filter(|n| {
            s.files.iter().any(|f| {
                f.path.ends_with(n)
                    && matches!(f.outcome, songrec_app::ingest::Outcome::Added { .. })
            })
        })
        .collect();
    assert_eq!(
        as_song.len(),
        1,
        "a retagged file is the song it was: {:#?}",
        s.files
    );
    let orig_name = as_song[0];

    let report = dupes::scan(&lib, &DupesOptions::default(), Arc::new(dupes::NoProgress))
        .await
        .unwrap();
    assert_eq!(report.songs, total);
    assert_eq!(report.fingerprinted, 0, "fingerprints are taken at ingest");
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(report.groups.len(), 1, "{:#?}", report.groups);
    let g = &report.groups[0];
    assert_eq!(g.kind, Kind::Near);
    let mut names: Vec<&str> = g
        .members
        .iter()
        .map(|m| m.song.file_name.as_str())
        .collect();
    names.sort();
    let mut want = vec!["noisy.wav", orig_name, "retagged.aiff", "trimmed.wav"];
    if mp3 {
        want.push("orig-128k.mp3");
    }
    want.sort();
    assert_eq!(names, want);
    let keeper = &g.members[0];
    assert!(keeper.keep && g.members[1..].iter().all(|m| !m.keep));
    assert!(
        keeper.song.duration_secs > 19.0,
        "an untrimmed copy is kept: {}",
        keeper.song.file_name
    );
    let member = |f: &str| g.members.iter().find(|m| m.song.file_name == f).unwrap();
    let trimmed = member("trimmed.wav");
    if !trimmed.keep {
        let off = trimmed.offset_secs.unwrap();
        assert!(
            (off - 2.5).abs() < 0.3,
            "trimmed copy starts 2.5 s in: {off}"
        );
        assert!(trimmed.bit_error.unwrap() < 0.15, "{:?}", trimmed.bit_error);
    }
    // orig and retagged have the same decoded audio.
    let (o, rt) = (member(orig_name), member("retagged.aiff"));
    assert!(o.keep || o.same_audio || rt.keep);
    let pcm = |m: &songrec_storage::SongMetadata| {
        FingerprintRecord::from_extra(&m.extra[EXTRA_KEY]).map(|r| r.pcm)
    };
    let (mo, mr) = (
        lib.get_metadata(&o.song.id).await.unwrap().unwrap(),
        lib.get_metadata(&rt.song.id).await.unwrap().unwrap(),
    );
    assert_eq!(
        pcm(&mo),
        pcm(&mr),
        "exact: equal PCM hashes, stored in the metadata"
    );
    assert_ne!(
        pcm(&mo),
        pcm(&lib
            .get_metadata(&member("noisy.wav").song.id)
            .await
            .unwrap()
            .unwrap())
    );
    assert_eq!(
        mo.version, 1,
        "the fingerprint is stored with the song at ingest, not by a second write"
    );

    // The look-alike is the orig's nearest song by sound among the non-copies, yet not a dupe.
    let v = lib.get_embedding(&mo.id, &model()).await.unwrap().unwrap();
    let copies: Vec<_> = g.members.iter().map(|m| m.song.id.clone()).collect();
    let near = lib
        .search(&SearchQuery {
            exclude: copies,
            ..SearchQuery::new(model(), v.vector, 1)
        })
        .await
        .unwrap();
    assert!(
        near[0].metadata.file_name.starts_with("lookalike"),
        "{}",
        near[0].metadata.file_name
    );

    // A second run reuses the stored fingerprints and finds the same.
    let again = dupes::scan(&lib, &DupesOptions::default(), Arc::new(dupes::NoProgress))
        .await
        .unwrap();
    assert_eq!(again.fingerprinted, 0);
    let shape = |r: &dupes::DupesReport| -> Vec<(Kind, Vec<(songrec_storage::SongId, bool)>)> {
        r.groups
            .iter()
            .map(|g| {
                (
                    g.kind,
                    g.members
                        .iter()
                        .map(|m| (m.song.id.clone(), m.keep))
                        .collect(),
                )
            })
            .collect()
    };
    assert_eq!(shape(&again), shape(&report));

    // Delete: one copy per group remains; the look-alikes are untouched.
    let deleted = dupes::delete_extras(&lib, &again).await.unwrap();
    assert_eq!(deleted.len(), want.len() - 1);
    assert_eq!(
        lib.count(&Filter::default()).await.unwrap() as usize,
        total - deleted.len()
    );
    assert!(lib.get_metadata(&keeper.song.id).await.unwrap().is_some());
    let after = dupes::scan(&lib, &DupesOptions::default(), Arc::new(dupes::NoProgress))
        .await
        .unwrap();
    assert!(after.groups.is_empty());
}

fn model() -> songrec_storage::ModelInfo {
    let e = songrec_app::embedders::by_name("dsp").unwrap();
    songrec_app::embedders::model_of(e.as_ref())
}

/// Two velocity layers of one real ride cymbal (Hydrogen's GMRockKit `24Ride-2` and
/// `24Ride-4`, distinct hits) whose Chromaprint fingerprints agree (7.9 % of bits differ, under
/// the 10 % limit) are not one recording; a real recording re-encoded (mp3, ogg) and trimmed
/// is. Fingerprints alone (the rule before the waveform check) grouped the two hits, and
/// deleted one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn velocity_layers_of_one_cymbal_are_alike_but_re_encodes_and_trims_are_copies() {
    use songrec_testkit::audio::ffmpeg;
    let audio = songrec_testkit::fixtures::real_recordings();
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("music");
    std::fs::create_dir_all(&music).unwrap();
    for take in ["24Ride-2.wav", "24Ride-4.wav"] {
        std::fs::copy(audio.join("gmrockkit").join(take), music.join(take)).unwrap();
    }
    let src = audio.join("asc/frontiers.mp3");
    for (from, secs, dest) in [
        ("40", "25", "clip.wav"),
        ("40", "25", "clip.mp3"),
        ("40", "25", "clip.ogg"),
        ("41.5", "23.5", "clip-trimmed.wav"),
    ] {
        let dest = music.join(dest);
        ffmpeg(&[
            "-ss",
            from,
            "-t",
            secs,
            "-i",
            src.to_str().unwrap(),
            "-map_metadata",
            "-1",
            dest.to_str().unwrap(),
        ]);
    }
    let lib = LocalBackend::open(dir.path().join("lib")).unwrap();
    let s = ingest_dsp(&lib, &music).await;
    assert_eq!(s.added(), 6);

    let report = dupes::scan(&lib, &DupesOptions::default(), Arc::new(dupes::NoProgress))
        .await
        .unwrap();
    let files = |g: &dupes::Group| -> Vec<String> {
        let mut f: Vec<String> = g.members.iter().map(|m| m.song.file_name.clone()).collect();
        f.sort();
        f
    };
    let groups: Vec<Vec<String>> = report.groups.iter().map(files).collect();
    assert_eq!(
        groups,
        vec![vec!["clip-trimmed.wav", "clip.mp3", "clip.ogg", "clip.wav"]],
        "{report:#?}"
    );
    assert!(
        report
            .extras()
            .iter()
            .all(|m| m.file_name.starts_with("clip")),
        "{report:#?}"
    );
    let alike: Vec<Vec<String>> = report.alike.iter().map(files).collect();
    assert_eq!(
        alike,
        vec![vec!["24Ride-2.wav", "24Ride-4.wav"]],
        "{report:#?}"
    );

    // Playlists and `similar --distinct` fold by the same rule: the two takes stay two.
    let songs = songrec_storage::StorageBackendExt::list_all(&lib, &Filter::default())
        .await
        .unwrap();
    let g = songrec_identity::recording::groups(&songs);
    let of = |f: &str| g[songs.iter().position(|m| m.file_name == f).unwrap()];
    assert_ne!(of("24Ride-2.wav"), of("24Ride-4.wav"));
    for copy in ["clip.mp3", "clip.ogg", "clip-trimmed.wav"] {
        assert_eq!(of(copy), of("clip.wav"), "{copy}");
    }
}

/// Two different real tracks A and C (asc-music's `frontiers` and `machine_wars`, excerpts
/// within the 120 s the fingerprint covers) and B, a file joined from the last 50 s of A and
/// the first 32 s of C: B's fingerprint and waveform agree with C's ("same recording" by the
/// verdict), A's and C's disagree. Closed transitively, and with the longer B kept, `dupes
/// --delete` deleted C, whose audio exists nowhere else, and `similar A --distinct` hid C as a
/// copy of B. A song is a copy only by its own verdict and only when one of the two holds the
/// other whole: B, C and A stay, listed as sounding alike; a real re-encode and a real trim of
/// A are still copies of A, deleted and folded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_joined_from_two_tracks_never_makes_one_a_copy_of_the_other() {
    use songrec_identity::recording::{Verdict, fold, groups, verdict};
    use songrec_testkit::audio::ffmpeg;
    let audio = songrec_testkit::fixtures::real_recordings();
    let dir = tempfile::tempdir().unwrap();
    let (src, music) = (dir.path().join("src"), dir.path().join("music"));
    std::fs::create_dir_all(&src).unwrap();
    std::fs::create_dir_all(&music).unwrap();
    let p = |d: &Path, f: &str| d.join(f).to_str().unwrap().to_owned();
    let cut = |from: &Path, start: &str, secs: &str, dest: &str| {
        ffmpeg(&[
            "-ss",
            start,
            "-t",
            secs,
            "-i",
            from.to_str().unwrap(),
            "-map_metadata",
            "-1",
            "-ar",
            "44100",
            "-ac",
            "2",
            dest,
        ]);
    };
    // A (100 s) and C (60 s): two different real recordings.
    cut(
        &audio.join("asc/frontiers.mp3"),
        "30",
        "100",
        &p(&music, "A.wav"),
    );
    cut(
        &audio.join("asc/machine_wars.mp3"),
        "20",
        "60",
        &p(&music, "C.wav"),
    );
    // B: the last 50 s of A, then the first 32 s of C.
    cut(&music.join("A.wav"), "50", "50", &p(&src, "a-end.wav"));
    cut(&music.join("C.wav"), "0", "32", &p(&src, "c-start.wav"));
    ffmpeg(&[
        "-i",
        &p(&src, "a-end.wav"),
        "-i",
        &p(&src, "c-start.wav"),
        "-filter_complex",
        "[0:a][1:a]concat=n=2:v=0:a=1",
        &p(&music, "B.wav"),
    ]);
    // A real re-encode and a real trim of A.
    ffmpeg(&[
        "-i",
        &p(&music, "A.wav"),
        "-b:a",
        "128k",
        &p(&music, "A-128k.mp3"),
    ]);
    cut(&music.join("A.wav"), "3", "97", &p(&music, "A-trimmed.wav"));

    let lib = LocalBackend::open(dir.path().join("lib")).unwrap();
    assert_eq!(ingest_dsp(&lib, &music).await.added(), 5);
    let songs = songrec_storage::StorageBackendExt::list_all(&lib, &Filter::default())
        .await
        .unwrap();
    let song = |f: &str| songs.iter().find(|m| m.file_name == f).unwrap().clone();
    let (a, b, c) = (song("A.wav"), song("B.wav"), song("C.wav"));

    // The premise: B's verdict against C is "same recording", A's against C "different".
    let judge = |x: &songrec_storage::SongMetadata, y: &songrec_storage::SongMetadata| {
        let rec = |m: &songrec_storage::SongMetadata| {
            FingerprintRecord::from_extra(&m.extra[EXTRA_KEY]).unwrap()
        };
        let (rx, ry) = (rec(x), rec(y));
        verdict(
            &songrec_identity::fingerprint::decode(&rx.fp).unwrap(),
            rx.waveform().as_ref(),
            &songrec_identity::fingerprint::decode(&ry.fp).unwrap(),
            ry.waveform().as_ref(),
        )
    };
    assert!(
        matches!(judge(&b, &c), Verdict::Same { .. }),
        "{:?}",
        judge(&b, &c)
    );
    assert_eq!(judge(&a, &c), Verdict::Different);

    // dupes: A kept with its re-encode and its trim; B and C stand apart, listed as sounding
    // alike, never deleted.
    let report = dupes::scan(&lib, &DupesOptions::default(), Arc::new(dupes::NoProgress))
        .await
        .unwrap();
    let files = |g: &dupes::Group| -> Vec<String> {
        let mut f: Vec<String> = g.members.iter().map(|m| m.song.file_name.clone()).collect();
        f.sort();
        f
    };
    let dupe_groups: Vec<Vec<String>> = report.groups.iter().map(files).collect();
    assert_eq!(
        dupe_groups,
        vec![vec!["A-128k.mp3", "A-trimmed.wav", "A.wav"]],
        "{report:#?}"
    );
    assert_eq!(report.groups[0].members[0].song.file_name, "A.wav");
    assert!(
        report
            .alike
            .iter()
            .map(files)
            .any(|g| g.contains(&"B.wav".to_owned()) && g.contains(&"C.wav".to_owned())),
        "{report:#?}"
    );
    let deleted = dupes::delete_extras(&lib, &report).await.unwrap();
    let mut gone: Vec<&str> = deleted.iter().map(|m| m.file_name.as_str()).collect();
    gone.sort();
    assert_eq!(gone, ["A-128k.mp3", "A-trimmed.wav"]);
    for kept in [&a, &b, &c] {
        assert!(
            lib.get_metadata(&kept.id).await.unwrap().is_some(),
            "{}",
            kept.file_name
        );
    }

    // Folding (`similar A --distinct`, playlists): B and C are shown, A's copies are not.
    let others: Vec<_> = ["B.wav", "A-128k.mp3", "C.wav", "A-trimmed.wav"]
        .map(song)
        .to_vec();
    let f = fold(std::slice::from_ref(&a), &others);
    assert_eq!((f.kept, f.anchor_copies), (vec![0, 2], 2));
    let g = groups(&[b, c, a, song("A-128k.mp3"), song("A-trimmed.wav")]);
    assert_eq!(g, vec![0, 1, 2, 2, 2]);
}
