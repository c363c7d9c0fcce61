//! `songrec --storage-backend astra ...` end to end: the real binary against the local Data API
//! server and an S3-protocol server (s3s-fs, SigV4), both on 127.0.0.1 sockets.

use std::path::Path;
use std::process::{Command, Output};

mod support;

use support::{AK, SK, TOKEN};

/// The two cloud servers (`support::Cloud`) and their addresses.
struct Cloud {
    dataapi: String,
    s3: String,
    _servers: support::Cloud,
}

fn cloud() -> Cloud {
    let servers = support::Cloud::start();
    Cloud {
        dataapi: servers.api.base_url(),
        s3: servers.s3.endpoint(),
        _servers: servers,
    }
}

fn songrec(c: &Cloud, home: &Path, token: &str, args: &[&str]) -> Output {
    songrec_on(c, home, token, "astra", args)
}

fn songrec_on(c: &Cloud, home: &Path, token: &str, backend: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_songrec"))
        .args(["--storage-backend", backend])
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
        text(&o).contains("into the cloud library at 127.0.0.1:") && text(&o).contains("(cached)"),
        "the library is named in the user's words: {}",
        text(&o)
    );
    assert!(
        !text(&o).contains("Fallback("),
        "the factory's stack is for -v and doctor: {}",
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

#[test]
fn migrate_local_to_astra_and_back() {
    let c = cloud();
    let home = tempfile::tempdir().unwrap();
    let music = home.path().join("music");
    let o = Command::new(env!("CARGO_BIN_EXE_songrec"))
        .arg("synth")
        .arg(&music)
        .args(["--per-style", "2", "--seconds", "4"])
        .output()
        .unwrap();
    assert!(o.status.success());
    let l1 = home.path().join("lib1");
    let l2 = home.path().join("lib2");
    let (l1s, l2s) = (l1.to_str().unwrap(), l2.to_str().unwrap());
    let o = songrec_on(
        &c,
        home.path(),
        TOKEN,
        "local",
        &["--library", l1s, "ingest", music.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        songrec(&c, home.path(), TOKEN, &["init-astra"])
            .status
            .success()
    );

    // Dry run: the plan, nothing copied.
    let o = songrec(
        &c,
        home.path(),
        TOKEN,
        &["--library", l1s, "migrate", "local→astra", "--dry-run"],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("10 songs to copy"), "{}", text(&o));
    let o = songrec(&c, home.path(), TOKEN, &["stats", "--json"]);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()["songs"],
        0
    );

    // The user's spelling, then again (idempotent).
    let o = songrec(
        &c,
        home.path(),
        TOKEN,
        &["--library", l1s, "migrate", "local→astra"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("copied 10 songs, 0 failed"),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("verify: clean: 10/10"), "{}", text(&o));
    let o = songrec(
        &c,
        home.path(),
        TOKEN,
        &["--library", l1s, "migrate", "local->astra"],
    );
    assert!(
        text(&o).contains("0 songs to copy, 10 already there")
            && text(&o).contains("nothing to do"),
        "{}",
        text(&o)
    );

    // Similar on the cloud copy gives the same answer as on the local original.
    let local = songrec_on(
        &c,
        home.path(),
        TOKEN,
        "local",
        &[
            "--library",
            l1s,
            "similar",
            "Blue Swing 1",
            "-k",
            "3",
            "--json",
        ],
    );
    let cloud = songrec(
        &c,
        home.path(),
        TOKEN,
        &["similar", "Blue Swing 1", "-k", "3", "--json"],
    );
    let ids = |o: &Output| -> Vec<String> {
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["matches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(&local), ids(&cloud));

    // And back into an empty local library, audio included; the source is untouched.
    let o = songrec(
        &c,
        home.path(),
        TOKEN,
        &[
            "--library",
            l2s,
            "migrate",
            "--from",
            "astra",
            "--to",
            "local",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("copied 10 songs"), "{}", text(&o));
    let o = songrec_on(
        &c,
        home.path(),
        TOKEN,
        "local",
        &["--library", l2s, "show", "Blue Swing 2", "--json"],
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["audio_stored"], true);
    let o = songrec(&c, home.path(), TOKEN, &["stats", "--json"]);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()["songs"],
        10
    );
    let o = songrec(
        &c,
        home.path(),
        TOKEN,
        &["--library", l2s, "migrate", "astra", "--to", "local"],
    );
    assert_eq!(
        o.status.code(),
        Some(2),
        "a half-given spec is refused as a usage error: {}",
        text(&o)
    );
}
