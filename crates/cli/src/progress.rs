//! Progress bars on stderr: the one look every long command shares, with an honest ETA.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use songrec_app::ingest::{FileReport, Outcome};
use songrec_storage::Progress;

/// Draws an indicatif bar on stderr and prints failures as they happen.
pub(crate) struct Bar {
    pub(crate) bar: ProgressBar,
    pub(crate) json: bool,
    pub(crate) lock: Mutex<()>,
    /// Set on Ctrl-C (see [`stop_on_ctrl_c`]): no new file is started.
    pub(crate) stop: Option<std::sync::Arc<AtomicBool>>,
}

impl Progress<FileReport> for Bar {
    fn start(&self, total: u64) {
        self.bar.set_length(total);
    }
    fn advance(&self, n: u64) {
        self.bar.inc(n);
    }
    fn finished(&self, r: &FileReport) {
        let _g = self.lock.lock();
        self.bar.inc(1);
        if self.json {
            if let Ok(line) = serde_json::to_string(r) {
                self.bar.suspend(|| println!("{line}"));
            }
            return;
        }
        for line in report_lines(r) {
            self.bar.println(line);
        }
        if let Outcome::Retagged { title, .. } | Outcome::Added { title, .. } = &r.outcome {
            self.bar.set_message(title.clone());
        }
    }
    fn stopped(&self) -> bool {
        self.stop
            .as_ref()
            .is_some_and(|s| s.load(Ordering::Relaxed))
    }
}

/// What a file's report says to the user: a failure, a missing or removed file, warnings.
pub(crate) fn report_lines(r: &FileReport) -> Vec<String> {
    let path = r.path.display();
    match &r.outcome {
        Outcome::Failed { reason, .. } => vec![format!("skipped: {reason}")],
        Outcome::Missing { title, .. } => vec![format!("missing: {path} ({title})")],
        Outcome::Removed { title, .. } => {
            vec![format!(
                "removed from the library: {title} ({path} is gone)"
            )]
        }
        Outcome::Added { warnings, .. } => warnings
            .iter()
            .map(|w| format!("warning: {path}: {w}"))
            .collect(),
        _ => Vec::new(),
    }
}

/// The flag a first Ctrl-C sets (the command finishes the work in hand, says what was done and
/// exits [`crate::exit::INTERRUPTED`]); a second Ctrl-C exits 130 at once. Without this, Ctrl-C
/// ends the process at once (every write is atomic, so nothing is half-written either way).
pub(crate) fn stop_on_ctrl_c(bar: &ProgressBar) -> std::sync::Arc<AtomicBool> {
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let (flag, bar) = (stop.clone(), bar.clone());
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        flag.store(true, Ordering::Relaxed);
        bar.suspend(|| {
            eprintln!("stopping: finishing the files in hand (Ctrl-C again to quit at once)");
        });
        if tokio::signal::ctrl_c().await.is_ok() {
            bar.abandon();
            eprintln!();
            std::process::exit(i32::from(crate::exit::INTERRUPTED));
        }
    });
    stop
}

/// Whether `-q` was given: no plain progress lines (see [`progress_bar`]).
static QUIET: AtomicBool = AtomicBool::new(false);

/// Called once from `main` with `-q`.
pub(crate) fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// How often a plain progress line is printed when stderr is not a terminal.
const PLAIN_EVERY: Duration = Duration::from_secs(10);

/// Test hook: the plain lines' interval in milliseconds instead of [`PLAIN_EVERY`], so that a
/// test sees them on a job of a few seconds. Only shorter intervals are taken: the promise of
/// a line at least every 10 s holds whatever it says.
const PLAIN_EVERY_ENV: &str = "SONGREC_TEST_PROGRESS_EVERY_MS";

