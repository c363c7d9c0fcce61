//! The library people really have (issue 32): untagged files in `Artist/Album/03 Title.ext`
//! folders, everyday words, a readable `show`, and failed commands that leave nothing behind.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use serde_json::Value;
use songrec_testkit::LocalCloud;
use songrec_testkit::audio::ffmpeg;
use songrec_testkit::cli::{json, ok, text};
use songrec_testkit::fixtures::real_recording;

use crate::discover::encodings_of;
use crate::doors::serve;
use crate::{bin, on_library};

/// (path below the ingested folder, real recording, extra ffmpeg arguments).
const LAYOUT: &[(&str, (&str, &str), &[&str])] = &[
    (
        "Mara Quinn - Glass Harbour.flac",
        ("freedesktop", "bell.oga"),
        &[],
    ),
    (
        "Kevin Rowe/Night Drive/03 Slow Lights.flac",
        ("asc", "frontiers.mp3"),
        &[],
    ),
    (
        "Kevin Rowe/Night Drive/04 - Tail Lights.ogg",
        ("freedesktop", "message.oga"),
        &[],
    ),
    (
        "Various Artists/Harbour Nights/CD2/07 Lena Ord - Fog Signal.mp3",
        ("freedesktop", "phone-incoming-call.oga"),
        &[],
    ),
    // Embedded tags win field by field: the title is tagged, the rest comes from the path.
    (
        "Kevin Rowe/Night Drive/05 Wrong Name.flac",
        ("freedesktop", "alarm-clock-elapsed.oga"),
        &["-metadata", "title=Real Title"],
    ),
];

/// (title, artist, album, track, disc, where the artist came from).
type Expected = (
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    Option<u64>,
    Option<u64>,
    Option<&'static str>,
);

const EXPECTED: &[Expected] = &[
    (
        "Glass Harbour",
        Some("Mara Quinn"),
        None,
        None,
        None,
        Some("file_name"),
    ),
    (
        "Slow Lights",
        Some("Kevin Rowe"),
        Some("Night Drive"),
        Some(3),
        None,
        Some("path"),
    ),
    (
        "Tail Lights",
        Some("Kevin Rowe"),
        Some("Night Drive"),
        Some(4),
        None,
        Some("path"),
    ),
    (
        "Fog Signal",
        Some("Lena Ord"),
        Some("Harbour Nights"),
        Some(7),
        Some(2),
        Some("file_name"),
    ),
    (
        "Real Title",
        Some("Kevin Rowe"),
        Some("Night Drive"),
        Some(5),
        None,
        Some("path"),
    ),
];

/// The real recordings of [`LAYOUT`] (at most 30 s), re-encoded without any tag
/// (`-map_metadata -1`) but the ones [`LAYOUT`] adds, under `music`.
fn untagged_folder(music: &Path) {
    for (rel, (sub, name), tags) in LAYOUT {
        let dest = music.join(rel);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        let src = real_recording(sub, name);
        encodings_of(&src, "0", "30", &[(dest, *tags)]);
    }
}

/// The song titled `title` in a listing (`list --json`'s songs, or the REST API's).
fn by_title<'a>(songs: &'a [Value], title: &str) -> &'a Value {
    songs
        .iter()
        .find(|s| s["title"] == title)
        .unwrap_or_else(|| panic!("no song titled {title:?} in {songs:#?}"))
}

/// Every song of [`EXPECTED`] reads as it should in `songs` (metadata as JSON).
fn assert_described(songs: &[Value], side: &str) {
    assert_eq!(songs.len(), EXPECTED.len(), "{side}: {songs:#?}");
    for &(title, artist, album, track, disc, artist_from) in EXPECTED {
        let s = by_title(songs, title);
        assert_eq!(s["artist"].as_str(), artist, "{side}: {title}: {s}");
        assert_eq!(s["album"].as_str(), album, "{side}: {title}: {s}");
        assert_eq!(s["track"].as_u64(), track, "{side}: {title}: {s}");
        assert_eq!(s["disc"].as_u64(), disc, "{side}: {title}: {s}");
        assert_eq!(
            s["tag_sources"]["artist"].as_str(),
            artist_from,
            "{side}: {title}: {s}"
        );
    }
    let tagged = by_title(songs, "Real Title");
    assert_eq!(tagged["tag_sources"]["title"], "tag", "{tagged}");
    assert_eq!(tagged["tag_sources"]["album"], "path", "{tagged}");
    let slow = by_title(songs, "Slow Lights");
    assert_eq!(slow["tag_sources"]["title"], "file_name", "{slow}");
    assert_eq!(slow["tag_sources"]["track"], "file_name", "{slow}");
}

