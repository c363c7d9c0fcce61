//! The README: at most 200 lines, its test command is the one CI runs, and its examples run as
//! written (the first session, the cloud in five commands, the local cloud and two machines on
//! one computer).

use super::*;

/// The README stays a front door that fits on a screen or two: at most 200 lines (issue 53;
/// reference material is in docs/).
#[test]
fn the_readme_is_at_most_200_lines() {
    let lines = read(&root().join("README.md")).lines().count();
    assert!(
        lines <= 200,
        "README.md has {lines} lines; move detail to docs/"
    );
}

#[test]
fn readme_test_command_is_what_ci_runs() {
    let root = root();
    let readme = read(&root.join("README.md"));
    let start = readme
        .find("## Two commands")
        .expect("a Two commands section");
    assert_eq!(
        readme.find("\n## "),
        Some(start - 1),
        "the two commands are the README's first section"
    );
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

/// After `scripts/demo.sh` the README's next block runs as written in a real shell: in a clone
/// laid out as the demo leaves it (`target/debug/songrec`, `target/demo/library`) and a `PATH`
/// without songrec, `export PATH=…` makes `songrec` the demo's binary and the demo library
/// answers; the demo prints the same line at its end.
#[test]
fn after_the_demo_the_readme_commands_run_as_written() {
    let readme = read(&root().join("README.md"));
    let marker = readme
        .find("<!-- after-demo")
        .expect("the README marks what to run after the demo");
    let (_, _, lines) = code_blocks(&readme[marker..])
        .into_iter()
        .next()
        .expect("the block after the demo");
    assert!(
        lines[0].trim_start().starts_with("export PATH="),
        "{lines:?}"
    );
    let dir = tempfile::tempdir().unwrap();
    let (clone, home) = (dir.path().join("clone"), dir.path().join("home"));
    let debug = clone.join("target/debug");
    std::fs::create_dir_all(&debug).unwrap();
    std::fs::create_dir_all(&home).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_songrec"), debug.join("songrec")).unwrap();
    let music = bin().synth(&dir.path().join("music"), 2, 8);
    let lib = clone.join("target/demo/library");
    let o = bin()
        .on_library(&lib)
        .arg("ingest")
        .arg(&music)
        .env("SONGREC_NEURAL_RUNTIME", "tract")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    // A new shell: only the system's PATH, where no songrec is.
    let script = format!("set -e\n{}\n", lines.join("\n"));
    let o = Command::new("bash")
        .args(["-c", &script])
        .current_dir(&clone)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", &home)
        .env("SONGREC_NEURAL_RUNTIME", "tract")
        .output()
        .unwrap();
    let out = text(&o);
    assert!(o.status.success(), "{script}\n{out}");
    assert!(
        out.contains("Songs like") && out.contains("Slow Piano 2"),
        "{out}"
    );
    let demo = read(&root().join("scripts/demo.sh"));
    assert!(
        demo.contains(r#"echo "  export PATH=\"$(dirname "$songrec"):\$PATH\"""#),
        "the demo prints the README's line"
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
