//! The documentation cannot rot: every local link in README.md, docs/*.md and
//! scripts/eval/RESULTS.md resolves (file and `#anchor`), every `songrec <command> --flag` and
//! `-k` shown in their shell blocks and named in their prose exists in the real binary's
//! `--help`, the README is at most 500 lines, its test command is the one CI runs, and its
//! examples run as written: the first session and a few more on a local library, the cloud in
//! five commands, the local cloud and two machines on one computer on a local cloud. The
//! guide's (`docs/*.md`) shell blocks run as written too: [`guide`].

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use songrec_testkit::cli::text;

use crate::bin;

mod guide;

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

/// Every flag a help text names (`--long` and `-s`), and whether it takes a value
/// (`-k, --k <K>`, `--flag <VALUE>`).
fn flags_of(help: &str) -> HashMap<String, bool> {
    let mut out = HashMap::new();
    for line in help.lines() {
        let t = line.trim_start();
        if !t.starts_with('-') {
            continue;
        }
        // `-k, --k <K>  Number of results.`: the flags, then the value, before the description.
        let spec = t.split("  ").next().unwrap_or(t);
        let value = spec.contains('<') || spec.contains('[');
        for part in spec.split(", ") {
            if let Some(flag) = part
                .split_whitespace()
                .next()
                .filter(|f| f.starts_with('-'))
            {
                out.insert(flag.to_owned(), value);
            }
        }
    }
    out
}

/// The help texts of every command, asked once each, and what a documented command line
/// may use.
struct Helps {
    commands: BTreeSet<String>,
    globals: HashMap<String, bool>,
    cache: HashMap<Vec<String>, String>,
}

impl Helps {
    fn new() -> Self {
        let top = help(&[]);
        let commands = subcommands(&top);
        assert!(
            commands.contains("ingest") && commands.contains("similar"),
            "{top}"
        );
        let globals = flags_of(&top);
        assert!(globals.contains_key("--library"), "{top}");
        assert!(globals.contains_key("-v"), "{top}");
        Self {
            commands,
            globals,
            cache: HashMap::new(),
        }
    }

    fn help(&mut self, path: &[String]) -> String {
        self.cache
            .entry(path.to_vec())
            .or_insert_with(|| help(&path.iter().map(String::as_str).collect::<Vec<_>>()))
            .clone()
    }

    /// Every flag of every command and subcommand (with the global ones).
    fn all_flags(&mut self) -> BTreeSet<String> {
        let mut out: BTreeSet<String> = self.globals.keys().cloned().collect();
        for cmd in self.commands.clone().into_iter().filter(|c| c != "help") {
            let path = vec![cmd];
            let h = self.help(&path);
            out.extend(flags_of(&h).into_keys());
            for sub in subcommands(&h).into_iter().filter(|s| s != "help") {
                let mut p = path.clone();
                p.push(sub);
                let h = self.help(&p);
                out.extend(flags_of(&h).into_keys());
            }
        }
        out
    }

    /// Checks the songrec command line starting at `words[i]` (just after `songrec`): its
    /// command exists and each of its flags, long or short, is in that command's `--help`.
    /// Returns the index after the command line and the flags checked.
    fn check(
        &mut self,
        words: &[String],
        mut i: usize,
        at: &str,
        problems: &mut Vec<String>,
    ) -> (usize, usize) {
        let mut checked = 0;
        // Global options before the command.
        while i < words.len() && words[i].starts_with('-') {
            let flag = words[i].split('=').next().unwrap_or_default();
            checked += 1;
            if !self.globals.contains_key(flag) && !short_cluster_ok(flag, &self.globals) {
                problems.push(format!("{at}: no global option {flag}"));
            }
            let takes_value = self.globals.get(flag).copied().unwrap_or(false);
            i += if takes_value && !words[i].contains('=') {
                2
            } else {
                1
            };
        }
        let Some(cmd) = words.get(i).cloned() else {
            return (i, checked);
        };
        // A placeholder (`songrec <command> --help`, `songrec --library DIR ...`).
        if cmd.starts_with('<') || cmd == "..." || cmd == "…" {
            return (i + 1, checked);
        }
        // `songrec similar/playlist/map/clusters`: several commands named at once.
        if cmd.contains('/') {
            for c in cmd.split('/') {
                if !self.commands.contains(c) {
                    problems.push(format!("{at}: no command `{c}`"));
                }
            }
            return (i + 1, checked);
        }
        if !self.commands.contains(cmd.as_str()) {
            problems.push(format!("{at}: no command `{cmd}`"));
            return (i + 1, checked);
        }
        let mut path = vec![cmd];
        i += 1;
        let nested = subcommands(&self.help(&path));
        if let Some(s) = words.get(i).filter(|w| nested.contains(w.as_str())) {
            path.push(s.clone());
            i += 1;
        }
        let mut flags = flags_of(&self.help(&path));
        flags.extend(self.globals.clone());
        while i < words.len() && !is_operator(&words[i]) && !is_songrec(&words[i]) {
            let w = &words[i];
            i += 1;
            let is_flag = w.len() > 1
                && w.starts_with('-')
                && w[1..].starts_with(|c: char| c == '-' || c.is_ascii_alphabetic());
            if !is_flag {
                continue;
            }
            let flag = w.split('=').next().unwrap_or_default();
            checked += 1;
            let known = flags.contains_key(flag) || short_cluster_ok(flag, &flags);
            if !known {
                problems.push(format!(
                    "{at}: `songrec {}` has no option {flag}",
                    path.join(" ")
                ));
                continue;
            }
            // Skip the flag's value (which may itself start with `-`, e.g. `--threshold -0.5`).
            let last = if flag.starts_with("--") {
                flag.to_owned()
            } else {
                format!("-{}", flag.chars().last().unwrap_or('-'))
            };
            if !w.contains('=') && flags.get(&last).copied().unwrap_or(false) {
                i += 1;
            }
        }
        (i, checked)
    }
}

