//! What a person meets on the way (issue 39): a cloud that cannot be reached and was never
//! synced is an error, not an empty library; messages speak songrec's words (no layer stacks,
//! no S3 XML, no decoder internals; those are for `-v`); a damaged file of a known format says
//! "damaged"; `doctor` names every way to use the cloud; counts agree with their nouns.

use std::path::Path;
use std::process::Output;

use songrec_testkit::LocalCloud;
use songrec_testkit::cli::{stderr, stdout, text};
use songrec_testkit::fixtures::real_recording;

use crate::{bin, on_library};

/// Words of songrec's insides that no message may show without `-v`.
const INTERNALS: [&str; 15] = [
    "Fallback(",
    "Cache(",
    "CircuitBreaker(",
    "Astra(",
    "Local(",
    "error sending request",
    "tcp connect error",
    "<?xml",
    "<Error>",
    "<Code>",
    "no suitable format reader",
    "malformed stream",
    "unsupported feature",
    "list_versions",
    "put_songs",
];

/// Asserts `o` printed none of [`INTERNALS`]; returns everything it printed.
fn in_plain_words(o: &Output) -> String {
    let t = text(o);
    for w in INTERNALS {
        assert!(!t.contains(w), "{w:?} shown to the user:\n{t}");
    }
    t
}

/// `songrec --storage-backend astra ARGS` for the user at `home`, with `env`'s cloud settings.
fn on_cloud(home: &Path, env: &[(String, String)], args: &[&str]) -> Output {
    bin()
        .at_home(home)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("SONGREC_NEURAL_RUNTIME", "tract")
        .args(["--storage-backend", "astra"])
        .args(args)
        .output()
        .unwrap()
}

