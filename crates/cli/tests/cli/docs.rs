//! The documentation cannot rot: every local link in README.md, docs/*.md and
//! scripts/eval/RESULTS.md resolves (file and `#anchor`), every `songrec <command> --flag` shown
//! in their shell blocks exists in the real binary's `--help`, the README's test command is the
//! one CI runs, and the README's first session runs as written.

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use songrec_testkit::cli::text;

use crate::bin;

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

/// GitHub's anchor for a heading: lower case, everything but letters, digits, spaces, `-` and
/// `_` dropped, spaces turned into `-`; links keep their text.
fn slug(heading: &str) -> String {
    let mut plain = String::new();
    let mut rest = heading;
    // [text](url) → text
    while let Some(open) = rest.find('[') {
        plain.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match (after.find("]("), after.find(')')) {
            (Some(close), Some(end)) if close < end => {
                plain.push_str(&after[..close]);
                rest = &after[end + 1..];
            }
            _ => {
                plain.push('[');
                rest = after;
            }
        }
    }
    plain.push_str(rest);
    plain
        .trim()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .flat_map(char::to_lowercase)
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// Every anchor a markdown file offers: heading slugs (repeats get `-1`, `-2`, as on GitHub)
/// and explicit `id="..."` / `name="..."` attributes.
fn anchors(md: &str) -> BTreeSet<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = BTreeSet::new();
    for (_, line) in prose_lines(md) {
        let t = line.trim_start();
        if t.starts_with('#') {
            let text = t.trim_start_matches('#');
            if text.starts_with(' ') || text.is_empty() {
                let base = slug(text.trim().trim_end_matches('#'));
                let n = seen.entry(base.clone()).or_insert(0);
                out.insert(if *n == 0 {
                    base.clone()
                } else {
                    format!("{base}-{n}")
                });
                *n += 1;
            }
        }
        for attr in ["id=\"", "name=\""] {
            let mut rest = line;
            while let Some(i) = rest.find(attr) {
                let after = &rest[i + attr.len()..];
                if let Some(end) = after.find('"') {
                    out.insert(after[..end].to_owned());
                    rest = &after[end..];
                } else {
                    break;
                }
            }
        }
    }
    out
}

/// The targets of the inline links `[text](target)` of one line, outside `code spans`.
fn link_targets(line: &str) -> Vec<String> {
    // Drop code spans first: `[a](b)` inside backticks is not a link.
    let mut prose = String::new();
    let mut in_code = false;
    for c in line.chars() {
        if c == '`' {
            in_code = !in_code;
            prose.push(' ');
        } else if !in_code {
            prose.push(c);
        } else {
            prose.push(' ');
        }
    }
    let mut out = Vec::new();
    let mut rest = prose.as_str();
    while let Some(i) = rest.find("](") {
        let after = &rest[i + 2..];
        // Balanced parentheses inside the target are allowed (GitHub does the same).
        let mut depth = 0usize;
        let mut end = None;
        for (j, c) in after.char_indices() {
            match c {
                '(' => depth += 1,
                ')' if depth == 0 => {
                    end = Some(j);
                    break;
                }
                ')' => depth -= 1,
                _ => {}
            }
        }
        match end {
            Some(j) => {
                let target = after[..j].split_whitespace().next().unwrap_or("");
                out.push(target.to_owned());
                rest = &after[j..];
            }
            None => break,
        }
    }
    out
}

