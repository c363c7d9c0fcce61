//! Deterministic test data (vectors, songs, records, small libraries), folder snapshots, and deep
//! comparisons of what two backends hold.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use songrec_local::LocalBackend;
use songrec_storage::prelude::*;
use songrec_storage::{
    Embedding, Filter, ModelInfo, SongId, SongMetadata, SongRecord, StorageBackend, VersionEntry,
};

/// A deterministic pseudo-random vector in [-1, 1) (xorshift), different for every `seed`.
pub fn vector(seed: u64, dim: usize) -> Vec<f32> {
    XorShift::new(seed).vector(dim)
}

/// A xorshift stream of pseudo-random numbers, different for every seed.
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> Self {
        XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// The next number in [-1, 1).
    pub fn unit(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    /// The next `dim` numbers in [-1, 1).
    pub fn vector(&mut self, dim: usize) -> Vec<f32> {
        (0..dim).map(|_| self.unit()).collect()
    }
}

/// The size of a benchmark's library of synthetic songs, as command-line options.
#[derive(clap::Args)]
pub struct LibrarySize {
    /// Songs (each one metadata document and one vector).
    #[arg(short = 'n', long, default_value_t = 10_000)]
    pub songs: usize,
    /// Vector dimension.
    #[arg(long, default_value_t = 512)]
    pub dim: usize,
}

/// Song `n` with varied metadata (no audio): title `Track 0000n`, artist, genre, tempo (none
/// for every fifth), duration, a tag and a file name.
pub fn song(n: usize) -> SongMetadata {
    let id = SongId::from_bytes(format!("backend test song {n}").as_bytes());
    let mut m = SongMetadata::new(id, format!("Track {n:05}"));
    m.artist = Some(format!("Artist {}", n % 7));
    m.genre = Some(["Rock", "Jazz", "Pop"][n % 3].to_owned());
    m.bpm = (!n.is_multiple_of(5)).then_some(70.0 + (n % 90) as f32);
    m.duration_secs = 100.0 + n as f64;
    m.tags = vec![format!("tag{}", n % 4)];
    m.file_name = format!("t{n}.flac");
    m
}

/// [`song`] `n` with one [`vector`] of `model`.
pub fn record(n: usize, model: &ModelInfo) -> SongRecord {
    SongRecord {
        metadata: song(n),
        embeddings: vec![
            Embedding::new(model.clone(), vector(n as u64 + 1, model.dim)).expect("embedding"),
        ],
    }
}

/// A tiny valid 8-bit mono WAV (1500 samples at 8 kHz), different for every `n`.
pub fn tiny_wav(n: usize) -> Vec<u8> {
    let samples: Vec<u8> = (0..1500)
        .map(|i| (128.0 + 100.0 * ((i * (n + 3)) as f32 * 0.05).sin()) as u8)
        .collect();
    let mut w = Vec::new();
    w.extend_from_slice(b"RIFF");
    w.extend_from_slice(&(36 + samples.len() as u32).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&16u32.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes()); // PCM
    w.extend_from_slice(&1u16.to_le_bytes()); // mono
    w.extend_from_slice(&8000u32.to_le_bytes());
    w.extend_from_slice(&8000u32.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes());
    w.extend_from_slice(&8u16.to_le_bytes());
    w.extend_from_slice(b"data");
    w.extend_from_slice(&(samples.len() as u32).to_le_bytes());
    w.extend_from_slice(&samples);
    w
}

/// The two models of [`local_library`]: `dsp` 16-d and `extra` 8-d.
pub fn library_models() -> [ModelInfo; 2] {
    [
        ModelInfo::new("dsp", "1", 16),
        ModelInfo::new("extra", "2", 8),
    ]
}

/// Builds a local library of `n` songs at `root` through `LocalBackend`: a [`tiny_wav`] each,
/// a vector of both [`library_models`], varied metadata. Returns the song ids.
pub async fn local_library(root: &Path, n: usize) -> Vec<SongId> {
    let lib = LocalBackend::open(root).expect("a local library");
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut records = Vec::new();
    for i in 0..n {
        let wav = tiny_wav(i);
        let id = SongId::from_bytes(&wav);
        let p = tmp.path().join(format!("{i}.wav"));
        std::fs::write(&p, &wav).expect("write");
        lib.put_audio(&id, &p).await.expect("put_audio");
        let mut m = SongMetadata::new(id.clone(), format!("Song {i:03}"));
        m.artist = Some(format!("Artist {}", i % 5));
        m.genre = Some(["Rock", "Jazz", "Ambient"][i % 3].to_owned());
        m.bpm = Some(90.5 + i as f32);
        m.duration_secs = wav.len() as f64 / 8000.0;
        m.sample_rate = 8000;
        m.channels = 1;
        m.file_size = wav.len() as u64;
        m.content_hash = id.as_str().to_owned();
        m.file_name = format!("song{i}.wav");
        m.tags = vec![format!("tag{}", i % 4)];
        m.extra.insert(
            "label".into(),
            serde_json::json!(format!("Label {}", i % 2)),
        );
        let embeddings = library_models()
            .iter()
            .enumerate()
            .map(|(k, model)| {
                Embedding::new(model.clone(), vector((i * 7 + k) as u64 + 1, model.dim))
                    .expect("embedding")
            })
            .collect();
        records.push(SongRecord {
            metadata: m,
            embeddings,
        });
    }
    let rep = lib.put_songs(&records).await.expect("put_songs");
    assert!(rep.is_complete());
    lib.flush().await.expect("flush");
    records.into_iter().map(|r| r.metadata.id).collect()
}

/// Live entries of a listing: id → (version, content hash).
pub fn live(v: &[VersionEntry]) -> BTreeMap<SongId, (u64, String)> {
    v.iter()
        .filter(|e| !e.deleted)
        .map(|e| (e.id.clone(), (e.version, e.content_hash.clone())))
        .collect()
}

/// Songs with metadata on `backend` (live entries of its listing).
pub async fn present(backend: &dyn StorageBackend) -> HashSet<SongId> {
    backend
        .list_versions()
        .await
        .expect("list_versions")
        .into_iter()
        .filter(|v| !v.deleted)
        .map(|v| v.id)
        .collect()
}

/// Those of `ids` whose audio `backend` has.
pub async fn with_audio(backend: &dyn StorageBackend, ids: &[SongId]) -> HashSet<SongId> {
    let mut out = HashSet::new();
    for id in ids {
        if backend.has_audio(id).await.expect("has_audio") {
            out.insert(id.clone());
        }
    }
    out
}

/// Asserts that `target` holds every song of `source` exactly once and intact: the same
/// live-song listing (no duplicates), metadata equal, every model's vector equal bit for bit,
/// vector counts per model equal, and the audio read back from the target byte-identical
/// (its SHA-256 is checked against the id by `get_audio`, and compared with the source's).
pub async fn assert_same(source: &dyn StorageBackend, target: &dyn StorageBackend) {
    let live_ids = |v: &[VersionEntry]| -> Vec<SongId> {
        let mut ids: Vec<SongId> = v
            .iter()
            .filter(|e| !e.deleted)
            .map(|e| e.id.clone())
            .collect();
        ids.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        ids
    };
    let s = live_ids(&source.list_versions().await.expect("source listing"));
    let t = live_ids(&target.list_versions().await.expect("target listing"));
    let unique: HashSet<&SongId> = t.iter().collect();
    assert_eq!(unique.len(), t.len(), "duplicate songs on the target");
    assert_eq!(s, t, "the same songs on both sides");
    assert_eq!(
        target.count(&Filter::default()).await.expect("count"),
        s.len() as u64
    );
    let (sm, tm) = (
        source.models().await.expect("source models"),
        target.models().await.expect("target models"),
    );
    // (A model registered without vectors, e.g. by init-astra, has nothing to compare.)
    for m in sm.iter().filter(|m| m.count > 0) {
        let t = tm
            .iter()
            .find(|t| t.model.same_model(&m.model))
            .expect("model on the target");
        assert_eq!(
            t.count,
            m.count,
            "vectors of {}: each exactly once",
            m.model.key()
        );
    }
    let metas_s = source.get_metadata_many(&s).await.expect("source metadata");
    let metas_t: HashMap<SongId, SongMetadata> = target
        .get_metadata_many(&s)
        .await
        .expect("target metadata")
        .into_iter()
        .map(|m| (m.id.clone(), m))
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    for m in metas_s {
        assert_eq!(Some(&m), metas_t.get(&m.id), "metadata of {}", m.id.short());
        for model in sm.iter().map(|x| &x.model) {
            let a = source.get_embedding(&m.id, model).await.expect("vector");
            let b = target.get_embedding(&m.id, model).await.expect("vector");
            assert_eq!(a, b, "{} vector of {}", model.key(), m.id.short());
        }
        let (pa, pb) = (dir.path().join("a"), dir.path().join("b"));
        source
            .get_audio(&m.audio_key(), &pa)
            .await
            .expect("source audio");
        target
            .get_audio(&m.audio_key(), &pb)
            .await
            .expect("target audio");
        assert_eq!(std::fs::read(&pa).unwrap(), std::fs::read(&pb).unwrap());
    }
}

/// Every file under `root`: path relative to `root` → path. A missing `root` is empty.
pub fn files(root: &Path) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(root).unwrap().display().to_string();
                out.insert(rel, p);
            }
        }
    }
    out
}

/// Bytes and modification time of every file under `root` (to prove nothing changed).
pub fn snapshot(root: &Path) -> BTreeMap<String, (Vec<u8>, SystemTime)> {
    files(root)
        .into_iter()
        .map(|(k, p)| {
            let m = std::fs::metadata(&p).unwrap().modified().unwrap();
            (k, (std::fs::read(&p).unwrap(), m))
        })
        .collect()
}

/// The bytes of every file under `root`, by path.
pub fn contents(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    files(root)
        .into_values()
        .map(|p| {
            let b = std::fs::read(&p).unwrap_or_default();
            (p, b)
        })
        .collect()
}
