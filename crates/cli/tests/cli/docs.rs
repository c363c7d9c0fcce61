//! The documentation cannot rot: every local link in README.md, docs/*.md and
//! scripts/eval/RESULTS.md resolves (file and `#anchor`), every `songrec <command> --flag` and
//! `-k` shown in their shell blocks and named in their prose exists in the real binary's
//! `--help`, the README is at most 200 lines, its test command is the one CI runs, and its
//! examples run as written: the first session and a few more on a local library, the cloud in
//! five commands, the local cloud and two machines on one computer on a local cloud. The
//! guide's (`docs/*.md`) shell blocks run as written too: [`guide`]. The links are checked in
//! [`links`], the commands and flags in [`flags`], the README in [`readme`]; the shell the
//! examples run in ([`UserShell`]) is here.

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use songrec_testkit::cli::text;

use crate::bin;

mod flags;
mod guide;
mod links;
mod readme;

/// The repository's root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

/// README.md, every page of docs/ and the evaluation notes.
fn doc_files() -> Vec<PathBuf> {
    let root = root();
    let mut files = vec![root.join("README.md"), root.join("scripts/eval/RESULTS.md")];
    let mut pages: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/ exists")
        .map(|e| e.expect("docs entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    pages.sort();
    assert!(pages.len() >= 5, "docs/ holds the guide's pages: {pages:?}");
    files.extend(pages);
    files
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The lines of `md` outside fenced code blocks, with their line numbers (1-based).
fn prose_lines(md: &str) -> Vec<(usize, &str)> {
    let mut fence = false;
    let mut out = Vec::new();
    for (i, line) in md.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fence = !fence;
            continue;
        }
        if !fence {
            out.push((i + 1, line));
        }
    }
    out
}

/// Fenced code blocks of `md`: (info string, first line number, lines).
fn code_blocks(md: &str) -> Vec<(String, usize, Vec<&str>)> {
    let mut blocks = Vec::new();
    let mut cur: Option<(String, usize, Vec<&str>)> = None;
    for (i, line) in md.lines().enumerate() {
        let t = line.trim_start();
        if let Some(info) = t.strip_prefix("```") {
            match cur.take() {
                Some(b) => blocks.push(b),
                None => cur = Some((info.trim().to_owned(), i + 2, Vec::new())),
            }
        } else if let Some(b) = cur.as_mut() {
            b.2.push(line);
        }
    }
    blocks
}

/// Splits a shell line into words (quotes respected, a word starting with `#` ends the line).
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut in_word = false;
    for c in line.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => cur.push(c),
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                in_word = true;
            }
            None if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            None if c == '#' && !in_word => break,
            None => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

/// A word that runs songrec: `songrec`, or a build's `…/debug/songrec`, `…/release/songrec`.
fn is_songrec(word: &str) -> bool {
    word == "songrec"
        || [
            "debug/songrec",
            "release/songrec",
            "dist/songrec",
            "bin/songrec",
        ]
        .iter()
        .any(|s| word.ends_with(s))
}

/// `~/x` → `home/x`.
fn expand_home(word: &str, home: &Path) -> String {
    match word.strip_prefix("~/") {
        Some(rest) => home.join(rest).to_string_lossy().into_owned(),
        None if word == "~" => home.to_string_lossy().into_owned(),
        None => word.to_owned(),
    }
}

/// Starts `songrec serve` (its address on the first line), checks it serves the web page, and
/// returns its first page of `/api/v1/songs`; stops it.
fn serve_page_and_songs(mut cmd: Command) -> serde_json::Value {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start songrec serve");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("serve prints its address");
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://") && w.ends_with('/'))
        .map(|u| u.trim_end_matches('/').to_owned());
    let result = url.map(|url| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let c = reqwest::Client::new();
            let page = c.get(format!("{url}/")).send().await?.text().await?;
            let songs: serde_json::Value = c
                .get(format!("{url}/api/v1/songs"))
                .send()
                .await?
                .json()
                .await?;
            Ok::<_, reqwest::Error>((page, songs))
        })
    });
    let _ = child.kill();
    let out = child.wait_with_output().ok();
    let (page, songs) = result
        .unwrap_or_else(|| {
            let err = out
                .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
                .unwrap_or_default();
            panic!("no URL on serve's first line: {first:?}\n{err}")
        })
        .expect("the server answers");
    assert!(page.contains("<title>songrec</title>"), "{page}");
    songs
}

