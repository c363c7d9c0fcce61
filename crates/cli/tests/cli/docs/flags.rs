//! Every `songrec <command> --flag` and `-k` the documentation shows in its shell blocks and
//! names in its prose exists in the real binary's `--help`, and the checker finds the ones that
//! do not.

use super::*;

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
    ("--url", "crates/benches/examples/loadtest.rs"),
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
