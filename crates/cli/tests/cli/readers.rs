//! Readers while another process writes (issue 25): a long-running server and `songrec`
//! processes that only read answer what some committed state of the library answers, while
//! `songrec` commands write the same library.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use songrec_local::{LocalBackend, LocalOptions};
use songrec_storage::math::cosine;
use songrec_storage::prelude::*;
use songrec_storage::{Embedding, ListQuery, ModelInfo, SongId, SongMetadata, SongRecord};
use songrec_testkit::LocalCloud;
use songrec_testkit::audio::write_songs;
use songrec_testkit::cli::text;

use crate::bin;

/// `songrec --library LIB ARGS` with the approximate index from `ann_threshold` vectors.
fn songrec(lib: &Path, ann_threshold: usize, args: &[&str]) -> Command {
    let mut c = bin().on_library(lib);
    c.env("SONGREC_ANN_THRESHOLD", ann_threshold.to_string())
        .args(args);
    c
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "{}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A library of `per_style` songs of each style (2 s each), ingested with `--embedder dsp`.
fn dsp_library(dir: &Path, styles: &[&str], per_style: usize) -> PathBuf {
    let music = dir.join("music");
    write_songs(&music, styles, per_style, 2.0, 1);
    let lib = dir.join("lib");
    ok(songrec(&lib, 0, &["ingest", "--embedder", "dsp"])
        .arg(&music)
        .output()
        .unwrap());
    lib
}

fn dsp_model() -> ModelInfo {
    songrec_app::embedders::model_of(songrec_app::embedders::by_name("dsp").unwrap().as_ref())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A server over `lib` in this process, its approximate index from `ann_threshold` vectors.
async fn serve(lib: &Path, ann_threshold: usize) -> songrec_testkit::server::Running {
    let backend =
        LocalBackend::open_with(lib, LocalOptions::with_ann_threshold(ann_threshold)).unwrap();
    songrec_testkit::server::serve(Arc::new(backend), |_| {}).await
}

/// (id, similarity) of each result of a REST similarity response, or what went wrong.
async fn rest_similar(
    c: &reqwest::Client,
    base: &str,
    song: &str,
    k: usize,
) -> Result<Vec<(String, f32)>, String> {
    let url = format!("{base}/api/v1/songs/{song}/similar?embedder=dsp&k={k}");
    let r = c.get(url).send().await.map_err(|e| e.to_string())?;
    let status = r.status();
    let body: serde_json::Value = r.json().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("{status}: {body}"));
    }
    Ok(body["results"]
        .as_array()
        .ok_or_else(|| format!("no results in {body}"))?
        .iter()
        .map(|r| {
            let id = r["song"]["id"].as_str().unwrap_or_default().to_owned();
            (id, r["similarity"].as_f64().unwrap_or(f64::NAN) as f32)
        })
        .collect())
}

/// (id, similarity) of each match `songrec similar --json` printed and whether they were
/// ranked exactly, or what went wrong.
fn cli_similar_exact(
    lib: &Path,
    ann_threshold: usize,
    song: &str,
    k: usize,
) -> Result<(Vec<(String, f32)>, bool), String> {
    let k = k.to_string();
    let o = songrec(
        lib,
        ann_threshold,
        &["similar", song, "--embedder", "dsp", "-k", &k, "--json"],
    )
    .output()
    .map_err(|e| e.to_string())?;
    if !o.status.success() {
        return Err(text(&o));
    }
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).map_err(|e| e.to_string())?;
    let matches = v["results"]
        .as_array()
        .ok_or_else(|| format!("no matches in {v}"))?
        .iter()
        .map(|m| {
            let id = m["song"]["id"].as_str().unwrap_or_default().to_owned();
            (id, m["similarity"].as_f64().unwrap_or(f64::NAN) as f32)
        })
        .collect();
    Ok((matches, v["exact"] != false))
}

/// [`cli_similar_exact`] without the flag.
fn cli_similar(
    lib: &Path,
    ann_threshold: usize,
    song: &str,
    k: usize,
) -> Result<Vec<(String, f32)>, String> {
    cli_similar_exact(lib, ann_threshold, song, k).map(|(m, _)| m)
}

