//! The disk cache and the offline fallback, end to end: the real `songrec` binary on the
//! Astra backend (local Data API server + s3s-fs on 127.0.0.1), then with both servers
//! stopped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const TOKEN: &str = "AstraCS:offline-test-token-abcdef012345";
const AK: &str = "songrec-offline-test";
const SK: &str = "offline-test-secret-key-0123456789";

struct Cloud {
    rt: tokio::runtime::Runtime,
    dataapi: String,
    s3: String,
    s3_server: Option<songrec_devservers::S3Server>,
    api: Option<songrec_dataapi_server::ServerHandle>,
    _dir: tempfile::TempDir,
}

impl Cloud {
    fn start() -> Self {
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
                &["music"],
                AK,
                SK,
            )
            .await
            .unwrap();
            (api, s3)
        });
        Self {
            dataapi: api.base_url(),
            s3: s3.endpoint(),
            rt,
            s3_server: Some(s3),
            api: Some(api),
            _dir: dir,
        }
    }

    /// Both servers stop; their ports refuse connections.
    fn stop(&mut self) {
        if let Some(api) = self.api.take() {
            self.rt.block_on(api.shutdown()).unwrap();
        }
        drop(self.s3_server.take());
    }
}

fn songrec(c: &Cloud, home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_songrec"))
        .args(["--storage-backend", "astra"])
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("ASTRA_DB_API_ENDPOINT", &c.dataapi)
        .env("ASTRA_DB_API_PATH", "/v1")
        .env("ASTRA_DB_APPLICATION_TOKEN", TOKEN)
        .env("SONGREC_S3_ENDPOINT", &c.s3)
        .env("SONGREC_S3_BUCKET", "music")
        .env("SONGREC_S3_ALLOW_HTTP", "true")
        .env("AWS_ACCESS_KEY_ID", AK)
        .env("AWS_SECRET_ACCESS_KEY", SK)
        .current_dir(home)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}

fn match_ids(o: &Output) -> Vec<String> {
    json(o)["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Every file under `dir` with its contents.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap_or_default());
            }
        }
    }
    out
}

