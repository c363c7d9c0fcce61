//! The collection stays where it is (issue 39), through the binary on real recordings: a
//! folder indexed in place (no second copy), followed through a retag, a move and a deletion,
//! playlists into the music folder, a second machine that links its own copy instead of
//! downloading, and a library of copies (as earlier versions made) that still answers and
//! converts. The music folder is never written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use songrec_local::LocalBackend;
use songrec_storage::prelude::*;
use songrec_storage::{
    AudioMode, Filter, SongId, SongMetadata, SongRecord, StorageBackendExt, StorageError,
};
use songrec_testkit::LocalCloud;
use songrec_testkit::cli::{ok, text};
use songrec_testkit::fixtures::real_recording;

use crate::bin;

/// (path below the music folder, real recording).
pub(crate) const LAYOUT: &[(&str, (&str, &str))] = &[
    ("ASC/Soundtrack/01 Frontiers.mp3", ("asc", "frontiers.mp3")),
    (
        "ASC/Soundtrack/02 Machine Wars.mp3",
        ("asc", "machine_wars.mp3"),
    ),
    (
        "ASC/Soundtrack/03 Time to Strike.mp3",
        ("asc", "time_to_strike.mp3"),
    ),
    ("Desktop/Sounds/01 Bell.oga", ("freedesktop", "bell.oga")),
    (
        "Desktop/Sounds/02 Complete.oga",
        ("freedesktop", "complete.oga"),
    ),
];

pub(crate) fn music_folder(dir: &Path) -> PathBuf {
    let music = dir.join("My Music");
    for (rel, (sub, name)) in LAYOUT {
        let p = music.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::copy(real_recording(sub, name), &p).unwrap();
    }
    music
}

/// Every file below `dir` with its size, modification time and inode: what "never written"
/// compares.
pub(crate) fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (u64, std::time::SystemTime, u64)> {
    use std::os::unix::fs::MetadataExt;
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                stack.push(p);
            } else {
                out.insert(p, (m.len(), m.modified().unwrap(), m.ino()));
            }
        }
    }
    out
}

/// Files inside the library of more than 4 KiB below `data/audio`: copies of audio.
pub(crate) fn audio_sized_files(lib: &Path) -> Vec<PathBuf> {
    snapshot(&lib.join("data").join("audio"))
        .into_iter()
        .filter(|(_, (len, _, _))| *len > 4096)
        .map(|(p, _)| p)
        .collect()
}

pub(crate) fn songrec(home: &Path, lib: &Path, args: &[&str]) -> std::process::Output {
    std::fs::create_dir_all(home).unwrap();
    bin()
        .at_home(home)
        .args(["--library", lib.to_str().unwrap()])
        .args(args)
        .output()
        .unwrap()
}

pub(crate) fn songs(lib: &Path) -> BTreeMap<String, SongMetadata> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let b = LocalBackend::open(lib).unwrap();
        b.list_all(&Filter::default())
            .await
            .unwrap()
            .into_iter()
            .map(|m| (m.file_name.clone(), m))
            .collect()
    })
}

/// The song's DSP vector's bits.
fn vector_bits(lib: &Path, id: &SongId) -> Vec<u32> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let b = LocalBackend::open(lib).unwrap();
        let model = b.models().await.unwrap()[0].model.clone();
        let e = b.get_embedding(id, &model).await.unwrap().expect("vector");
        e.vector.iter().map(|x| x.to_bits()).collect()
    })
}

/// Where the library reads a song's audio from, or why it cannot.
pub(crate) fn audio_of(lib: &Path, m: &SongMetadata) -> Result<PathBuf, StorageError> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let b = LocalBackend::open(lib).unwrap();
        let url = b
            .audio_url(&m.audio_key(), std::time::Duration::from_secs(60))
            .await?;
        let tmp = tempfile::tempdir().unwrap();
        b.get_audio(&m.audio_key(), &tmp.path().join("a")).await?;
        Ok(url::Url::parse(&url).unwrap().to_file_path().unwrap())
    })
}

