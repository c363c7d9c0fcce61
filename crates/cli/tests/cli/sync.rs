//! `songrec sync` end to end: the real binary on two machines (two local library folders)
//! against one local Data API server and one s3s-fs (SigV4) on 127.0.0.1.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use songrec_astra::AstraBackend;
use songrec_local::LocalBackend;
use songrec_storage::prelude::*;
use songrec_storage::{SongId, StorageBackend};
use songrec_sync::digest::digest;
use songrec_testkit::LocalCloud;
use songrec_testkit::cli::text;
use songrec_testkit::fixtures::real_recording;

use crate::bin;

/// The local cloud, its collections made by `songrec init-astra`, with example songs: 10
/// synthesised WAVs, 2 s each, in its folder.
struct Cloud(LocalCloud);

impl std::ops::Deref for Cloud {
    type Target = LocalCloud;
    fn deref(&self) -> &LocalCloud {
        &self.0
    }
}

fn cloud() -> Cloud {
    cloud_with(LocalCloud::builder())
}

/// [`cloud`] on a Data API server with these limits.
fn cloud_with(limits: songrec_testkit::cloud::Builder) -> Cloud {
    let c = Cloud(limits.start_blocking());
    let o = c.run(c.dir(), &["--storage-backend", "astra", "init-astra"], &[]);
    assert!(o.status.success(), "{}", text(&o));
    bin().synth(&c.music(), 2, 2);
    c
}

impl Cloud {
    /// `songrec ARGS` for the user at `home`, on this cloud, with `extra` variables.
    fn run(&self, home: &Path, args: &[&str], extra: &[(&str, &str)]) -> Output {
        bin()
            .at_home(home)
            .envs(self.env())
            .envs(extra.iter().copied())
            .args(args)
            .output()
            .unwrap()
    }

    fn music(&self) -> PathBuf {
        self.dir().join("music")
    }

    /// One of the synthesised files, by its title ("Warehouse Pulse 1").
    fn file(&self, title: &str) -> String {
        let f = std::fs::read_dir(self.music())
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().ends_with(&format!(" - {title}.wav")))
            .unwrap_or_else(|| panic!("no synthesised file for {title}"));
        f.to_string_lossy().into_owned()
    }

    fn remote(&self) -> AstraBackend {
        self.astra()
    }
}

/// A machine: its own home and library folder.
struct Machine<'a> {
    cloud: &'a Cloud,
    home: tempfile::TempDir,
}

impl<'a> Machine<'a> {
    fn new(cloud: &'a Cloud) -> Self {
        Self {
            cloud,
            home: tempfile::tempdir().unwrap(),
        }
    }

    fn lib(&self) -> PathBuf {
        self.home.path().join("library")
    }

    fn songrec(&self, args: &[&str]) -> Output {
        self.songrec_env(args, &[])
    }

    fn songrec_env(&self, args: &[&str], extra: &[(&str, &str)]) -> Output {
        let lib = self.lib();
        let mut all = vec!["--library", lib.to_str().unwrap()];
        all.extend_from_slice(args);
        self.cloud.run(self.home.path(), &all, extra)
    }

    fn ingest(&self, titles: &[&str]) {
        let files: Vec<String> = titles.iter().map(|t| self.cloud.file(t)).collect();
        let mut args = vec!["ingest"];
        args.extend(files.iter().map(String::as_str));
        let o = self.songrec(&args);
        assert!(o.status.success(), "{}", text(&o));
    }

    /// `songrec sync` with the expected exit code.
    fn sync(&self, args: &[&str], code: i32) -> String {
        let mut all = vec!["sync"];
        all.extend_from_slice(args);
        let o = self.songrec(&all);
        assert_eq!(o.status.code(), Some(code), "sync {args:?}: {}", text(&o));
        text(&o)
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.songrec(args);
        assert!(o.status.success(), "{args:?}: {}", text(&o));
        text(&o)
    }
}

type State = BTreeMap<SongId, (u64, String, String)>;