#[test]
fn a_running_server_answers_right_after_another_process_deletes() {
    // Issue 25 as reported: five songs with dsp vectors, one with only musicnn vectors (its
    // id sorts first, so deleting it moves every other song's slot).
    let dir = tempfile::tempdir().unwrap();
    let lib = dsp_library(
        dir.path(),
        &["techno", "ambient", "rock", "ballad", "pop"],
        1,
    );
    let lone = SongId::parse(&"0".repeat(64)).unwrap();
    let rt = runtime();
    rt.block_on(async {
        let w = LocalBackend::open(&lib).unwrap();
        let musicnn = ModelInfo::new("musicnn", "test", 4);
        w.put_songs(&[SongRecord {
            metadata: SongMetadata::new(lone.clone(), "musicnn only"),
            embeddings: vec![Embedding::new(musicnn, vec![1.0, 0.0, 0.0, 0.0]).unwrap()],
        }])
        .await
        .unwrap();
        w.flush().await.unwrap();
    });
    let query = rt.block_on(async {
        let b = LocalBackend::open(&lib).unwrap();
        let page = b.list(&ListQuery::default()).await.unwrap();
        assert_eq!(page.items.len(), 6);
        page.items
            .iter()
            .find(|m| m.id != lone)
            .unwrap()
            .id
            .to_string()
    });
    rt.block_on(async {
        let server = serve(&lib, LocalOptions::default().ann.min_vectors).await;
        let c = reqwest::Client::new();
        let first = rest_similar(&c, &server.base, &query, 10).await.unwrap();
        assert_eq!(first.len(), 4, "{first:?}");
        // Another process deletes the musicnn-only song.
        let l = lib.clone();
        let lone_id = lone.to_string();
        tokio::task::spawn_blocking(move || {
            ok(songrec(&l, 0, &["delete", &lone_id]).output().unwrap())
        })
        .await
        .unwrap();
        for k in [10, 1] {
            let got = rest_similar(&c, &server.base, &query, k).await;
            let (l, q) = (lib.clone(), query.clone());
            let fresh = tokio::task::spawn_blocking(move || cli_similar(&l, 0, &q, k))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                got,
                Ok(fresh),
                "k={k}: the server and a fresh process differ"
            );
        }
        let songs = c.get(server.url("/api/v1/songs")).send().await.unwrap();
        assert_eq!(songs.status(), 200);
        let songs: serde_json::Value = songs.json().await.unwrap();
        assert_eq!(songs["total"], 5, "{songs}");
        server.stop().await;
    });
}

// ---- many readers, one writer --------------------------------------------------------------

/// A committed state of the library: titles and dsp vectors by song id.
#[derive(Debug, Default)]
struct Snap {
    titles: BTreeMap<String, String>,
    vectors: BTreeMap<String, Vec<f32>>,
}

/// The library's state, read by a fresh reader while no writer runs (songs and their vectors
/// read from the files, no index touched, so the reader never takes the write lock).
async fn snapshot(lib: &Path, model: &ModelInfo) -> Snap {
    let b = LocalBackend::open(lib).unwrap();
    let mut snap = Snap::default();
    let q = ListQuery {
        limit: songrec_storage::query::MAX_PAGE,
        ..ListQuery::default()
    };
    for m in b.list(&q).await.unwrap().items {
        if let Some(e) = b.get_embedding(&m.id, model).await.unwrap() {
            snap.vectors.insert(m.id.to_string(), e.vector);
        }
        snap.titles.insert(m.id.to_string(), m.title);
    }
    snap
}

