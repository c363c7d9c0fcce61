//! What the user configures and what long work says: a `.env` line that cannot be read is named
//! (file, line, variable) without its value; `.env.example` lists every variable the code
//! reads; progress speaks in plain lines when stderr is a pipe.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use songrec_testkit::cli::{streams, text};

use crate::bin;

/// The password docs/web-and-api.md showed, unquoted: refused with the file, the line and the
/// variable, and the advice to quote it; the value never reaches the output. Quoted, it is read.
#[test]
fn a_bad_env_line_is_named_by_file_line_and_variable_never_by_its_value() {
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join("env");
    let lib = dir.path().join("lib");
    let run = |env_text: &str| {
        std::fs::write(&env, env_text).unwrap();
        bin()
            .on_library(&lib)
            .arg("--env-file")
            .arg(&env)
            .args(["stats", "--json"])
            .output()
            .unwrap()
    };
    let o = run("SONGREC_SUBSONIC_USER=ann\nSONGREC_SUBSONIC_PASSWORD=a long passphrase\n");
    let (out, err) = streams(&o);
    assert_eq!(o.status.code(), Some(2), "a usage error:\n{out}\n{err}");
    for said in [
        env.to_str().unwrap(),
        "line 2",
        "SONGREC_SUBSONIC_PASSWORD",
        "quote values with spaces: SONGREC_SUBSONIC_PASSWORD=\"...\"",
    ] {
        assert!(err.contains(said), "{said:?} in {err}");
    }
    assert!(
        !out.contains("passphrase") && !err.contains("passphrase"),
        "the value is never shown:\n{out}\n{err}"
    );
    // Another unreadable value (a backslash before a letter dotenvy does not know): placed and
    // named, not shown either.
    let o = run("# a comment\n\nexport ASTRA_DB_APPLICATION_TOKEN=\"AstraCS:a\\qb\"\n");
    let err = streams(&o).1;
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("line 3: the value of ASTRA_DB_APPLICATION_TOKEN cannot be read"),
        "{err}"
    );
    assert!(!err.contains("AstraCS"), "{err}");

    // Quoted, the file is read and the command goes on (to a library that is not there yet).
    let o = run("SONGREC_SUBSONIC_USER=ann\nSONGREC_SUBSONIC_PASSWORD=\"a long passphrase\"\n");
    assert!(
        text(&o).contains("no songrec library at") && !text(&o).contains("line 2"),
        "quoted, it is read: {}",
        text(&o)
    );
    assert!(!text(&o).contains("passphrase"), "{}", text(&o));
}

/// The repository's root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

/// Every `.rs` file below `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The `"SONGREC_..."` and `"ASTRA_DB_..."` string literals in `text`.
fn variable_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for prefix in ["\"SONGREC_", "\"ASTRA_DB_"] {
        for (at, _) in text.match_indices(prefix) {
            let rest = &text[at + 1..];
            let end = rest
                .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
                .unwrap_or(rest.len());
            if rest[end..].starts_with('"') {
                names.insert(rest[..end].to_owned());
            }
        }
    }
    names
}

/// The variables songrec reads (string literals in the `src/` of the crates the `songrec`
/// binary is made of) each have a `NAME=` line in `.env.example`, commented out or not. Left
/// out: test hooks (names with `TEST`, documented with the tests) and crates that are not part
/// of the binary (the test kit, benches, the conformance suite, the local cloud's servers).
#[test]
fn env_example_lists_every_variable_the_code_reads() {
    let root = root();
    let not_in_songrec = [
        "testkit",
        "benches",
        "conformance",
        "devservers",
        "dataapi-server",
    ];
    let mut files = Vec::new();
    for e in std::fs::read_dir(root.join("crates")).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !not_in_songrec.contains(&name.as_str()) {
            rust_files(&e.path().join("src"), &mut files);
        }
    }
    assert!(files.len() > 50, "the crates' sources: {}", files.len());
    let read: BTreeSet<String> = files
        .iter()
        .filter(|p| p.file_name().is_none_or(|n| n != "tests.rs"))
        .flat_map(|p| variable_names(&std::fs::read_to_string(p).unwrap()))
        .filter(|n| !n.contains("TEST"))
        .collect();
    for known in [
        "SONGREC_LIBRARY",
        "SONGREC_SUBSONIC_PASSWORD",
        "ASTRA_DB_KEYSPACE",
    ] {
        assert!(
            read.contains(known),
            "{known} found in the sources: {read:?}"
        );
    }
    let example = std::fs::read_to_string(root.join(".env.example")).unwrap();
    let listed: BTreeSet<&str> = example
        .lines()
        .map(|l| l.trim_start().trim_start_matches('#').trim_start())
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim()))
        .collect();
    let missing: Vec<&String> = read
        .iter()
        .filter(|n| !listed.contains(n.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        ".env.example lacks a NAME= line (commented out or not, with a one-line comment) for: \
         {missing:?}"
    );
    // Every example line is one dotenvy reads: a value with spaces is quoted.
    for (i, line) in example.lines().enumerate() {
        let t = line.trim_start().trim_start_matches('#').trim_start();
        if let Some((k, v)) = t.split_once('=')
            && k.chars().all(|c| c.is_ascii_uppercase() || c == '_')
        {
            let v = v.trim();
            assert!(
                v.starts_with('"') || !v.contains(' '),
                ".env.example line {}: quote values with spaces",
                i + 1
            );
        }
    }
}