/// Live songs of a side: version, content hash and metadata digest; every audio blob is
/// downloaded and its hash checked, every song has its vector.
fn state(c: &Cloud, b: &dyn StorageBackend) -> State {
    let tmp = tempfile::tempdir().unwrap();
    c.block_on(async {
        let models = b.models().await.unwrap();
        let mut out = BTreeMap::new();
        for v in b.list_versions().await.unwrap() {
            if v.deleted {
                continue;
            }
            assert!(!out.contains_key(&v.id), "{} listed twice", v.id);
            let m = b.get_metadata(&v.id).await.unwrap().expect("metadata");
            let f = tmp.path().join(v.id.as_str());
            let key = m.audio_key();
            b.get_audio(&key, &f).await.unwrap();
            assert_eq!(SongId::from_file(&f).unwrap().0, key, "blob hash");
            let mut vectors = 0;
            for s in &models {
                vectors += usize::from(b.get_embedding(&v.id, &s.model).await.unwrap().is_some());
            }
            // `ingest` stores a vector of every embedder (dsp and musicnn by default).
            assert_eq!(vectors, models.len(), "{}: one vector per model", m.title);
            out.insert(
                v.id.clone(),
                (v.version, v.content_hash.clone(), digest(&m)),
            );
        }
        out
    })
}

fn local_state(c: &Cloud, m: &Machine) -> State {
    state(c, &LocalBackend::open(m.lib()).unwrap())
}

fn titles(c: &Cloud, b: &dyn StorageBackend) -> BTreeMap<String, songrec_storage::SongMetadata> {
    c.block_on(async {
        let mut out = BTreeMap::new();
        for v in b
            .list_versions()
            .await
            .unwrap()
            .iter()
            .filter(|v| !v.deleted)
        {
            let m = b.get_metadata(&v.id).await.unwrap().unwrap();
            out.insert(m.file_name.clone(), m);
        }
        out
    })
}

/// Both machines and the remote agree, and hold `n` songs.
fn assert_converged(c: &Cloud, machines: &[&Machine], n: usize) -> State {
    let remote = state(c, &c.remote());
    assert_eq!(remote.len(), n, "remote songs");
    for m in machines {
        assert_eq!(
            local_state(c, m),
            remote,
            "machine {}",
            m.home.path().display()
        );
    }
    remote
}

