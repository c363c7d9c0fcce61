//! The edges of a real collection as a model (issue 50): a small collection of real
//! recordings goes through seeded random operations (copy, retag in place, move, delete,
//! swap under preserved times, a disk that goes away and comes back, relink, an ingest stopped
//! half way, a hand edit), with `ingest` (and at random `--prune`) between them, against a
//! model of what the folder holds. After every step: no song whose file is there is lost, every
//! song whose file is there plays and keeps its hand edits, no audio served differs from the
//! song's bytes, and songrec never wrote the music folder.
//!
//! `SONGREC_MODEL_STEPS` (default 150) and `SONGREC_MODEL_SEED` (default 50) choose the run;
//! a longer run: `SONGREC_MODEL_STEPS=3000 cargo test -p songrec-app --test app edges_model`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use songrec_app::ingest::{FileReport, IngestOptions, ingest};
use songrec_app::music::MusicFolder;
use songrec_local::LocalBackend;
use songrec_storage::prelude::*;
use songrec_storage::rng::SplitMix;
use songrec_storage::{Filter, SongId, StorageBackendExt};
use songrec_testkit::fixtures::real_recording;

const RECORDINGS: &[&str] = &[
    "bell.oga",
    "complete.oga",
    "message.oga",
    "dialog-warning.oga",
];
const TAGS: usize = 3;

/// Each recording under each of `TAGS` tag sets (the same coded audio): their bytes, and the
/// recording's audio identity.
struct Pool {
    bytes: Vec<Vec<Vec<u8>>>,
    identity: Vec<SongId>,
}

fn pool(dir: &Path) -> Pool {
    let mut bytes = Vec::new();
    let mut identity = Vec::new();
    for (r, name) in RECORDINGS.iter().enumerate() {
        let src = real_recording("freedesktop", name);
        let mut variants = vec![std::fs::read(&src).unwrap()];
        for t in 1..TAGS {
            let dst = dir.join(format!("{r}-{t}.oga"));
            songrec_testkit::audio::retagged_copy(&src, &dst, &format!("tag set {t}"));
            variants.push(std::fs::read(&dst).unwrap());
        }
        let id = songrec_audio::identity::identify(&src).unwrap();
        identity.push(SongId::from_raw(&id.audio));
        bytes.push(variants);
    }
    Pool { bytes, identity }
}

/// What the music folder holds, as the test made it: path below the folder → (recording, tag
/// set). Files of a folder that went away (an unmounted disk) are kept aside.
type Files = BTreeMap<PathBuf, (usize, usize)>;

#[derive(Default)]
struct Model {
    files: Files,
    away: Option<(PathBuf, Files)>,
    next_name: usize,
    /// The genre set by hand on each recording's song.
    edits: HashMap<usize, String>,
}