/// The docs' `.env` examples are lines dotenvy reads: a `NAME=value` line of a code block that
/// is not a shell block (a shell line's `NAME=value command` is an assignment before a
/// command) with an unquoted value holding a space would be refused.
#[test]
fn the_docs_env_lines_quote_values_with_spaces() {
    let root = root();
    let mut pages = vec![root.join("README.md")];
    for e in std::fs::read_dir(root.join("docs")).unwrap().flatten() {
        if e.path().extension().is_some_and(|x| x == "md") {
            pages.push(e.path());
        }
    }
    let shell = ["sh", "bash", "shell", "console", "zsh"];
    let mut bad = Vec::new();
    let mut env_lines = 0;
    for page in &pages {
        // The info string of the open block, if one is open.
        let mut block: Option<String> = None;
        for (i, line) in std::fs::read_to_string(page).unwrap().lines().enumerate() {
            if let Some(info) = line.trim_start().strip_prefix("```") {
                block = match block {
                    Some(_) => None,
                    None => Some(info.trim().to_owned()),
                };
                continue;
            }
            let Some(info) = &block else { continue };
            let Some((k, v)) = line.trim().split_once('=') else {
                continue;
            };
            let is_var = (k.starts_with("SONGREC_") || k.starts_with("ASTRA_DB_"))
                && k.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
            if !is_var || shell.contains(&info.as_str()) {
                continue;
            }
            env_lines += 1;
            if !v.starts_with(['"', '\'']) && v.contains([' ', '\t']) {
                bad.push(format!("{}:{}", page.display(), i + 1));
            }
        }
    }
    assert!(
        env_lines > 0,
        "the docs show .env lines (docs/web-and-api.md)"
    );
    assert!(bad.is_empty(), "quote values with spaces: {bad:?}");
}

/// `ingest` and `reembed` with stderr a pipe: plain progress lines (done/total, rate, time
/// left) while the work runs, no colour and no carriage return; none with `-q`. The interval is
/// made short through the test hook (10 s otherwise).
#[test]
fn long_work_prints_plain_progress_lines_into_a_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let music = bin().synth(&dir.path().join("music"), 2, 4);
    let lib = dir.path().join("lib");
    let run = |args: &[&str]| {
        bin()
            .on_library(&lib)
            .env("SONGREC_TEST_PROGRESS_EVERY_MS", "5")
            .args(args)
            .output()
            .unwrap()
    };
    let music = music.to_str().unwrap();
    let check = |o: &std::process::Output, unit: &str| {
        let (out, err) = streams(o);
        assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
        assert!(
            !err.contains(['\r', '\x1b']),
            "no carriage return, no colour: {err:?}"
        );
        // "progress: 3/10 files, 4.1/s, about 2s left" (or, before the first is done,
        // "progress: 0/10 files, none done yet (0s in)"): (done, total, whole shape).
        let lines: Vec<(u64, u64, bool)> = err
            .lines()
            .filter_map(|l| {
                let rest = l.strip_prefix("progress: ")?;
                let (counts, rest) = rest.split_once(&format!(" {unit}, "))?;
                let (done, total) = counts.split_once('/')?;
                let (done, total) = (done.parse().ok()?, total.parse().ok()?);
                let shape = rest.split_once(", about ").is_some_and(|(rate, left)| {
                    rate.ends_with("/s") && left.ends_with(" left") && !left.contains(',')
                });
                Some((done, total, shape))
            })
            .collect();
        assert!(
            lines.iter().any(|(done, total, _)| done < total),
            "a line while {unit} were still to do:\n{err}"
        );
        assert!(
            lines.iter().any(|(done, _, shape)| *done > 0 && *shape),
            "a line with done/total, rate and time left:\n{err}"
        );
    };
    check(
        &run(&["ingest", "--embedder", "dsp", "-j", "1", music]),
        "files",
    );
    check(
        &run(&["reembed", "--embedder", "dsp", "--force", "-j", "1"]),
        "songs",
    );
    let o = run(&["-q", "reembed", "--embedder", "dsp", "--force", "-j", "1"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        !streams(&o).1.contains("progress:"),
        "-q: no progress lines: {}",
        text(&o)
    );
}
