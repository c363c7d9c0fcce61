//! The index manifest (`index/manifest.json`): what each model's pack and approximate index
//! are (build, committed length, checksums), so readers trust only what a writer committed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use songrec_storage::{StorageError, StorageResult};

use crate::ann_check::AnnQuantization;
use crate::layout::parse_json;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Manifest {
    pub(crate) packs: BTreeMap<String, PackEntry>,
    /// SHA-256 (first 16 hex digits) of `packs` as written: damage that still parses (a digit
    /// changed in a committed length) is caught. Recomputed on every write; absent in the
    /// manifests of older versions, which are trusted as before.
    #[serde(default)]
    check: Option<String>,
}

/// The checksum of a manifest's entries (see [`Manifest::check`]).
fn packs_check(packs: &BTreeMap<String, PackEntry>) -> String {
    use sha2::{Digest, Sha256};
    let bytes = serde_json::to_vec(packs).unwrap_or_default();
    hex::encode(&Sha256::digest(&bytes)[..8])
}

impl Serialize for Manifest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Manifest", 2)?;
        st.serialize_field("packs", &self.packs)?;
        st.serialize_field("check", &packs_check(&self.packs))?;
        st.end()
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct PackEntry {
    pub(crate) committed: usize,
    /// Modification time (ns) of the model's `.npy` folder when the pack was last brought in step.
    pub(crate) stamp: Option<u128>,
    /// Identity of this pack file (a fresh number per rebuild; 0 in manifests written before
    /// there were approximate indexes): record numbers mean something only within one build.
    #[serde(default)]
    pub(crate) build: u64,
    /// Identity of the pack file of this build (absent in manifests written before it was
    /// recorded): while a writer replaces the file, the new file is in place before the
    /// manifest names it, and a reader must not take it for the build the manifest describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) file: Option<u64>,
    /// CRC-32C of the pack's first `committed` bytes (the header's build field read as zero; see
    /// [`crate::pack`]), checked once per process before the pack is trusted. Absent in
    /// manifests written before it was recorded: such a pack is trusted as before, and gains
    /// one at its next append or rebuild.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) crc32c: Option<u32>,
    /// The approximate nearest-neighbour index over the first records of this pack, if any
    /// (see [`crate::ann`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) ann: Option<AnnEntry>,
}

impl Manifest {
    /// Parses the index manifest read with [`read_opt`]. The manifest is derived: a damaged one is
    /// reported and read as empty, so every pack is rebuilt from the `.npy` files (by the next
    /// process that can take the lock, or `songrec reindex`) instead of every command failing.
    pub(crate) fn parse(path: &std::path::Path, bytes: Option<&[u8]>) -> Self {
        parse_json::<Self>(path, bytes)
            .and_then(|m| match &m.check {
                Some(c) if *c != packs_check(&m.packs) => Err(StorageError::corrupt(
                    path,
                    "its checksum does not match its content",
                )),
                _ => Ok(m),
            })
            .unwrap_or_else(|e| {
                let why = match e {
                    StorageError::Corrupt { detail, .. } => detail,
                    other => other.to_string(),
                };
                tracing::warn!(
                    "ignoring the damaged index manifest {} ({why}): the vector index is \
                     rebuilt from the .npy files (now: `songrec reindex`)",
                    path.display()
                );
                Self::default()
            })
    }
}

impl AnnEntry {
    /// Checks the index file in `dir` in full: its CRC-32C against the recorded one and its
    /// graph's structure (`songrec reindex --verify`, whatever the shared record says).
    pub(crate) fn verify_in(&self, dir: &std::path::Path, dim: usize) -> StorageResult<()> {
        let path = dir.join(&self.file);
        if let Some(expect) = self.crc32c {
            let got = crate::integrity::file_crc(&path)?;
            if got != expect {
                return Err(crate::integrity::mismatch(&path, got, expect));
            }
        }
        crate::ann_check::check_file(&path, crate::ann_check::Expect::of(dim, self.quantization))
    }
}

/// What the index manifest records about a model's approximate index.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct AnnEntry {
    /// File name inside the index folder.
    pub(crate) file: String,
    /// The pack build whose record numbers are the keys.
    pub(crate) build: u64,
    /// Pack bytes covered: every live record before this offset is in the graph (except
    /// vectors of norm 0, which are scanned exactly).
    pub(crate) covered: usize,
    /// Vectors in the graph.
    pub(crate) count: usize,
    /// File length.
    pub(crate) bytes: u64,
    /// SHA-256 of the file's length, first and last 64 KiB (hex).
    pub(crate) check: String,
    /// CRC-32C of the whole file, checked once per process (per file identity) before it is
    /// mapped. Absent in manifests written before it was recorded: such an index is checked as
    /// before (length, sampled hash, graph structure) and gains one at the writer's next
    /// append or the next rebuild.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) crc32c: Option<u32>,
    /// Every indexed vector has norm 1 (± 1e-3): dot products rank like cosines.
    pub(crate) unit_norm: bool,
    pub(crate) quantization: AnnQuantization,
}
