//! Crash tests of `songrec migrate`, both directions: the real binary is killed with SIGKILL at
//! exact points (the factory's test crash hook, or a `FaultProxy` freeze point in front of a
//! server), then run again. Afterwards every song is on the target exactly once with equal
//! metadata, vectors and audio; the rerun copied exactly what was missing at the kill; the
//! ledger never claimed more than was true and links the rerun to the killed run; the source is
//! byte-for-byte and mtime-for-mtime unchanged.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use songrec_app::migrate::ledger::{RunStatus, SongState};
use songrec_local::LocalBackend;
use songrec_storage::SongId;
use songrec_testkit::cli::{ledger, run_until_crash_hook, run_until_frozen, runs, text};
use songrec_testkit::data::{assert_same, local_library, present, snapshot, with_audio};
use songrec_testkit::{Endpoints, FaultPlan, FaultProxy, LocalCloud, When};

use crate::{init_astra, on_cloud};

const N: usize = 40;

struct Scene {
    c: LocalCloud,
    home: tempfile::TempDir,
    lib: PathBuf,
    ids: Vec<SongId>,
}

impl Scene {
    /// A 40-song local library and an initialised, empty cloud.
    fn new() -> Self {
        let c = LocalCloud::start_blocking();
        let home = tempfile::tempdir().unwrap();
        let lib = home.path().join("lib");
        let ids = c.block_on(local_library(&lib, N));
        init_astra(&c, home.path());
        Self { c, home, lib, ids }
    }

    fn home(&self) -> &Path {
        self.home.path()
    }

    fn local(&self, lib: &Path) -> LocalBackend {
        LocalBackend::open(lib).unwrap()
    }

    fn migrate_cmd(&self, ep: &Endpoints, lib: &Path, spec: &str) -> std::process::Command {
        on_cloud(
            &self.c,
            ep,
            self.home(),
            &[
                "--library",
                lib.to_str().unwrap(),
                "migrate",
                spec,
                "--batch-size",
                "10",
                "--concurrency",
                "4",
            ],
        )
    }
}

/// Checks the ledger right after a kill: the run is unfinished and claims no more than is true.
fn check_ledger_at_kill(home: &Path, on_target: &HashSet<SongId>, audio: &HashSet<SongId>) {
    let runs = runs(home);
    let run = &runs[0];
    assert_eq!(run.status, RunStatus::Running, "{run:?}");
    assert!(run.finished_at.is_none());
    let l = ledger(home);
    let songs = l.songs(run.id, None).unwrap();
    assert_eq!(songs.len() as u64, run.planned);
    for s in &songs {
        let id = SongId::parse(&s.id).unwrap();
        if s.state == SongState::Done {
            assert!(
                on_target.contains(&id),
                "ledger says done, target lacks {}",
                s.id
            );
        }
        if matches!(
            s.state,
            SongState::AudioDone | SongState::VectorsDone | SongState::Done
        ) {
            assert!(
                audio.contains(&id),
                "ledger says audio done, target lacks {}",
                s.id
            );
        }
    }
}

/// Checks the ledger after the rerun: it resumed the killed run and planned exactly what the
/// target lacked at the kill.
fn check_ledger_after_rerun(home: &Path, at_kill: usize) {
    let runs = runs(home);
    let (rerun, killed) = (&runs[0], &runs[1]);
    assert_eq!(killed.status, RunStatus::Interrupted, "{killed:?}");
    assert_eq!(rerun.status, RunStatus::Done, "{rerun:?}");
    assert_eq!(rerun.resumes, Some(killed.id));
    assert_eq!(rerun.planned as usize, N - at_kill, "{rerun:?}");
    assert_eq!(rerun.up_to_date as usize, at_kill);
    assert_eq!(rerun.copied as usize, N - at_kill);
    if N > at_kill {
        assert_eq!(rerun.states, vec![(SongState::Done, (N - at_kill) as u64)]);
    }
    assert!(
        rerun
            .verify
            .as_deref()
            .is_some_and(|v| v.starts_with("clean")),
        "{rerun:?}"
    );
}

/// How a kill went: the endpoints the killed process used (the rerun uses the same ones, as a
/// user would) and the proxy it used, now unfrozen.
type Killed = (Endpoints, Option<FaultProxy>);

fn hook(s: &Scene, lib: &Path, spec: &str, point: &str) -> Killed {
    run_until_crash_hook(s.migrate_cmd(&s.c.direct(), lib, spec), point);
    (s.c.direct(), None)
}