/// `-vv` or `-k`: each letter a short flag the help names.
fn short_cluster_ok(flag: &str, flags: &HashMap<String, bool>) -> bool {
    match flag.strip_prefix('-') {
        Some(letters) if !letters.starts_with('-') && !letters.is_empty() => letters
            .chars()
            .all(|c| flags.contains_key(&format!("-{c}"))),
        _ => false,
    }
}

/// The code spans of a prose line (`text between backticks`).
fn code_spans(line: &str) -> Vec<&str> {
    line.split('`').skip(1).step_by(2).collect()
}

/// Flags of other programs that the guide names in prose, with the program: they are not
/// songrec's.
const OTHER_PROGRAMS_FLAGS: &[(&str, &str)] = &[
    ("--release", "cargo"),
    ("--profile", "cargo"),
    ("--locked", "cargo"),
    ("--max-sort-count", "songrec-dataapi"),
    ("--max-collections", "songrec-dataapi"),
    ("--rtt-ms", "scripts/eval"),
    ("--user", "pip"),
    ("-p", "cargo"),
    ("--url", "crates/server/examples/loadtest.rs"),
];

/// Natural order compares numbers exactly only up to 20 digits (the sort key's form is stored
/// in cloud documents, so it stays): `list --help` and docs/commands.md say where it stops
/// (issue 31).
#[test]
fn the_natural_order_limit_is_documented() {
    let flat = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let help = flat(&help(&["list"]));
    let commands = flat(&read(&root().join("docs/commands.md")));
    for (what, text) in [
        ("songrec list --help", &help),
        ("docs/commands.md", &commands),
    ] {
        assert!(
            text.contains("up to 20 digits") && text.contains("100000000000000000000"),
            "{what} states the limit of natural order: {text}"
        );
    }
}

/// The README stays a front door: at most 500 lines (issue 27; the rest is in docs/).
#[test]
fn the_readme_is_at_most_500_lines() {
    let lines = read(&root().join("README.md")).lines().count();
    assert!(
        lines <= 500,
        "README.md has {lines} lines; move detail to docs/"
    );
}

