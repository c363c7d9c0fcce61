//! `songrec reindex`: rebuild the local vector index (packs and, for large models, the
//! approximate nearest-neighbour index) from the .npy files.

use anyhow::Result;
use songrec_config::Config;
use songrec_factory as factory;

use crate::exit;
use crate::progress::progress_bar;

/// `songrec reindex`.
pub async fn run(cfg: &Config) -> Result<u8> {
    let local = factory::open_local_for_reindex(cfg)?;
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
    println!("rebuilt the vector index of {local}");
    Ok(exit::OK)
}