fn frozen(s: &Scene, lib: &Path, spec: &str, ep: Endpoints, proxy: FaultProxy) -> Killed {
    run_until_frozen(s.migrate_cmd(&ep, lib, spec), &proxy);
    // Let the servers finish what was forwarded before anything is counted.
    std::thread::sleep(std::time::Duration::from_millis(300));
    proxy.unfreeze();
    (ep, Some(proxy))
}

/// local → astra, killed by `kill`, then resumed and checked. `expect` is the exact number of
/// songs the target must hold at the kill, when the kill point determines it.
fn local_to_astra(kill: impl FnOnce(&Scene) -> Killed, expect: Option<usize>) {
    let s = Scene::new();
    let before = snapshot(&s.lib);
    let (ep, _proxy) = kill(&s);
    let astra = s.c.astra();
    let at_kill = s.c.block_on(present(&astra));
    let audio = s.c.block_on(with_audio(&astra, &s.ids));
    if let Some(n) = expect {
        assert_eq!(at_kill.len(), n, "songs on the target at the kill");
    }
    assert!(at_kill.len() < N, "the kill came before the end");
    check_ledger_at_kill(s.home(), &at_kill, &audio);

    let o = s
        .migrate_cmd(&ep, &s.lib, "local->astra")
        .arg("--verify")
        .arg("full")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains(&format!("copied {} songs, 0 failed", N - at_kill.len())),
        "{t}"
    );
    assert!(t.contains("verify: clean: 40/40"), "{t}");
    assert!(t.contains("picked up after interrupted run #1"), "{t}");
    s.c.block_on(assert_same(&s.local(&s.lib), &astra));
    assert_eq!(s.c.audio_objects().len(), N, "one blob per song");
    check_ledger_after_rerun(s.home(), at_kill.len());

    let o = s.migrate_cmd(&ep, &s.lib, "local->astra").output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("nothing to do: 40 songs already on target"),
        "{}",
        text(&o)
    );
    assert_eq!(snapshot(&s.lib), before, "the source library is untouched");
}

#[test]
fn local_to_astra_killed_after_the_target_acknowledged_batch_2() {
    local_to_astra(
        |s| hook(s, &s.lib, "local->astra", "astra:put_songs:2:after"),
        Some(20),
    );
}

#[test]
fn local_to_astra_killed_mid_audio_with_an_upload_applied_but_unacknowledged() {
    local_to_astra(
        |s| {
            // 15 uploads answered; the 16th (and any later) reaches S3, its answer never comes.
            let proxy =
                s.c.block_on(s.c.proxy_s3(FaultPlan::none().freeze_after(15, When::After)));
            let ep = Endpoints {
                api: s.c.direct().api,
                s3: proxy.base_url(),
            };
            let killed = frozen(s, &s.lib, "local->astra", ep, proxy);
            let audio = s.c.audio_objects().len();
            assert!((16..=19).contains(&audio), "{audio} blobs");
            killed
        },
        Some(10),
    );
}

#[test]
fn local_to_astra_killed_with_a_data_api_write_applied_but_unacknowledged() {
    local_to_astra(
        |s| {
            let proxy = s.c.block_on(s.c.proxy_api(FaultPlan::none().freeze_on(
                "\"insertMany\"",
                4,
                When::After,
            )));
            let ep = Endpoints {
                api: proxy.base_url(),
                s3: s.c.direct().s3,
            };
            frozen(s, &s.lib, "local->astra", ep, proxy)
        },
        None,
    );
}