fn list_songs(o: &Output) -> Vec<Value> {
    json(o)["songs"].as_array().cloned().unwrap_or_default()
}

#[test]
fn untagged_folders_read_as_artists_albums_and_titles_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("Music");
    untagged_folder(&music);
    let lib = dir.path().join("lib");
    let out = ok(&on_library(
        &lib,
        &["ingest", "--embedder", "dsp", music.to_str().unwrap()],
    ));
    assert!(out.contains("ingested 5 new"), "{out}");

    // list: JSON and the table (the album column).
    let songs = list_songs(&on_library(&lib, &["list", "--json"]));
    assert_described(&songs, "list --json");
    let table = ok(&on_library(&lib, &["list", "--artist", "Kevin Rowe"]));
    assert_eq!(
        table.matches("Night Drive").count(),
        3,
        "three Kevin Rowe songs on Night Drive:\n{table}"
    );
    assert!(table.contains("(3 of 3 songs)"), "{table}");
    // The ingested folder ("Music") is no artist and no album.
    assert!(
        !songs
            .iter()
            .any(|s| s["artist"] == "Music" || s["album"] == "Music"),
        "{songs:#?}"
    );

    // show: each value with where it came from; JSON with the sources.
    let shown = ok(&on_library(&lib, &["show", "Slow Lights"]));
    for line in [
        "Slow Lights  (from the file name)",
        "Kevin Rowe  (from the folder names)",
        "Night Drive  (from the folder names)",
    ] {
        assert!(shown.contains(line), "{line:?} missing:\n{shown}");
    }
    assert!(
        shown
            .lines()
            .any(|l| l.starts_with("track") && l.contains("3  (from the file name)")),
        "{shown}"
    );
    let shown = ok(&on_library(&lib, &["show", "Real Title"]));
    assert!(
        shown.contains("Real Title  (from the file's tags)"),
        "{shown}"
    );
    let v = json(&on_library(&lib, &["show", "Fog Signal", "--json"]));
    assert_eq!(v["song"]["tag_sources"]["disc"], "path", "{v}");
    assert_eq!(v["song"]["tag_sources"]["album"], "path", "{v}");

    // The fingerprint (of 30 s of music: about 1 KB): in full for programs (--json), in a few
    // words for people.
    let v = json(&on_library(&lib, &["show", "Slow Lights", "--json"]));
    let fp = v["song"]["fingerprint"]["fp"].as_str().unwrap_or_default();
    assert!(fp.len() > 500, "no stored fingerprint: {v}");
    let shown = ok(&on_library(&lib, &["show", "Slow Lights"]));
    let line = shown
        .lines()
        .find(|l| l.starts_with("fingerprint"))
        .unwrap_or_else(|| panic!("no fingerprint line:\n{shown}"));
    assert!(line.contains("stored (chromaprint1"), "{line}");
    assert!(line.len() < 100, "{line}");
    assert!(!shown.contains(&fp[..40]), "the blob is printed:\n{shown}");
    assert!(
        shown.len() < 1500,
        "show is long ({} bytes):\n{shown}",
        shown.len()
    );

    // The REST API (what the web page shows).
    let (mut child, url) = serve(&lib);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (listed, songs, kevin) = rt.block_on(async {
        let c = reqwest::Client::new();
        let get = |q: String| {
            let c = c.clone();
            async move {
                let v: Value = c.get(q).send().await.unwrap().json().await.unwrap();
                v
            }
        };
        let listed = get(format!("{url}/api/v1/songs?limit=100")).await;
        // Each song's page: every stored field, the sources among them.
        let mut songs = Vec::new();
        for item in listed["items"].as_array().cloned().unwrap_or_default() {
            let id = item["id"].as_str().unwrap_or_default();
            songs.push(get(format!("{url}/api/v1/songs/{id}")).await["song"].clone());
        }
        let kevin = get(format!(
            "{url}/api/v1/songs?artist=Kevin%20Rowe&album=Night%20Drive"
        ))
        .await;
        (listed, songs, kevin)
    });
    let _ = child.kill();
    let _ = child.wait();
    assert_described(&songs, "REST");
    for item in listed["items"].as_array().unwrap() {
        let full = by_title(&songs, item["title"].as_str().unwrap());
        assert_eq!(
            (&item["artist"], &item["album"]),
            (&full["artist"], &full["album"])
        );
    }
    assert_eq!(kevin["total"], 3, "{kevin}");

    // After sync to a second machine, the second machine reads the same.
    let cloud = LocalCloud::start_blocking();
    let (home_a, home_b) = (dir.path().join("a"), dir.path().join("b"));
    let lib_b = home_b.join("library");
    for h in [&home_a, &home_b] {
        std::fs::create_dir_all(h).unwrap();
    }
    let on_cloud = |home: &PathBuf, lib: &Path, args: &[&str]| {
        let mut all = vec!["--library", lib.to_str().unwrap()];
        all.extend_from_slice(args);
        bin()
            .at_home(home)
            .envs(cloud.env())
            .args(&all)
            .output()
            .unwrap()
    };
    let o = on_cloud(&home_a, &lib, &["--storage-backend", "astra", "init-astra"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = on_cloud(&home_a, &lib, &["sync"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = on_cloud(&home_b, &lib_b, &["sync"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let copied = list_songs(&on_cloud(
        &home_b,
        &lib_b,
        &["--storage-backend", "local", "list", "--json"],
    ));
    assert_described(&copied, "machine b after sync");
}

/// Real game-music excerpts with everyday titles, analysed by both embedders (musicnn on
/// tract), and two desktop sounds.
fn worded_library(dir: &Path) -> PathBuf {
    let music = dir.join("music");
    std::fs::create_dir_all(&music).unwrap();
    for (src, start, title) in [
        ("time_to_strike", "40", "Final Battle"),
        ("frontiers", "30", "Divertissement pour flûte"),
        ("machine_wars", "20", "Night Shift"),
    ] {
        let src = real_recording("asc", &format!("{src}.mp3"));
        let dest = music.join(format!("{start}-{}.mp3", title.replace(' ', "_")));
        let title = format!("title={title}");
        ffmpeg(&[
            "-ss",
            start,
            "-t",
            "12",
            "-i",
            src.to_str().unwrap(),
            "-map_metadata",
            "-1",
            "-metadata",
            &title,
            "-vn",
            dest.to_str().unwrap(),
        ]);
    }
    for name in ["bell", "complete"] {
        let src = real_recording("freedesktop", &format!("{name}.oga"));
        std::fs::copy(&src, music.join(format!("{name}.oga"))).unwrap();
    }
    let lib = dir.join("lib");
    ok(&on_library(
        &lib,
        &["ingest", "--embedder", "both", music.to_str().unwrap()],
    ));
    lib
}

#[test]
fn everyday_words_find_titles_and_nothing_matching_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let lib = worded_library(dir.path());
    let similar = |words: &str| on_library(&lib, &["similar", "--text", words, "-k", "3"]);

    // A tag word in a title ("flute"), accents aside: the first answer.
    let out = ok(&similar("flute"));
    let first = out
        .lines()
        .find(|l| l.trim_start().starts_with("1 "))
        .unwrap_or("");
    assert!(first.contains("Divertissement pour flûte"), "{out}");
    // "epic battle": the battle track, whatever the tags say.
    let out = ok(&similar("epic battle"));
    assert!(out.contains("Final Battle"), "{out}");
    // The same in JSON, with the tag score.
    let v = json(&on_library(
        &lib,
        &["similar", "--text", "battle", "--json", "-k", "1"],
    ));
    assert_eq!(v["results"][0]["song"]["title"], "Final Battle", "{v}");

    // Nothing matches: exit 1, saying why and which words would match here.
    for words in ["kazoo", "harpsichord"] {
        let o = similar(words);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(1), "{words}: {t}");
        assert!(t.contains("no song matches"), "{words}: {t}");
        assert!(t.contains("words that match songs here: "), "{words}: {t}");
        assert!(!t.contains("(no matches)"), "{words}: {t}");
    }
    // "happy upbeat": songs, or that error; never an empty success.
    let o = similar("happy upbeat");
    let t = text(&o);
    match o.status.code() {
        Some(0) => assert!(
            !t.contains("(no matches)") && t.lines().any(|l| l.trim_start().starts_with("1 ")),
            "{t}"
        ),
        Some(1) => assert!(t.contains("no song matches"), "{t}"),
        other => panic!("exit {other:?}: {t}"),
    }
}

/// `songrec --library LIB ARGS` for the user at `home`, with `env` only (no cloud unless given).
fn at_home(home: &Path, lib: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    bin()
        .at_home(home)
        .arg("--library")
        .arg(lib)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

#[test]
fn a_failed_command_leaves_no_library_folder_and_says_its_hint_once() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let new = dir.path().join("new-library");

    // `sync` fails (exit 1) and leaves no library folder; what it said.
    let failed_sync = |env: &[(&str, &str)]| {
        let o = at_home(&home, &new, &["sync"], env);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(1), "{t}");
        assert!(
            !new.exists(),
            "a failed sync created {}: {t}",
            new.display()
        );
        t
    };

    // No cloud settings at all.
    failed_sync(&[]);
    let o = at_home(&home, &new, &["list"], &[]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("no songrec library at"), "{t}");
    assert!(!t.contains("0 of 0 songs"), "{t}");

    // Cloud settings, cloud unreachable (a port nothing listens on).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let offline = [
        ("ASTRA_DB_API_ENDPOINT", url.as_str()),
        ("ASTRA_DB_API_PATH", "/v1"),
        ("ASTRA_DB_APPLICATION_TOKEN", "AstraCS:offline"),
        ("SONGREC_S3_ENDPOINT", url.as_str()),
        ("SONGREC_S3_BUCKET", "songrec"),
        ("SONGREC_S3_ALLOW_HTTP", "true"),
        ("AWS_ACCESS_KEY_ID", "offline"),
        ("AWS_SECRET_ACCESS_KEY", "offline-secret"),
    ];
    let t = failed_sync(&offline);
    // The first words say the cloud is unreachable and what to do (not which step stopped).
    assert!(
        t.starts_with("error: the cloud is unreachable, so sync stopped: ")
            && t.contains("`songrec doctor`"),
        "{t}"
    );
    for hint in ["hibernated", "ASTRA_DB_API_ENDPOINT"] {
        assert!(t.matches(hint).count() <= 1, "{hint} twice: {t}");
    }
    // A dry run stops at the Data API (it takes no lease): the same first words.
    let o = at_home(&home, &new, &["sync", "--dry-run"], &offline);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.starts_with("error: the cloud is unreachable, so sync stopped: ")
            && t.contains("is unreachable or hibernated"),
        "{t}"
    );

    // An existing library stays, failed command or not.
    std::fs::create_dir_all(&new).unwrap();
    let o = at_home(&home, &new, &["sync"], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(new.is_dir(), "an existing folder was removed");
}

#[test]
fn cloud_is_named_as_an_alias_of_astra() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let help = ok(&bin().command().arg("--help").output().unwrap());
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        help.contains("astra (Astra DB + S3; alias: cloud)"),
        "{help}"
    );
    // The same command, the same answer (no cloud settings here).
    let lib = home.join("lib");
    let astra = at_home(home, &lib, &["--storage-backend", "astra", "stats"], &[]);
    let cloud = at_home(home, &lib, &["--storage-backend", "cloud", "stats"], &[]);
    assert_eq!(astra.status.code(), Some(1), "{}", text(&astra));
    assert_eq!(
        (cloud.status.code(), text(&cloud)),
        (astra.status.code(), text(&astra))
    );
    let o = at_home(home, &lib, &["--storage-backend", "floppy", "stats"], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("use local or astra (alias: cloud)"),
        "{}",
        text(&o)
    );
    // In config.toml too.
    let cfg = home.join("config.toml");
    std::fs::write(&cfg, "[storage]\nbackend = \"cloud\"\n").unwrap();
    let o = at_home(
        home,
        &lib,
        &["--config", cfg.to_str().unwrap(), "stats"],
        &[],
    );
    assert_eq!(
        (o.status.code(), text(&o)),
        (astra.status.code(), text(&astra))
    );
}

