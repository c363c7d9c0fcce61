//! The disk cache and the offline fallback, end to end: the real `songrec` binary on the
//! Astra backend (local Data API server + s3s-fs on 127.0.0.1), then with both servers
//! stopped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use songrec_testkit::LocalCloud;
use songrec_testkit::cli::{json, stderr, text};
use songrec_testkit::data::contents;

use crate::bin;

fn songrec(c: &LocalCloud, home: &Path, args: &[&str]) -> Output {
    bin()
        .at_home(home)
        .envs(c.env())
        .args(["--storage-backend", "astra"])
        .args(args)
        .output()
        .unwrap()
}

fn match_ids(o: &Output) -> Vec<String> {
    json(o)["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["song"]["id"].as_str().unwrap().to_owned())
        .collect()
}

fn total_hits(home: &Path, c: &LocalCloud) -> u64 {
    let o = songrec(c, home, &["cache", "stats", "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    json(&o)["cache"]["total"]["hits"].as_u64().unwrap()
}

#[test]
fn reads_fall_back_to_cached_data_and_writes_fail_fast_when_the_remote_is_down() {
    let mut c = LocalCloud::start_blocking();
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let music = bin().synth(&h.join("music"), 2, 4);
    // A local library on this machine, which nothing below may touch.
    let local = h.join("local-lib");
    let o = bin()
        .at_home(h)
        .args(["--library", local.to_str().unwrap(), "ingest"])
        .arg(music.join("The Jazz Ensemble - Blue Swing 1.wav"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));

    assert!(songrec(&c, h, &["init-astra"]).status.success());
    // Two models (musicnn and dsp apart), so the offline copy lists more than one.
    let o = songrec(
        &c,
        h,
        &["ingest", "--embedder", "both", music.to_str().unwrap()],
    );
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
            bin()
                .at_home(h)
                .envs(c.env())
                .args(["--storage-backend", "astra", "similar", s, "-k", "5"])
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
    c.runtime().block_on(c.stop());
    let local_before = contents(&local);
    let cache_dir = h.join(".cache/songrec");
    let offline_before = contents(&cache_dir.join("remotes"));

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
    assert_eq!(
        contents(&local),
        local_before,
        "the local library is untouched"
    );
    let offline_after = contents(&cache_dir.join("remotes"));
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
