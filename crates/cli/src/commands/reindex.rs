//! `songrec reindex`: rebuild the local vector index (packs and, for large models, the
//! approximate nearest-neighbour index) from the .npy files.

use anyhow::Result;
use songrec_config::Config;
use songrec_factory as factory;
use songrec_storage::plural::{count, noun};

use crate::exit;
use crate::progress::progress_bar;

/// `songrec reindex` options.
#[derive(clap::Args, Debug)]
pub struct ReindexArgs {
    /// Rebuild nothing: read every derived index file in full (vector packs against their
    /// checksums, approximate indexes' checksums and graphs), whatever this library's record
    /// of files already checked says, and name the damaged ones. Exits 3 if one is damaged.
    #[arg(long)]
    pub verify: bool,
}

pub async fn run(args: &ReindexArgs, cfg: &Config) -> Result<u8> {
    let local = factory::open_local_for_reindex(cfg)?;
    let library = factory::describe(cfg, songrec_config::BackendKind::Local);
    if args.verify {
        let (checked, damaged) = local.verify_index().await?;
        for e in &damaged {
            eprintln!("damaged: {e}");
        }
        if damaged.is_empty() {
            println!(
                "checked {} of the {library} in full: all sound",
                count(checked, "index file")
            );
            return Ok(exit::OK);
        }
        let (are, them) = if damaged.len() == 1 {
            ("is", "it")
        } else {
            ("are", "them")
        };
        println!(
            "{} of {checked} {} of the {library} {are} damaged: `songrec reindex` rebuilds {them} \
             from the library's vectors",
            damaged.len(),
            noun(checked, "index file"),
        );
        return Ok(exit::PARTIAL);
    }
    let bar = progress_bar(
        true,
        "{spinner} approximate index of {msg} {wide_bar} {pos}/{len} vectors, {elapsed} (eta {eta})",
    );
    let b = bar.clone();
    local
        .reindex_with_progress(move |model, done, total| {
            b.set_message(model.to_owned());
            b.set_length(total);
            b.set_position(done);
        })
        .await?;
    bar.finish_and_clear();
    println!("rebuilt the vector index of the {library}");
    Ok(exit::OK)
}