/// A progress bar on stderr when it is a terminal (and `wanted`), else a hidden one.
///
/// It ticks on its own; its `{eta}` is elapsed / done × left, shown once something is done
/// (indicatif's estimate from the latest steps said "2m" for a 7 s ingest).
///
/// When stderr is not a terminal (a pipe, a log file, a service's journal) and the bar is
/// `wanted` (and no `-q`), the hidden bar is read every 10 s by a thread of its own that prints
/// one plain line: "progress: 120/4000 files, 3.2/s, about 20m11s left" (no colour, no carriage
/// return); a job shorter than that prints none. The thread ends when the bar is finished or
/// dropped.
pub(crate) fn progress_bar(wanted: bool, template: &str) -> ProgressBar {
    if !wanted || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        let bar = ProgressBar::hidden();
        if wanted && !QUIET.load(Ordering::Relaxed) {
            print_plain_lines(&bar, unit_of(template));
        }
        return bar;
    }
    // No length until the work is counted: `{pos}/{len}` reads "counting…" (not "0/0") and the
    // bar is empty (a length of 0 would draw it full).
    let b = ProgressBar::no_length();
    let template = template.replace("{pos}/{len}", "{counts}");
    b.set_style(
        ProgressStyle::with_template(&template)
            .map(|s| {
                s.with_key("eta", eta_from_work_done)
                    .with_key("counts", counts)
                    .with_key("per_sec", per_sec)
            })
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    b.enable_steady_tick(std::time::Duration::from_millis(150));
    b
}

/// The interval of plain lines: [`PLAIN_EVERY`], or the test hook's shorter one.
fn plain_every() -> Duration {
    std::env::var(PLAIN_EVERY_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|ms| Duration::from_millis(ms.max(1)))
        .filter(|d| *d < PLAIN_EVERY)
        .unwrap_or(PLAIN_EVERY)
}

/// What a bar counts, from its template: "files" in "{pos}/{len} files, eta {eta}"; empty
/// when the template names nothing.
fn unit_of(template: &str) -> String {
    template
        .split_once("{pos}/{len}")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .map(|w| w.trim_matches(|c: char| !c.is_alphabetic()).to_owned())
        .unwrap_or_default()
}

/// Starts the thread that prints `bar`'s plain lines (see [`progress_bar`]). It holds only a
/// weak reference between lines, so it never keeps a bar alive; a line that cannot be written
/// (stderr closed) ends it quietly.
fn print_plain_lines(bar: &ProgressBar, unit: String) {
    use std::io::Write;
    let weak = bar.downgrade();
    let every = plain_every();
    let spawned = std::thread::Builder::new()
        .name("progress-lines".into())
        .spawn(move || {
            loop {
                std::thread::sleep(every);
                let Some(bar) = weak.upgrade() else { return };
                if bar.is_finished() {
                    return;
                }
                let line = plain_line(
                    bar.position(),
                    bar.length(),
                    bar.elapsed().as_secs_f64(),
                    &unit,
                );
                if writeln!(std::io::stderr(), "{line}").is_err() {
                    return;
                }
            }
        });
    if let Err(e) = spawned {
        // Progress lines are a courtesy: the work goes on without them.
        tracing::debug!("no progress lines: cannot start their thread: {e}");
    }
}

/// One plain progress line: "progress: 120/4000 files, 3.2/s, about 20m11s left"; before the
/// work is counted "progress: counting files… (1m10s in)"; before the first is done
/// "progress: 0/4000 files, none done yet (1m10s in)".
fn plain_line(done: u64, total: Option<u64>, elapsed_secs: f64, unit: &str) -> String {
    let unit = if unit.is_empty() {
        String::new()
    } else {
        format!(" {unit}")
    };
    let elapsed = duration_text(elapsed_secs);
    match total.filter(|t| *t > 0) {
        None if done == 0 => format!("progress: counting{unit}… ({elapsed} in)"),
        None => format!(
            "progress: {done}{unit} so far, {}, counting the rest",
            rate_text(done as f64 / elapsed_secs)
        ),
        Some(total) if done == 0 => {
            format!("progress: 0/{total}{unit}, none done yet ({elapsed} in)")
        }
        Some(total) => format!(
            "progress: {done}/{total}{unit}, {}, about {} left",
            rate_text(done as f64 / elapsed_secs),
            eta_text(done, Some(total), elapsed_secs)
        ),
    }
}

fn counts(state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write) {
    let _ = match state.len() {
        Some(len) if len > 0 => write!(w, "{}/{len}", state.pos()),
        _ => w.write_str("counting…"),
    };
}

