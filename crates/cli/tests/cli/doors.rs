//! Every door, one house: the CLI (`songrec similar/playlist/clusters/map --json`) and the
//! REST API of `songrec serve` (the real binary on a 127.0.0.1 socket) asked the same questions
//! on the same library, with every choice of vectors, give the same answers, id for id, score
//! for score and coordinate for coordinate.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use serde_json::Value;
use songrec_testkit::audio::convert;
use songrec_testkit::cli::{json, text};
use songrec_testkit::fixtures::real_recordings;

use crate::{bin, on_library};

/// A library of real recordings (game music clips, desktop sounds) and synthesised songs,
/// ingested with both embedders (musicnn runs on songrec's own kernels in the tests).
fn library(dir: &Path) -> (PathBuf, PathBuf) {
    let audio = real_recordings();
    let music = dir.join("music");
    std::fs::create_dir_all(&music).unwrap();
    for name in ["frontiers", "machine_wars", "time_to_strike"] {
        let src = audio.join("asc").join(format!("{name}.mp3"));
        for start in ["20", "70"] {
            convert(
                &src,
                &music.join(format!("{name}-{start}.mp3")),
                &[
                    "-ss",
                    start,
                    "-t",
                    "10",
                    "-metadata",
                    &format!("title={name} {start}"),
                ],
            );
        }
    }
    for name in [
        "bell",
        "complete",
        "message",
        "phone-incoming-call",
        "alarm-clock-elapsed",
    ] {
        let src = audio.join("freedesktop").join(format!("{name}.oga"));
        std::fs::copy(&src, music.join(format!("{name}.oga"))).unwrap();
    }
    bin().synth(&music, 1, 4);
    let lib = dir.join("lib");
    let o = on_library(
        &lib,
        // The default's vectors, and musicnn's and the DSP's apart for the other choices.
        &[
            "ingest",
            "--embedder",
            "mix,musicnn,dsp",
            music.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    (lib, music)
}

/// `songrec serve` on the library; its base URL.
pub(crate) fn serve(lib: &Path) -> (Child, String) {
    let mut child = bin()
        .on_library(lib)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = songrec_testkit::cli::served_url(&mut child);
    (child, url)
}

struct Rest {
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
    base: String,
}

impl Rest {
    fn get(&self, path: &str) -> Value {
        let (status, v) = self.answer(path);
        assert!(status.is_success(), "GET {path}: {status} {v}");
        v
    }

    /// `GET path`: the status and the JSON body, whichever the status.
    fn answer(&self, path: &str) -> (reqwest::StatusCode, Value) {
        self.rt.block_on(async {
            let r = self
                .client
                .get(format!("{}{path}", self.base))
                .send()
                .await
                .unwrap();
            (r.status(), r.json().await.unwrap())
        })
    }

    /// `POST /api/v1/similar` with `file` as the multipart field `file`.
    fn upload(&self, query: &str, file: &Path) -> Value {
        let boundary = "songrec-doors-boundary";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"probe\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .into_bytes();
        body.extend(std::fs::read(file).unwrap());
        body.extend(format!("\r\n--{boundary}--\r\n").into_bytes());
        self.rt.block_on(async {
            let r = self
                .client
                .post(format!("{}/api/v1/similar?{query}", self.base))
                .header(
                    "content-type",
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(body)
                .send()
                .await
                .unwrap();
            let status = r.status();
            let v: Value = r.json().await.unwrap();
            assert!(status.is_success(), "POST: {status} {v}");
            v
        })
    }
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A score as the f32 both sides computed (the CLI's JSON prints an f32 through f64, the
/// server's in its shortest form: the same number).
fn score(v: &Value) -> Option<f32> {
    v.as_f64().map(|x| x as f32)
}

/// (id, similarity) of an answer's results: the CLI's `--json` and the REST API's one shape.
fn ranking(v: &Value) -> Vec<(String, Option<f32>)> {
    v["results"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .map(|r| {
            (
                r["song"]["id"].as_str().unwrap().to_owned(),
                score(&r["similarity"]),
            )
        })
        .collect()
}

/// The keys of an answer's top level and of its results (the same for the same ask, whichever
/// door answers).
fn shape(v: &Value) -> (Vec<String>, Vec<Vec<String>>) {
    let keys = |o: &Value| o.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    let results = v["results"].as_array().unwrap().iter().map(keys).collect();
    (keys(v), results)
}

/// (id, seed similarity, progress, similarity to the previous) of a playlist's entries.
type PlaylistEntry = (String, Option<f32>, Option<f32>, Option<f32>);

fn playlist_entries(v: &Value) -> Vec<PlaylistEntry> {
    v["entries"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .map(|e| {
            (
                e["song"]["id"].as_str().unwrap().to_owned(),
                score(&e["seed_similarity"]),
                score(&e["progress"]),
                score(&e["similarity_to_previous"]),
            )
        })
        .collect()
}

/// `serve --help` says how the server chooses vectors (as the CLI does, auto by default) and
/// which embedders it starts (auto: DSP now, musicnn when needed), with the real default.
#[test]
fn serve_help_names_its_defaults() {
    let o = bin().command().args(["serve", "--help"]).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let help = text(&o).split_whitespace().collect::<Vec<_>>().join(" ");
    for want in [
        "auto by default",
        "auto (dsp now, the others on the first upload that needs them), mix, dsp, musicnn or both",
        "[default: auto]",
    ] {
        assert!(help.contains(want), "{want:?} in {help}");
    }
    assert!(!help.contains("[default: dsp]"), "{help}");
}

#[test]
fn the_cli_and_the_rest_api_rank_alike() {
    let dir = tempfile::tempdir().unwrap();
    let (lib, music) = library(dir.path());
    let (mut server, base) = serve(&lib);
    let rest = Rest {
        rt: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap(),
        client: reqwest::Client::new(),
        base,
    };
    let cli = |args: &[&str]| {
        let o = on_library(&lib, args);
        assert!(o.status.success(), "{args:?}: {}", text(&o));
        json(&o)
    };
    let songs = cli(&["list", "--json", "-n", "100"]);
    let id_of = |title: &str| {
        songs["songs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["title"] == title)
            .unwrap_or_else(|| panic!("no {title} in {songs}"))["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let stats = rest.get("/api/v1/stats");
    let musicnn = stats["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "musicnn")
        .unwrap_or_else(|| panic!("musicnn vectors stored: {stats}"))["model"]
        .as_str()
        .unwrap()
        .to_owned();

    // Neighbours of a song: the default (auto), and every choice of vectors.
    let seeds = [id_of("frontiers 20"), id_of("bell")];
    let choices: [(&[&str], String); 5] = [
        (&[], String::new()),
        (&["--embedder", "dsp"], "&embedder=dsp".into()),
        (&["--embedder", "both"], "&embedder=both".into()),
        (&["--blend", "0.35"], "&blend=0.35".into()),
        (&["--model", &musicnn], format!("&model={}", enc(&musicnn))),
    ];
    for seed in &seeds {
        for (flags, params) in &choices {
            let mut args = vec!["similar", seed.as_str(), "-k", "8", "--json"];
            args.extend_from_slice(flags);
            let c = cli(&args);
            let r = rest.get(&format!("/api/v1/songs/{seed}/similar?k=8{params}"));
            assert_eq!(c["model"], r["model"], "{flags:?}");
            assert_eq!(ranking(&c), ranking(&r), "{seed} {flags:?}");
            assert_eq!(ranking(&c).len(), 8);
            // One answer: the same document, field for field.
            assert_eq!(c, r, "{seed} {flags:?}");
        }
    }
    // auto compares the default's vectors, like the CLI, and says so.
    let r = rest.get(&format!("/api/v1/songs/{}/similar", seeds[0]));
    assert_eq!(r["model"], "songrec-mix@4", "{r}");

    // Words alone, and a song's neighbours moved towards words: the same songs and scores, and
    // the same account of the words used and ignored, with every choice of vectors.
    for words in [
        "epic orchestral battle",
        "dark ambient, not happy",
        "chill lo-fi for a kazoo",
    ] {
        let c = cli(&["similar", "--text", words, "-k", "6", "--json"]);
        let r = rest.get(&format!("/api/v1/similar?k=6&text={}", enc(words)));
        assert_eq!(c["model"], r["model"]);
        assert_eq!(ranking(&c), ranking(&r), "{words}");
        assert_eq!(c, r, "{words}");
        assert!(!ranking(&r).is_empty(), "{words}: {r}");
        assert_eq!(
            c["words"]["used_words"], r["words"]["used_words"],
            "{words}"
        );
        assert_eq!(
            c["words"]["ignored_words"], r["words"]["ignored_words"],
            "{words}"
        );
        let seed = &seeds[0];
        for (flags, params) in &choices {
            let mut args = vec![
                "similar",
                seed.as_str(),
                "--text",
                words,
                "-k",
                "6",
                "--json",
            ];
            args.extend_from_slice(flags);
            let c = cli(&args);
            let r = rest.get(&format!(
                "/api/v1/songs/{seed}/similar?k=6&text={}{params}",
                enc(words)
            ));
            assert_eq!(c["model"], r["model"], "{words} {flags:?}");
            assert_eq!(ranking(&c), ranking(&r), "{seed} {words} {flags:?}");
            let tag_scores = |v: &Value, key: &str| -> Vec<Option<f32>> {
                v[key]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| score(&m["tag_score"]))
                    .collect()
            };
            assert_eq!(
                tag_scores(&c, "results"),
                tag_scores(&r, "results"),
                "{words} {flags:?}"
            );
            assert_eq!(c, r, "{words} {flags:?}");
        }
    }
    let c = cli(&["similar", "--text", "chill lo-fi for a kazoo", "--json"]);
    assert_eq!(
        c["words"]["ignored_words"],
        serde_json::json!(["for", "a", "kazoo"]),
        "{c}"
    );

    // Asks no door answers are refused by both alike, each door in its own words (flags on the
    // command line, parameters over REST): vectors or a threshold for words alone, one song per
    // recording with words, a blend ranked by l2.
    let seed = seeds[0].as_str();
    let (alone, distinct) = (
        ("not to --text alone", "not to words alone"),
        (
            "--distinct cannot be combined with --text",
            "distinct cannot be combined with text",
        ),
    );
    let refused: [(&[&str], String, (&str, &str)); 5] = [
        (
            &["--text", "epic", "--embedder", "dsp"],
            "/api/v1/similar?text=epic&embedder=dsp".into(),
            alone,
        ),
        (
            &["--text", "epic", "--threshold", "0.5"],
            "/api/v1/similar?text=epic&threshold=0.5".into(),
            alone,
        ),
        (
            &["--text", "epic", "--distinct"],
            "/api/v1/similar?text=epic&distinct=true".into(),
            distinct,
        ),
        (
            &[seed, "--text", "epic", "--distinct"],
            format!("/api/v1/songs/{seed}/similar?text=epic&distinct=true"),
            distinct,
        ),
        (
            &[seed, "--embedder", "both", "--metric", "l2"],
            format!("/api/v1/songs/{seed}/similar?embedder=both&metric=l2"),
            ("use --metric cosine", "use metric=cosine"),
        ),
    ];
    for (flags, path, (cli_says, rest_says)) in &refused {
        let o = on_library(&lib, &[&["similar", "--json"][..], flags].concat());
        assert_eq!(o.status.code(), Some(1), "{flags:?}: {}", text(&o));
        assert!(text(&o).contains(cli_says), "{flags:?}: {}", text(&o));
        let (status, v) = rest.answer(path);
        let said = v["error"]["message"].as_str().unwrap_or_default();
        assert_eq!(status.as_u16(), 400, "{path}: {v}");
        assert!(
            said.contains(rest_says) && !said.contains("--"),
            "{path}: {said}"
        );
    }

    // An outside file: analysed by the embedders asked for on both sides (both by default).
    let probe = music.join("machine_wars-70.mp3");
    let outside = dir.path().join("probe.mp3");
    std::fs::copy(&probe, &outside).unwrap();
    for (flags, params) in &choices {
        let mut args = vec![
            "similar",
            "--file",
            outside.to_str().unwrap(),
            "-k",
            "5",
            "--json",
        ];
        args.extend_from_slice(flags);
        let c = cli(&args);
        let r = rest.upload(&format!("k=5{params}"), &outside);
        assert_eq!(c["model"], r["model"], "{flags:?}");
        assert_eq!(ranking(&c), ranking(&r), "{flags:?}");
        assert_eq!(ranking(&c).len(), 5, "{flags:?}");
        // The same fields at the top and per result; the query says a file or an upload.
        assert_eq!(shape(&c), shape(&r), "{flags:?}");
        assert_eq!(c["query"]["file"], outside.to_str().unwrap(), "{c}");
        assert_eq!(
            r["query"]["upload"]["bytes"],
            std::fs::metadata(&outside).unwrap().len()
        );
        if flags.is_empty() {
            assert_eq!(r["model"], "songrec-mix@4", "{r}");
        }
    }

    // Playlists (seeds and a path) and clusters, with every choice of vectors.
    for (flags, params) in &choices {
        let seed = &seeds[0];
        let mut args = vec![
            "playlist",
            "--seed",
            seed,
            "-n",
            "5",
            "--no-history",
            "--json",
        ];
        args.extend_from_slice(flags);
        let c = cli(&args);
        let r = rest.get(&format!("/api/v1/playlist?seed={seed}&n=5{params}"));
        assert_eq!(c["model"], r["model"], "{flags:?}");
        assert_eq!(playlist_entries(&c), playlist_entries(&r), "{flags:?}");
        assert_eq!(playlist_entries(&c).len(), 5, "{flags:?}");
        let to = &seeds[1];
        let mut args = vec![
            "playlist",
            "--from",
            seed,
            "--to",
            to,
            "-n",
            "4",
            "--no-history",
            "--json",
        ];
        args.extend_from_slice(flags);
        let c = cli(&args);
        let r = rest.get(&format!("/api/v1/playlist?from={seed}&to={to}&n=4{params}"));
        assert_eq!(c["model"], r["model"], "{flags:?}");
        assert_eq!(playlist_entries(&c), playlist_entries(&r), "{flags:?}");
        assert_eq!(playlist_entries(&c).len(), 4);
        let mut args = vec!["clusters", "-k", "3", "--json"];
        args.extend_from_slice(flags);
        let c = cli(&args);
        let r = rest.get(&format!("/api/v1/clusters?k=3{params}"));
        assert_eq!(c, r, "{flags:?}");
    }

    // The map: every song at the same coordinates (the whole document compared), with every
    // choice of vectors, and with a limit.
    let songs_total = songs["songs"].as_array().unwrap().len();
    for (flags, params) in &choices {
        let mut args = vec!["map", "--json"];
        args.extend_from_slice(flags);
        let c = cli(&args);
        let r = rest.get(&format!("/api/v1/map?limit=10000{params}"));
        assert_eq!(c, r, "{flags:?}");
        assert_eq!(
            c["points"].as_array().unwrap().len(),
            songs_total,
            "{flags:?}: {c}"
        );
        let mut args = vec!["map", "--json", "--limit", "5"];
        args.extend_from_slice(flags);
        let c = cli(&args);
        let r = rest.get(&format!("/api/v1/map?limit=5{params}"));
        assert_eq!(c, r, "{flags:?}");
        assert_eq!(c["truncated"], true, "{c}");
        assert_eq!(c["points"].as_array().unwrap().len(), 5, "{c}");
    }
    // The default map is the default (auto) one, and says so.
    assert_eq!(rest.get("/api/v1/map"), cli(&["map", "--json"]));
    the_map_endpoint_honours_the_vector_choice(&rest);

    server.kill().unwrap();
    server.wait().unwrap();
}

/// `GET /api/v1/map` honours `embedder`, `blend` and `model`: each names the vectors it
/// projected, the spaces place the songs differently, and a choice the library cannot answer
/// is refused (400) rather than silently replaced.
/// (Run on the library of [`the_cli_and_the_rest_api_rank_alike`]: one ingest with both
/// embedders for both.)
fn the_map_endpoint_honours_the_vector_choice(rest: &Rest) {
    let model_of = |q: &str| {
        let m = rest.get(&format!("/api/v1/map?{q}"));
        assert_eq!(m["projection"], "pca", "{m}");
        (m["model"].as_str().unwrap().to_owned(), m)
    };
    let (dsp, dsp_map) = model_of("embedder=dsp");
    assert!(
        dsp.starts_with("songrec-dsp@") && !dsp.contains('+'),
        "{dsp}"
    );
    let (musicnn, musicnn_map) = model_of("embedder=musicnn");
    assert!(
        musicnn.starts_with("musicnn@") && !musicnn.contains('+'),
        "{musicnn}"
    );
    let (by_model, _) = model_of(&format!("model={}", enc(&musicnn)));
    assert_eq!(by_model, musicnn);
    let (both, both_map) = model_of("embedder=both");
    assert!(both.contains(" + "), "{both}");
    let (blend, blend_map) = model_of("blend=0.35");
    assert!(blend.contains(" + ") && blend != both, "{blend} vs {both}");
    let (auto, _) = model_of("");
    assert_eq!(auto, "songrec-mix@4");
    // Different vectors, different places.
    let coords = |m: &Value| -> Vec<(f64, f64)> {
        m["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["x"].as_f64().unwrap(), p["y"].as_f64().unwrap()))
            .collect()
    };
    assert_ne!(coords(&dsp_map), coords(&musicnn_map));
    assert_ne!(coords(&both_map), coords(&blend_map));
    // A limit shows that many songs and says the map is cut.
    let (_, cut) = model_of("embedder=dsp&limit=3");
    assert_eq!(cut["points"].as_array().unwrap().len(), 3, "{cut}");
    assert_eq!(cut["truncated"], true);
    assert_eq!(cut["total"], dsp_map["total"]);
    // Refused, not replaced.
    for bad in ["embedder=kazoo", "blend=2", "model=nosuch%401"] {
        let status = rest.rt.block_on(async {
            rest.client
                .get(format!("{}/api/v1/map?{bad}", rest.base))
                .send()
                .await
                .unwrap()
                .status()
        });
        assert_eq!(status.as_u16(), 400, "{bad}");
    }
}
