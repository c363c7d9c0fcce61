//! Shared support for the `migrate_*` tests: the local Data API server and s3s-fs on 127.0.0.1
//! (optionally behind `FaultProxy`s), a small library built through `LocalBackend`, the real
//! `songrec` binary, and deep comparisons of two backends read in-process.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

use songrec_app::migrate::ledger::{Ledger, RunSummary};
use songrec_config::Config;
use songrec_devservers::{FaultPlan, FaultProxy};
use songrec_local::LocalBackend;
use songrec_storage::{
    Embedding, Filter, ModelInfo, SongId, SongMetadata, SongRecord, StorageBackend,
};

pub const TOKEN: &str = "AstraCS:migrate-test-token-abcdef0123456789";
pub const AK: &str = "songrec-migrate-test";
pub const SK: &str = "migrate-test-secret-key-0123456789";
pub const BUCKET: &str = "music";

/// The two cloud servers, in-process on 127.0.0.1.
pub struct Cloud {
    pub rt: tokio::runtime::Runtime,
    pub api: songrec_dataapi_server::ServerHandle,
    pub s3: songrec_devservers::S3Server,
    pub dir: tempfile::TempDir,
}

/// Where a `songrec` process finds the cloud (direct or through proxies).
#[derive(Clone, Debug)]
pub struct Endpoints {
    pub api: String,
    pub s3: String,
}

impl Cloud {
    pub fn start() -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (api, s3) = rt.block_on(async {
            let api =
                songrec_dataapi_server::start(songrec_dataapi_server::ServerConfig::ephemeral(
                    songrec_dataapi_server::Token::new(TOKEN),
                ))
                .await
                .unwrap();
            let s3 = songrec_devservers::S3Server::start(
                "127.0.0.1:0".parse().unwrap(),
                &dir.path().join("s3"),
                &[BUCKET],
                AK,
                SK,
            )
            .await
            .unwrap();
            (api, s3)
        });
        Self { rt, api, s3, dir }
    }

    pub fn direct(&self) -> Endpoints {
        Endpoints {
            api: self.api.base_url(),
            s3: self.s3.endpoint(),
        }
    }

    /// A fault proxy in front of the Data API server.
    pub fn proxy_api(&self, plan: FaultPlan) -> FaultProxy {
        self.rt
            .block_on(FaultProxy::start(self.api.addr(), plan))
            .unwrap()
    }

    /// A fault proxy in front of the S3 server.
    pub fn proxy_s3(&self, plan: FaultPlan) -> FaultProxy {
        let addr = self
            .s3
            .endpoint()
            .trim_start_matches("http://")
            .parse()
            .unwrap();
        self.rt.block_on(FaultProxy::start(addr, plan)).unwrap()
    }

    /// The environment a `songrec` process gets.
    pub fn env(&self, ep: &Endpoints, home: &Path) -> Vec<(String, String)> {
        vec![
            ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
            ("HOME".into(), home.display().to_string()),
            ("ASTRA_DB_API_ENDPOINT".into(), ep.api.clone()),
            ("ASTRA_DB_API_PATH".into(), "/v1".into()),
            ("ASTRA_DB_APPLICATION_TOKEN".into(), TOKEN.into()),
            ("SONGREC_S3_ENDPOINT".into(), ep.s3.clone()),
            ("SONGREC_S3_BUCKET".into(), BUCKET.into()),
            ("SONGREC_S3_ALLOW_HTTP".into(), "true".into()),
            ("AWS_ACCESS_KEY_ID".into(), AK.into()),
            ("AWS_SECRET_ACCESS_KEY".into(), SK.into()),
        ]
    }

    pub fn command(&self, ep: &Endpoints, home: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_songrec"));
        c.args(args)
            .env_clear()
            .envs(self.env(ep, home))
            .current_dir(home);
        c
    }

    pub fn songrec(&self, ep: &Endpoints, home: &Path, args: &[&str]) -> Output {
        self.command(ep, home, args).output().unwrap()
    }

    /// The Astra backend, read directly (no proxy, no layers).
    pub fn astra(&self, home: &Path) -> songrec_astra::AstraBackend {
        let env: HashMap<String, String> = self.env(&self.direct(), home).into_iter().collect();
        let cfg = Config::from_sources(None, &env).unwrap();
        songrec_astra::AstraBackend::connect(&cfg).unwrap()
    }

    /// Creates the collections.
    pub fn init(&self, home: &Path) {
        let o = self.songrec(&self.direct(), home, &["init-astra"]);
        assert!(o.status.success(), "{}", text(&o));
    }

    /// The S3 objects under the bucket: key → file path.
    pub fn s3_objects(&self) -> BTreeMap<String, PathBuf> {
        files(&self.dir.path().join("s3").join(BUCKET))
            .into_iter()
            .filter(|(k, _)| k.contains("/audio/"))
            .collect()
    }
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Writes the user config file the `songrec` processes with `HOME=home` pick up
/// (`~/.config/songrec/config.toml`).
pub fn write_config(home: &Path, request_timeout_secs: u64) {
    let dir = home.join(".config").join("songrec");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.toml"),
        format!(
            "[astra]\nrequest_timeout_secs = {request_timeout_secs}\n[s3]\nrequest_timeout_secs = {request_timeout_secs}\n"
        ),
    )
    .unwrap();
}