/// The cloud goes away. Machine A reached it before (its offline copy holds the songs it
/// stored): its reads keep working, with the warning. Machine B never reached it: every read
/// is an error (exit 1) saying what failed and what to do, never "0 songs" with exit 0; with
/// `-v` the layer stack shows, for whoever debugs.
#[test]
fn a_cloud_never_synced_and_unreachable_is_an_error_not_an_empty_library() {
    let mut c = LocalCloud::start_blocking();
    let env: Vec<(String, String)> = c.env().into_iter().collect();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    let music = bin().synth(&dir.path().join("music"), 1, 5);
    assert!(on_cloud(&a, &env, &["init-astra"]).status.success());
    let o = on_cloud(&a, &env, &["ingest", music.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    c.runtime().block_on(c.stop());

    // A: the offline copy holds what A stored (never refreshed in full: "partial").
    let o = on_cloud(&a, &env, &["list"]);
    let t = in_plain_words(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(stdout(&o).contains("(5 of 5 songs)"), "{t}");
    assert!(
        stderr(&o).starts_with("warning: remote unavailable (") && t.contains("partial"),
        "{t}"
    );

    // B: nothing to answer from.
    for args in [
        &["list"][..],
        &["list", "--json"],
        &["stats"],
        &["similar", "Slow Piano 1"],
        &["show", "Slow Piano 1"],
    ] {
        let o = on_cloud(&b, &env, args);
        let t = in_plain_words(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {t}");
        assert!(stdout(&o).is_empty(), "{args:?}: nothing on stdout: {t}");
        let err = stderr(&o);
        for words in [
            "error: ",
            "unreachable",
            "no offline copy",
            "songrec cache refresh",
        ] {
            assert!(err.contains(words), "{args:?}: {words:?} in {err}");
        }
        assert!(!err.contains("warning:"), "{args:?}: {err}");
        println!("{args:?} on a cloud never synced: {err}");
    }
    // A write says nothing was changed, in the same words.
    let o = on_cloud(&b, &env, &["ingest", music.to_str().unwrap()]);
    let t = in_plain_words(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("unreachable") && t.contains("nothing was changed"),
        "{t}"
    );
    // -v shows the stack behind the library's name.
    let o = on_cloud(&b, &env, &["-v", "list"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        stderr(&o).contains("Fallback(Cache(CircuitBreaker(Astra("),
        "{}",
        text(&o)
    );
}

/// An S3 server's refusal is told by its code and message, never by its XML body.
#[test]
fn s3_refusals_are_told_in_a_few_words() {
    let c = LocalCloud::start_blocking();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let music = bin().synth(&home.join("music"), 1, 5);
    let env: Vec<(String, String)> = c.env().into_iter().collect();
    assert!(on_cloud(home, &env, &["init-astra"]).status.success());
    for (var, value) in [
        ("AWS_SECRET_ACCESS_KEY", "not-the-secret"),
        ("AWS_ACCESS_KEY_ID", "not-the-key"),
    ] {
        let mut wrong = env.clone();
        wrong.retain(|(k, _)| k != var);
        wrong.push((var.to_owned(), value.to_owned()));
        let o = on_cloud(home, &wrong, &["doctor"]);
        let t = in_plain_words(&o);
        assert_eq!(o.status.code(), Some(1), "{var}: {t}");
        assert!(
            t.contains("[fail] S3 bucket") && t.contains("S3 answered"),
            "{var}: {t}"
        );
        let o = on_cloud(home, &wrong, &["ingest", music.to_str().unwrap()]);
        let t = in_plain_words(&o);
        assert_ne!(o.status.code(), Some(0), "{var}: {t}");
        println!("{var}={value}: {t}");
    }
}

/// Damaged files of known formats, cut from real recordings or corrupted: each says which
/// file, that it is damaged and what to do; a file in no audio format says so; the decoder's
/// own words appear with `-v` only.
#[test]
fn a_damaged_file_says_damaged_and_not_not_an_audio_file() {
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("music");
    std::fs::create_dir_all(&music).unwrap();
    let bell = std::fs::read(real_recording("freedesktop", "bell.oga")).unwrap();
    std::fs::write(music.join("bell-cut.oga"), &bell[..bell.len() / 2]).unwrap();
    let mut complete = std::fs::read(real_recording("freedesktop", "complete.oga")).unwrap();
    for b in complete.iter_mut().skip(200).step_by(7) {
        *b ^= 0xff;
    }
    std::fs::write(music.join("complete-bitrot.oga"), &complete).unwrap();
    let crash = std::fs::read(real_recording("gmrockkit", "Crash-Soft.wav")).unwrap();
    std::fs::write(music.join("crash-cut.wav"), &crash[..30]).unwrap();
    std::fs::write(
        music.join("notes.ogg"),
        "a text file, not audio\n".repeat(40),
    )
    .unwrap();
    // One file that reads, so the library is made.
    std::fs::write(
        music.join("dialog-warning.oga"),
        std::fs::read(real_recording("freedesktop", "dialog-warning.oga")).unwrap(),
    )
    .unwrap();

    let lib = dir.path().join("lib");
    let o = on_library(&lib, &["ingest", music.to_str().unwrap()]);
    let err = in_plain_words(&o);
    assert_eq!(o.status.code(), Some(3), "{err}");
    let line = |name: &str| -> String {
        let lines: Vec<&str> = err.lines().filter(|l| l.contains(name)).collect();
        assert_eq!(lines.len(), 1, "one line for {name}:\n{err}");
        lines[0].to_owned()
    };
    for (name, says) in [
        (
            "bell-cut.oga",
            "damaged Ogg file: it ends early, as if cut off (truncated)",
        ),
        (
            "complete-bitrot.oga",
            "damaged Ogg file: its data is corrupt",
        ),
        ("crash-cut.wav", "damaged WAV file: it ends early"),
    ] {
        let l = line(name);
        assert!(
            l.contains(says)
                && l.contains("copy it again, or re-encode it")
                && !l.contains("not an audio file"),
            "{l}"
        );
    }
    let l = line("notes.ogg");
    assert!(
        l.contains("not an audio file") && !l.contains("damaged"),
        "{l}"
    );
    assert!(stdout(&o).contains("ingested 1 new"), "{err}");

    // -v: what the decoder said, for whoever wants to know.
    let o = on_library(
        &lib,
        &[
            "-v",
            "ingest",
            music.join("complete-bitrot.oga").to_str().unwrap(),
        ],
    );
    assert!(
        stderr(&o).contains("the decoder says: malformed stream"),
        "{}",
        text(&o)
    );
}

/// `doctor` on a local library without cloud settings names every way the cloud is used.
#[test]
fn doctor_says_the_cloud_is_used_by_the_storage_backend_flag_too() {
    let dir = tempfile::tempdir().unwrap();
    let o = bin()
        .at_home(dir.path())
        .env("SONGREC_NEURAL_RUNTIME", "tract")
        .arg("doctor")
        .output()
        .unwrap();
    let t = text(&o);
    let line = t
        .lines()
        .find(|l| l.contains("cloud (Astra + S3)"))
        .unwrap_or_else(|| panic!("no cloud line:\n{t}"));
    for s in [
        "not configured",
        "--storage-backend astra",
        "SONGREC_STORAGE_BACKEND",
        "sync",
        "migrate",
    ] {
        assert!(line.contains(s), "{s:?} in {line}");
    }
}

/// One song, one file: every count agrees with its noun.
#[test]
fn counts_of_one_are_singular() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    let song = real_recording("freedesktop", "complete.oga");
    let o = on_library(&lib, &["ingest", song.to_str().unwrap()]);
    let out = in_plain_words(&o);
    assert!(
        out.contains("ingested 1 new") && out.contains("(1 file in "),
        "{out}"
    );
    let o = on_library(&lib, &["list"]);
    assert!(stdout(&o).contains("(1 of 1 song)"), "{}", text(&o));
    let o = on_library(&lib, &["stats"]);
    assert!(
        stdout(&o).contains("deleted     0 tombstones"),
        "{}",
        text(&o)
    );
    let id = songrec_testkit::cli::json(&on_library(&lib, &["list", "--json"]))["songs"][0]["id"]
        .as_str()
        .unwrap()[..12]
        .to_owned();
    let o = on_library(&lib, &["delete", &id]);
    assert!(o.status.success(), "{}", text(&o));
    let o = on_library(&lib, &["stats"]);
    assert!(
        stdout(&o).contains("deleted     1 tombstone\n"),
        "{}",
        text(&o)
    );
    let o = on_library(&lib, &["list"]);
    assert!(stdout(&o).contains("(0 of 0 songs)"), "{}", text(&o));
}