#[test]
fn two_machines_adds_edits_deletes_and_conflicts_converge() {
    let c = cloud();
    let (a, b) = (Machine::new(&c), Machine::new(&c));
    a.ingest(&[
        "Warehouse Pulse 1",
        "Warehouse Pulse 2",
        "Garage Anthem 1",
        "Garage Anthem 2",
        "Slow Piano 1",
        "Drifting Pads 1",
    ]);
    b.ingest(&[
        "Slow Piano 2",
        "Drifting Pads 1",
        "Drifting Pads 2",
        "Blue Swing 1",
        "Blue Swing 2",
    ]);

    let out = a.sync(&[], 0);
    assert!(out.contains("uploaded 6 new"), "{out}");
    let out = b.sync(&["--dry-run"], 0);
    assert!(out.contains("dry run: nothing changed"), "{out}");
    // Each step names its song by artist and title (from the side that holds it), then its id.
    let steps: Vec<&str> = out.lines().filter(|l| l.starts_with("  would ")).collect();
    assert!(steps.len() >= 9, "5 downloads, 4 uploads:\n{out}");
    for (what, title) in [
        ("download", "Warehouse Pulse 1"),
        ("upload", "Blue Swing 2"),
    ] {
        assert!(
            steps
                .iter()
                .any(|l| l.starts_with(&format!("  would {what} \"The "))
                    && l.contains(&format!(" – {title}\" ("))),
            "{what} {title}:\n{out}"
        );
    }
    assert!(
        steps.iter().all(|l| l.contains("Ensemble – ")),
        "every step has a name:\n{out}"
    );
    let out = b.sync(&[], 0);
    assert!(
        out.contains("uploaded 4 new") && out.contains("downloaded 5 new"),
        "{out}"
    );
    assert!(
        !out.contains("conflict:"),
        "same song added on both sides, same tags: no conflict: {out}"
    );
    a.sync(&[], 0);
    assert_converged(&c, &[&a, &b], 10);

    // One side edits, the other deletes, delete here/edit there, and edit/edit.
    a.ok(&["edit", "Warehouse Pulse 1", "--genre", "house"]);
    b.ok(&["delete", "Garage Anthem 1"]);
    a.ok(&["delete", "Garage Anthem 2"]);
    b.ok(&["edit", "Garage Anthem 2", "--tag", "live"]);
    a.ok(&["edit", "Slow Piano 1", "--title", "Piano by A"]);
    std::thread::sleep(std::time::Duration::from_millis(20));
    b.ok(&[
        "edit",
        "Slow Piano 1",
        "--title",
        "Piano by B",
        "--set",
        "label=Warp",
    ]);

    let out = a.sync(&[], 0);
    assert!(out.contains("deleted 0 here + 1 on the remote"), "{out}");
    let out = b.sync(&[], 4);
    assert!(out.contains("2 conflicts"), "{out}");
    assert!(
        out.contains("deleted here, edited on the remote")
            || out.contains("edited here, deleted on the remote"),
        "{out}"
    );
    assert!(out.contains("edited on both sides (title)"), "{out}");
    a.sync(&[], 0);
    let out = b.sync(&[], 0);
    assert!(
        out.contains("uploaded 0 new + 0 changed, downloaded 0 new + 0 changed"),
        "{out}"
    );
    assert_converged(&c, &[&a, &b], 9);

    let songs = titles(&c, &c.remote());
    let by_title = |t: &str| {
        songs
            .values()
            .find(|m| m.title == t)
            .unwrap_or_else(|| panic!("{t} missing: {songs:?}"))
    };
    assert_eq!(
        by_title("Warehouse Pulse 1").genre.as_deref(),
        Some("house")
    );
    assert!(
        songs.values().all(|m| m.title != "Garage Anthem 1"),
        "deleted everywhere"
    );
    assert!(
        by_title("Garage Anthem 2")
            .tags
            .contains(&"live".to_owned()),
        "the edit won over the deletion"
    );
    let piano = by_title("Piano by B");
    assert_eq!(piano.extra["label"], "Warp");
    assert!(piano.version >= 3);
    // The deletion travels as a tombstone: machine a does not resurrect it.
    let tombstones = c.block_on(async { c.remote().list_versions().await.unwrap() });
    assert_eq!(tombstones.iter().filter(|v| v.deleted).count(), 1);
}

#[test]
fn each_conflict_policy() {
    let c = cloud();
    let (a, b) = (Machine::new(&c), Machine::new(&c));
    let songs = [
        "Warehouse Pulse 1",
        "Garage Anthem 1",
        "Slow Piano 1",
        "Blue Swing 1",
    ];
    a.ingest(&songs);
    a.sync(&[], 0);
    b.sync(&[], 0);
    for (song, policy, want) in [
        ("Warehouse Pulse 1", "newer", "from B"),
        ("Garage Anthem 1", "local", "from B"),
        ("Slow Piano 1", "remote", "from A"),
        ("Blue Swing 1", "keep-both", "from B"),
    ] {
        a.ok(&["edit", song, "--album", "from A"]);
        std::thread::sleep(std::time::Duration::from_millis(20));
        b.ok(&["edit", song, "--album", "from B"]);
        a.sync(&[], 0);
        let out = b.sync(&["--conflict", policy], 4);
        assert!(
            out.contains("conflict:") && out.contains("(album)"),
            "{policy}: {out}"
        );
        assert_eq!(out.matches("conflict:").count(), 1, "{out}");
        a.sync(&[], 0);
        let remote = titles(&c, &c.remote());
        let m = remote.values().find(|m| m.title == song).unwrap();
        assert_eq!(m.album.as_deref(), Some(want), "{policy}");
        if policy == "keep-both" {
            assert_eq!(
                m.extra["conflicts"][0]["fields"]["album"], "from A",
                "{m:?}"
            );
        } else {
            assert!(!m.extra.contains_key("conflicts"), "{policy}");
        }
    }
    b.sync(&[], 0);
    assert_converged(&c, &[&a, &b], 4);
    // The archive can be cleared by hand, and that edit syncs like any other.
    b.ok(&["edit", "Blue Swing 1", "--unset", "conflicts"]);
    b.sync(&[], 0);
    a.sync(&[], 0);
    let remote = titles(&c, &c.remote());
    assert!(remote.values().all(|m| !m.extra.contains_key("conflicts")));
    assert_converged(&c, &[&a, &b], 4);
}

