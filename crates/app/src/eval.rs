//! `songrec eval`: how well does `similar` find songs of the same kind? A labelled folder (label
//! = first sub-folder name under the root) is ingested into a scratch library with the chosen
//! embedders; then every song is a query, its neighbours come from the same [`crate::similar`]
//! code path `songrec similar` uses, and the share of same-label neighbours in the top 1, 5 and
//! 10 is averaged, per embedder and for the blend, next to what a random ranking would score.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use songrec_audio::Embedder;
use songrec_rank::{Question, Space};
use songrec_storage::{Ranking, SongId, StorageBackend};

use crate::ingest::{IngestOptions, Outcome, Progress};
use crate::similar::Target;
use crate::{AppError, AppResult};

/// The cut-offs reported.
pub const CUTOFFS: [usize; 3] = [1, 5, 10];

#[derive(Clone)]
pub struct EvalOptions {
    /// The labelled folder.
    pub folder: PathBuf,
    /// Embedders to ingest with and evaluate.
    pub embedders: Vec<Arc<dyn Embedder>>,
    /// Neural weights of the blends to evaluate (when both `musicnn` and `dsp` run).
    pub blends: Vec<f32>,
    /// Scratch library (reused across runs: files already ingested are not analysed again).
    pub work_dir: PathBuf,
    /// Parallel analysis jobs (0 = one per core).
    pub jobs: usize,
}

/// Precision of one way of ranking.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct EvalRow {
    /// `dsp`, `musicnn`, `blend 0.6` ...
    pub name: String,
    /// Mean same-label precision at 1, 5 and 10.
    pub precision: [f64; 3],
}

#[derive(Clone, Debug, Serialize)]
pub struct EvalReport {
    /// Songs evaluated (labelled, analysed).
    pub songs: usize,
    /// Songs per label.
    pub labels: Vec<(String, usize)>,
    /// Files that could not be analysed.
    pub failed: Vec<(PathBuf, String)>,
    /// Files whose content was already present under another path (counted once).
    pub duplicates: usize,
    /// Expected precision of a random ranking (the same at every cut-off).
    pub chance: f64,
    /// One row per embedder and blend.
    pub rows: Vec<EvalRow>,
}

/// The label of `file` under `root`: its first folder below the root (`None` for files directly
/// in the root).
pub fn label_of(root: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(root).ok()?;
    let mut parts = rel.components();
    let first = parts.next()?;
    parts.next()?;
    Some(first.as_os_str().to_string_lossy().into_owned())
}

/// Same-label precision at each of [`CUTOFFS`] for one query's ranked neighbour labels (pure).
/// A list shorter than a cut-off counts the missing places as misses.
pub fn precision_of(label: &str, ranked: &[&str]) -> [f64; 3] {
    CUTOFFS.map(|k| ranked.iter().take(k).filter(|l| **l == label).count() as f64 / k as f64)
}

/// Expected precision of a random ranking: mean over songs of (same-label others) / (others).
pub fn chance(label_sizes: &[usize]) -> f64 {
    let n: usize = label_sizes.iter().sum();
    if n < 2 {
        return 0.0;
    }
    label_sizes
        .iter()
        .map(|&c| c as f64 * (c.saturating_sub(1)) as f64 / (n - 1) as f64)
        .sum::<f64>()
        / n as f64
}

