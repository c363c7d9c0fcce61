//! `songrec init-astra`: create the Astra DB collections.

use anyhow::{Context, Result};
use clap::Args;
use songrec_config::Config;
use songrec_factory as factory;

use crate::exit;

#[derive(Args, Debug)]
pub struct InitAstraArgs {
    /// Embedders whose vector collections to create: dsp, musicnn or both.
    #[arg(long, default_value = "both")]
    pub embedder: String,
}

/// `songrec init-astra`: applies `migrations/astra` idempotently.
pub async fn run(args: &InitAstraArgs, cfg: &Config) -> Result<u8> {
    let models = songrec_app::embedders::models_of_list(&args.embedder)?;
    let report = factory::init_astra(cfg, &models)
        .await
        .context("initialising the Astra collections")?;
    print!("{report}");
    Ok(exit::OK)
}
