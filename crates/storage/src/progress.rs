//! Progress of a long operation: counted in steps (`Progress`), or in items that each carry a
//! report (`Progress<Report>`).
//!
//! ```
//! use songrec_storage::{NoProgress, Progress};
//! let steps: &dyn Progress = &NoProgress;
//! steps.start(3);
//! steps.advance(2);
//! let files: &dyn Progress<String> = &NoProgress;
//! files.finished(&"a.mp3".to_owned());
//! assert!(!files.stopped());
//! ```

/// Receives progress; `T` is what each finished item reports.
pub trait Progress<T: ?Sized = ()>: Send + Sync {
    /// Steps (or items) to do.
    fn start(&self, total: u64);
    /// Steps done since the last call.
    fn advance(&self, n: u64);
    /// One item finished, with its report (by default: one step).
    fn finished(&self, _item: &T) {
        self.advance(1);
    }
    /// Whether to stop (e.g. the user pressed Ctrl-C): no new item is started, the items in
    /// hand are finished and stored. Checked before each item.
    fn stopped(&self) -> bool {
        false
    }
}

/// Parallel jobs for a `--jobs`-style setting: `jobs`, or one per core when it is 0.
pub fn jobs_or_cores(jobs: usize) -> usize {
    match jobs {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    }
}

pub struct NoProgress;

impl<T: ?Sized> Progress<T> for NoProgress {
    fn start(&self, _: u64) {}
    fn advance(&self, _: u64) {}
}