/// Whether `got` is a right answer to "the `k` songs most similar to `song`" in `s`, by brute
/// force: every song named is in `s` with the similarity stated, none twice, not the query,
/// and the similarities are the `k` best of `s` (ties in either order).
fn right_similar(s: &Snap, song: &str, k: usize, got: &[(String, f32)]) -> bool {
    const TOL: f64 = 1e-4;
    let Some(q) = s.vectors.get(song) else {
        return false;
    };
    let mut best: Vec<f64> = s
        .vectors
        .iter()
        .filter(|(id, _)| id.as_str() != song && s.titles.contains_key(id.as_str()))
        .map(|(_, v)| f64::from(cosine(q, v)))
        .collect();
    best.sort_by(|a, b| b.total_cmp(a));
    best.truncate(k);
    let mut seen = std::collections::HashSet::new();
    got.len() == best.len()
        && got.iter().zip(&best).all(|((id, sim), want)| {
            let sim = f64::from(*sim);
            seen.insert(id.as_str())
                && id != song
                && s.titles.contains_key(id)
                && s.vectors
                    .get(id)
                    .is_some_and(|v| (f64::from(cosine(q, v)) - sim).abs() < TOL)
                && (sim - want).abs() < TOL
        })
}

/// Whether a walk through the listing page by page (`id=title` of each song listed) while the
/// states of `window` were committed is right: every song listed is in one of them, and a song
/// present throughout under one title (its place in the order unchanged) is listed exactly
/// once; a song whose title changed meanwhile may be listed once, twice or not at all.
fn right_walk(window: &[Snap], got: &[(String, f32)]) -> bool {
    let mut times: BTreeMap<&str, usize> = BTreeMap::new();
    for (entry, _) in got {
        let (id, title) = entry.split_once('=').unwrap_or((entry, ""));
        if !window
            .iter()
            .any(|s| s.titles.get(id).is_some_and(|t| t == title))
        {
            return false;
        }
        *times.entry(id).or_default() += 1;
    }
    window[0].titles.iter().all(|(id, title)| {
        let stable = window.iter().all(|s| s.titles.get(id) == Some(title));
        !stable || times.get(id.as_str()) == Some(&1)
    })
}

/// What a reader asked and got, and how many states were committed when it asked and when
/// it got the answer.
struct Answer {
    what: Asked,
    got: Result<Vec<(String, f32)>, String>,
    committed: (usize, usize),
}

#[derive(Debug)]
enum Asked {
    RestSimilar(String, usize),
    CliSimilar(String, usize),
    RestList,
    /// The whole listing by title, three songs a page, following `next_cursor`.
    RestPages,
}

/// Another machine of the same library: a second library folder synced through a local
/// cloud (a local Data API server and an S3 server on 127.0.0.1), whose edits the writer's
/// `songrec sync` applies to the library the readers read.
struct Peer {
    cloud: LocalCloud,
    lib: PathBuf,
}

impl Peer {
    /// `songrec --library LIB ARGS` with this cloud's settings.
    fn songrec(&self, lib: &Path, ann_threshold: usize, args: &[&str]) -> Command {
        let mut c = songrec(lib, ann_threshold, args);
        c.envs(self.cloud.env());
        c
    }

    /// Makes the cloud's collections, sends `lib` up and brings it down to the peer's folder.
    fn start(lib: &Path, dir: &Path) -> Self {
        let peer = Self {
            cloud: LocalCloud::start_blocking(),
            lib: dir.join("peer"),
        };
        ok(peer
            .songrec(lib, 0, &["--storage-backend", "astra", "init-astra"])
            .output()
            .unwrap());
        ok(peer.songrec(lib, 0, &["sync"]).output().unwrap());
        ok(peer.songrec(&peer.lib, 0, &["sync"]).output().unwrap());
        peer
    }

    /// The other machine edits `song` and syncs: the change waits in the cloud. (Its sync may
    /// report a conflict, exit 4, when this machine's last sync sent the song back to the
    /// cloud; its own edit is newer and wins.)
    fn edit_and_send(&self, song: &str, title: &str) {
        ok(self
            .songrec(&self.lib, 0, &["edit", song, "--title", title])
            .output()
            .unwrap());
        let o = self.songrec(&self.lib, 0, &["sync"]).output().unwrap();
        assert!(matches!(o.status.code(), Some(0 | 4)), "{}", text(&o));
    }
}

/// Titles the other machine gives, unique across phases.
static SYNCED: AtomicUsize = AtomicUsize::new(0);

