//! Comparing both sides after a migration.
//!
//! Every level compares the listings (counts, versions, content hashes of every song) and the
//! number of vectors per model. `sample` and `full` then check songs one by one: metadata
//! equal field by field, every vector equal bit for bit, and the audio read back from the
//! target, which verifies its SHA-256 against the song id on the way.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use futures::StreamExt as _;
use serde::Serialize;
use songrec_storage::plural::{count, noun};
use songrec_storage::{
    ModelInfo, SongId, SongMetadata, StorageBackend, StorageError, VersionEntry,
};

use super::retry::again;
use crate::AppResult;

/// How thoroughly to compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VerifyLevel {
    /// Listings and vector counts only (no per-song reads).
    Counts,
    /// Plus this many songs checked in depth (chosen by a seeded shuffle).
    Sample(usize),
    /// Every song checked in depth (reads all audio back).
    Full,
}

impl std::str::FromStr for VerifyLevel {
    type Err = crate::AppError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "counts" => Ok(Self::Counts),
            "sample" => Ok(Self::Sample(DEFAULT_SAMPLE)),
            "full" => Ok(Self::Full),
            other => match other.strip_prefix("sample:").map(str::parse::<usize>) {
                Some(Ok(n)) => Ok(Self::Sample(n)),
                _ => Err(crate::AppError::Invalid(format!(
                    "--verify {other:?}: use counts, sample, sample:N or full"
                ))),
            },
        }
    }
}

/// Songs checked in depth by `--verify sample`.
pub const DEFAULT_SAMPLE: usize = 32;

/// Vectors per model on both sides.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ModelCount {
    /// `name@version`.
    pub model: String,
    /// Vectors on the source.
    pub source: u64,
    /// Vectors on the target.
    pub target: u64,
}

/// One thing that differs for one song.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Difference {
    pub id: SongId,
    /// What differs, in words.
    pub what: String,
}

/// The result of comparing both sides.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct VerifyReport {
    /// Live songs on the source.
    pub source_songs: usize,
    /// Live songs on the target.
    pub target_songs: usize,
    /// Source songs the target has at the same or a newer version with the same content hash.
    pub matching: usize,
    /// Source songs missing on the target (or deleted there).
    pub missing: Vec<SongId>,
    /// Source songs at an older version on the target.
    pub older: Vec<SongId>,
    /// Songs whose content hash differs.
    pub hash_mismatch: Vec<SongId>,
    /// Live target songs the source does not have (not an error).
    pub extra_on_target: usize,
    /// Vector counts per source model.
    pub models: Vec<ModelCount>,
    /// Songs checked in depth.
    pub checked: usize,
    /// What the in-depth checks found.
    pub differences: Vec<Difference>,
    /// Songs the target already held at the same version (so not copied) whose metadata
    /// differs from the source's: each side ingested or edited them separately. Not a fault of
    /// the migration (`songrec sync` merges them), so not counted against a clean result.
    pub held_differently: Vec<Difference>,
}

impl VerifyReport {
    /// Whether the target holds every source song intact.
    pub fn is_clean(&self) -> bool {
        self.missing.is_empty()
            && self.older.is_empty()
            && self.hash_mismatch.is_empty()
            && self.differences.is_empty()
            && self.matching == self.source_songs
            && self.models.iter().all(|m| m.target >= m.source)
    }

    /// One line: `clean: 40/40 songs, 40 checked in depth` or what differs.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{}/{} source songs on the target with matching versions and content hashes",
            self.matching, self.source_songs
        );
        let differences = format!("{} in depth", noun(self.differences.len(), "difference"));
        let mut bad: Vec<String> = [
            (self.missing.len(), "missing"),
            (self.older.len(), "older on the target"),
            (self.hash_mismatch.len(), "content hash differs"),
            (self.differences.len(), differences.as_str()),
        ]
        .into_iter()
        .filter(|&(n, _)| n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        for m in self.models.iter().filter(|m| m.target < m.source) {
            bad.push(format!(
                "{}: {} on the target, {} on the source",
                m.model,
                count(m.target, "vector"),
                m.source
            ));
        }
        s += &format!("; {} checked in depth", count(self.checked, "song"));
        let held = self.held_differently.len();
        if held > 0 {
            let them = if held == 1 { "it" } else { "them" };
            let songs = count(held, "song");
            s += &format!(
                "; {songs} already on the target with other metadata (`songrec sync` merges {them})"
            );
        }
        if self.extra_on_target > 0 {
            s += &format!(
                "; {} more only on the target",
                count(self.extra_on_target, "song")
            );
        }
        if bad.is_empty() {
            format!("clean: {s}")
        } else {
            format!("NOT clean ({}): {s}", bad.join(", "))
        }
    }
}

