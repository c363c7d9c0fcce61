//! Exit codes (also in the README), and the error that exits with the usage code.

/// Everything worked.
pub const OK: u8 = 0;
/// The command failed.
pub const ERROR: u8 = 1;
/// Usage error (clap's own).
pub const USAGE: u8 = 2;
/// The command finished but some files failed (ingest) or songs failed (sync, migrate).
pub const PARTIAL: u8 = 3;
/// Sync finished; conflicts were resolved by the policy and need a look.
pub const CONFLICTS: u8 = 4;
/// Refused by a safety rail (sync: delete limit, empty listing, lease held elsewhere).
pub const REFUSED: u8 = 5;

/// Stopped by Ctrl-C (128 + SIGINT, what a shell reports for a process SIGINT ended).
pub const INTERRUPTED: u8 = 130;
/// Stdout (or stderr) was closed by the reader, e.g. `songrec list --json | head -1`: the
/// output ends there quietly with 141 (128 + SIGPIPE), the status a shell reports for `cat`
/// or `seq` in the same pipeline; nothing is printed.
pub const BROKEN_PIPE: u8 = 141;

/// [`OK`] when `ok`, else `code`.
pub fn ok_or(ok: bool, code: u8) -> u8 {
    if ok { OK } else { code }
}

/// A command line that parsed but cannot mean anything (exit code 2, like clap's own errors).
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}
