//! `songrec`: a thin command line over the songrec library crates. It parses arguments, builds a
//! backend from the configuration through the factory, calls the library and prints.

mod args;
mod cli;
mod commands;
mod config;
mod exit;
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
    let cli = Cli::parse();
    logging::init_logging(cli.global.verbose, cli.global.quiet);
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
            if e.downcast_ref::<UsageError>().is_some() {
                ExitCode::from(exit::USAGE)
            } else {
                ExitCode::from(exit::ERROR)
            }
        }
    }
}