/// `ingest` says which kernels ran the networks once, after a run that analysed songs: not after
/// "0 new", nor after a run where every file failed.
#[test]
fn ingest_names_the_runtime_only_after_analysing_songs() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let lib = dir.path().join("lib");
    // No ONNX Runtime looked for: songrec's own kernels, built in.
    let env = [
        ("SONGREC_NEURAL_RUNTIME", "auto"),
        ("SONGREC_ORT_DISCOVERY", "false"),
    ];
    let said = |o: &Output| {
        let (out, err) = (ok(o), String::from_utf8_lossy(&o.stderr).into_owned());
        (out, err.matches("run on songrec's own kernels").count())
    };
    let music = bin().synth(&dir.path().join("music"), 1, 3);
    let ingest = |path: &Path| {
        let args = ["ingest", "--embedder", "musicnn", path.to_str().unwrap()];
        at_home(&home, &lib, &args, &env)
    };
    let (out, n) = said(&ingest(&music));
    assert!(out.starts_with("ingested 5 new"), "{out}");
    assert_eq!(n, 1, "said once after analysing songs");
    let (out, n) = said(&ingest(&music));
    assert!(out.starts_with("ingested 0 new"), "{out}");
    assert_eq!(n, 0, "nothing analysed, nothing said");
    // A folder whose only file fails.
    let bad = dir.path().join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(bad.join("notes.mp3"), b"not audio at all").unwrap();
    let o = ingest(&bad);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("own kernels"), "{err}");
}