#[test]
fn github_slugs_match_headings_as_github_makes_them() {
    assert_eq!(
        slug("The cloud library: Astra DB + S3"),
        "the-cloud-library-astra-db--s3"
    );
    assert_eq!(
        slug("Moving a library: `songrec migrate`"),
        "moving-a-library-songrec-migrate"
    );
    assert_eq!(
        slug("Measured at a million songs (1M × 512)"),
        "measured-at-a-million-songs-1m--512"
    );
    assert_eq!(
        slug("The neural embedder (musicnn)"),
        "the-neural-embedder-musicnn"
    );
    let a = anchors("# A\n## Same\n```\n## not a heading\n```\n## Same\n<a id=\"x-y\"></a>\n");
    let want: BTreeSet<String> = ["a", "same", "same-1", "x-y"].map(String::from).into();
    assert_eq!(a, want);
    assert_eq!(
        link_targets("see [a](b.md#c) and `[no](x.md)` and [d](https://e) [f](g(h).md)"),
        vec!["b.md#c", "https://e", "g(h).md"]
    );
}

#[test]
fn every_local_link_in_the_docs_resolves() {
    let mut anchor_cache: HashMap<PathBuf, BTreeSet<String>> = HashMap::new();
    let mut broken = Vec::new();
    let mut checked = 0;
    for file in doc_files() {
        let md = read(&file);
        let dir = file.parent().expect("a folder");
        for (n, line) in prose_lines(&md) {
            for target in link_targets(line) {
                if target.contains("://") || target.starts_with("mailto:") || target.is_empty() {
                    continue;
                }
                checked += 1;
                let (path, anchor) = match target.split_once('#') {
                    Some((p, a)) => (p, Some(a)),
                    None => (target.as_str(), None),
                };
                let dest = if path.is_empty() {
                    file.clone()
                } else {
                    dir.join(path)
                };
                let at = format!("{}:{n}: {target}", file.display());
                if !dest.exists() {
                    broken.push(format!("{at}: no such file"));
                    continue;
                }
                let Some(anchor) = anchor else { continue };
                if dest.extension().is_none_or(|e| e != "md") {
                    broken.push(format!("{at}: an anchor into a file that is not markdown"));
                    continue;
                }
                let dest = dest.canonicalize().expect("existing file");
                let known = anchor_cache
                    .entry(dest.clone())
                    .or_insert_with(|| anchors(&read(&dest)));
                if !known.contains(anchor) {
                    broken.push(format!("{at}: no heading or id `{anchor}` there"));
                }
            }
        }
    }
    assert!(
        checked > 30,
        "only {checked} local links found: is the parser broken?"
    );
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
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

/// Words that end a command on a shell line.
fn is_operator(word: &str) -> bool {
    matches!(
        word,
        "|" | "||" | "&&" | ";" | "&" | ">" | ">>" | "2>" | "2>&1" | "<" | ")"
    )
}

/// `songrec ARGS --help`: the help text (fails the test if it does not run).
fn help(args: &[&str]) -> String {
    let o = bin()
        .command()
        .args(args)
        .arg("--help")
        .env("NO_COLOR", "1")
        .output()
        .expect("run songrec --help");
    assert!(o.status.success(), "songrec {args:?} --help: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The names listed under `Commands:` in a help text.
fn subcommands(help: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut inside = false;
    for line in help.lines() {
        if line.ends_with(':') && !line.starts_with(' ') {
            inside = line == "Commands:";
            continue;
        }
        if inside
            && line.starts_with("  ")
            && !line.starts_with("   ")
            && let Some(name) = line.split_whitespace().next()
        {
            out.insert(name.to_owned());
        }
    }
    out
}

/// Every `--long` flag a help text names, and whether it takes a value (`--flag <VALUE>`).
fn long_flags(help: &str) -> HashMap<String, bool> {
    let mut out = HashMap::new();
    for line in help.lines() {
        let t = line.trim_start();
        if !t.starts_with('-') {
            continue;
        }
        for part in t.split(", ") {
            let mut w = part.split_whitespace();
            if let Some(flag) = w.next().filter(|f| f.starts_with("--")) {
                let value = w
                    .next()
                    .is_some_and(|v| v.starts_with('<') || v.starts_with('['));
                out.insert(flag.to_owned(), value);
            }
        }
    }
    out
}

#[test]
fn every_documented_command_and_flag_exists() {
    let top = help(&[]);
    let commands = subcommands(&top);
    assert!(
        commands.contains("ingest") && commands.contains("similar"),
        "{top}"
    );
    let globals = long_flags(&top);
    assert!(globals.contains_key("--library"), "{top}");
    // `songrec <command> [<subcommand>] --help`, once each.
    let mut helps: HashMap<Vec<String>, String> = HashMap::new();
    let mut problems = Vec::new();
    let mut checked = 0;

    let root = root();
    let files: Vec<PathBuf> = doc_files()
        .into_iter()
        .filter(|f| !f.ends_with("scripts/eval/RESULTS.md"))
        .collect();
    for file in files {
        let md = read(&file);
        for (info, first, lines) in code_blocks(&md) {
            if !matches!(info.as_str(), "" | "sh" | "bash" | "shell" | "console") {
                continue;
            }
            // Join continuation lines, keep the number of the first.
            let mut joined: Vec<(usize, String)> = Vec::new();
            let mut open = false;
            for (i, line) in lines.iter().enumerate() {
                let (body, cont) = match line.trim_end().strip_suffix('\\') {
                    Some(b) => (b, true),
                    None => (line.trim_end(), false),
                };
                if open {
                    let last = joined.last_mut().expect("an open line");
                    last.1.push(' ');
                    last.1.push_str(body);
                } else {
                    joined.push((first + i, body.to_owned()));
                }
                open = cont;
            }
            for (n, line) in joined {
                let words = shell_words(&line);
                let mut i = 0;
                while i < words.len() {
                    if !is_songrec(&words[i]) {
                        i += 1;
                        continue;
                    }
                    let at = format!(
                        "{}:{n}: {}",
                        file.strip_prefix(&root).unwrap_or(&file).display(),
                        line.trim()
                    );
                    i += 1;
                    // Global options before the command.
                    while i < words.len() && words[i].starts_with('-') {
                        let flag = words[i].split('=').next().unwrap_or_default();
                        if flag.starts_with("--") && !globals.contains_key(flag) {
                            problems.push(format!("{at}: no global option {flag}"));
                        }
                        let takes_value = globals.get(flag).copied().unwrap_or(false);
                        i += if takes_value && !words[i].contains('=') {
                            2
                        } else {
                            1
                        };
                    }
                    let Some(cmd) = words.get(i) else {
                        break;
                    };
                    if !commands.contains(cmd.as_str()) {
                        problems.push(format!("{at}: no command `{cmd}`"));
                        i += 1;
                        continue;
                    }
                    let mut path = vec![cmd.clone()];
                    i += 1;
                    let sub_help = helps
                        .entry(path.clone())
                        .or_insert_with(|| help(&[cmd.as_str()]))
                        .clone();
                    let nested = subcommands(&sub_help);
                    if let Some(s) = words.get(i).filter(|w| nested.contains(w.as_str())) {
                        path.push(s.clone());
                        i += 1;
                    }
                    let h = helps
                        .entry(path.clone())
                        .or_insert_with(|| {
                            help(&path.iter().map(String::as_str).collect::<Vec<_>>())
                        })
                        .clone();
                    let flags = long_flags(&h);
                    while i < words.len() && !is_operator(&words[i]) && !is_songrec(&words[i]) {
                        let w = &words[i];
                        if w.starts_with("--") && w.len() > 2 {
                            let flag = w.split('=').next().unwrap_or_default();
                            checked += 1;
                            if !flags.contains_key(flag) {
                                problems.push(format!(
                                    "{at}: `songrec {}` has no option {flag}",
                                    path.join(" ")
                                ));
                            }
                        }
                        i += 1;
                    }
                }
            }
        }
    }
    assert!(
        checked > 40,
        "only {checked} documented flags found: is the parser broken?"
    );
    assert!(
        problems.is_empty(),
        "documented commands that the binary does not have:\n{}",
        problems.join("\n")
    );
}

#[test]
fn readme_test_command_is_what_ci_runs() {
    let root = root();
    let readme = read(&root.join("README.md"));
    let start = readme
        .find("## Two commands")
        .expect("a Two commands section");
    let section = &readme[start..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |e| e + 3)];
    let block = code_blocks(section)
        .into_iter()
        .next()
        .expect("a block in Two commands");
    let first_words: Vec<String> = block
        .2
        .iter()
        .filter_map(|l| shell_words(l).into_iter().next())
        .collect();
    assert_eq!(first_words, ["scripts/demo.sh", "scripts/test.sh"]);
    let ci = read(&root.join(".ci/run"));
    assert!(
        ci.lines().any(|l| l.trim() == "exec scripts/test.sh"),
        ".ci/run runs the README's test command:\n{ci}"
    );
}

/// `~/x` → `home/x`.
fn expand_home(word: &str, home: &Path) -> String {
    match word.strip_prefix("~/") {
        Some(rest) => home.join(rest).to_string_lossy().into_owned(),
        None if word == "~" => home.to_string_lossy().into_owned(),
        None => word.to_owned(),
    }
}

#[test]
fn readme_first_session_runs_as_written() {
    let readme = read(&root().join("README.md"));
    let marker = readme
        .find("<!-- first-session")
        .expect("the README marks its first session");
    let (_, _, lines) = code_blocks(&readme[marker..])
        .into_iter()
        .next()
        .expect("the first session's block");
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    // As a new user: an empty home (default library and config inside it), the built-in model
    // on tract, and the web page on any free port instead of 8080 (SONGREC_SERVE_BIND).
    let user = |args: &[String]| {
        let mut c = bin().at_home(home);
        c.args(args)
            .env("SONGREC_NEURAL_RUNTIME", "tract")
            .env("SONGREC_SERVE_BIND", "127.0.0.1:0");
        c
    };
    let mut ran = Vec::new();
    let mut outputs: HashMap<String, String> = HashMap::new();
    for line in lines {
        let words = shell_words(line);
        let Some(first) = words.first() else { continue };
        assert_eq!(
            first, "songrec",
            "the first session runs songrec only: {line}"
        );
        let args: Vec<String> = words[1..].iter().map(|w| expand_home(w, home)).collect();
        let cmd = args.first().cloned().expect("a command");
        ran.push(cmd.clone());
        if cmd == "serve" {
            serve_answers(user(&args), home);
            continue;
        }
        let o = user(&args).output().expect("run songrec");
        assert!(o.status.success(), "{line}\n{}", text(&o));
        outputs.insert(cmd, String::from_utf8_lossy(&o.stdout).into_owned());
    }
    assert_eq!(ran, ["synth", "ingest", "list", "similar", "serve"]);
    let listed = outputs["list"]
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count();
    assert!(
        listed >= 5,
        "list -n 5 shows five songs:\n{}",
        outputs["list"]
    );
    let similar = &outputs["similar"];
    // The result rows (`  1   0.9840  f73b4013ec11  The Techno Ensemble – Warehouse Pulse 2 …`).
    let rows: Vec<&str> = similar
        .lines()
        .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    assert!(!rows.is_empty(), "similar lists songs:\n{similar}");
    assert!(
        rows.iter()
            .all(|r| r.contains("Ensemble") && !r.contains("Warehouse Pulse 1")),
        "synthesised songs, never the query itself:\n{similar}"
    );
}

/// Starts `songrec serve` (its address on the first line), checks the page and the API list
/// every song of the library in `home`, and stops it.
fn serve_answers(mut cmd: Command, home: &Path) {
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
    let _ = child.wait();
    let (page, songs) = result
        .unwrap_or_else(|| panic!("no URL on serve's first line: {first:?}"))
        .expect("the server answers");
    assert!(page.contains("<title>songrec</title>"), "{page}");
    let synthesised = std::fs::read_dir(home.join("songrec-try"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert!(synthesised > 0);
    assert_eq!(songs["total"], synthesised, "{songs}");
}