/// `kill -9`-like aborts (the test fault hook `SONGREC_SYNC_TEST_ABORT_AFTER=N` calls
/// `std::process::abort()` after N writes) at many points of pushes, pulls, deletions and
/// merges; plain reruns then finish the work: every song once, every blob's hash right.
#[test]
fn killed_syncs_are_finished_by_the_next_run() {
    let c = cloud();
    let (a, b) = (Machine::new(&c), Machine::new(&c));
    let all = [
        "Warehouse Pulse 1",
        "Warehouse Pulse 2",
        "Garage Anthem 1",
        "Garage Anthem 2",
        "Slow Piano 1",
        "Slow Piano 2",
        "Drifting Pads 1",
        "Drifting Pads 2",
    ];
    a.ingest(&all);
    let mut aborted = 0;
    let crash = |m: &Machine, n: u32, aborted: &mut u32| {
        let o = m.songrec_env(
            &["sync"],
            &[("SONGREC_SYNC_TEST_ABORT_AFTER", &n.to_string())],
        );
        match o.status.code() {
            None => {
                eprintln!(
                    "aborted after {n}: {}",
                    text(&o).lines().last().unwrap_or("")
                );
                assert!(text(&o).contains("test fault hook"), "{}", text(&o));
                *aborted += 1;
            }
            Some(0 | 4) => {}
            Some(code) => panic!("exit {code}: {}", text(&o)),
        }
    };
    // Pushes: killed after 1, 2, 4, 7 writes (audio uploads, batch writes, record commits).
    for n in [1, 2, 4, 7] {
        crash(&a, n, &mut aborted);
    }
    a.sync(&[], 0);
    // Pulls.
    for n in [1, 3, 6] {
        crash(&b, n, &mut aborted);
    }
    b.sync(&[], 0);
    assert_converged(&c, &[&a, &b], 8);
    // Deletions, edits and a conflict, killed midway on both machines.
    a.ok(&["delete", "Warehouse Pulse 1"]);
    a.ok(&["edit", "Garage Anthem 1", "--genre", "punk"]);
    a.ok(&["edit", "Slow Piano 1", "--title", "Piano A"]);
    b.ok(&["edit", "Slow Piano 1", "--title", "Piano B"]);
    b.ok(&["edit", "Drifting Pads 2", "--tag", "night"]);
    b.ingest(&["Blue Swing 1", "Blue Swing 2"]);
    for n in [1, 2] {
        crash(&a, n, &mut aborted);
    }
    a.sync(&[], 0);
    for n in [1, 2, 3, 5] {
        crash(&b, n, &mut aborted);
    }
    let out = b.sync(&[], 0);
    assert!(!out.contains("failed: "), "{out}");
    a.sync(&[], 0);
    b.sync(&[], 0);
    assert!(aborted >= 8, "the hook fired: {aborted}");
    assert_converged(&c, &[&a, &b], 9);
    let remote = titles(&c, &c.remote());
    assert!(
        remote
            .values()
            .any(|m| m.title == "Piano B" || m.title == "Piano A")
    );
    assert!(remote.values().any(|m| m.genre.as_deref() == Some("punk")));
    assert!(
        remote
            .values()
            .any(|m| m.tags.contains(&"night".to_owned()))
    );
}