fn per_sec(state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write) {
    let _ = w.write_str(&rate_text(state.per_sec()));
}

/// A rate for people: "47/s", "3.5/s", "0.25/s" (not indicatif's "47.3786/s").
fn rate_text(per_sec: f64) -> String {
    if !per_sec.is_finite() || per_sec <= 0.0 {
        "…/s".to_owned()
    } else if per_sec >= 10.0 {
        format!("{per_sec:.0}/s")
    } else if per_sec >= 1.0 {
        format!("{per_sec:.1}/s")
    } else {
        format!("{per_sec:.2}/s")
    }
}

fn eta_from_work_done(state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write) {
    let _ = w.write_str(&eta_text(
        state.pos(),
        state.len(),
        state.elapsed().as_secs_f64(),
    ));
}

/// "…" until something is done, then elapsed / done × left, e.g. "12s", "3m05s".
fn eta_text(done: u64, total: Option<u64>, elapsed_secs: f64) -> String {
    let Some(total) = total.filter(|_| done > 0) else {
        return "…".to_owned();
    };
    duration_text(total.saturating_sub(done) as f64 * elapsed_secs / done as f64)
}

/// Seconds for people: "12s", "3m05s", "2h46m".
fn duration_text(secs: f64) -> String {
    let secs = secs.round() as u64;
    if secs < 60 {
        format!("{secs}s")
    } else if secs < 3600 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{}h{:02}m", secs / 3600, secs % 3600 / 60)
    }
}

/// A bar for work counted in steps (`migrate`, `reembed`, `sync`, `dupes`).
pub(crate) struct StepBar(pub(crate) ProgressBar);
impl Progress for StepBar {
    fn start(&self, total: u64) {
        self.0.set_length(total);
    }
    fn advance(&self, n: u64) {
        self.0.inc(n);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn eta_follows_the_work_done() {
        use super::eta_text;
        assert_eq!(eta_text(0, Some(18), 7.0), "…", "nothing done: no guess");
        // 9 of 18 files in 7 s: 7 s more, whatever the first file took.
        assert_eq!(eta_text(9, Some(18), 7.0), "7s");
        assert_eq!(eta_text(1, Some(18), 7.0), "1m59s");
        assert_eq!(eta_text(18, Some(18), 7.0), "0s");
        assert_eq!(eta_text(1, Some(1000), 10.0), "2h46m");
        assert_eq!(eta_text(5, None, 1.0), "…");
    }

    #[test]
    fn plain_lines_say_done_total_rate_and_time_left() {
        use super::{plain_line, unit_of};
        assert_eq!(
            plain_line(120, Some(4000), 40.0, "files"),
            "progress: 120/4000 files, 3.0/s, about 21m33s left"
        );
        assert_eq!(
            plain_line(0, None, 70.0, "files"),
            "progress: counting files… (1m10s in)"
        );
        assert_eq!(
            plain_line(0, Some(18), 12.0, "songs"),
            "progress: 0/18 songs, none done yet (12s in)"
        );
        assert_eq!(
            plain_line(5, None, 10.0, ""),
            "progress: 5 so far, 0.50/s, counting the rest"
        );
        for line in [
            plain_line(3, Some(9), 0.0, "steps"),
            plain_line(9, Some(9), 4.0, ""),
        ] {
            assert!(!line.contains(['\r', '\x1b']), "{line:?}");
        }
        assert_eq!(
            unit_of("{bar:30} {pos}/{len} files, eta {eta} {wide_msg}"),
            "files"
        );
        assert_eq!(unit_of("{bar:30} {pos}/{len}, eta {eta}"), "");
        assert_eq!(unit_of("{wide_bar}"), "");
    }

    #[test]
    fn rates_have_few_digits() {
        use super::rate_text;
        assert_eq!(rate_text(47.3786), "47/s");
        assert_eq!(rate_text(3.54), "3.5/s");
        assert_eq!(rate_text(0.254), "0.25/s");
        assert_eq!(rate_text(0.0), "…/s");
        assert_eq!(rate_text(f64::NAN), "…/s");
    }
}