/// The same stream, new tags, written over the file as a tagger that writes a new file and
/// renames it does.
pub(crate) fn retag(path: &Path, title: &str) {
    let tmp = path.with_extension(format!(
        "new.{}",
        path.extension().unwrap().to_string_lossy()
    ));
    songrec_testkit::audio::retagged_copy(path, &tmp, title);
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn a_collection_is_indexed_in_place_and_followed_through_retags_moves_and_deletions() {
    let dir = tempfile::tempdir().unwrap();
    let (home, lib) = (dir.path().join("home"), dir.path().join("lib"));
    let music = music_folder(dir.path());
    let m = music.to_str().unwrap();
    let untouched = snapshot(&music);

    let out = ok(&songrec(&home, &lib, &["ingest", "--embedder", "dsp", m]));
    assert!(out.contains("ingested 5 new"), "{out}");
    assert!(
        audio_sized_files(&lib).is_empty(),
        "no second copy: {:?}",
        audio_sized_files(&lib)
    );
    assert_eq!(
        snapshot(&music),
        untouched,
        "ingest never writes the music folder"
    );
    let before = songs(&lib);
    assert_eq!(before.len(), 5);
    for s in before.values() {
        let f = audio_of(&lib, s).unwrap();
        assert!(
            f.starts_with(&music),
            "{} is read where it lies: {f:?}",
            s.title
        );
    }
    // A re-ingest of the unchanged folder reads no file and changes nothing.
    let out = ok(&songrec(&home, &lib, &["ingest", "--embedder", "dsp", m]));
    assert!(
        out.contains("ingested 0 new, 5 already in the library, 0 failed"),
        "{out}"
    );

    // A retag: one song, the new title, the same vector bit for bit, nothing analysed.
    let frontiers = music.join(LAYOUT[0].0);
    let old = before["01 Frontiers.mp3"].clone();
    let old_bits = vector_bits(&lib, &old.id);
    retag(&frontiers, "Frontiers (2026 Remaster)");
    // Until it is ingested again, the changed file is never served as the song's audio.
    assert!(
        matches!(audio_of(&lib, &old), Err(StorageError::Stale { .. })),
        "a retagged file is not the audio that was analysed"
    );
    let out = ok(&songrec(&home, &lib, &["ingest", "--embedder", "dsp", m]));
    assert!(out.contains("1 retagged") && out.contains("0 new"), "{out}");
    assert!(out.contains("0 s of music"), "nothing analysed: {out}");
    let after = songs(&lib);
    assert_eq!(after.len(), 5);
    let now = &after["01 Frontiers.mp3"];
    assert_eq!(now.id, old.id, "the same song");
    assert_eq!(now.title, "Frontiers (2026 Remaster)");
    assert_eq!(now.version, old.version + 1, "sync carries the retag");
    assert_ne!(now.content_hash, old.content_hash);
    assert_eq!(vector_bits(&lib, &now.id), old_bits, "vectors kept");
    assert!(audio_of(&lib, now).unwrap().ends_with("01 Frontiers.mp3"));

    // A move: the new path, nothing recomputed, the version unchanged.
    let wars = music.join(LAYOUT[1].0);
    let moved = music.join("Elsewhere").join("Machine Wars (moved).mp3");
    std::fs::create_dir_all(moved.parent().unwrap()).unwrap();
    std::fs::rename(&wars, &moved).unwrap();
    let old = after["02 Machine Wars.mp3"].clone();
    let out = ok(&songrec(&home, &lib, &["ingest", "--embedder", "dsp", m]));
    assert!(out.contains("1 moved") && out.contains("0 new"), "{out}");
    let after = songs(&lib);
    assert_eq!(after.len(), 5, "{:?}", after.keys());
    let same = after
        .values()
        .find(|s| s.id == old.id)
        .expect("still there");
    assert_eq!(same.version, old.version, "a move changes no metadata");
    assert_eq!(audio_of(&lib, same).unwrap(), moved);

    // A playlist points at the user's files, relative or absolute.
    for paths in ["relative", "absolute"] {
        let list = dir.path().join("lists").join(format!("{paths}.m3u8"));
        ok(&songrec(
            &home,
            &lib,
            &[
                "playlist",
                "--seed",
                "Time to Strike",
                "-n",
                "4",
                "--m3u",
                list.to_str().unwrap(),
                "--paths",
                paths,
            ],
        ));
        let text = std::fs::read_to_string(&list).unwrap();
        let files: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(files.len(), 4, "the other four songs: {text}");
        for f in files {
            assert_eq!(Path::new(f).is_absolute(), paths == "absolute", "{f}");
            let p = list.parent().unwrap().join(f).canonicalize().unwrap();
            assert!(
                p.starts_with(music.canonicalize().unwrap()),
                "{f} is in the music folder"
            );
        }
    }

    // A deletion: reported missing and kept; removed with --prune, that song and only it.
    let complete = after["02 Complete.oga"].clone();
    std::fs::remove_file(music.join(LAYOUT[4].0)).unwrap();
    let out = ok(&songrec(&home, &lib, &["ingest", "--embedder", "dsp", m]));
    assert!(out.contains("1 missing"), "{out}");
    assert_eq!(songs(&lib).len(), 5, "missing is not removed");
    let out = ok(&songrec(
        &home,
        &lib,
        &["ingest", "--embedder", "dsp", "--prune", m],
    ));
    assert!(out.contains("1 removed"), "{out}");
    let left = songs(&lib);
    assert_eq!(left.len(), 4);
    assert!(left.values().all(|s| s.id != complete.id));
    let out = ok(&songrec(
        &home,
        &lib,
        &["ingest", "--embedder", "dsp", "--prune", m],
    ));
    assert!(
        out.contains("ingested 0 new, 4 already in the library, 0 failed"),
        "{out}"
    );

    // The music folder holds exactly what the test itself did to it.
    let mut expected = untouched.clone();
    expected.remove(&frontiers);
    expected.remove(&wars);
    expected.remove(&music.join(LAYOUT[4].0));
    let mut now = snapshot(&music);
    assert!(now.remove(&frontiers).is_some() && now.remove(&moved).is_some());
    assert_eq!(now, expected, "songrec wrote nothing in the music folder");
}

#[test]
fn a_second_machine_links_its_own_copy_instead_of_downloading() {
    let cloud = LocalCloud::start_blocking();
    let on_cloud = |home: &Path, args: &[&str]| {
        std::fs::create_dir_all(home).unwrap();
        bin()
            .at_home(home)
            .envs(cloud.env())
            .args(args)
            .output()
            .unwrap()
    };
    let o = on_cloud(cloud.dir(), &["--storage-backend", "astra", "init-astra"]);
    assert!(o.status.success(), "{}", text(&o));
    let dir = tempfile::tempdir().unwrap();
    let music_a = music_folder(&dir.path().join("a"));
    let run = |home: &Path, args: &[&str]| -> String {
        let lib = home.join("library");
        let mut all = vec!["--library", lib.to_str().unwrap()];
        all.extend_from_slice(args);
        let o = on_cloud(home, &all);
        assert!(o.status.success(), "{args:?}: {}", text(&o));
        text(&o)
    };
    let (home_a, home_b) = (dir.path().join("home-a"), dir.path().join("home-b"));
    run(
        &home_a,
        &["ingest", "--embedder", "dsp", music_a.to_str().unwrap()],
    );
    let out = run(&home_a, &["sync"]);
    assert!(out.contains("uploaded 5 new"), "{out}");

    // Machine B has its own copy at another path, one file short.
    let music_b = dir.path().join("b").join("Music on B");
    for (rel, _) in &LAYOUT[..4] {
        let p = music_b.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::copy(music_a.join(rel), &p).unwrap();
    }
    let untouched = snapshot(&music_b);
    let out = run(&home_b, &["sync", "--music", music_b.to_str().unwrap()]);
    assert!(
        out.contains("downloaded 5 new") && out.contains("4 songs linked to this machine's files"),
        "{out}"
    );
    let lib_b = home_b.join("library");
    // Only the song whose file B lacks was downloaded.
    assert_eq!(
        audio_sized_files(&lib_b).len(),
        1,
        "{:?}",
        audio_sized_files(&lib_b)
    );
    for s in songs(&lib_b).values() {
        let f = audio_of(&lib_b, s).unwrap();
        if s.file_name == "02 Complete.oga" {
            assert!(f.starts_with(&lib_b), "downloaded: {f:?}");
        } else {
            assert!(
                f.starts_with(&music_b),
                "{} plays from B's own file: {f:?}",
                s.title
            );
        }
    }
    assert_eq!(
        snapshot(&music_b),
        untouched,
        "sync never writes the music folder"
    );
    let out = run(&home_b, &["sync", "--music", music_b.to_str().unwrap()]);
    assert!(out.contains("downloaded 0 new"), "{out}");

    // A retag on A: B plays the same recording from its own file under the old tags, and
    // downloads nothing.
    retag(&music_a.join(LAYOUT[0].0), "Frontiers (remastered tags)");
    let out = run(
        &home_a,
        &["ingest", "--embedder", "dsp", music_a.to_str().unwrap()],
    );
    assert!(out.contains("1 retagged"), "{out}");
    run(&home_a, &["sync"]);
    let frontiers_b = music_b.join(LAYOUT[0].0);
    let plays_from_b = |want: &str| {
        let s = songs(&lib_b).remove("01 Frontiers.mp3").unwrap();
        assert_eq!(s.title, want);
        assert_eq!(audio_of(&lib_b, &s).unwrap(), frontiers_b, "B's own file");
    };
    let out = run(&home_b, &["sync", "--music", music_b.to_str().unwrap()]);
    assert!(out.contains("1 song linked"), "{out}");
    assert_eq!(
        audio_sized_files(&lib_b).len(),
        1,
        "nothing more downloaded"
    );
    plays_from_b("Frontiers (remastered tags)");
    // B's file is retagged too: the next sync follows it by itself.
    retag(&frontiers_b, "Frontiers (B's tags)");
    let out = run(&home_b, &["sync", "--music", music_b.to_str().unwrap()]);
    assert!(out.contains("1 song linked"), "{out}");
    assert_eq!(audio_sized_files(&lib_b).len(), 1);
    plays_from_b("Frontiers (remastered tags)");

    // Machine C ingested its own files (B's, Frontiers under B's tags) and syncs without
    // naming its music folder: its own songs' values win (newer). A retags Frontiers again;
    // C's next plain sync, knowing no folder, downloads that audio as a copy beside C's own
    // file. The first sync that knows C's folder replaces the copy by C's own file.
    let music_c = dir.path().join("c").join("Music on C");
    for (rel, _) in &LAYOUT[..4] {
        let p = music_c.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::copy(music_b.join(rel), &p).unwrap();
    }
    let home_c = dir.path().join("home-c");
    let lib_c = home_c.join("library");
    run(
        &home_c,
        &["ingest", "--embedder", "dsp", music_c.to_str().unwrap()],
    );
    // Exit 4: changes on both sides, resolved by the policy (the newer values kept).
    let sync_resolving = |home: &Path| {
        let lib = home.join("library");
        let o = on_cloud(home, &["--library", lib.to_str().unwrap(), "sync"]);
        assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    };
    sync_resolving(&home_c);
    retag(&music_a.join(LAYOUT[0].0), "Frontiers (third tags)");
    let out = run(
        &home_a,
        &["ingest", "--embedder", "dsp", music_a.to_str().unwrap()],
    );
    assert!(out.contains("1 retagged"), "{out}");
    sync_resolving(&home_a);
    run(&home_c, &["sync"]);
    let frontiers_c = || songs(&lib_c).remove("01 Frontiers.mp3").unwrap();
    assert_eq!(frontiers_c().title, "Frontiers (third tags)");
    let copy = audio_of(&lib_c, &frontiers_c()).unwrap();
    assert!(copy.starts_with(&lib_c), "downloaded: {copy:?}");
    let out = run(&home_c, &["sync", "--music", music_c.to_str().unwrap()]);
    assert!(out.contains("1 song linked"), "{out}");
    assert_eq!(
        audio_of(&lib_c, &frontiers_c()).unwrap(),
        music_c.join(LAYOUT[0].0),
        "C's own file"
    );
    assert_eq!(
        audio_sized_files(&lib_c).len(),
        1,
        "only the song C lacks is a copy: {:?}",
        audio_sized_files(&lib_c)
    );
}

#[test]
fn a_library_of_copies_still_answers_and_converts() {
    let dir = tempfile::tempdir().unwrap();
    let (home, lib) = (dir.path().join("home"), dir.path().join("lib"));
    let music = music_folder(dir.path());
    let files: Vec<PathBuf> = LAYOUT.iter().map(|(rel, _)| music.join(rel)).collect();
    library_of_copies(&lib, &files);
    assert_eq!(audio_sized_files(&lib).len(), 5, "copies, as before");
    let similar = |home: &Path| {
        ok(&songrec(
            home,
            &lib,
            &["similar", "Time to Strike", "-k", "4"],
        ))
    };
    let answer = similar(&home);
    assert!(answer.contains("Frontiers"), "{answer}");

    let out = ok(&songrec(&home, &lib, &["relink", music.to_str().unwrap()]));
    assert!(out.contains("relinked 5 songs"), "{out}");
    assert!(out.contains("5 identified by their audio"), "{out}");
    assert!(
        audio_sized_files(&lib).is_empty(),
        "copies gone once the references stand"
    );
    assert_eq!(similar(&home), answer, "the same answers");
    // Converted songs follow a retag like new ones.
    retag(&music.join(LAYOUT[3].0), "Bell (retagged)");
    let out = ok(&songrec(
        &home,
        &lib,
        &["ingest", "--embedder", "dsp", music.to_str().unwrap()],
    ));
    assert!(out.contains("1 retagged") && out.contains("0 new"), "{out}");
    assert_eq!(songs(&lib).len(), 5);
}

/// The library as songrec wrote it before identities and references: each of `files` analysed,
/// named by the SHA-256 of its bytes, copied into the library, no audio identity recorded.
pub(crate) fn library_of_copies(lib: &Path, files: &[PathBuf]) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let b = LocalBackend::open_with(
            lib,
            songrec_local::LocalOptions {
                audio: AudioMode::Copy,
                ..Default::default()
            },
        )
        .unwrap();
        let dsp = songrec_audio::DspEmbedder::new();
        for p in files {
            let (id, size) = SongId::from_file(p).unwrap();
            let fa = songrec_audio::analyze_file(p, &[&dsp]).unwrap();
            let mut m = songrec_app::ingest::metadata_from(&id, &id, &fa, size);
            m.extra.remove(songrec_app::extra::AUDIO_ID);
            b.put_audio(&id, p).await.unwrap();
            let e = songrec_storage::Embedding {
                model: songrec_app::embedders::model_of(&dsp),
                vector: fa.analyses[0].analysis.vector.clone(),
            };
            b.put_songs(&[SongRecord {
                metadata: m,
                embeddings: vec![e],
            }])
            .await
            .unwrap();
        }
        b.flush().await.unwrap();
    });
}