#[test]
fn safety_rails_and_the_lease() {
    let c = cloud();
    let (a, b) = (Machine::new(&c), Machine::new(&c));
    let all = [
        "Warehouse Pulse 1",
        "Warehouse Pulse 2",
        "Garage Anthem 1",
        "Garage Anthem 2",
        "Slow Piano 1",
        "Slow Piano 2",
    ];
    a.ingest(&all);
    let out = a.sync(&[], 0);
    assert!(
        out.contains("full reconciliation (no change cursor recorded yet)"),
        "{out}"
    );
    b.sync(&[], 0);
    // Later runs read the remote's change feed; --full lists it whole.
    let out = a.sync(&[], 0);
    assert!(out.contains("remote read from its change feed"), "{out}");
    let out = a.sync(&["--full"], 0);
    assert!(
        out.contains("full reconciliation (asked for (--full))"),
        "{out}"
    );
    let out = a.sync(&["--json"], 0);
    assert!(out.contains("\"mode\": \"feed\""), "{out}");

    // Lease held by another machine: refused (5) and named; expired: taken over.
    let store = songrec_factory::sync::lease_store(&c.remote());
    use songrec_sync::lease::{LeaseInfo, LeaseStore};
    let mut other = LeaseInfo::new("other-machine-id", std::time::Duration::from_secs(600));
    other.host = "laptop".into();
    let tag = c.block_on(async {
        let (_, tag) = store
            .read()
            .await
            .unwrap()
            .expect("released lease object is kept");
        store
            .replace(&serde_json::to_vec(&other).unwrap(), &tag)
            .await
            .unwrap()
            .unwrap()
    });
    let out = a.sync(&[], 5);
    assert!(
        out.contains("other-machine-id") && out.contains("laptop"),
        "{out}"
    );
    other.expires_at = LeaseInfo::new("x", std::time::Duration::ZERO).expires_at;
    c.block_on(async {
        store
            .replace(&serde_json::to_vec(&other).unwrap(), &tag)
            .await
            .unwrap()
            .unwrap();
    });
    a.sync(&[], 0);

    // Deleting 4 of 6 songs: refused at the default 50 %, nothing changes; allowed with
    // --max-delete 70; the other machine then needs --force to apply them.
    for t in &all[..4] {
        a.ok(&["delete", t]);
    }
    let out = a.sync(&[], 5);
    assert!(
        out.contains("refusing to delete 4 of 6 songs on the remote side"),
        "{out}"
    );
    assert_eq!(state(&c, &c.remote()).len(), 6, "nothing deleted");
    let out = a.sync(&["--dry-run"], 5);
    assert!(out.contains("refusing"), "{out}");
    a.sync(&["--max-delete", "70"], 0);
    let out = b.sync(&[], 5);
    assert!(
        out.contains("refusing to delete 4 of 6 songs on the local side"),
        "{out}"
    );
    b.sync(&["--force"], 0);
    assert_converged(&c, &[&a, &b], 2);

    // An empty remote listing while the record says songs were synced: refused.
    c.block_on(async {
        let r = c.remote();
        r.client()
            .collection(r.songs_collection())
            .delete_many(serde_json::json!({"deleted": {"$in": [true, false]}}))
            .await
            .unwrap();
    });
    let out = a.sync(&[], 5);
    assert!(
        out.contains("remote library lists no songs at all"),
        "{out}"
    );
    assert_eq!(local_state(&c, &a).len(), 2, "local untouched");
    // And an empty local listing (metadata wiped, the record kept).
    let data = b.lib().join("data");
    for f in [
        "embeddings/metadata.json",
        ".songrec/journal.jsonl",
        ".songrec/tombstones.json",
        ".songrec/index/metadata.bin",
    ] {
        let _ = std::fs::remove_file(data.join(f));
    }
    let out = b.sync(&[], 5);
    assert!(out.contains("local library lists no songs at all"), "{out}");
}

/// Real recordings (files from `$SONGREC_TEST_AUDIO`, see scripts/test-deps.sh).
fn real_recordings(sub: &str, names: &[&str]) -> Vec<String> {
    names
        .iter()
        .map(|n| real_recording(sub, n).to_string_lossy().into_owned())
        .collect()
}