/// Every file under `root`: relative path → path.
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

/// A tiny valid 8-bit mono WAV, different for every `n`.
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

pub fn models() -> [ModelInfo; 2] {
    [
        ModelInfo::new("dsp", "1", 16),
        ModelInfo::new("extra", "2", 8),
    ]
}

fn vector(seed: u64, dim: usize) -> Vec<f32> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..dim)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ((x >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// Builds a local library of `n` songs (audio, two models' vectors, varied metadata) at
/// `root` through `LocalBackend`; returns the song ids.
pub fn make_library(rt: &tokio::runtime::Runtime, root: &Path, n: usize) -> Vec<SongId> {
    rt.block_on(async {
        let lib = LocalBackend::open(root).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let mut records = Vec::new();
        for i in 0..n {
            let wav = tiny_wav(i);
            let id = SongId::from_bytes(&wav);
            let p = tmp.path().join(format!("{i}.wav"));
            std::fs::write(&p, &wav).unwrap();
            lib.put_audio(&id, &p).await.unwrap();
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
            let embeddings = models()
                .iter()
                .enumerate()
                .map(|(k, model)| {
                    Embedding::new(model.clone(), vector((i * 7 + k) as u64 + 1, model.dim))
                        .unwrap()
                })
                .collect();
            records.push(SongRecord {
                metadata: m,
                embeddings,
            });
        }
        let rep = lib.put_songs(&records).await.unwrap();
        assert!(rep.is_complete());
        lib.flush().await.unwrap();
        records.into_iter().map(|r| r.metadata.id).collect()
    })
}

/// Asserts that `target` holds every song of `source` exactly once and intact: the same
/// live-song listing (no duplicates), metadata equal, every model's vector equal bit for bit,
/// vector counts per model equal, and the audio read back from the target byte-identical
/// (its SHA-256 is checked against the id by `get_audio`, and compared with the source's).
pub fn assert_same(
    rt: &tokio::runtime::Runtime,
    source: &dyn StorageBackend,
    target: &dyn StorageBackend,
) {
    rt.block_on(async {
        let src = source.list_versions().await.unwrap();
        let tgt = target.list_versions().await.unwrap();
        let live = |v: &[songrec_storage::VersionEntry]| -> Vec<SongId> {
            let mut ids: Vec<SongId> = v
                .iter()
                .filter(|e| !e.deleted)
                .map(|e| e.id.clone())
                .collect();
            ids.sort_by(|a, b| a.as_str().cmp(b.as_str()));
            ids
        };
        let (s, t) = (live(&src), live(&tgt));
        let unique: HashSet<&SongId> = t.iter().collect();
        assert_eq!(unique.len(), t.len(), "duplicate songs on the target");
        assert_eq!(s, t, "the same songs on both sides");
        assert_eq!(
            target.count(&Filter::default()).await.unwrap(),
            s.len() as u64
        );
        let (sm, tm) = (
            source.models().await.unwrap(),
            target.models().await.unwrap(),
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
        let metas_s = source.get_metadata_many(&s).await.unwrap();
        let metas_t: HashMap<SongId, SongMetadata> = target
            .get_metadata_many(&s)
            .await
            .unwrap()
            .into_iter()
            .map(|m| (m.id.clone(), m))
            .collect();
        let dir = tempfile::tempdir().unwrap();
        for m in metas_s {
            assert_eq!(Some(&m), metas_t.get(&m.id), "metadata of {}", m.id.short());
            for model in sm.iter().map(|x| &x.model) {
                let a = source.get_embedding(&m.id, model).await.unwrap();
                let b = target.get_embedding(&m.id, model).await.unwrap();
                assert_eq!(a, b, "{} vector of {}", model.key(), m.id.short());
            }
            let (pa, pb) = (dir.path().join("a"), dir.path().join("b"));
            source.get_audio(&m.id, &pa).await.unwrap();
            target.get_audio(&m.id, &pb).await.unwrap();
            assert_eq!(std::fs::read(&pa).unwrap(), std::fs::read(&pb).unwrap());
        }
    });
}

/// Songs with metadata on `backend` (the commit point).
pub fn present(rt: &tokio::runtime::Runtime, backend: &dyn StorageBackend) -> HashSet<SongId> {
    rt.block_on(backend.list_versions())
        .unwrap()
        .into_iter()
        .filter(|v| !v.deleted)
        .map(|v| v.id)
        .collect()
}

/// Songs whose audio `backend` has.
pub fn with_audio(
    rt: &tokio::runtime::Runtime,
    backend: &dyn StorageBackend,
    ids: &[SongId],
) -> HashSet<SongId> {
    rt.block_on(async {
        let mut out = HashSet::new();
        for id in ids {
            if backend.has_audio(id).await.unwrap() {
                out.insert(id.clone());
            }
        }
        out
    })
}

/// The migrate ledger of `home`.
pub fn ledger(home: &Path) -> Ledger {
    Ledger::open(&home.join(".cache/songrec/migrate/ledger.sqlite")).unwrap()
}

/// Runs newest first.
pub fn runs(home: &Path) -> Vec<RunSummary> {
    ledger(home).runs(100).unwrap()
}

/// Asserts that a process was killed by SIGKILL.
pub fn assert_killed(status: std::process::ExitStatus, out: &str) {
    assert_eq!(
        status.signal(),
        Some(9),
        "expected kill -9, got {status:?}: {out}"
    );
}

/// Runs `cmd` with `SONGREC_TEST_CRASH_AT=spec` and asserts it killed itself there.
pub fn run_until_crash_hook(mut cmd: Command, spec: &str) -> String {
    let o = cmd.env("SONGREC_TEST_CRASH_AT", spec).output().unwrap();
    let t = text(&o);
    assert_killed(o.status, &t);
    assert!(t.contains("test crash hook"), "{t}");
    t
}

/// Spawns `cmd`, waits until `proxy` holds a request, then kill -9s the process.
pub fn run_until_frozen(mut cmd: Command, proxy: &FaultProxy) {
    let mut child: Child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while proxy.frozen() == 0 {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                use std::io::Read as _;
                let _ = e.read_to_string(&mut err);
            }
            panic!("finished before the freeze point ({status:?}): {err}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "freeze point never reached"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_killed(status, "");
}
