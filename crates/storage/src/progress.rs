//! Progress of a long operation counted in steps: the one shape `migrate`, `reembed`, `sync`
//! and `dupes` report through (the CLI draws a bar with it).

/// Receives progress.
pub trait Progress: Send + Sync {
    /// Steps to do.
    fn start(&self, total: u64);
    /// Steps done since the last call.
    fn advance(&self, n: u64);
}

/// Ignores progress.
pub struct NoProgress;
impl Progress for NoProgress {
    fn start(&self, _: u64) {}
    fn advance(&self, _: u64) {}
}