/// Sets its flag when dropped: the writer's end, however it ends, stops the readers.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Counts of one phase.
#[derive(Debug, Default)]
struct Tally {
    writes: usize,
    /// `songrec sync` runs that applied another machine's edit.
    syncs: usize,
    refused_writes: usize,
    queries: usize,
    /// Walks through the whole listing page by page (`next_cursor`), part of `queries`.
    walks: usize,
    /// `songrec similar` answers ranked through the approximate index.
    approximate: usize,
    wrong: Vec<String>,
    failed: Vec<String>,
}

/// One phase: the writer runs `songrec` commands over `lib` (at most `ops`, for at most
/// `budget`) while a server in this process and `songrec similar` processes read; every
/// answer is then checked against the states the writer committed meanwhile.
async fn writers_and_readers(
    lib: &Path,
    peer: Arc<Peer>,
    new_songs: Vec<PathBuf>,
    ann_threshold: usize,
    ops: usize,
    budget: Duration,
) -> Tally {
    let model = dsp_model();
    let states = Arc::new(Mutex::new(vec![snapshot(lib, &model).await]));
    let committed = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let base: Vec<String> = states.lock().unwrap()[0].vectors.keys().cloned().collect();
    let server = serve(lib, ann_threshold).await;
    let answers = Arc::new(Mutex::new(Vec::<Answer>::new()));

    // The writer: `songrec` commands one after another; the state after each is recorded
    // before the next starts.
    let writer = {
        let (lib, states, committed, done) = (
            lib.to_path_buf(),
            states.clone(),
            committed.clone(),
            done.clone(),
        );
        let base = base.clone();
        let peer = peer.clone();
        tokio::spawn(async move {
            let mut tally = Tally::default();
            let start = Instant::now();
            let mut new_songs = new_songs.into_iter();
            let mut ingested: Vec<String> = Vec::new();
            let plan = [
                "ingest", "edit", "sync", "ingest", "delete", "reindex", "ingest", "reembed",
                "edit", "sync", "delete", "ingest", "reindex", "delete", "ingest", "edit",
            ];
            // This machine edits the first half of the songs, the other machine the second,
            // so that their edits never conflict.
            let half = base.len() / 2;
            let mut synced_title = String::new();
            // Readers stop when the writer is done, also when it fails.
            let _stop = StopOnDrop(done.clone());
            for (i, op) in plan.iter().cycle().take(ops).enumerate() {
                if start.elapsed() > budget {
                    break;
                }
                let args: Vec<String> = match *op {
                    "ingest" => match new_songs.next() {
                        Some(p) => vec![
                            "ingest".into(),
                            "--embedder".into(),
                            "dsp".into(),
                            p.display().to_string(),
                        ],
                        None => continue,
                    },
                    "edit" => vec![
                        "edit".into(),
                        base[i % half].clone(),
                        "--title".into(),
                        format!("edited {i}"),
                    ],
                    "delete" if !ingested.is_empty() => {
                        vec!["delete".into(), ingested.remove(0)]
                    }
                    "delete" => continue,
                    "reindex" => vec!["reindex".into()],
                    "reembed" => ["reembed", "--embedder", "dsp", "--force"]
                        .map(String::from)
                        .into(),
                    "sync" => {
                        let (p, song) = (peer.clone(), base[half + i % half].clone());
                        let title = format!("synced {}", SYNCED.fetch_add(1, Ordering::SeqCst));
                        synced_title = title.clone();
                        tokio::task::spawn_blocking(move || p.edit_and_send(&song, &title))
                            .await
                            .unwrap();
                        vec!["sync".into()]
                    }
                    _ => unreachable!(),
                };
                // A reader may hold the write lock for a moment (building an index no writer
                // built): the command is refused and run again.
                let mut tries = 0;
                loop {
                    let l = lib.clone();
                    let a = args.clone();
                    let p = peer.clone();
                    let o = tokio::task::spawn_blocking(move || {
                        let a: Vec<&str> = a.iter().map(String::as_str).collect();
                        p.songrec(&l, ann_threshold, &a).output().unwrap()
                    })
                    .await
                    .unwrap();
                    if o.status.success() {
                        break;
                    }
                    let t = text(&o);
                    assert!(
                        t.contains("lock") && tries < 50,
                        "songrec {args:?} failed: {t}"
                    );
                    tries += 1;
                    tally.refused_writes += 1;
                }
                tally.writes += 1;
                let snap = snapshot(&lib, &dsp_model()).await;
                if *op == "sync" {
                    assert!(
                        snap.titles.values().any(|t| *t == synced_title),
                        "sync did not apply the other machine's edit"
                    );
                    tally.syncs += 1;
                }
                {
                    let mut s = states.lock().unwrap();
                    if let Some(prev) = s.last() {
                        ingested.extend(
                            snap.titles
                                .keys()
                                .filter(|id| !prev.titles.contains_key(*id))
                                .cloned(),
                        );
                    }
                    s.push(snap);
                }
                committed.fetch_add(1, Ordering::SeqCst);
            }
            tally
        })
    };

    // REST readers: similar songs (k from 1 to 10), the whole listing, and the listing page by
    // page (the pages of one walk span several commits).
    let rest = |listing: Option<bool>| {
        let (base_url, answers, committed, done) = (
            server.base.clone(),
            answers.clone(),
            committed.clone(),
            done.clone(),
        );
        let base = base.clone();
        tokio::spawn(async move {
            let c = reqwest::Client::new();
            let mut i = 0usize;
            while !done.load(Ordering::SeqCst) {
                i += 1;
                let before = committed.load(Ordering::SeqCst);
                let (what, got) = if let Some(paged) = listing {
                    let got: Result<Vec<(String, f32)>, String> = async {
                        let mut listed = Vec::new();
                        let mut cursor: Option<String> = None;
                        loop {
                            let url = match (&cursor, paged) {
                                (_, false) => format!("{base_url}/api/v1/songs?limit=1000"),
                                (None, true) => {
                                    format!("{base_url}/api/v1/songs?sort=title&limit=3")
                                }
                                (Some(c), true) => {
                                    format!("{base_url}/api/v1/songs?sort=title&limit=3&cursor={c}")
                                }
                            };
                            let r = c.get(url).send().await.map_err(|e| e.to_string())?;
                            let status = r.status();
                            let v: serde_json::Value = r.json().await.map_err(|e| e.to_string())?;
                            if !status.is_success() {
                                return Err(format!("{status}: {v}"));
                            }
                            for m in v["items"].as_array().into_iter().flatten() {
                                let t = m["title"].as_str().unwrap_or_default();
                                let id = m["id"].as_str().unwrap_or_default();
                                listed.push((format!("{id}={t}"), 0.0));
                            }
                            cursor = v["next_cursor"].as_str().map(str::to_owned);
                            if cursor.is_none() || listed.len() > 10_000 {
                                return Ok(listed);
                            }
                        }
                    }
                    .await;
                    let what = if paged {
                        Asked::RestPages
                    } else {
                        Asked::RestList
                    };
                    (what, got)
                } else {
                    let (song, k) = (base[i % base.len()].clone(), [1, 2, 3, 10][i % 4]);
                    let got = rest_similar(&c, &base_url, &song, k).await;
                    (Asked::RestSimilar(song, k), got)
                };
                let after = committed.load(Ordering::SeqCst);
                answers.lock().unwrap().push(Answer {
                    what,
                    got,
                    committed: (before, after),
                });
            }
        })
    };
    let readers = [rest(None), rest(Some(false)), rest(Some(true))];

    // `songrec similar` processes, one at a time.
    let cli = {
        let (lib, answers, committed, done) = (
            lib.to_path_buf(),
            answers.clone(),
            committed.clone(),
            done.clone(),
        );
        let base = base.clone();
        tokio::task::spawn_blocking(move || {
            let mut i = 0usize;
            let mut approximate = 0;
            while !done.load(Ordering::SeqCst) {
                i += 1;
                let (song, k) = (base[(i * 7) % base.len()].clone(), [1, 2, 5][i % 3]);
                let before = committed.load(Ordering::SeqCst);
                let got = cli_similar_exact(&lib, ann_threshold, &song, k).map(|(m, exact)| {
                    approximate += usize::from(!exact);
                    m
                });
                let after = committed.load(Ordering::SeqCst);
                answers.lock().unwrap().push(Answer {
                    what: Asked::CliSimilar(song, k),
                    got,
                    committed: (before, after),
                });
            }
            approximate
        })
    };

    let mut tally = writer.await.unwrap();
    for r in readers {
        r.await.unwrap();
    }
    tally.approximate = cli.await.unwrap();
    server.stop().await;

    // Each answer must be what some state the writer committed while it was being computed
    // answers (a command in progress when it started or ended counts by its end state).
    let states = states.lock().unwrap();
    let answers = std::mem::take(&mut *answers.lock().unwrap());
    tally.queries = answers.len();
    for a in answers {
        let (from, to) = a.committed;
        let window = &states[from..=(to + 1).min(states.len() - 1)];
        let got = match a.got {
            Ok(g) => g,
            Err(e) => {
                tally.failed.push(format!("{:?}: {e}", a.what));
                continue;
            }
        };
        let right = match &a.what {
            Asked::RestSimilar(song, k) | Asked::CliSimilar(song, k) => {
                window.iter().any(|s| right_similar(s, song, *k, &got))
            }
            Asked::RestPages => {
                tally.walks += 1;
                right_walk(window, &got)
            }
            Asked::RestList => {
                let mut listed: Vec<&str> = got.iter().map(|(t, _)| t.as_str()).collect();
                listed.sort_unstable();
                window.iter().any(|s| {
                    let want: Vec<String> =
                        s.titles.iter().map(|(id, t)| format!("{id}={t}")).collect();
                    want.iter().map(String::as_str).eq(listed.iter().copied())
                })
            }
        };
        if !right {
            tally
                .wrong
                .push(format!("{:?} in states {from}..={to}: {got:?}", a.what));
        }
    }
    tally
}

