//! `songrec --storage-backend astra ...` end to end: the real binary against the local Data API
//! server and an S3-protocol server (s3s-fs, SigV4), both on 127.0.0.1 sockets.

use std::path::Path;
use std::process::Output;

use songrec_testkit::LocalCloud;
use songrec_testkit::cli::text;

use crate::bin;

fn songrec(c: &LocalCloud, home: &Path, token: &str, args: &[&str]) -> Output {
    songrec_on(c, home, token, "astra", args)
}

/// `songrec stats --json` of the cloud library.
fn cloud_stats(c: &LocalCloud, home: &Path) -> serde_json::Value {
    let o = songrec(c, home, c.token(), &["stats", "--json"]);
    serde_json::from_slice(&o.stdout).unwrap()
}

fn songrec_on(c: &LocalCloud, home: &Path, token: &str, backend: &str, args: &[&str]) -> Output {
    bin()
        .at_home(home)
        .envs(c.env())
        .env("ASTRA_DB_APPLICATION_TOKEN", token)
        .args(["--storage-backend", backend])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn every_command_works_on_the_astra_backend() {
    let c = LocalCloud::start_blocking();
    let home = tempfile::tempdir().unwrap();
    let music = bin().synth(&home.path().join("music"), 2, 5);

    // Before init: doctor fails and says what to do; nothing leaks the token.
    let o = songrec(&c, home.path(), c.token(), &["doctor"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("init-astra"), "{}", text(&o));
    assert!(!text(&o).contains(c.token()) && !text(&o).contains(c.secret_key()));

    // On an empty store: the schema is created, not upgraded from a version 1 never there.
    let o = songrec(&c, home.path(), c.token(), &["init-astra"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("created the schema, version ") && !text(&o).contains("(was "),
        "{}",
        text(&o)
    );
    let o = songrec(&c, home.path(), c.token(), &["init-astra"]);
    assert!(
        o.status.success() && text(&o).contains("already present"),
        "idempotent: {}",
        text(&o)
    );
    assert!(
        !text(&o).contains("schema"),
        "nothing to say again: {}",
        text(&o)
    );
    let o = songrec(&c, home.path(), c.token(), &["doctor"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    let o = songrec(
        &c,
        home.path(),
        c.token(),
        &["ingest", music.to_str().unwrap()],
    );
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
    let o = songrec(
        &c,
        home.path(),
        c.token(),
        &["ingest", music.to_str().unwrap()],
    );
    assert!(
        text(&o).contains("0 new, 10 already"),
        "re-ingest is a no-op: {}",
        text(&o)
    );

    let o = songrec(
        &c,
        home.path(),
        c.token(),
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
        c.token(),
        &["similar", "Warehouse Pulse 1", "-k", "3", "--json"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let ms = v["results"].as_array().unwrap();
    assert_eq!(ms.len(), 3);
    assert_eq!(
        ms[0]["song"]["title"], "Warehouse Pulse 2",
        "its style-mate first"
    );
    let o = songrec(
        &c,
        home.path(),
        c.token(),
        &["similar", "Warehouse Pulse 1", "-k", "1001"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("1000"),
        "k above the cap is refused clearly: {}",
        text(&o)
    );

    let o = songrec(
        &c,
        home.path(),
        c.token(),
        &["show", "Slow Piano 1", "--json"],
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["audio_stored"], true);
    let o = songrec(&c, home.path(), c.token(), &["delete", "Slow Piano 1"]);
    assert!(o.status.success(), "{}", text(&o));
    let v = cloud_stats(&c, home.path());
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
    assert!(!text(&o).contains(bad) && !text(&o).contains(c.token()));
}

#[test]
fn migrate_local_to_astra_and_back() {
    let c = LocalCloud::start_blocking();
    let home = tempfile::tempdir().unwrap();
    let music = bin().synth(&home.path().join("music"), 2, 4);
    let l1 = home.path().join("lib1");
    let l2 = home.path().join("lib2");
    let (l1s, l2s) = (l1.to_str().unwrap(), l2.to_str().unwrap());
    let o = songrec_on(
        &c,
        home.path(),
        c.token(),
        "local",
        &["--library", l1s, "ingest", music.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        songrec(&c, home.path(), c.token(), &["init-astra"])
            .status
            .success()
    );

    // Dry run: the plan, nothing copied.
    let o = songrec(
        &c,
        home.path(),
        c.token(),
        &["--library", l1s, "migrate", "local→astra", "--dry-run"],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("10 songs to copy"), "{}", text(&o));
    assert_eq!(cloud_stats(&c, home.path())["songs"], 0);

    // The user's spelling, then again (idempotent).
    let o = songrec(
        &c,
        home.path(),
        c.token(),
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
        c.token(),
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
        c.token(),
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
        c.token(),
        &["similar", "Blue Swing 1", "-k", "3", "--json"],
    );
    let ids = |o: &Output| -> Vec<String> {
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["song"]["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(&local), ids(&cloud));

    // And back into an empty local library, audio included; the source is untouched.
    let o = songrec(
        &c,
        home.path(),
        c.token(),
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
        c.token(),
        "local",
        &["--library", l2s, "show", "Blue Swing 2", "--json"],
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["audio_stored"], true);
    assert_eq!(cloud_stats(&c, home.path())["songs"], 10);
    let o = songrec(
        &c,
        home.path(),
        c.token(),
        &["--library", l2s, "migrate", "astra", "--to", "local"],
    );
    assert_eq!(
        o.status.code(),
        Some(2),
        "a half-given spec is refused as a usage error: {}",
        text(&o)
    );
}