/// `show` says where the audio is: the user's file that a library of references refers to (by
/// its path), a copy the library holds (`--audio copy`) as stored.
#[test]
fn show_says_a_file_referred_to_is_not_stored() {
    let dir = tempfile::tempdir().unwrap();
    let music = bin().synth(&dir.path().join("music"), 1, 3);
    let file = music.join("The Techno Ensemble - Warehouse Pulse 1.wav");
    let show = |lib: &Path, audio: &str| {
        let args = ["ingest", "--embedder", "dsp", "--audio", audio];
        let o = crate::on_library(lib, &[&args[..], &[music.to_str().unwrap()]].concat());
        assert!(o.status.success(), "{}", text(&o));
        let line = ok(&crate::on_library(lib, &["show", "Warehouse Pulse 1"]))
            .lines()
            .find(|l| l.split_whitespace().next() == Some("audio"))
            .expect("an audio line")
            .to_owned();
        let v = songrec_testkit::cli::json(&crate::on_library(
            lib,
            &["show", "Warehouse Pulse 1", "--json"],
        ));
        (line, v)
    };
    let (line, v) = show(&dir.path().join("refs"), "reference");
    assert!(
        line.contains(&format!("refers to {}", file.display())) && !line.contains("stored"),
        "{line}"
    );
    assert_eq!(v["audio_stored"], true, "{v}");
    assert_eq!(v["audio_refers_to"], file.display().to_string(), "{v}");
    let (line, v) = show(&dir.path().join("copies"), "copy");
    assert!(line.ends_with("  stored"), "{line}");
    assert!(v["audio_refers_to"].is_null(), "{v}");
}