/// astra → local (into an empty library), killed by `kill`, then resumed and checked.
fn astra_to_local(
    kill: impl FnOnce(&Scene, &Path) -> Killed,
    expect: Option<usize>,
    expect_audio: Option<std::ops::RangeInclusive<usize>>,
) {
    let s = Scene::new();
    let o = s
        .migrate_cmd(&s.c.direct(), &s.lib, "local->astra")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let astra = s.c.astra();
    let s3_before = snapshot(&s.c.s3_root());
    let listing_before =
        s.c.block_on(songrec_storage::VersionLog::list_versions(&astra))
            .unwrap();

    let lib2 = s.home().join("lib2");
    let (ep, _proxy) = kill(&s, &lib2);
    let local = s.local(&lib2);
    let at_kill = s.c.block_on(present(&local));
    let audio = s.c.block_on(with_audio(&local, &s.ids));
    if let Some(n) = expect {
        assert_eq!(at_kill.len(), n, "songs in the local library at the kill");
    }
    if let Some(r) = expect_audio {
        assert!(
            r.contains(&audio.len()),
            "{} audio files at the kill",
            audio.len()
        );
    }
    assert!(at_kill.len() < N);
    check_ledger_at_kill(s.home(), &at_kill, &audio);
    drop(local);

    let o = s
        .migrate_cmd(&ep, &lib2, "astra->local")
        .args(["--verify", "full"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains(&format!("copied {} songs, 0 failed", N - at_kill.len())),
        "{t}"
    );
    assert!(t.contains("verify: clean: 40/40"), "{t}");
    assert!(t.contains("picked up after interrupted run #2"), "{t}");
    s.c.block_on(assert_same(&astra, &s.local(&lib2)));
    // The original library and the round trip agree too.
    s.c.block_on(assert_same(&s.local(&s.lib), &s.local(&lib2)));
    check_ledger_after_rerun(s.home(), at_kill.len());
    let o = s.migrate_cmd(&ep, &lib2, "astra->local").output().unwrap();
    assert!(
        text(&o).contains("nothing to do: 40 songs already on target"),
        "{}",
        text(&o)
    );
    assert_eq!(
        snapshot(&s.c.s3_root()),
        s3_before,
        "the source's blobs are untouched"
    );
    let listing_after =
        s.c.block_on(songrec_storage::VersionLog::list_versions(&astra))
            .unwrap();
    assert_eq!(
        listing_after, listing_before,
        "the source's songs are untouched"
    );
}

#[test]
fn astra_to_local_killed_mid_audio() {
    astra_to_local(
        |s, lib2| hook(s, lib2, "astra->local", "local:put_audio:15:after"),
        Some(10),
        Some(15..=18),
    );
}

#[test]
fn astra_to_local_killed_before_the_first_metadata_write() {
    astra_to_local(
        |s, lib2| hook(s, lib2, "astra->local", "local:put_songs:1:before"),
        Some(0),
        Some(10..=10),
    );
}

#[test]
fn astra_to_local_killed_after_batch_3_was_committed() {
    astra_to_local(
        |s, lib2| hook(s, lib2, "astra->local", "local:put_songs:3:after"),
        Some(30),
        Some(30..=30),
    );
}

#[test]
fn astra_to_local_killed_while_downloads_hang() {
    astra_to_local(
        |s, lib2| {
            let proxy =
                s.c.block_on(s.c.proxy_s3(FaultPlan::none().freeze_after(25, When::Before)));
            let ep = Endpoints {
                api: s.c.direct().api,
                s3: proxy.base_url(),
            };
            frozen(s, lib2, "astra->local", ep, proxy)
        },
        Some(20),
        Some(20..=25),
    );
}

#[test]
fn status_shows_runs_and_verify_full_finds_a_corrupted_blob() {
    let s = Scene::new();
    let o = on_cloud(&s.c, &s.c.direct(), s.home(), &["migrate", "--status"])
        .output()
        .unwrap();
    assert!(
        text(&o).contains("no migrations recorded yet"),
        "{}",
        text(&o)
    );
    let o = s
        .migrate_cmd(&s.c.direct(), &s.lib, "local->astra")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // Corrupt one blob on the S3 server's disk.
    let (key, path) = s.c.audio_objects().into_iter().next().unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[100] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let hash = key.rsplit('/').next().unwrap().to_owned();

    let o = s
        .migrate_cmd(&s.c.direct(), &s.lib, "local->astra")
        .args(["--verify", "full"])
        .output()
        .unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(3), "{t}");
    assert!(
        t.contains("nothing to do: 40 songs already on target"),
        "{t}"
    );
    assert!(
        t.contains("verify: NOT clean (1 difference in depth)"),
        "{t}"
    );
    assert!(
        t.contains(&format!("{}: audio on the target hashes to", &hash[..12])),
        "{t}"
    );

    let o = on_cloud(&s.c, &s.c.direct(), s.home(), &["migrate", "--status"])
        .output()
        .unwrap();
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("run #2  done") && t.contains("run #1  done"),
        "{t}"
    );
    assert!(t.contains("verify: NOT clean"), "{t}");
    assert!(t.contains("songs by state: done 40"), "{t}");
    let o = on_cloud(
        &s.c,
        &s.c.direct(),
        s.home(),
        &["migrate", "--status", "--json"],
    )
    .output()
    .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["runs"].as_array().unwrap().len(), 2);
    assert_eq!(v["runs"][1]["copied"], 40);
    assert_eq!(v["runs"][0]["planned"], 0);
}