/// Every float of a song's metadata, as bits: duration, tempo, and each number in `extra`.
fn float_bits(m: &songrec_storage::SongMetadata) -> Vec<(String, u64)> {
    fn walk(v: &serde_json::Value, path: String, out: &mut Vec<(String, u64)>) {
        match v {
            serde_json::Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
                (Some(u), _, _) => out.push((format!("{path} (u64)"), u)),
                (_, Some(i), _) => out.push((format!("{path} (i64)"), i as u64)),
                (_, _, Some(x)) => out.push((path, x.to_bits())),
                _ => {}
            },
            serde_json::Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    walk(x, format!("{path}[{i}]"), out);
                }
            }
            serde_json::Value::Object(o) => {
                for (k, x) in o {
                    walk(x, format!("{path}.{k}"), out);
                }
            }
            _ => {}
        }
    }
    let mut out = vec![("duration_secs".to_owned(), m.duration_secs.to_bits())];
    if let Some(b) = m.bpm {
        out.push(("bpm".to_owned(), u64::from(b.to_bits())));
    }
    for (k, v) in &m.extra {
        walk(v, k.clone(), &mut out);
    }
    out
}

/// Songs whose metadata came from the real decoder and DSP (durations such as
/// 1.0889342403628118 s, descriptors with 17-digit floats) go local → astra with full
/// verification, a rerun has nothing to do, the first sync afterwards finds no conflict, and a
/// second machine's copy holds the same numbers bit for bit.
#[test]
fn real_recordings_migrate_verified_and_sync_without_conflicts() {
    let files = real_recordings(
        "freedesktop",
        &[
            "complete.oga",
            "phone-incoming-call.oga",
            "service-login.oga",
            "trash-empty.oga",
            "suspend-error.oga",
            "alarm-clock-elapsed.oga",
            "audio-test-signal.oga",
            "message-new-instant.oga",
        ],
    );
    // A default library needs two collections (songs and the default's vectors; Astra allows
    // 5 or 10): migrate, verify and sync on a database that allows no more.
    let c = cloud_with(LocalCloud::builder().max_collections(2));
    let (a, b) = (Machine::new(&c), Machine::new(&c));
    let mut args = vec!["--storage-backend", "local", "ingest"];
    args.extend(files.iter().map(String::as_str));
    let out = a.ok(&args);
    let n = files.len();
    let original = titles(&c, &LocalBackend::open(a.lib()).unwrap());
    assert_eq!(original.len(), n, "{out}");
    assert!(
        original
            .values()
            .any(|m| format!("{:?}", m.duration_secs).len() >= 17),
        "the decoder's durations are not round: {:?}",
        original
            .values()
            .map(|m| m.duration_secs)
            .collect::<Vec<_>>()
    );

    let migrate = [
        "migrate", "--from", "local", "--to", "astra", "--verify", "full",
    ];
    let o = a.songrec(&migrate);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("verify: clean: {n}/{n}")),
        "{}",
        text(&o)
    );
    let o = a.songrec(&migrate);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("nothing to do"), "{}", text(&o));

    // The first sync on the migrating machine: both sides hold the same songs, no conflict.
    let out = a.sync(&[], 0);
    assert!(
        out.contains(" 0 conflicts,") && !out.contains("conflict:"),
        "{out}"
    );
    // A second machine starts empty and downloads everything.
    let out = b.sync(&[], 0);
    assert!(out.contains(&format!("downloaded {n} new")), "{out}");
    assert!(
        out.contains(" 0 conflicts,") && !out.contains("conflict:"),
        "{out}"
    );

    let remote = titles(&c, &c.remote());
    let copy = titles(&c, &LocalBackend::open(b.lib()).unwrap());
    let again = titles(&c, &LocalBackend::open(a.lib()).unwrap());
    for (name, m) in &original {
        for (side, other) in [
            ("remote", &remote),
            ("machine b", &copy),
            ("machine a", &again),
        ] {
            let o = other
                .get(name)
                .unwrap_or_else(|| panic!("{name} missing on {side}"));
            assert_eq!(float_bits(o), float_bits(m), "{name} on {side}");
            assert_eq!(o, m, "{name} on {side}");
            assert_eq!(digest(o), digest(m), "{name} on {side}");
        }
    }
}

