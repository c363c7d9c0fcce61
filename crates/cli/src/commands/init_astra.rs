//! `songrec init-astra`: create the Astra DB collections.

use anyhow::{Context, Result};
use clap::Args;
use songrec_config::Config;
use songrec_factory as factory;

use crate::exit;

#[derive(Args, Debug)]
pub struct InitAstraArgs {
    /// Embedders whose vector collections to create: mix (the default: one collection beside
    /// the songs'), dsp, musicnn, aisfx, both (musicnn and dsp) or a comma list.
    #[arg(long, default_value = "mix")]
    pub embedder: String,
    /// Collections the database allows (5 on older Astra databases, 10 on newer ones): checked
    /// before anything is created. Without it, a refusal by the server is explained.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub max_collections: Option<u16>,
}

/// `songrec init-astra`: applies `migrations/astra` idempotently.
pub async fn run(args: &InitAstraArgs, cfg: &Config) -> Result<u8> {
    let models = songrec_app::embedders::models_of_list(&args.embedder)?;
    let report = factory::init_astra(cfg, &models, args.max_collections.map(usize::from))
        .await
        .context("initialising the Astra collections")?;
    print!("{report}");
    Ok(exit::OK)
}
