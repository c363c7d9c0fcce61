//! `songrec doctor`: check the Astra/S3 configuration before any work.

use anyhow::Result;
use songrec_config::Config;
use songrec_factory as factory;

use crate::exit;

/// `songrec doctor`: every check with what to fix; exit 1 if any failed.
pub async fn run(cfg: &Config) -> Result<u8> {
    let report = factory::astra_doctor(cfg).await;
    for c in &report.checks {
        println!("{c}");
    }
    Ok(if report.is_ok() {
        exit::OK
    } else {
        exit::ERROR
    })
}
