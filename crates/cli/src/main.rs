//! `songrec`: a thin command line over the songrec library crates. It parses arguments, builds a
//! backend from the configuration through the factory, calls the library and prints.
// Help texts name config.toml sections in brackets ("[server] bind"), which are not links.
#![allow(rustdoc::broken_intra_doc_links)]

mod args;
mod cli;
mod commands;
mod config;
mod exit;
mod filter_args;
mod library;
mod logging;
mod output;
mod progress;
mod vectors;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::Cli;
use crate::exit::UsageError;

fn main() -> ExitCode {
    keep_freed_memory_for_reuse();
    end_quietly_on_a_closed_pipe();
    let cli = Cli::parse();
    logging::init_logging(cli.global.verbose, cli.global.quiet);
    progress::set_quiet(cli.global.quiet);
    // An unknown SONGREC_KERNELS, or a path this CPU cannot run, is refused before any work.
    match songrec_neural::KernelPath::from_env() {
        Ok(path) => tracing::debug!("kernels: {}", path.describe()),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(exit::USAGE);
        }
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::ERROR);
        }
    };
    match rt.block_on(cli::run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            if let Some(songrec_storage::StorageError::SongLimit(l)) = e
                .chain()
                .find_map(|c| c.downcast_ref::<songrec_storage::StorageError>())
            {
                eprintln!(
                    "hint: {:?} has {} {}; every backend keeps the cloud's limit of {} so that \
                     songs can move between them: make it smaller and try again",
                    l.field, l.actual, l.what, l.limit
                );
            }
            let usage = e.downcast_ref::<UsageError>().is_some();
            ExitCode::from(if usage { exit::USAGE } else { exit::ERROR })
        }
    }
}

/// `songrec list --json | head -1`: once the reader has gone, `println!` panics on EPIPE (Rust
/// ignores SIGPIPE). Like `cat` in the same pipeline, songrec then stops quietly with status 141
/// ([`exit::BROKEN_PIPE`]); other panics are reported as usual. (SIGPIPE is not restored to its
/// default: a write to a closed socket of the cloud clients or `serve` would kill the process.)
fn end_quietly_on_a_closed_pipe() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if is_closed_pipe(message) {
            std::process::exit(i32::from(exit::BROKEN_PIPE));
        }
        report(info);
    }));
}

/// glibc returns large freed blocks to the kernel at once (a block over the mmap threshold is its
/// own mapping; the heap's top is trimmed past 128 KiB), so each song's decoded audio (up to 16
/// MB) and buffers were faulted in afresh: about 7,000 page faults and 9 ms of system CPU a song,
/// 4 % of `ingest`'s CPU (`/usr/bin/time`, 12 songs: 0.17–0.21 s of system time, 0.08–0.09 with
/// this). Blocks below 32 MiB now come from the heap, and up to 128 MiB freed stays there for the
/// next song; the resident size stays what the largest song needs (98 → 100 MB).
fn keep_freed_memory_for_reuse() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only sets allocator parameters; called first thing in `main`, before
    // any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 << 20);
    }
}

/// Whether a panic message is the standard library's for printing to a closed stdout/stderr.
fn is_closed_pipe(message: &str) -> bool {
    (message.starts_with("failed printing to stdout")
        || message.starts_with("failed printing to stderr"))
        && message.to_ascii_lowercase().contains("broken pipe")
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_a_closed_pipe_ends_quietly() {
        use super::is_closed_pipe;
        assert!(is_closed_pipe(
            "failed printing to stdout: Broken pipe (os error 32)"
        ));
        assert!(is_closed_pipe(
            "failed printing to stderr: Broken pipe (os error 32)"
        ));
        assert!(!is_closed_pipe(
            "failed printing to stdout: No space left on device (os error 28)"
        ));
        assert!(!is_closed_pipe("index out of bounds: broken pipe"));
    }
}