/// A block's lines, joined where they end in `\`.
fn joined_lines(lines: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut open = false;
    for line in lines {
        let (body, cont) = match line.trim_end().strip_suffix('\\') {
            Some(b) => (b, true),
            None => (line.trim_end(), false),
        };
        if open {
            out.last_mut().expect("an open line").push_str(body);
        } else {
            out.push(body.to_owned());
        }
        open = cont;
    }
    out
}

/// A new user's shell running the README's blocks from a clone of the repository:
///
/// - `songrec` and `target/debug/songrec` are the binary under test, run from `work` (the
///   clone: `.env.example` and the demo's music in `target/demo/music`) with `HOME=home`;
/// - `scripts/local-cloud.sh start` starts the local cloud the script starts (the testkit's
///   Data API and S3 servers, in process: the script's `cargo build` cannot run inside `cargo
///   test`) and `source target/local-cloud/env` exports the variables the script writes there
///   (checked against the script); `stop` stops it;
/// - `mkdir -p`, `cp`, `unset`, `VAR=value command` and `&&` as in a shell; paths under `/tmp/`
///   are kept inside the test's own folder.
struct UserShell {
    home: PathBuf,
    work: PathBuf,
    tmp: PathBuf,
    env: HashMap<String, String>,
    cloud: Option<songrec_testkit::LocalCloud>,
    /// (command line, stdout) of every songrec command run.
    outputs: Vec<(String, String)>,
}

impl UserShell {
    fn new(dir: &Path) -> Self {
        let (home, work, tmp) = (dir.join("home"), dir.join("work"), dir.join("tmp"));
        for d in [&home, &work, &tmp] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::copy(root().join(".env.example"), work.join(".env.example")).unwrap();
        // What scripts/demo.sh leaves in target/demo/music (here: synthesised songs only).
        bin().synth(&work.join("target/demo/music"), 1, 8);
        let mut env = HashMap::new();
        // The built-in model on tract, as everywhere in the tests.
        env.insert("SONGREC_NEURAL_RUNTIME".into(), "tract".into());
        Self {
            home,
            work,
            tmp,
            env,
            cloud: None,
            outputs: Vec::new(),
        }
    }

    /// A word as the shell would pass it: `~` expanded, `/tmp/` kept inside the test.
    fn word(&self, w: &str) -> String {
        match w.strip_prefix("/tmp/") {
            Some(rest) => self.tmp.join(rest).to_string_lossy().into_owned(),
            None => expand_home(w, &self.home),
        }
    }

    /// The variables `scripts/local-cloud.sh` writes to `target/local-cloud/env`, for `cloud`.
    fn local_cloud_env(cloud: &songrec_testkit::LocalCloud) -> HashMap<String, String> {
        let mut vars: HashMap<String, String> = cloud.env().into_iter().collect();
        vars.insert("SONGREC_STORAGE_BACKEND".into(), "astra".into());
        vars.insert("ASTRA_DB_KEYSPACE".into(), "default_keyspace".into());
        vars.insert("SONGREC_S3_REGION".into(), "us-east-1".into());
        let script = read(&root().join("scripts/local-cloud.sh"));
        let heredoc = &script[script.find("<<ENV").expect("the env heredoc")..];
        let heredoc = &heredoc[..heredoc.find("\nENV").expect("its end")];
        let names: BTreeSet<String> = heredoc
            .lines()
            .filter_map(|l| l.strip_prefix("export "))
            .filter_map(|l| l.split('=').next())
            .map(str::to_owned)
            .collect();
        let ours: BTreeSet<String> = vars.keys().cloned().collect();
        assert_eq!(
            names, ours,
            "the variables scripts/local-cloud.sh exports are the ones this test sets"
        );
        vars
    }

    fn run_line(&mut self, line: &str) {
        let words = shell_words(line);
        for cmd in words.split(|w| w == "&&" || w == ";") {
            if !cmd.is_empty() {
                self.run(cmd, line);
            }
        }
    }

