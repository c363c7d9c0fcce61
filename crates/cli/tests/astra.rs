//! `songrec --storage-backend astra ...` end to end: the real binary against the local Data API
//! server and an S3-protocol server (s3s-fs, SigV4), both on 127.0.0.1 sockets.

use std::path::Path;
use std::process::{Command, Output};

const TOKEN: &str = "AstraCS:cli-test-token-abcdef0123456789";
const AK: &str = "songrec-cli-test";
const SK: &str = "cli-test-secret-key-0123456789";

struct Cloud {
    _rt: tokio::runtime::Runtime,
    dataapi: String,
    s3: String,
    _s3: songrec_devservers::S3Server,
    _api: songrec_dataapi_server::ServerHandle,
    _dir: tempfile::TempDir,
}

fn cloud() -> Cloud {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (api, s3) = rt.block_on(async {
        let api = songrec_dataapi_server::start(songrec_dataapi_server::ServerConfig::ephemeral(
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
    Cloud {
        dataapi: api.base_url(),
        s3: s3.endpoint(),
        _rt: rt,
        _s3: s3,
        _api: api,
        _dir: dir,
    }
}

fn songrec(c: &Cloud, home: &Path, token: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_songrec"))
        .args(["--storage-backend", "astra"])
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("ASTRA_DB_API_ENDPOINT", &c.dataapi)
        .env("ASTRA_DB_API_PATH", "/v1")
        .env("ASTRA_DB_APPLICATION_TOKEN", token)
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

#[test]
fn every_command_works_on_the_astra_backend() {
    let c = cloud();
    let home = tempfile::tempdir().unwrap();
    let music = home.path().join("music");
    let o = Command::new(env!("CARGO_BIN_EXE_songrec"))
        .arg("synth")
        .arg(&music)
        .args(["--per-style", "2", "--seconds", "5"])
        .output()
        .unwrap();
    assert!(o.status.success());

    // Before init: doctor fails and says what to do; nothing leaks the token.
    let o = songrec(&c, home.path(), TOKEN, &["doctor"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("init-astra"), "{}", text(&o));
    assert!(!text(&o).contains(TOKEN) && !text(&o).contains(SK));

    let o = songrec(&c, home.path(), TOKEN, &["init-astra"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = songrec(&c, home.path(), TOKEN, &["init-astra"]);
    assert!(
        o.status.success() && text(&o).contains("already present"),
        "idempotent: {}",
        text(&o)
    );
    let o = songrec(&c, home.path(), TOKEN, &["doctor"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    let o = songrec(&c, home.path(), TOKEN, &["ingest", music.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("10 new"), "{}", text(&o));
    assert!(
        text(&o).contains("into CircuitBreaker(Astra("),
        "the factory's stack is shown: {}",
        text(&o)
    );
    let o = songrec(&c, home.path(), TOKEN, &["ingest", music.to_str().unwrap()]);
    assert!(
        text(&o).contains("0 new, 10 already"),
        "re-ingest is a no-op: {}",
        text(&o)
    );

    let o = songrec(
        &c,
        home.path(),
        TOKEN,
        &["list", "--json", "--sort", "title"],
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["total"], 10);
    let titles: Vec<&str> = v["songs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["title"].as_str().unwrap())
        .collect();
    let mut sorted = titles.clone();
    sorted.sort_by_key(|t| t.to_lowercase());
    assert_eq!(titles, sorted);

    let o = songrec(
        &c,
        home.path(),
        TOKEN,
        &["similar", "Warehouse Pulse 1", "-k", "3", "--json"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let ms = v["matches"].as_array().unwrap();
    assert_eq!(ms.len(), 3);
    assert_eq!(
        ms[0]["metadata"]["title"], "Warehouse Pulse 2",
        "its style-mate first"
    );
    let o = songrec(
        &c,
        home.path(),
        TOKEN,
        &["similar", "Warehouse Pulse 1", "-k", "1001"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("1000"),
        "k above the cap is refused clearly: {}",
        text(&o)
    );

    let o = songrec(&c, home.path(), TOKEN, &["show", "Slow Piano 1", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["audio_stored"], true);
    let o = songrec(&c, home.path(), TOKEN, &["delete", "Slow Piano 1"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = songrec(&c, home.path(), TOKEN, &["stats", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["songs"], 9);
    assert_eq!(v["tombstones"], 1);

    // A wrong token: a clear error that does not print the token.
    let bad = "AstraCS:wrong-token-zzzzzzzzzzzzzzzz";
    let o = songrec(&c, home.path(), bad, &["list"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("ASTRA_DB_APPLICATION_TOKEN"),
        "{}",
        text(&o)
    );
    assert!(!text(&o).contains(bad) && !text(&o).contains(TOKEN));
}
