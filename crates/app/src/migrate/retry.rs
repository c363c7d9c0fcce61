//! The whole-run steps of a migration tried again while they fail transiently ([`again`]).

use std::time::Duration;

use songrec_storage::StorageError;

/// Runs `op` up to 4 times while it fails transiently (250 ms, 500 ms, 1 s apart). For the
/// whole-run steps (listings, model lists, flush, in-depth checks) whose failure would
/// otherwise end a long migration over one unlucky request after the client's own retries.
pub(crate) async fn again<T, F, Fut>(mut op: F) -> Result<T, StorageError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StorageError>>,
{
    let mut delay = Duration::from_millis(250);
    for _ in 0..3 {
        match op().await {
            Err(e) if e.is_transient() => {
                tracing::warn!(error = %e, ?delay, "transient failure; trying again");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            r => return r,
        }
    }
    op().await
}