/// Compares the two listings (pure).
pub fn compare_listings(source: &[VersionEntry], target: &[VersionEntry]) -> VerifyReport {
    let tgt: HashMap<&SongId, &VersionEntry> = target.iter().map(|v| (&v.id, v)).collect();
    let src_live: std::collections::HashSet<&SongId> = source
        .iter()
        .filter(|v| !v.deleted)
        .map(|v| &v.id)
        .collect();
    let mut r = VerifyReport {
        target_songs: target.iter().filter(|v| !v.deleted).count(),
        ..VerifyReport::default()
    };
    r.extra_on_target = target
        .iter()
        .filter(|v| !v.deleted && !src_live.contains(&v.id))
        .count();
    for v in source.iter().filter(|v| !v.deleted) {
        r.source_songs += 1;
        match tgt.get(&v.id) {
            Some(t) if !t.deleted && t.version >= v.version => {
                if t.content_hash == v.content_hash {
                    r.matching += 1;
                } else {
                    r.hash_mismatch.push(v.id.clone());
                }
            }
            Some(t) if !t.deleted => r.older.push(v.id.clone()),
            _ => r.missing.push(v.id.clone()),
        }
    }
    r
}

/// Names the metadata fields that differ (pure). Empty when equal.
pub fn metadata_diff(a: &SongMetadata, b: &SongMetadata) -> Vec<String> {
    if a == b {
        return Vec::new();
    }
    let as_map = |m: &SongMetadata| -> BTreeMap<String, serde_json::Value> {
        match serde_json::to_value(m) {
            Ok(serde_json::Value::Object(o)) => o.into_iter().collect(),
            _ => BTreeMap::new(),
        }
    };
    let (x, y) = (as_map(a), as_map(b));
    let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
    let diff: Vec<String> = keys
        .into_iter()
        .filter(|k| x.get(*k) != y.get(*k))
        .cloned()
        .collect();
    if diff.is_empty() {
        // Equal as JSON but not as values: a float that does not survive JSON exactly.
        vec!["(float precision)".into()]
    } else {
        diff
    }
}