/// With songrec's own kernels (the default on every CPU) nothing advises installing ONNX
/// Runtime: it would not make the default faster. The kernels' path is named; on the tract
/// path the line says how to get them back (a build without tract refuses that path at once).
#[test]
fn no_onnx_runtime_advice_where_it_would_not_help() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let doctor = |kernels: &str| {
        text(&at_home(
            home,
            &home.join("lib"),
            &["doctor"],
            &[
                ("SONGREC_ORT_DISCOVERY", "false"),
                ("SONGREC_KERNELS", kernels),
            ],
        ))
    };
    let out = doctor("auto");
    let best = songrec_neural::KernelPath::best();
    assert!(!out.contains("pip install onnxruntime"), "{out}");
    assert!(
        out.contains(&format!("run on songrec's own kernels ({best}: int8 on")),
        "{out}"
    );
    let out = doctor("tract");
    assert!(!out.contains("pip install onnxruntime"), "{out}");
    if cfg!(feature = "tract") {
        assert!(
            out.contains(&format!(
                "songrec's own kernels ({best}) run them faster: unset SONGREC_KERNELS"
            )),
            "{out}"
        );
    } else {
        // A build without tract refuses the path before any work, saying how to get it.
        assert!(
            out.contains("SONGREC_KERNELS=tract: tract is not in this build of songrec")
                && out.contains("--features tract")
                && out.contains(&best.to_string()),
            "{out}"
        );
    }
}