#[test]
fn readers_are_right_while_another_process_writes() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dsp_library(dir.path(), &["techno", "ambient", "rock", "ballad"], 4);
    let extra = dir.path().join("extra");
    write_songs(
        &extra,
        &["techno", "ambient", "rock", "ballad"],
        3,
        2.0,
        100,
    );
    let mut new_songs: Vec<PathBuf> = std::fs::read_dir(&extra)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    new_songs.sort();
    let later = new_songs.split_off(new_songs.len() / 2);
    let peer = Arc::new(Peer::start(&lib, dir.path()));
    let rt = runtime();
    // Below the approximate index's threshold (every search scans), then above it (searches
    // go through the index the writer keeps, 16+ songs against a threshold of 4).
    for (name, threshold, songs) in [("below", 1000, new_songs), ("above", 4, later)] {
        let above = threshold < 1000;
        let t = Instant::now();
        let tally = rt.block_on(writers_and_readers(
            &lib,
            peer.clone(),
            songs,
            threshold,
            32,
            Duration::from_secs(8),
        ));
        println!(
            "ANN {name} threshold: {} writes ({} of them syncs applying another machine's \
             edit; {} refused while a reader held the lock; each folds the journal), {} \
             queries ({} by the approximate index in `songrec similar`, {} walks through the \
             listing 3 songs a page), {} wrong, {} failed, {:.1} s",
            tally.writes,
            tally.syncs,
            tally.refused_writes,
            tally.queries,
            tally.approximate,
            tally.walks,
            tally.wrong.len(),
            tally.failed.len(),
            t.elapsed().as_secs_f64()
        );
        assert!(
            tally.wrong.is_empty(),
            "{name}: wrong answers: {:#?}",
            tally.wrong
        );
        assert!(
            tally.failed.is_empty(),
            "{name}: failed answers: {:#?}",
            tally.failed
        );
        assert!(tally.writes >= 5, "{name}: only {} writes", tally.writes);
        assert!(tally.syncs >= 1, "{name}: no sync applied");
        assert!(tally.walks >= 3, "{name}: only {} paged walks", tally.walks);
        assert!(
            tally.queries >= 20,
            "{name}: only {} queries",
            tally.queries
        );
        assert_eq!(
            tally.approximate > 0,
            above,
            "{name}: {} answers through the approximate index",
            tally.approximate
        );
    }
}