    fn run(&mut self, words: &[String], line: &str) {
        let mut i = 0;
        let mut vars = Vec::new();
        while let Some((k, v)) = words.get(i).and_then(|w| w.split_once('=')) {
            if !k.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
                break;
            }
            vars.push((k.to_owned(), self.word(v)));
            i += 1;
        }
        let prog = words.get(i).map(String::as_str).unwrap_or_default();
        let args: Vec<String> = words[i + 1..].iter().map(|w| self.word(w)).collect();
        match prog {
            "mkdir" => {
                for a in args.iter().filter(|a| !a.starts_with('-')) {
                    std::fs::create_dir_all(a).unwrap();
                }
            }
            "cp" => {
                let src = self.work.join(&args[0]);
                std::fs::copy(&src, &args[1])
                    .unwrap_or_else(|e| panic!("{line}: {}: {e}", src.display()));
            }
            "unset" => {
                for a in &args {
                    self.env.remove(a);
                }
            }
            "scripts/local-cloud.sh" => match args.first().map(String::as_str) {
                Some("start") => {
                    self.cloud = None;
                    self.cloud = Some(songrec_testkit::LocalCloud::start_blocking());
                }
                Some("stop") => self.cloud = None,
                other => panic!("{line}: local-cloud.sh {other:?}"),
            },
            "source" => {
                assert_eq!(args, ["target/local-cloud/env"], "{line}");
                let cloud = self.cloud.as_ref().expect("the local cloud was started");
                self.env.extend(Self::local_cloud_env(cloud));
            }
            p if is_songrec(p) => {
                let mut cmd = bin().at_home(&self.home);
                cmd.current_dir(&self.work).envs(&self.env).envs(vars);
                if args.iter().any(|a| a == "serve") {
                    // The page on any free port of 127.0.0.1, whatever address the line names.
                    let mut args = args.clone();
                    if let Some(i) = args.iter().position(|a| a == "--bind") {
                        args[i + 1] = "127.0.0.1:0".into();
                    }
                    cmd.args(&args).env("SONGREC_SERVE_BIND", "127.0.0.1:0");
                    let songs = serve_page_and_songs(cmd);
                    self.outputs.push((line.to_owned(), songs.to_string()));
                    return;
                }
                let o = cmd.args(&args).output().expect("run songrec");
                assert!(o.status.success(), "{line}\n{}", text(&o));
                self.outputs
                    .push((line.to_owned(), String::from_utf8_lossy(&o.stdout).into()));
            }
            other => panic!("{line}: the test does not know how to run `{other}`"),
        }
    }

    /// "Fill in the Astra and S3 settings" of `~/.config/songrec/.env` (copied from
    /// `.env.example`): the local cloud's.
    fn fill_env_file(&self, cloud: &songrec_testkit::LocalCloud) {
        let path = self.home.join(".config/songrec/.env");
        let mut settings = Self::local_cloud_env(cloud);
        settings.remove("SONGREC_STORAGE_BACKEND");
        let filled: Vec<String> = read(&path)
            .lines()
            .map(|l| match l.split_once('=') {
                Some((k, _)) if settings.contains_key(k) => format!("{k}={}", settings[k]),
                _ => l.to_owned(),
            })
            .collect();
        std::fs::write(&path, filled.join("\n")).unwrap();
    }

    /// The stdout of the last songrec command on a line containing `needle`.
    fn output(&self, needle: &str) -> &str {
        self.outputs
            .iter()
            .rev()
            .find(|(l, _)| l.contains(needle))
            .map(|(_, o)| o.as_str())
            .unwrap_or_else(|| panic!("no command like {needle:?} ran"))
    }
}

/// A file of `dir` (the first the folder lists).
fn first_file(dir: &Path) -> PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .next()
        .expect("a file")
        .unwrap()
        .path()
}