/// The demo's real pieces (Debian's asc-music: MP3s without tags) lie where ingest reads no
/// artist from their folder's name (an older demo put them in `real/`, so their artist was
/// "real"), and the README states the demo's build time as the demo does.
#[test]
fn the_demos_real_pieces_get_no_artist_from_their_folder() {
    let root = songrec_testkit::fixtures::repo_root();
    let demo = std::fs::read_to_string(root.join("scripts/demo.sh")).unwrap();
    let rel = demo
        .lines()
        .find_map(|l| l.strip_prefix("real=\"$music/"))
        .and_then(|l| l.strip_suffix('"'))
        .expect("the demo's folder of real pieces, below $music");
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("music");
    let folder = music.join(rel);
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::copy(
        real_recording("asc", "frontiers.mp3"),
        folder.join("frontiers.mp3"),
    )
    .unwrap();
    let lib = dir.path().join("lib");
    let o = on_library(
        &lib,
        &["ingest", "--embedder", "dsp", music.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = on_library(&lib, &["list", "--json"]);
    let song = &json(&o)["songs"][0];
    assert_eq!(song["title"], "frontiers", "{song}");
    assert!(
        song["artist"].is_null(),
        "no artist from the folder {rel:?}: {song}"
    );
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let readme = readme.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(readme.contains("about 11 minutes on 2 cores"), "README");
}

#[test]
fn demo_says_what_it_builds_and_builds_only_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let root = songrec_testkit::fixtures::repo_root();
    // A `cargo` that records its arguments and fails: the demo stops at the build.
    let bin_dir = dir.path().join("bin");
    std::fs::create_dir_all(&bin_dir).unwrap();
    let args_file = dir.path().join("cargo-args");
    let cargo = bin_dir.join("cargo");
    std::fs::write(
        &cargo,
        format!(
            "#!/bin/sh\necho \"$@\" > '{}'\necho 'stub cargo' >&2\nexit 9\n",
            args_file.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&cargo, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let demo = |env: &[(&str, &str)]| {
        std::process::Command::new("bash")
            .arg(root.join("scripts/demo.sh"))
            .arg(dir.path().join("lib"))
            .env("PATH", &path)
            .env_remove("SONGREC_BIN")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let o = demo(&[]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_ne!(o.status.code(), Some(0), "{err}");
    let args = std::fs::read_to_string(&args_file).unwrap_or_default();
    assert_eq!(
        args.split_whitespace().collect::<Vec<_>>(),
        ["build", "--locked", "-p", "songrec-cli", "--bin", "songrec"],
        "{err}"
    );
    // What it does and how long, before cargo runs.
    let before = &err[..err.find("stub cargo").unwrap_or(err.len())];
    assert!(before.contains("== building songrec"), "{err}");
    if !root.join("target/debug/songrec").exists() {
        assert!(before.contains("about 11 minutes on 2 cores"), "{err}");
        assert!(before.contains("SONGREC_BIN"), "{err}");
    }
    // SONGREC_BIN: no build; a wrong one is refused at once.
    std::fs::remove_file(&args_file).ok();
    let o = demo(&[("SONGREC_BIN", "/nonexistent/songrec")]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("is not an executable file"), "{err}");
    assert!(!args_file.exists(), "cargo ran with SONGREC_BIN set");
    // The README says how to get a binary sooner.
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    for s in [
        "cargo install --locked --profile dist --path crates/cli",
        "cargo build -p songrec-cli --bin songrec",
        "`SONGREC_BIN`",
    ] {
        assert!(readme.contains(s), "README: {s}");
    }
}

/// Opus files ingest through the binary: real Ogg Opus recordings (Debian's jami-daemon
/// ringtones, made by opusenc) are each a new song with a title (the tags', else the file's
/// name) and their length, `similar` answers from one, and an ingest again finds nothing new.
#[test]
fn opus_files_ingest_and_answer() {
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("music");
    std::fs::create_dir_all(&music).unwrap();
    let names = [
        "03_AcousticGuitar.opus",
        "04_ElectricGuitar.opus",
        "06_RingSoft.opus",
        "09_ElectroCloud.opus",
    ];
    for n in names {
        std::fs::copy(real_recording("jami", n), music.join(n)).unwrap();
    }
    let lib = dir.path().join("lib");
    let ingest = || {
        let o = on_library(
            &lib,
            &["ingest", "--embedder", "dsp", music.to_str().unwrap()],
        );
        assert!(o.status.success(), "{}", text(&o));
        text(&o)
    };
    let out = ingest();
    assert!(out.contains("4 new"), "{out}");
    let songs = json(&on_library(&lib, &["list", "--json"]))["songs"].clone();
    let songs = songs.as_array().unwrap();
    assert_eq!(songs.len(), 4, "{songs:?}");
    for s in songs {
        let secs = s["duration_secs"].as_f64().unwrap();
        assert!(secs > 1.0, "{s}");
        let title = s["title"].as_str().unwrap();
        assert!(!title.is_empty() && !title.ends_with(".opus"), "{s}");
    }
    let title = songs[0]["title"].as_str().unwrap();
    let o = on_library(&lib, &["similar", title, "-k", "3"]);
    assert!(o.status.success(), "{}", text(&o));
    let answer = text(&o);
    // The table names songs by their short ids (titles this long are cut).
    let others = songs[1..]
        .iter()
        .filter(|s| answer.contains(&s["id"].as_str().unwrap()[..12]))
        .count();
    assert_eq!(others, 3, "the three other songs: {answer}");
    let again = ingest();
    assert!(again.contains("0 new"), "{again}");
}