#[test]
fn every_documented_command_and_flag_exists() {
    let mut helps = Helps::new();
    let mut problems = Vec::new();
    let mut checked = 0;
    let mut prose_checked = 0;
    let root = root();
    let files: Vec<PathBuf> = doc_files()
        .into_iter()
        .filter(|f| !f.ends_with("scripts/eval/RESULTS.md"))
        .collect();
    let all_flags = helps.all_flags();
    for file in files {
        let md = read(&file);
        let name = file
            .strip_prefix(&root)
            .unwrap_or(&file)
            .display()
            .to_string();
        // Shell blocks: every songrec command line.
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
                let at = format!("{name}:{n}: {}", line.trim());
                let mut i = 0;
                while i < words.len() {
                    if is_songrec(&words[i]) {
                        let (next, c) = helps.check(&words, i + 1, &at, &mut problems);
                        checked += c;
                        i = next;
                    } else {
                        i += 1;
                    }
                }
            }
        }
        // Prose: `songrec cmd --flag`, `cmd --flag` and bare `--flag` / `-k` code spans.
        for (n, line) in prose_lines(&md) {
            for span in code_spans(line) {
                let words = shell_words(span);
                let Some(first) = words.first() else { continue };
                let at = format!("{name}:{n}: `{span}`");
                if is_songrec(first) {
                    let (_, c) = helps.check(&words, 1, &at, &mut problems);
                    prose_checked += c;
                } else if helps.commands.contains(first.as_str())
                    && words.get(1).is_some_and(|w| w.starts_with('-'))
                {
                    let (_, c) = helps.check(&words, 0, &at, &mut problems);
                    prose_checked += c;
                } else if first.starts_with('-') && first.len() > 1 {
                    // `--from/--to`, `--title --artist --album`: each flag named.
                    for w in &words {
                        for flag in w.split('/').filter(|f| f.starts_with('-') && f.len() > 1) {
                            let flag = flag.split('=').next().unwrap_or_default();
                            if !flag[1..].starts_with(|c: char| c == '-' || c.is_ascii_alphabetic())
                            {
                                continue;
                            }
                            prose_checked += 1;
                            let other = OTHER_PROGRAMS_FLAGS.iter().any(|(f, _)| *f == flag);
                            // `-vv`: a short flag given twice.
                            let cluster = flag.len() > 2
                                && !flag.starts_with("--")
                                && flag[1..]
                                    .chars()
                                    .all(|c| all_flags.contains(&format!("-{c}")));
                            if !all_flags.contains(flag) && !other && !cluster {
                                problems.push(format!("{at}: no songrec command has {flag}"));
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(
        checked > 40,
        "only {checked} documented flags found in shell blocks: is the parser broken?"
    );
    assert!(
        prose_checked > 100,
        "only {prose_checked} flags found in prose: is the parser broken?"
    );
    assert!(
        problems.is_empty(),
        "documented commands that the binary does not have:\n{}",
        problems.join("\n")
    );
}

/// The checker finds what it is there to find: an unknown command, long flag, short flag and
/// global option, in a block and in prose.
#[test]
fn the_flag_checker_finds_unknown_flags() {
    let mut helps = Helps::new();
    let mut problems = Vec::new();
    for line in [
        "songrec similar x -k 3 -n 2",
        "songrec list --nonsense",
        "songrec --nonsense list",
        "songrec frobnicate",
        "songrec -vv similar x --threshold -0.5 --json",
        "songrec playlist --seed x -n 3 -q",
    ] {
        let words = shell_words(line);
        helps.check(&words, 1, line, &mut problems);
    }
    assert_eq!(
        problems,
        [
            "songrec similar x -k 3 -n 2: `songrec similar` has no option -n",
            "songrec list --nonsense: `songrec list` has no option --nonsense",
            "songrec --nonsense list: no global option --nonsense",
            "songrec frobnicate: no command `frobnicate`",
        ],
        "-vv, -0.5 (a value), -q (global) and -n (playlist's) are fine"
    );
    let h = flags_of("  -k, --k <K>  Number\n      --json  JSON\n  -v, --verbose...  More\n");
    assert_eq!(h.get("-k"), Some(&true));
    assert_eq!(h.get("--k"), Some(&true));
    assert_eq!(h.get("--json"), Some(&false));
    assert_eq!(h.get("-v"), Some(&false));
    assert_eq!(
        code_spans("a `--x` b `songrec y -k 1` c"),
        ["--x", "songrec y -k 1"]
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
    // "A few more", on the same library.
    let mut more = Vec::new();
    for line in readme_block_after(&readme, "A few more") {
        let words = shell_words(&line);
        let Some(first) = words.first() else { continue };
        assert_eq!(first, "songrec", "{line}");
        let o = user(&words[1..]).output().expect("run songrec");
        assert!(o.status.success(), "{line}\n{}", text(&o));
        more.push((
            words[1].clone(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        ));
    }
    let cmds: Vec<&str> = more.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(cmds, ["similar", "playlist", "edit", "stats"]);
    let playlist = &more[1].1;
    assert!(
        playlist.lines().filter(|l| l.contains("Ensemble")).count() >= 8,
        "{playlist}"
    );
    assert!(
        more[3]
            .1
            .lines()
            .any(|l| l.starts_with("songs") && l.contains(" 10 (")),
        "{}",
        more[3].1
    );
}

/// Starts `songrec serve` (its address on the first line), checks the page and the API list
/// every song of the library in `home`, and stops it.
fn serve_answers(cmd: Command, home: &Path) {
    let songs = serve_page_and_songs(cmd);
    let synthesised = std::fs::read_dir(home.join("songrec-try"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert!(synthesised > 0);
    assert_eq!(songs["total"], synthesised, "{songs}");
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

/// The first fenced block after `heading` in the README, with its lines joined where they end
/// in `\`.
fn readme_block_after(readme: &str, heading: &str) -> Vec<String> {
    let start = readme
        .find(heading)
        .unwrap_or_else(|| panic!("the README has {heading:?}"));
    let (_, _, lines) = code_blocks(&readme[start..])
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("a block after {heading:?}"));
    joined_lines(&lines)
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

/// The titles `songrec synth` gave the songs in `dir` (`Artist - Title.wav`).
fn titles_in(dir: &Path) -> Vec<String> {
    let mut t: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|n| {
            n.rsplit_once('.')
                .and_then(|(stem, _)| stem.split_once(" - "))
                .map(|(_, title)| title.to_owned())
        })
        .collect();
    t.sort();
    t
}

/// "The cloud in five commands" as written, on a local cloud: the `.env` filled in with its
/// settings (as the block's comment asks), `doctor` passes, and the song the block asks about
/// is found in the cloud library.
#[test]
fn readme_cloud_in_five_commands_runs_as_written() {
    let readme = read(&root().join("README.md"));
    let block = readme_block_after(&readme, "## The cloud in five commands");
    let dir = tempfile::tempdir().unwrap();
    let mut sh = UserShell::new(dir.path());
    let cloud = songrec_testkit::LocalCloud::start_blocking();
    // ~/Music: a few songs, one of them the song the block looks for.
    let music = sh.home.join("Music");
    bin().synth(&music, 1, 8);
    // (Re-encoded from one of them, which goes: one copy of each recording.)
    let wav = first_file(&music);
    named_mp3(&wav, &music, "Radiohead", "Paranoid Android", None);
    std::fs::remove_file(&wav).unwrap();
    let mut ran = Vec::new();
    for line in &block {
        if shell_words(line).is_empty() {
            continue;
        }
        sh.run_line(line);
        ran.push(shell_words(line)[0].clone());
        if line.contains(".env.example") {
            sh.fill_env_file(&cloud);
        }
    }
    assert_eq!(ran, ["mkdir", "songrec", "songrec", "songrec", "songrec"]);
    let doctor = sh.output("doctor");
    assert!(
        doctor.contains("[ok] collections: songrec_songs")
            && doctor.contains("[ok] S3 bucket")
            && !doctor.contains("[fail]"),
        "{doctor}"
    );
    let similar = sh.output("similar");
    let rows = similar
        .lines()
        .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .count();
    assert_eq!(rows, 4, "the other four songs of ~/Music:\n{similar}");
    // Everything went to the cloud: no local library was made.
    assert!(!sh.home.join(".local/share/songrec").exists());
}

/// "No cloud account?" and "Two machines on one computer" as written, in one shell: the demo's
/// music goes to the local cloud, then machine A (its own library and cache) ingests and
/// uploads it, and machine B downloads and lists every song.
#[test]
fn readme_local_cloud_and_two_machines_on_one_computer_run_as_written() {
    let readme = read(&root().join("README.md"));
    let dir = tempfile::tempdir().unwrap();
    let mut sh = UserShell::new(dir.path());
    let titles = titles_in(&sh.work.join("target/demo/music"));
    assert_eq!(titles.len(), 5);
    let local = readme_block_after(&readme, "**No cloud account?**");
    for line in local.iter().filter(|l| !shell_words(l).is_empty()) {
        sh.run_line(line);
    }
    assert!(sh.cloud.is_none(), "the block stops the local cloud");
    assert!(
        sh.output("ingest target/demo/music")
            .starts_with("ingested 5 new, 0 already in the library, 0 failed"),
        "{}",
        sh.output("ingest")
    );
    let two = readme_block_after(&readme, "**Two machines on one computer.**");
    for line in two.iter().filter(|l| !shell_words(l).is_empty()) {
        sh.run_line(line);
    }
    let listed = sh.output("/tmp/b list");
    for t in &titles {
        assert!(
            listed.contains(t.as_str()),
            "machine B lists {t}:\n{listed}"
        );
    }
    // Two machines: two libraries, two caches, each with its own sync record.
    for m in ["a", "b"] {
        assert!(sh.tmp.join(m).join("data/.songrec").is_dir(), "{m}");
    }
    assert!(sh.tmp.join("a-cache").is_dir(), "machine A's ingest state");
}

/// ONNX Runtime's speed-up over tract, as measured (docs/quality.md, "The neural embedder"):
/// on the model alone, and per song with decoding and the DSP analysis.
const ORT_ON_THE_MODEL: &str = "1.6";
const ORT_PER_SONG: &str = "1.3";

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
        "crates/neural/src/lib.rs",
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
