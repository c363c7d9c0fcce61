//! [`fingerprint`]: what tells a cached view of the library (the map, the Subsonic catalog) that
//! the library changed.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use songrec_storage::StorageBackend;

use crate::error::ApiResult;

/// A fingerprint of the library's state: changes whenever a song is added, changed or deleted.
pub(crate) async fn fingerprint(b: &dyn StorageBackend) -> ApiResult<u64> {
    let mut v = b.list_versions().await?;
    v.sort_by(|a, b| a.id.cmp(&b.id));
    let mut h = DefaultHasher::new();
    for e in &v {
        (e.id.as_str(), e.version, e.deleted).hash(&mut h);
    }
    Ok(h.finish())
}
