//! Progress bars on stderr: the one look every long command shares, with an honest ETA.

use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};
use songrec_app::ingest::{FileReport, Outcome, Progress};

/// Draws an indicatif bar on stderr and prints failures as they happen.
pub(crate) struct Bar {
    pub(crate) bar: ProgressBar,
    pub(crate) json: bool,
    pub(crate) lock: Mutex<()>,
}

impl Progress for Bar {
    fn start(&self, total: u64) {
        self.bar.set_length(total);
    }
    fn file_done(&self, r: &FileReport) {
        let _g = self.lock.lock();
        self.bar.inc(1);
        if self.json {
            if let Ok(line) = serde_json::to_string(r) {
                self.bar.suspend(|| println!("{line}"));
            }
            return;
        }
        match &r.outcome {
            Outcome::Failed { reason, .. } => self.bar.println(format!("skipped: {reason}")),
            Outcome::Added {
                title, warnings, ..
            } => {
                for w in warnings {
                    self.bar
                        .println(format!("warning: {}: {w}", r.path.display()));
                }
                self.bar.set_message(title.clone());
            }
            _ => {}
        }
    }
}

/// A progress bar on stderr when it is a terminal (and `wanted`), else a hidden one.
///
/// It ticks on its own (spinner and elapsed time move while files are in flight), and its
/// `{eta}` is the work left at the average pace of the work done so far (elapsed / done ×
/// left), shown once something is done: not indicatif's estimate from the latest steps, which
/// said "2m" for a 7 s ingest whose first files all finished at once.
pub(crate) fn progress_bar(wanted: bool, template: &str) -> ProgressBar {
    if !wanted || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::new(0);
    b.set_style(
        ProgressStyle::with_template(template)
            .map(|s| s.with_key("eta", eta_from_work_done))
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    b.enable_steady_tick(std::time::Duration::from_millis(150));
    b
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
    let Some(total) = total else {
        return "…".to_owned();
    };
    if done == 0 {
        return "…".to_owned();
    }
    let left = total.saturating_sub(done) as f64 * elapsed_secs / done as f64;
    let secs = left.round() as u64;
    if secs < 60 {
        format!("{secs}s")
    } else if secs < 3600 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{}h{:02}m", secs / 3600, secs % 3600 / 60)
    }
}

/// A bar for work counted in songs (`migrate`, `reembed`).
pub(crate) struct MigrateBar(pub(crate) ProgressBar);
impl songrec_app::migrate::MigrateProgress for MigrateBar {
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
}