/// Ingests the folder and measures every ranking.
pub async fn evaluate(
    backend: &dyn StorageBackend,
    opts: &EvalOptions,
    progress: Arc<Progress>,
) -> AppResult<EvalReport> {
    if !opts.folder.is_dir() {
        return Err(AppError::Invalid(format!(
            "{} is not a folder; give a folder with one sub-folder per label",
            opts.folder.display()
        )));
    }
    let state_file = opts.work_dir.join("ingest-state.json");
    let ingest_opts = IngestOptions {
        batch_size: 64,
        state_file: Some(state_file.clone()),
        ..IngestOptions::new(opts.embedders.clone(), opts.jobs)
    };
    let folder = std::slice::from_ref(&opts.folder);
    let summary = crate::ingest::ingest(backend, folder, &ingest_opts, progress).await?;
    let mut labels: HashMap<SongId, String> = HashMap::new();
    let mut failed = Vec::new();
    let mut duplicates = 0;
    let state = crate::ingest::load_state(&state_file);
    for f in &summary.files {
        let id = match &f.outcome {
            Outcome::Added { id, .. }
            | Outcome::AlreadyInLibrary { id }
            | Outcome::Moved { id, .. }
            | Outcome::Retagged { id, .. } => Some(id.clone()),
            Outcome::Unchanged => state.get(&f.path).cloned(),
            Outcome::Failed { reason, .. } => {
                failed.push((f.path.clone(), reason.clone()));
                None
            }
            Outcome::Missing { .. } | Outcome::Removed { .. } | Outcome::Deleted { .. } => None,
        };
        let (Some(id), Some(label)) = (id, label_of(&opts.folder, &f.path)) else {
            continue;
        };
        let before = labels.len();
        labels.entry(id).or_insert(label);
        duplicates += usize::from(labels.len() == before);
    }
    if labels.len() < 2 {
        return Err(AppError::Invalid(format!(
            "{} has fewer than two labelled songs; put songs in one sub-folder per label",
            opts.folder.display()
        )));
    }
    let mut sizes: BTreeMap<String, usize> = BTreeMap::new();
    for l in labels.values() {
        *sizes.entry(l.clone()).or_default() += 1;
    }
    let chance = chance(&sizes.values().copied().collect::<Vec<_>>());

    // The rankings: each embedder alone, then the blends.
    // `None` = what `similar` does by default (`auto`: chosen per song).
    let model = |e: &Arc<dyn Embedder>| crate::embedders::model_of(e.as_ref());
    let mut rankings: Vec<(String, Option<Space>)> = opts
        .embedders
        .iter()
        .map(|e| {
            let name = crate::embedders::short_name(e.name()).to_owned();
            (name, Some(Space::from(model(e))))
        })
        .collect();
    let neural = opts.embedders.iter().find(|e| e.name() == "musicnn");
    let dsp = opts.embedders.iter().find(|e| e.name() == "songrec-dsp");
    if let (Some(n), Some(d)) = (neural, dsp) {
        for w in &opts.blends {
            let space = Space::blend(vec![(model(n), *w), (model(d), 1.0 - *w)]);
            rankings.push((format!("blend {w}"), Some(space)));
        }
        rankings.push(("auto".to_owned(), None));
    }
    let mut ids: Vec<SongId> = labels.keys().cloned().collect();
    ids.sort();
    let metas = backend.get_metadata_many(&ids).await?;
    let mut rows = Vec::new();
    let pool = crate::embedders::Pool::new(Default::default());
    for (name, space) in rankings {
        let mut sum = [0f64; 3];
        let mut n = 0usize;
        for m in &metas {
            let Some(label) = labels.get(&m.id) else {
                continue;
            };
            let target = Target::Song(Box::new(m.clone()));
            let space = match &space {
                Some(s) => s.clone(),
                None => {
                    let auto = &crate::similar::Choice::Auto;
                    crate::similar::choose_parts(backend, &target, auto, None).await?
                }
            };
            let ranking = Ranking::default();
            let q = Question { space, ranking };
            let matches = crate::similar::similar(backend, &target, &q, &pool).await?;
            let ranked: Vec<&str> = matches
                .iter()
                .map(|x| labels.get(&x.id).map_or("", String::as_str))
                .collect();
            let p = precision_of(label, &ranked);
            sum.iter_mut().zip(p).for_each(|(s, x)| *s += x);
            n += 1;
        }
        rows.push(EvalRow {
            name,
            precision: sum.map(|s| s / n.max(1) as f64),
        });
    }
    Ok(EvalReport {
        songs: labels.len(),
        labels: sizes.into_iter().collect(),
        failed,
        duplicates,
        chance,
        rows,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn doc_label_of() {
        use std::path::Path;
        let l = crate::eval::label_of(Path::new("/m"), Path::new("/m/jazz/a/b.mp3"));
        assert_eq!(l.as_deref(), Some("jazz"));
        assert_eq!(
            crate::eval::label_of(Path::new("/m"), Path::new("/m/b.mp3")),
            None
        );
    }

    #[test]
    fn doc_precision_of() {
        let p = crate::eval::precision_of("a", &["a", "b", "a", "a", "b"]);
        assert_eq!(p, [1.0, 0.6, 0.3]);
    }

    #[test]
    fn doc_chance() {
        assert!((crate::eval::chance(&[2, 2]) - 1.0 / 3.0).abs() < 1e-12);
    }
}