/// A library made with `songrec-mix@1` is upgraded on one machine and carried by `sync` to the
/// cloud and to another machine, on a database that allows two collections: version 3 shares
/// version 1's vector collection there.
#[test]
fn a_version_1_library_upgrades_through_sync_in_two_collections() {
    let files = real_recordings(
        "freedesktop",
        &[
            "complete.oga",
            "phone-incoming-call.oga",
            "service-login.oga",
        ],
    );
    let c = cloud_with(LocalCloud::builder().max_collections(2));
    let (a, b) = (Machine::new(&c), Machine::new(&c));
    let mut args = vec![
        "--storage-backend",
        "local",
        "ingest",
        "--embedder",
        "mix@1",
    ];
    args.extend(files.iter().map(String::as_str));
    // Version 1 runs the float32 aisfx, a graph songrec's own kernels do not run: ONNX Runtime
    // runs it (the tests' build holds no tract).
    let ort = songrec_testkit::fixtures::ort_library();
    let o = a.songrec_env(
        &args,
        &[
            ("SONGREC_NEURAL_RUNTIME", "onnxruntime"),
            ("SONGREC_ORT_LIBRARY", ort.to_str().unwrap()),
        ],
    );
    assert!(o.status.success(), "{args:?}: {}", text(&o));
    let out = a.sync(&[], 0);
    assert!(out.contains(" 0 conflicts,"), "{out}");
    // The upgrade, on machine a's own library; sync carries the new vectors (reembed bumps
    // each song's version).
    a.ok(&["--storage-backend", "local", "reembed"]);
    let out = a.sync(&[], 0);
    assert!(out.contains(" 0 conflicts,"), "{out}");
    b.sync(&[], 0);
    let counts = |side: &dyn StorageBackend| -> Vec<(String, u64)> {
        c.block_on(async {
            side.models()
                .await
                .unwrap()
                .into_iter()
                .filter(|s| s.model.name == "songrec-mix")
                .map(|s| (s.model.key(), s.count))
                .collect()
        })
    };
    let both = vec![
        ("songrec-mix@1".to_owned(), 3),
        ("songrec-mix@4".to_owned(), 3),
    ];
    assert_eq!(counts(&c.remote()), both, "remote");
    assert_eq!(
        counts(&LocalBackend::open(b.lib()).unwrap()),
        both,
        "machine b"
    );
    let n = c.block_on(async {
        c.remote()
            .client()
            .find_collections(false)
            .await
            .unwrap()
            .len()
    });
    assert_eq!(n, 2, "collections on the cloud");
    // Same vectors everywhere.
    let (ra, rb, rc) = (
        LocalBackend::open(a.lib()).unwrap(),
        LocalBackend::open(b.lib()).unwrap(),
        c.remote(),
    );
    c.block_on(async {
        for v in ra.list_versions().await.unwrap() {
            for s in ra.models().await.unwrap() {
                let x = ra.get_embedding(&v.id, &s.model).await.unwrap();
                assert!(x.is_some(), "{} lacks {}", v.id, s.model.key());
                assert_eq!(rb.get_embedding(&v.id, &s.model).await.unwrap(), x);
                assert_eq!(rc.get_embedding(&v.id, &s.model).await.unwrap(), x);
            }
        }
    });
}

