//! Log output on stderr: the filter `-v`/`-q`/`SONGREC_LOG` choose, colour only on a terminal.

/// The default log filter: songrec's own crates (every target starting with `songrec`) at
/// `warn`, third-party crates silent (symphonia logs "errors" about files the per-file report
/// already explains). `-v` adds songrec's `info` and the libraries' warnings, `-vv` everything
/// at `debug`; `-q` keeps songrec's errors only. `SONGREC_LOG` replaces the filter.
fn log_filter(verbose: u8, quiet: bool) -> &'static str {
    match (quiet, verbose) {
        (true, _) => "off,songrec=error",
        (_, 0) => "off,songrec=warn",
        (_, 1) => "warn,songrec=info",
        _ => "debug",
    }
}

/// Whether log lines get ANSI colour: only on a terminal, and never with `NO_COLOR` set.
fn colour_stderr() -> bool {
    std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

pub fn init_logging(verbose: u8, quiet: bool) {
    let filter = std::env::var("SONGREC_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .and_then(|v| tracing_subscriber::EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new(log_filter(verbose, quiet)));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour_stderr())
        .without_time()
        .try_init();
}