fn total_hits(home: &Path, c: &Cloud) -> u64 {
    let o = songrec(c, home, &["cache", "stats", "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    json(&o)["cache"]["total"]["hits"].as_u64().unwrap()
}

#[test]
fn reads_fall_back_to_cached_data_and_writes_fail_fast_when_the_remote_is_down() {
    let mut c = Cloud::start();
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let music = h.join("music");
    let o = Command::new(env!("CARGO_BIN_EXE_songrec"))
        .arg("synth")
        .arg(&music)
        .args(["--per-style", "2", "--seconds", "4"])
        .output()
        .unwrap();
    assert!(o.status.success());
    // A local library on this machine, which nothing below may touch.
    let local = h.join("local-lib");
    let o = Command::new(env!("CARGO_BIN_EXE_songrec"))
        .args(["--library", local.to_str().unwrap(), "ingest"])
        .arg(music.join("The Jazz Ensemble - Blue Swing 1.wav"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", h)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));

    assert!(songrec(&c, h, &["init-astra"]).status.success());
    let o = songrec(&c, h, &["ingest", music.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("into the cloud library at") && text(&o).contains("(cached)"),
        "a cached cloud library: {}",
        text(&o)
    );

    // Online: a similar query, twice; the second run reads the vector from the disk cache.
    let online = songrec(
        &c,
        h,
        &["similar", "Warehouse Pulse 1", "-k", "3", "--json"],
    );
    assert!(online.status.success(), "{}", text(&online));
    assert!(!stderr(&online).contains("warning"), "{}", stderr(&online));
    let want = match_ids(&online);
    assert_eq!(want.len(), 3);
    let hits = total_hits(h, &c);
    let again = songrec(
        &c,
        h,
        &["similar", "Warehouse Pulse 1", "-k", "3", "--json"],
    );
    assert_eq!(match_ids(&again), want);
    assert!(total_hits(h, &c) > hits, "the second run hit the cache");

    // Two processes at once on the same cache folder, then a consistency check.
    let children: Vec<_> = ["Slow Piano 1", "Garage Anthem 2"]
        .iter()
        .map(|s| {
            Command::new(env!("CARGO_BIN_EXE_songrec"))
                .args(["--storage-backend", "astra", "similar", s, "-k", "5"])
                .env_clear()
                .env("HOME", h)
                .env("ASTRA_DB_API_ENDPOINT", &c.dataapi)
                .env("ASTRA_DB_API_PATH", "/v1")
                .env("ASTRA_DB_APPLICATION_TOKEN", TOKEN)
                .env("SONGREC_S3_ENDPOINT", &c.s3)
                .env("SONGREC_S3_BUCKET", "music")
                .env("SONGREC_S3_ALLOW_HTTP", "true")
                .env("AWS_ACCESS_KEY_ID", AK)
                .env("AWS_SECRET_ACCESS_KEY", SK)
                .current_dir(h)
                .spawn()
                .unwrap()
        })
        .collect();
    for mut ch in children {
        assert!(ch.wait().unwrap().success());
    }
    let o = songrec(&c, h, &["cache", "stats", "--check"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("index and files agree"), "{}", text(&o));

    let o = songrec(&c, h, &["cache", "refresh"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains(": 10 songs"), "{}", text(&o));

    // The remote goes down.
    c.stop();
    let local_before = tree(&local);
    let cache_dir = h.join(".cache/songrec");
    let offline_before = tree(&cache_dir.join("remotes"));

    let o = songrec(&c, h, &["list", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(json(&o)["total"], 10);
    let w = stderr(&o);
    assert!(
        w.starts_with("warning: remote unavailable (") && w.contains("showing cached data from"),
        "{w}"
    );
    assert_eq!(w.lines().count(), 1, "one line: {w}");
    println!("offline list: {w}");
    assert!(
        !w.contains("partial"),
        "after a refresh the copy is complete: {w}"
    );

    let o = songrec(
        &c,
        h,
        &["similar", "Warehouse Pulse 1", "-k", "3", "--json"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(match_ids(&o), want, "the same answer offline");
    assert!(stderr(&o).contains("showing cached data"));

    let o = songrec(&c, h, &["show", "Slow Piano 1", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(json(&o)["song"]["title"], "Slow Piano 1", "{}", text(&o));
    assert_eq!(
        json(&o)["embeddings"].as_array().unwrap().len(),
        2,
        "both vectors (dsp, musicnn) listed offline"
    );
    assert!(stderr(&o).contains("warning: remote unavailable"));

    let o = songrec(&c, h, &["stats", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(json(&o)["songs"], 10);
    assert!(json(&o)["cache"]["entries"].as_u64().unwrap() > 0);

    // Writes: fail with a clear message, exit 1, nothing changed anywhere.
    let o = songrec(&c, h, &["ingest", music.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        stderr(&o).contains("unavailable") && stderr(&o).contains("nothing was changed"),
        "{}",
        text(&o)
    );
    println!("offline ingest: {}", stderr(&o));
    let o = songrec(&c, h, &["delete", "Slow Piano 1"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    println!("offline delete: {}", stderr(&o));
    assert!(stderr(&o).contains("nothing was changed"), "{}", text(&o));
    assert_eq!(tree(&local), local_before, "the local library is untouched");
    let offline_after = tree(&cache_dir.join("remotes"));
    let data = |t: &BTreeMap<PathBuf, Vec<u8>>| -> BTreeMap<PathBuf, Vec<u8>> {
        t.iter()
            .filter(|(p, _)| p.components().any(|c| c.as_os_str() == "data"))
            .map(|(p, v)| (p.clone(), v.clone()))
            .collect()
    };
    assert_eq!(
        data(&offline_after),
        data(&offline_before),
        "the offline copy is untouched"
    );

    // Without the cache there is nothing to fall back to.
    let o = songrec(&c, h, &["--no-cache", "list"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(!stderr(&o).contains("showing cached data"));

    // The cache itself works offline; clear empties it.
    let o = songrec(&c, h, &["cache", "stats"]);
    assert!(
        o.status.success() && text(&o).contains("offline copy astra-"),
        "{}",
        text(&o)
    );
    let o = songrec(&c, h, &["cache", "clear"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = songrec(&c, h, &["cache", "stats", "--json"]);
    assert_eq!(json(&o)["cache"]["entries"], 0);
    assert_eq!(json(&o)["offline_copies"].as_array().unwrap().len(), 0);
}