/// A playlist saved on one machine reaches the other through the cloud, is read there as it
/// was saved, and a deletion there reaches the first machine.
#[test]
fn saved_playlists_travel_between_machines() {
    let c = cloud();
    let (a, b) = (Machine::new(&c), Machine::new(&c));
    a.ingest(&[
        "Warehouse Pulse 1",
        "Warehouse Pulse 2",
        "Drifting Pads 1",
        "Drifting Pads 2",
    ]);
    let out = a.ok(&[
        "playlist",
        "--seed",
        "Warehouse Pulse 1",
        "-n",
        "3",
        "--save",
        "Road Trip",
        "--no-history",
    ]);
    assert!(
        out.contains("saved as the playlist \"Road Trip\" (3 songs)"),
        "{out}"
    );
    let listed = a.ok(&["playlist", "--saved"]);
    assert!(
        listed.contains("Road Trip") && listed.contains("3"),
        "{listed}"
    );
    let saved_ids = |m: &Machine| -> Vec<String> {
        let o = m.songrec(&["playlist", "--saved", "road trip", "--json"]);
        assert!(o.status.success(), "{}", text(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["song"]["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let on_a = saved_ids(&a);
    assert_eq!(on_a.len(), 3);

    let out = a.sync(&[], 0);
    assert!(out.contains("playlists: uploaded 1, downloaded 0"), "{out}");
    let out = b.sync(&[], 0);
    assert!(out.contains("playlists: uploaded 0, downloaded 1"), "{out}");
    assert_eq!(saved_ids(&b), on_a, "the same songs in the same order");

    let out = b.ok(&["playlist", "--delete-saved", "Road Trip"]);
    assert!(out.contains("deleted the saved playlist"), "{out}");
    b.sync(&[], 0);
    let out = a.sync(&[], 0);
    assert!(out.contains("(1 of them deletions)"), "{out}");
    let listed = a.ok(&["playlist", "--saved"]);
    assert!(listed.contains("no saved playlists"), "{listed}");
    let o = a.songrec(&["playlist", "--saved", "Road Trip"]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("no saved playlist is called"),
        "{}",
        text(&o)
    );
}

/// The listening fields of a song on a side: total plays, whether starred.
fn listening(c: &Cloud, b: &dyn StorageBackend, id: &SongId) -> (u64, bool) {
    let m = c.block_on(b.get_metadata(id)).unwrap().unwrap();
    let l = songrec_storage::listening::Listening::of(&m);
    (l.plays, l.starred.is_some())
}

/// Plays scrobbled through each machine's own `songrec serve` before any of them syncs (1 on
/// A, 2 on B, 3 on C: first plays, no common base) add up to 6 on every machine and the
/// remote, whatever order the syncs run in, and further syncs count nothing twice. A star
/// given on A and taken back later on C ends unstarred everywhere, though A's own copy still
/// said starred when it synced (the later wins).
#[test]
fn first_plays_on_three_machines_add_up_through_the_cloud() {
    use crate::writers::{play_count, rest, serve};
    let c = cloud();
    let machines = [Machine::new(&c), Machine::new(&c), Machine::new(&c)];
    let [a, b, m3] = &machines;
    a.ingest(&["Slow Piano 1"]);
    a.sync(&[], 0);
    b.sync(&[], 0);
    m3.sync(&[], 0);
    let id = titles(&c, &c.remote()).into_values().next().unwrap().id;
    let on = |m: &Machine, calls: &[&str], plays: u64| {
        let (server, url) = serve(&m.lib());
        for call in calls {
            let r = rest(&url, call, &[("id", id.as_str())]);
            assert_eq!(r["status"], "ok", "{call}: {r}");
        }
        assert_eq!(play_count(&url, id.as_str()), plays, "counted here");
        crate::serve::stop(server);
    };
    let everywhere = |expect: (u64, bool), what: &str| {
        assert_eq!(
            listening(&c, &c.remote(), &id),
            expect,
            "the remote, {what}"
        );
        for (i, m) in machines.iter().enumerate() {
            let local = LocalBackend::open(m.lib()).unwrap();
            assert_eq!(listening(&c, &local, &id), expect, "machine {i}, {what}");
        }
    };

    on(a, &["scrobble"], 1);
    on(b, &["scrobble"; 2], 2);
    on(m3, &["scrobble"; 3], 3);
    // C, then A, then B: no two machines share a base for these plays.
    for m in [m3, a, b, m3, a] {
        m.sync(&[], 0);
    }
    everywhere((6, false), "after the first syncs");
    for m in [b, m3, a, b] {
        m.sync(&[], 0);
    }
    everywhere((6, false), "after syncing again");

    on(a, &["star"], 6);
    a.sync(&[], 0);
    m3.sync(&[], 0);
    on(m3, &["unstar"], 6);
    // A's copy still says starred; C's later unstar wins wherever the syncs meet.
    for m in [a, m3, a, b] {
        m.sync(&[], 0);
    }
    everywhere((6, false), "after a star on A and a later unstar on C");
}