/// Picks up to `n` of `ids` by a seeded shuffle (pure).
pub fn sample(ids: &[SongId], n: usize, seed: u64) -> Vec<SongId> {
    let mut keyed: Vec<(u64, &SongId)> = ids
        .iter()
        .map(|id| {
            let b = id.to_bytes();
            let mut k = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) ^ seed;
            // splitmix64 finaliser
            k = (k ^ (k >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            k = (k ^ (k >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            (k ^ (k >> 31), id)
        })
        .collect();
    keyed.sort();
    keyed
        .into_iter()
        .take(n)
        .map(|(_, id)| id.clone())
        .collect()
}

/// How [`check_song`] names a metadata difference.
const METADATA_DIFFERS: &str = "metadata differs: ";

/// Checks one song in depth; returns what differs.
async fn check_song(
    source: &dyn StorageBackend,
    target: &dyn StorageBackend,
    models: &[ModelInfo],
    id: &SongId,
    scratch: &Path,
) -> Result<Vec<String>, StorageError> {
    let sm = source.get_metadata(id).await?;
    let (Some(sm), Some(tm)) = (sm, target.get_metadata(id).await?) else {
        return Ok(vec!["metadata missing on one side".into()]);
    };
    let mut out = Vec::new();
    if tm.version == sm.version {
        let d = metadata_diff(&sm, &tm);
        if !d.is_empty() {
            out.push(format!("{METADATA_DIFFERS}{}", d.join(", ")));
        }
    }
    for m in models {
        let s = source.get_embedding(id, m).await?;
        let t = target.get_embedding(id, m).await?;
        match (s, t) {
            (Some(s), Some(t)) if s.vector != t.vector => {
                out.push(format!("{} vector differs", m.key()));
            }
            (Some(_), None) => out.push(format!("{} vector missing on the target", m.key())),
            _ => {}
        }
    }
    let key = sm.audio_key();
    if source.has_audio(&key).await? {
        let tmp = scratch.join(format!("{id}.verify"));
        let got = target.get_audio(&key, &tmp).await;
        let _ = std::fs::remove_file(&tmp);
        match got {
            Ok(_) => {}
            Err(StorageError::NotFound(_)) => out.push("audio missing on the target".into()),
            Err(StorageError::HashMismatch { actual, .. }) => {
                out.push(format!("audio on the target hashes to {actual}"));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// Compares both sides at `level`. `seed` chooses the sample. `held`: the songs the target
/// already held (the plan's [`Plan::held`](super::Plan::held)), whose metadata differences
/// are [`VerifyReport::held_differently`], not faults.
pub async fn verify(
    source: &dyn StorageBackend,
    target: &dyn StorageBackend,
    level: VerifyLevel,
    seed: u64,
    held: &[SongId],
    scratch: &Path,
) -> AppResult<VerifyReport> {
    let src = again(|| source.list_versions()).await?;
    let tgt = again(|| target.list_versions()).await?;
    let mut r = compare_listings(&src, &tgt);
    let src_models = again(|| source.models()).await?;
    let tgt_models = again(|| target.models()).await?;
    for m in &src_models {
        let same = tgt_models.iter().find(|t| t.model.same_model(&m.model));
        let (model, source, target) = (m.model.key(), m.count, same.map_or(0, |t| t.count));
        r.models.push(ModelCount {
            model,
            source,
            target,
        });
    }
    let live = src.iter().filter(|v| !v.deleted).map(|v| v.id.clone());
    let pick = match level {
        VerifyLevel::Counts => Vec::new(),
        VerifyLevel::Sample(n) => sample(&live.collect::<Vec<_>>(), n, seed),
        VerifyLevel::Full => live.collect(),
    };
    if pick.is_empty() {
        return Ok(r);
    }
    std::fs::create_dir_all(scratch).map_err(|e| StorageError::io(scratch, e))?;
    let models: Vec<ModelInfo> = src_models.into_iter().map(|s| s.model).collect();
    let results: Vec<(SongId, Result<Vec<String>, StorageError>)> =
        futures::stream::iter(pick.iter())
            .map(|id| {
                let models = &models;
                async move {
                    (
                        id.clone(),
                        again(|| check_song(source, target, models, id, scratch)).await,
                    )
                }
            })
            .buffer_unordered(8)
            .collect()
            .await;
    r.checked = results.len();
    let held: std::collections::HashSet<&SongId> = held.iter().collect();
    for (id, res) in results {
        match res {
            Ok(found) => {
                for what in found {
                    let list = if held.contains(&id) && what.starts_with(METADATA_DIFFERS) {
                        &mut r.held_differently
                    } else {
                        &mut r.differences
                    };
                    list.push(Difference {
                        id: id.clone(),
                        what,
                    });
                }
            }
            Err(e) => r.differences.push(Difference {
                id,
                what: format!("could not check: {e}"),
            }),
        }
    }
    for list in [&mut r.differences, &mut r.held_differently] {
        list.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()).then(a.what.cmp(&b.what)));
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(n: u8, version: u64, hash: &str, deleted: bool) -> VersionEntry {
        VersionEntry {
            id: SongId::from_bytes(&[n]),
            version,
            content_hash: hash.into(),
            deleted,
        }
    }

    #[test]
    fn listings_name_what_differs() {
        let src = [
            v(1, 1, "a", false),
            v(2, 3, "b", false),
            v(3, 1, "c", false),
            v(4, 1, "d", false),
            v(5, 2, "e", true),
            v(6, 1, "f", false),
        ];
        let tgt = [
            v(1, 1, "a", false),
            v(2, 2, "b", false),
            v(3, 1, "X", false),
            v(4, 1, "d", true),
            v(6, 4, "f", false),
            v(7, 1, "g", false),
        ];
        let r = compare_listings(&src, &tgt);
        assert_eq!(r.source_songs, 5);
        assert_eq!(r.target_songs, 5);
        assert_eq!(r.matching, 2, "1, and 6 at a newer version");
        assert_eq!(r.older, vec![SongId::from_bytes(&[2])]);
        assert_eq!(r.hash_mismatch, vec![SongId::from_bytes(&[3])]);
        assert_eq!(r.missing, vec![SongId::from_bytes(&[4])]);
        assert_eq!(r.extra_on_target, 1);
        assert!(!r.is_clean());
        let s = r.summary();
        assert!(
            s.starts_with("NOT clean (1 missing, 1 older on the target, 1 content hash differs)"),
            "{s}"
        );
        let same = compare_listings(&src, &src);
        assert!(same.is_clean(), "{}", same.summary());
        assert!(same.summary().starts_with("clean: 5/5"));
    }

    /// A song the target already held (at the same version, with other metadata) is reported,
    /// with what to do, but is no fault of the migration; the same difference in a song it
    /// copied is.
    #[test]
    fn songs_the_target_already_held_differently_are_reported_not_faults() {
        let src = [v(1, 1, "a", false)];
        let mut r = compare_listings(&src, &src);
        r.checked = 1;
        r.held_differently.push(Difference {
            id: SongId::from_bytes(&[1]),
            what: "metadata differs: created_at".into(),
        });
        assert!(r.is_clean(), "{}", r.summary());
        assert!(
            r.summary().contains(
                "1 song already on the target with other metadata (`songrec sync` merges it)"
            ),
            "{}",
            r.summary()
        );
        r.differences = std::mem::take(&mut r.held_differently);
        assert!(!r.is_clean());
        assert!(
            r.summary().starts_with("NOT clean (1 difference in depth)"),
            "{}",
            r.summary()
        );
    }

    #[test]
    fn model_counts_below_the_source_are_not_clean() {
        let mut r = compare_listings(&[], &[]);
        r.models.push(ModelCount {
            model: "dsp@1".into(),
            source: 3,
            target: 2,
        });
        assert!(!r.is_clean());
        assert!(
            r.summary()
                .contains("dsp@1: 2 vectors on the target, 3 on the source")
        );
    }

    #[test]
    fn metadata_diff_names_fields() {
        let a = SongMetadata::new(SongId::from_bytes(b"x"), "One");
        let mut b = a.clone();
        assert!(metadata_diff(&a, &b).is_empty());
        b.title = "Two".into();
        b.bpm = Some(120.0);
        assert_eq!(metadata_diff(&a, &b), vec!["bpm", "title"]);
    }

    #[test]
    fn sample_is_seeded_bounded_and_distinct() {
        let ids: Vec<SongId> = (0..100u8).map(|n| SongId::from_bytes(&[n])).collect();
        let a = sample(&ids, 10, 1);
        assert_eq!(a.len(), 10);
        assert_eq!(a, sample(&ids, 10, 1));
        assert_ne!(a, sample(&ids, 10, 2));
        let mut d = a.clone();
        d.sort_by(|x, y| x.as_str().cmp(y.as_str()));
        d.dedup();
        assert_eq!(d.len(), 10);
        assert_eq!(sample(&ids, 500, 1).len(), 100);
    }

    #[test]
    fn levels_parse() {
        assert_eq!(
            "counts".parse::<VerifyLevel>().unwrap(),
            VerifyLevel::Counts
        );
        assert_eq!(
            "sample".parse::<VerifyLevel>().unwrap(),
            VerifyLevel::Sample(DEFAULT_SAMPLE)
        );
        assert_eq!(
            "sample:5".parse::<VerifyLevel>().unwrap(),
            VerifyLevel::Sample(5)
        );
        assert_eq!("full".parse::<VerifyLevel>().unwrap(), VerifyLevel::Full);
        assert!("most".parse::<VerifyLevel>().is_err());
    }
}