/// An ingest that stops after `after` files (a run interrupted half way).
struct StopAfter {
    after: u64,
    done: AtomicU64,
}
impl songrec_storage::Progress<FileReport> for StopAfter {
    fn start(&self, _: u64) {}
    fn advance(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }
    fn stopped(&self) -> bool {
        self.done.load(Ordering::Relaxed) >= self.after
    }
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_edges_never_lose_a_song_or_serve_foreign_audio() {
    let steps: usize = std::env::var("SONGREC_MODEL_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(150);
    let seed: u64 = std::env::var("SONGREC_MODEL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(50);
    let dir = tempfile::tempdir().unwrap();
    let pool = pool(dir.path());
    let music = dir.path().join("music");
    std::fs::create_dir_all(&music).unwrap();
    let music = music.canonicalize().unwrap();
    let lib = LocalBackend::open(dir.path().join("lib")).unwrap();
    let state = dir.path().join("state.json");
    let mut rng = SplitMix::new(seed);
    let mut model = Model::default();
    let folders = ["A", "B", "B/deep", "Disk"];
    let mut log: Vec<String> = Vec::new();
    // Start with each recording once.
    for r in 0..RECORDINGS.len() {
        let rel = PathBuf::from(folders[r % folders.len()]).join(format!("r{r}.oga"));
        write(&music.join(&rel), &pool.bytes[r][0]);
        model.files.insert(rel, (r, 0));
    }
    for step in 0..steps {
        let names: Vec<PathBuf> = model.files.keys().cloned().collect();
        let pick = |rng: &mut SplitMix| names.get(rng.below(names.len().max(1))).cloned();
        // Nothing is written into the folder of a disk that is away (a mount would hide it).
        let new_name = |rng: &mut SplitMix, model: &mut Model| {
            model.next_name += 1;
            let here = if model.away.is_some() {
                &folders[..folders.len() - 1]
            } else {
                &folders[..]
            };
            PathBuf::from(here[rng.below(here.len())]).join(format!("n{}.oga", model.next_name))
        };
        let op = rng.below(10);
        let what = match op {
            0 => {
                // A new file of some recording and tag set.
                let (r, t) = (rng.below(RECORDINGS.len()), rng.below(TAGS));
                let rel = new_name(&mut rng, &mut model);
                write(&music.join(&rel), &pool.bytes[r][t]);
                model.files.insert(rel.clone(), (r, t));
                format!("add {rel:?} = {r}/{t}")
            }
            1 => {
                let Some(from) = pick(&mut rng) else { continue };
                let rel = new_name(&mut rng, &mut model);
                let v = model.files[&from];
                write(&music.join(&rel), &pool.bytes[v.0][v.1]);
                model.files.insert(rel.clone(), v);
                format!("copy {from:?} to {rel:?}")
            }
            2 => {
                // Retag in place (the same inode, as mutagen and TagLib write).
                let Some(p) = pick(&mut rng) else { continue };
                let (r, t) = model.files[&p];
                let t2 = (t + 1 + rng.below(TAGS - 1)) % TAGS;
                std::fs::write(music.join(&p), &pool.bytes[r][t2]).unwrap();
                model.files.insert(p.clone(), (r, t2));
                format!("retag {p:?} to {t2}")
            }
            3 => {
                let Some(p) = pick(&mut rng) else { continue };
                let rel = new_name(&mut rng, &mut model);
                std::fs::create_dir_all(music.join(&rel).parent().unwrap()).unwrap();
                std::fs::rename(music.join(&p), music.join(&rel)).unwrap();
                let v = model.files.remove(&p).unwrap();
                model.files.insert(rel.clone(), v);
                format!("move {p:?} to {rel:?}")
            }
            4 => {
                let Some(p) = pick(&mut rng) else { continue };
                std::fs::remove_file(music.join(&p)).unwrap();
                model.files.remove(&p);
                format!("delete {p:?}")
            }
            5 => {
                // Another recording written over a file, its modification time kept.
                let Some(p) = pick(&mut rng) else { continue };
                let (r, _) = model.files[&p];
                let r2 = (r + 1 + rng.below(RECORDINGS.len() - 1)) % RECORDINGS.len();
                let path = music.join(&p);
                let t = std::fs::metadata(&path).unwrap().modified().unwrap();
                let tmp = music.join(".swap.tmp");
                std::fs::write(&tmp, &pool.bytes[r2][0]).unwrap();
                std::fs::File::options()
                    .write(true)
                    .open(&tmp)
                    .unwrap()
                    .set_modified(t)
                    .unwrap();
                std::fs::rename(&tmp, &path).unwrap();
                model.files.insert(p.clone(), (r2, 0));
                format!("swap {p:?} for {r2} keeping its time")
            }
            6 => {
                // The disk goes away (its folder stays, empty), or comes back.
                let disk = PathBuf::from("Disk");
                match model.away.take() {
                    None => {
                        let aside = dir.path().join("aside");
                        if music.join(&disk).exists() {
                            std::fs::rename(music.join(&disk), &aside).unwrap();
                        }
                        std::fs::create_dir_all(music.join(&disk)).unwrap();
                        let (gone, kept) = model
                            .files
                            .iter()
                            .map(|(p, v)| (p.clone(), *v))
                            .partition(|(p, _)| p.starts_with(&disk));
                        model.files = kept;
                        model.away = Some((aside, gone));
                        "unmount Disk".into()
                    }
                    Some((aside, files)) => {
                        std::fs::remove_dir_all(music.join(&disk)).unwrap();
                        if aside.exists() {
                            std::fs::rename(&aside, music.join(&disk)).unwrap();
                        }
                        model.files.extend(files);
                        "mount Disk again".into()
                    }
                }
            }
            7 => {
                let folder =
                    MusicFolder::index(&music, &dir.path().join("music-state.json"), 2, &[]);
                let progress = songrec_storage::NoProgress;
                songrec_app::relink::relink(&lib, &folder, &progress)
                    .await
                    .unwrap();
                "relink".into()
            }
            8 => {
                // A hand edit of the song of a file that is there.
                let Some(p) = pick(&mut rng) else { continue };
                let (r, _) = model.files[&p];
                let genre = format!("genre of step {step}");
                let songs = lib.list_all(&Filter::default()).await.unwrap();
                let Some(mut m) = songs.into_iter().find(|m| {
                    m.audio_identity().unwrap_or_else(|| m.id.clone()) == pool.identity[r]
                }) else {
                    continue;
                };
                let e = songrec_app::edit::Edit {
                    genre: Some(genre.clone()),
                    ..Default::default()
                };
                songrec_app::edit::apply(&mut m, &e).unwrap();
                lib.put_metadata(&m).await.unwrap();
                lib.flush().await.unwrap();
                model.edits.insert(r, genre.clone());
                format!("edit the song of {p:?}: {genre}")
            }
            _ => "nothing".into(),
        };
        // Ingest, at random with --prune, at random stopped after a few files (then completed).
        let prune = rng.below(3) == 0;
        let opts = IngestOptions {
            jobs: 2,
            embedders: songrec_app::embedders::parse_list("dsp").unwrap(),
            batch_size: 2,
            state_file: Some(state.clone()),
            prune,
            copy_audio: false,
            exclude: Vec::new(),
            readd: false,
        };
        if rng.below(5) == 0 {
            let stop = Arc::new(StopAfter {
                after: rng.below(3) as u64,
                done: AtomicU64::new(0),
            });
            ingest(&lib, std::slice::from_ref(&music), &opts, stop)
                .await
                .unwrap();
        }
        let summary = ingest(
            &lib,
            std::slice::from_ref(&music),
            &opts,
            Arc::new(songrec_storage::NoProgress),
        )
        .await
        .unwrap();
        log.push(format!(
            "{step}: {what}; ingest{}",
            if prune { " --prune" } else { "" }
        ));
        let context = || {
            format!(
                "seed {seed}, steps:\n{}\n{:#?}",
                log.join("\n"),
                summary.files
            )
        };
        check(&lib, &music, &model, &pool, &context).await;
    }
}

async fn check(
    lib: &LocalBackend,
    music: &Path,
    model: &Model,
    pool: &Pool,
    context: &dyn Fn() -> String,
) {
    // The music folder holds exactly what the test wrote.
    let mut on_disk = BTreeMap::new();
    let mut stack = vec![music.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                on_disk.insert(
                    p.strip_prefix(music).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    let expected: BTreeMap<PathBuf, Vec<u8>> = model
        .files
        .iter()
        .map(|(p, &(r, t))| (p.clone(), pool.bytes[r][t].clone()))
        .collect();
    assert!(
        on_disk == expected,
        "the music folder was written\n{}",
        context()
    );

    let songs = lib.list_all(&Filter::default()).await.unwrap();
    let by_audio: HashMap<String, &songrec_storage::SongMetadata> = songs
        .iter()
        .map(|m| {
            let a = m.audio_identity().unwrap_or_else(|| m.id.clone());
            (a.to_string(), m)
        })
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    // No song whose file is there is lost, and it plays.
    for (p, &(r, _)) in &model.files {
        let Some(m) = by_audio.get(pool.identity[r].as_str()) else {
            panic!("{p:?}: its song ({}) is gone\n{}", RECORDINGS[r], context());
        };
        let dest = tmp.path().join(m.id.as_str());
        if let Err(e) = lib.get_audio(&m.audio_key(), &dest).await {
            panic!("{p:?}: its song does not play: {e}\n{}", context());
        }
        // No hand edit is lost.
        if let Some(g) = model.edits.get(&r) {
            assert_eq!(
                m.genre.as_ref(),
                Some(g),
                "{p:?}: the hand edit is lost\n{}",
                context()
            );
        }
    }
    // No audio served differs from the song's bytes.
    for m in &songs {
        let dest = tmp.path().join(format!("{}-any", m.id));
        if lib.get_audio(&m.audio_key(), &dest).await.is_ok() {
            let (got, _) = SongId::from_file(&dest).unwrap();
            assert_eq!(
                got,
                m.audio_key(),
                "{}: foreign bytes served\n{}",
                m.title,
                context()
            );
        }
    }
}