/// `wav` re-encoded as `dir/<artist> - <title>.mp3`, tagged with both (and `genre`): a song the
/// examples name, made from a synthesised one.
fn named_mp3(wav: &Path, dir: &Path, artist: &str, title: &str, genre: Option<&str>) -> PathBuf {
    let mut tags = vec![format!("title={title}"), format!("artist={artist}")];
    tags.extend(genre.map(|g| format!("genre={g}")));
    let args: Vec<&str> = tags
        .iter()
        .flat_map(|t| ["-metadata", t.as_str()])
        .collect();
    songrec_testkit::audio::convert(wav, &dir.join(format!("{artist} - {title}.mp3")), &args)
}

/// ONNX Runtime's speed-up over tract, as measured (docs/quality.md, "The neural embedder"):
/// on the model alone, and per song with decoding and the DSP analysis.
const ORT_ON_THE_MODEL: &str = "1.1";
const ORT_PER_SONG: &str = "1.0";

/// Every place that states ONNX Runtime's speed-up states the same figures: the example
/// configuration, the README, the guide, the neural crate's docs and the constants what
/// `ingest` and `doctor` say is made of (`songrec_neural::runtime::ORT_MODEL_SPEEDUP`, …).
#[test]
fn the_onnx_runtime_speed_up_is_stated_alike_everywhere() {
    let root = root();
    let mut problems = Vec::new();
    for file in [
        "config.toml",
        "README.md",
        "docs/benchmarks.md",
        "docs/quality.md",
        "crates/neural/src/runtime.rs",
    ] {
        let body = read(&root.join(file));
        // Paragraphs (or comment blocks) joined into one line each.
        let flat = body
            .lines()
            .map(|l| {
                l.trim()
                    .trim_start_matches("//!")
                    .trim_start_matches("//")
                    .trim_start_matches('#')
            })
            .collect::<Vec<_>>()
            .join(" ");
        let mut found = 0;
        for (i, _) in flat.match_indices(['×', 'x']) {
            // `N.N×` / `N.Nx` (not a word like `index`).
            let before = &flat[..i];
            let figure: String = before
                .chars()
                .rev()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            let after = flat[i..].chars().nth(1).unwrap_or(' ');
            let decimal = figure
                .split_once('.')
                .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty() && !b.contains('.'));
            if !decimal || after.is_alphanumeric() {
                continue;
            }
            let context = slice(&flat, i.saturating_sub(250), i + 60);
            let low = context.to_lowercase();
            if !(low.contains("onnx runtime") || low.contains("onnxruntime")) {
                continue;
            }
            // What the figure is of: the nearer of "model" and "song" (not "songrec") within
            // 40 bytes either side.
            let (window, start) = slice_at(&flat, i.saturating_sub(40 + figure.len()), i + 40);
            let at = i - start;
            let window = window.to_ascii_lowercase();
            let nearest = |word: &str| {
                window
                    .match_indices(word)
                    .filter(|(j, _)| !window[j + word.len()..].starts_with('r'))
                    .map(|(j, _)| j.abs_diff(at))
                    .min()
            };
            let want = match (nearest("model"), nearest("song")) {
                (Some(m), Some(s)) if s < m => ORT_PER_SONG,
                (None, Some(_)) => ORT_PER_SONG,
                (Some(_), _) => ORT_ON_THE_MODEL,
                (None, None) => {
                    problems.push(format!(
                        "{file}: {figure}×: of the model or per song? …{context}…"
                    ));
                    continue;
                }
            };
            found += 1;
            if figure != want {
                problems.push(format!(
                    "{file}: {figure}× where {want}× is measured: …{context}…"
                ));
            }
        }
        if found == 0 {
            problems.push(format!(
                "{file}: no ONNX Runtime speed-up found (was it reworded?)"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// `s[from..to]`, both ends moved out to character boundaries (and `to` to the end at most).
fn slice(s: &str, from: usize, to: usize) -> &str {
    slice_at(s, from, to).0
}

/// [`slice`] and where it starts in `s`.
fn slice_at(s: &str, from: usize, to: usize) -> (&str, usize) {
    let from = (0..=from.min(s.len()))
        .rev()
        .find(|&j| s.is_char_boundary(j))
        .unwrap_or(0);
    let to = (to.min(s.len())..=s.len())
        .find(|&j| s.is_char_boundary(j))
        .unwrap_or(s.len());
    (&s[from..to], from)
}
