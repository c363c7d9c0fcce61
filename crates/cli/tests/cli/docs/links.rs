//! Links in the documentation resolve: GitHub's heading anchors, and every local link (file and
//! `#anchor`) of README.md, docs/*.md and scripts/eval/RESULTS.md.

use super::*;

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

/// The `.rs` files below `dir`, read.
fn sources(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.expect("source entry").path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let text = read(&p);
                out.push((p, text));
            }
        }
    }
    out
}

/// Whether `text` defines `name` (a function, type, trait, module, constant or macro), or
/// takes it in under that name (`as name`).
fn defines(text: &str, name: &str) -> bool {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    [
        "fn ",
        "struct ",
        "enum ",
        "trait ",
        "mod ",
        "type ",
        "const ",
        "static ",
        "macro_rules! ",
        " as ",
    ]
    .iter()
    .any(|kw| {
        text.match_indices(&format!("{kw}{name}")).any(|(at, m)| {
            let before = text[..at].chars().next_back();
            let after = text[at + m.len()..].chars().next();
            before.is_none_or(|c| !ident(c) || kw.starts_with(' '))
                && after.is_none_or(|c| !ident(c))
        })
    })
}

/// The code spans (`…`) of a markdown line.
fn code_spans(line: &str) -> Vec<&str> {
    line.split('`').skip(1).step_by(2).collect()
}

/// Every Rust item the docs name by its path, as `songrec_app::similar::answer`,
/// `factory::astra_options` or `factory/src/lib.rs::open_with`, is defined in the crate (or
/// the file) the path names: a function renamed or folded away fails here instead of leaving
/// a reader to search for it. Paths whose first part is no crate of the workspace
/// (`stores::file_lease`, relative to a crate named nearby) are not checked.
#[test]
fn every_rust_name_in_the_docs_is_defined_where_they_say() {
    let root = root();
    let crates = root.join("crates");
    let mut by_crate: HashMap<PathBuf, Vec<(PathBuf, String)>> = HashMap::new();
    let (mut checked, mut missing) = (0, Vec::new());
    for doc in doc_files() {
        let md = read(&doc);
        for (n, line) in md.lines().enumerate() {
            for span in code_spans(line) {
                let (place, name) = match span.rsplit_once("::") {
                    Some((p, name))
                        if !name.is_empty()
                            && name.chars().all(|c| c.is_alphanumeric() || c == '_')
                            && !p.contains(' ') =>
                    {
                        (p, name)
                    }
                    _ => continue,
                };
                // A file: `crates/x/src/y.rs::name` or `x/src/y.rs::name`.
                let found = if let Some(file) = place.strip_suffix(".rs") {
                    let file = crates.join(file.trim_start_matches("crates/"));
                    let file = file.with_extension("rs");
                    file.is_file() && defines(&read(&file), name)
                } else {
                    let first = place.split("::").next().unwrap_or_default();
                    let dir = crates.join(first.trim_start_matches("songrec_").replace('_', "-"));
                    if !dir.join("Cargo.toml").is_file() {
                        continue;
                    }
                    let files = by_crate
                        .entry(dir.clone())
                        .or_insert_with(|| sources(&dir.join("src")));
                    files.iter().any(|(p, text)| {
                        defines(text, name)
                            || p.file_stem().is_some_and(|s| s == name)
                            || p.parent()
                                .and_then(Path::file_name)
                                .is_some_and(|d| d == name)
                    })
                };
                checked += 1;
                if !found {
                    missing.push(format!("{}:{}: `{span}`", doc.display(), n + 1));
                }
            }
        }
    }
    assert!(
        checked >= 20,
        "only {checked} names checked: the reader finds none"
    );
    assert!(
        missing.is_empty(),
        "names the docs give that the code no longer has:\n{}",
        missing.join("\n")
    );
}

/// The check itself finds a name that is gone, and accepts one that is there.
#[test]
fn the_name_check_tells_a_defined_name_from_a_gone_one() {
    let text = "pub fn open_with(cfg: &Config) {}\nfn open_withheld() {}\nuse a::b as c;";
    assert!(defines(text, "open_with"));
    assert!(defines(text, "c"));
    assert!(!defines(text, "open_stack"));
    assert!(!defines(text, "open"));
    assert_eq!(code_spans("see `a::b` and `c`"), vec!["a::b", "c"]);
}
