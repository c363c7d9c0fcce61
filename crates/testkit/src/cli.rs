//! The `songrec` binary, run as a user runs it, and what it printed.
//!
//! Only the CLI crate's tests know where the binary is (`env!("CARGO_BIN_EXE_songrec")`), so
//! [`Songrec::new`] takes its path.

use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use songrec_app::migrate::ledger::{Ledger, RunSummary};
use songrec_devservers::FaultProxy;

/// The base URL (`http://127.0.0.1:PORT`, no trailing slash) that a `songrec serve` started
/// with piped stdout prints on its first line; panics naming the line when there is none.
pub fn served_url(child: &mut Child) -> String {
    use std::io::BufRead as _;
    let mut first = String::new();
    if let Some(out) = child.stdout.take() {
        std::io::BufReader::new(out)
            .read_line(&mut first)
            .expect("read serve's first line");
    }
    first
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:") && w.ends_with('/'))
        .unwrap_or_else(|| panic!("no URL in {first:?}"))
        .trim_end_matches('/')
        .to_owned()
}

/// The `songrec` binary.
#[derive(Clone, Debug)]
pub struct Songrec {
    bin: PathBuf,
}

impl Songrec {
    /// The binary at `bin` (`Songrec::new(env!("CARGO_BIN_EXE_songrec"))`).
    pub fn new(bin: impl Into<PathBuf>) -> Self {
        Self { bin: bin.into() }
    }

    /// A bare command: the test's own environment and working folder.
    pub fn command(&self) -> Command {
        Command::new(&self.bin)
    }

    /// `songrec` for a user whose home is `home`: an environment of only `PATH` and
    /// `HOME=home` (add a cloud's with `.envs(cloud.env())`), run in `home`, stdin closed.
    pub fn at_home(&self, home: &Path) -> Command {
        let mut c = Command::new(&self.bin);
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", home)
            .current_dir(home)
            .stdin(Stdio::null());
        c
    }

    /// `songrec --library LIB` on the test's environment, less any backend, config file or
    /// serve address it names, with config and cache folders inside `lib`.
    pub fn on_library(&self, lib: &Path) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--library")
            .arg(lib)
            .env_remove("SONGREC_STORAGE_BACKEND")
            .env_remove("SONGREC_CONFIG")
            .env_remove("SONGREC_SERVE_BIND")
            .env("XDG_CONFIG_HOME", lib.join("config"))
            .env("XDG_CACHE_HOME", lib.join("cache"));
        c
    }

    /// `songrec synth DIR --per-style N --seconds S` (5 styles, files named
    /// `The Techno Ensemble - Warehouse Pulse 1.wav`, …); asserts it succeeded. Returns `dir`.
    pub fn synth(&self, dir: &Path, per_style: usize, seconds: u32) -> PathBuf {
        let o = self
            .command()
            .arg("synth")
            .arg(dir)
            .args(["--per-style", &per_style.to_string()])
            .args(["--seconds", &seconds.to_string()])
            .output()
            .expect("run songrec synth");
        assert!(o.status.success(), "songrec synth: {}", text(&o));
        dir.to_path_buf()
    }
}

/// Stdout then stderr, as text.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Stdout and stderr, each as text.
pub fn streams(o: &Output) -> (String, String) {
    (stdout(o), stderr(o))
}

/// Stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Stdout parsed as JSON (a failure shows everything the process printed).
pub fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}

/// Asserts the exit code; returns [`text`].
pub fn expect_code(o: &Output, code: i32) -> String {
    let t = text(o);
    assert_eq!(o.status.code(), Some(code), "{t}");
    t
}

/// Asserts success; returns stdout.
pub fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "songrec failed: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    stdout(o)
}

/// Writes the user config file that `songrec` with `HOME=home` reads
/// (`~/.config/songrec/config.toml`): request timeouts of both clouds.
pub fn write_request_timeouts(home: &Path, request_timeout_secs: u64) {
    let dir = home.join(".config").join("songrec");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.toml"),
        format!(
            "[astra]\nrequest_timeout_secs = {request_timeout_secs}\n[s3]\nrequest_timeout_secs = {request_timeout_secs}\n"
        ),
    )
    .unwrap();
}

/// The migrate ledger of the user whose home is `home`.
pub fn ledger(home: &Path) -> Ledger {
    Ledger::open(&home.join(".cache/songrec/migrate/ledger.sqlite")).expect("the migrate ledger")
}

/// The migrate runs of `home`, newest first.
pub fn runs(home: &Path) -> Vec<RunSummary> {
    ledger(home).runs(100).expect("migrate runs")
}

/// Asserts that a process was killed by SIGKILL (`out`: what it printed, for the message).
pub fn assert_killed(status: ExitStatus, out: &str) {
    assert_eq!(
        status.signal(),
        Some(9),
        "expected kill -9, got {status:?}: {out}"
    );
}

/// Runs `cmd` with `SONGREC_TEST_CRASH_AT=spec` (the factory's test crash hook) and asserts it
/// killed itself there; returns what it printed.
pub fn run_until_crash_hook(mut cmd: Command, spec: &str) -> String {
    let o = cmd.env("SONGREC_TEST_CRASH_AT", spec).output().unwrap();
    let t = text(&o);
    assert_killed(o.status, &t);
    assert!(t.contains("test crash hook"), "{t}");
    t
}

/// Spawns `cmd`, waits (at most 120 s) until `proxy` holds a request at its freeze point, then
/// kill -9s the process.
pub fn run_until_frozen(mut cmd: Command, proxy: &FaultProxy) {
    let mut child: Child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while proxy.frozen() == 0 {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                use std::io::Read as _;
                let _ = e.read_to_string(&mut err);
            }
            panic!("finished before the freeze point ({status:?}): {err}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "freeze point never reached"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_killed(status, "");
}
