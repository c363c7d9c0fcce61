//! Which vectors a query compares: the user's [`Choice`] (`auto`, an embedder, stored vectors
//! of a model, a blend), turned into the [`Space`] of a target ([`choose_parts`]) or of a
//! whole-library ranking ([`choose_space`]).

use songrec_rank::{Part, Space};
use songrec_storage::{ModelInfo, ModelStats, SongId, SongMetadata, StorageBackend};

use super::query::Target;
use crate::{AppError, AppResult};

/// Which vectors a query compares, as the user asked for them.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Choice {
    /// The default's vectors when every song has them; else musicnn and DSP blended
    /// ([`auto_weight`]) where the song has both, else the one it has.
    #[default]
    Auto,
    /// One embedder's vectors, by name (`dsp`, `musicnn`).
    Embedder(String),
    /// Stored vectors of a model by `NAME@VERSION` (e.g. `legacy@0`).
    Model(String),
    /// Neural weight `w` and DSP weight `1 - w`.
    Blend(f32),
}

/// The neural weight of `--blend` / `both` without a weight (the seed plan's 0.6 / 0.4).
pub const DEFAULT_BLEND: f32 = 0.6;

/// One embedder's part (its model only: the embedders a file needs start later).
fn part(name: &str, weight: f32) -> AppResult<Part> {
    let model = crate::embedders::model_by_name(name)?;
    Ok(Part { model, weight })
}

/// Whether `target` has vectors of `m` (a file is analysed for whichever it is asked).
async fn has(backend: &dyn StorageBackend, target: &Target, m: &ModelInfo) -> AppResult<bool> {
    Ok(match target {
        Target::Song(s) => backend.get_embedding(&s.id, m).await?.is_some(),
        Target::File(_) => true,
    })
}

/// The library's default vectors while they answer: the current mix's when every song has
/// them, else a previous mix's when it answers ([`crate::embedders::previous_mix`]).
fn defaults(stats: &[ModelStats]) -> [(&'static str, bool); 2] {
    use crate::embedders::{DEFAULT, PREVIOUS_DEFAULTS, default_is_complete, previous_mix};
    let previous = previous_mix(stats);
    [
        (DEFAULT, default_is_complete(stats)),
        (previous.unwrap_or(PREVIOUS_DEFAULTS[0]), previous.is_some()),
    ]
}

/// The neural weight `auto` gives a song of this duration: [`AUTO_BLEND_SHORT`] for clips
/// shorter than [`SHORT_CLIP_SECS`] (one-shots, short loops: the DSP attack and envelope
/// features carry more there), else [`AUTO_BLEND`]. Unknown durations (0) count as songs.
pub fn auto_weight(duration_secs: f64) -> f32 {
    if duration_secs > 0.0 && duration_secs < SHORT_CLIP_SECS {
        AUTO_BLEND_SHORT
    } else {
        AUTO_BLEND
    }
}

/// Below this duration a song is a short clip for [`auto_weight`].
pub const SHORT_CLIP_SECS: f64 = 5.0;

/// `auto`'s neural weight for songs: the best p@5 of `songrec eval` on real soundtracks, and
/// the pick of 6 in 7 leave-one-set-out folds (`scripts/eval/neural_quality.py`).
pub const AUTO_BLEND: f32 = 0.7;

/// `auto`'s neural weight for short clips (drum one-shots, samples, notes): no other weight
/// beats it on held-out sets beyond the bootstrap noise.
pub const AUTO_BLEND_SHORT: f32 = 0.4;

/// Turns a [`Choice`] into the parts (models and weights) of the space compared for this
/// library and target: the one code path of every door. `models`: the library's models when
/// the caller has read them already (else read here if needed).
pub async fn choose_parts(
    backend: &dyn StorageBackend,
    target: &Target,
    choice: &Choice,
    models: Option<&[ModelStats]>,
) -> AppResult<Space> {
    let read_models = || async {
        Ok::<_, AppError>(match models {
            Some(m) => m.to_vec(),
            None => backend.models().await?,
        })
    };
    match choice {
        Choice::Embedder(name) => Ok(Space::from(crate::embedders::model_by_name(name)?)),
        Choice::Model(key) => {
            let models = read_models().await?;
            if let Some(s) = models.iter().find(|s| s.model.key() == *key) {
                return Ok(Space::from(s.model.clone()));
            }
            let have: Vec<String> = models.iter().map(|s| s.model.key()).collect();
            let have = if have.is_empty() {
                "none".to_owned()
            } else {
                have.join(", ")
            };
            let why = format!("the library has no vectors of model {key:?}; it has: {have}");
            Err(AppError::UnknownModel(why))
        }
        Choice::Blend(w) => Ok(Space {
            parts: vec![part("musicnn", *w)?, part("dsp", 1.0 - *w)?],
        }),
        Choice::Auto => {
            let stats = read_models().await?;
            for (name, answers) in defaults(&stats) {
                let m = crate::embedders::model_by_name(name)?;
                if answers && has(backend, target, &m).await? {
                    return Ok(Space::from(m));
                }
            }
            let have: Vec<ModelInfo> = stats.into_iter().map(|s| s.model).collect();
            let w = match target {
                Target::Song(s) => auto_weight(s.duration_secs),
                Target::File(_) => AUTO_BLEND,
            };
            let mut parts = Vec::new();
            for (name, w) in [("musicnn", w), ("dsp", 1.0 - w)] {
                let p = part(name, w)?;
                if have.contains(&p.model) && has(backend, target, &p.model).await? {
                    parts.push(p);
                }
            }
            if !parts.is_empty() {
                return Ok(Space { parts });
            }
            // Neither live embedder's vectors: any stored model the song has (e.g. legacy@0).
            if let Target::Song(_) = target {
                for m in have {
                    if has(backend, target, &m).await? {
                        return Ok(Space::from(m));
                    }
                }
            }
            match target {
                Target::Song(s) => Err(AppError::Resolve(format!(
                    "{} ({}) has no vectors; re-ingest it or run `songrec reembed`",
                    s.display_name(),
                    s.id.short()
                ))),
                Target::File(_) => Err(AppError::Invalid(
                    "the library has no vectors of an embedder this build can run; ingest some songs first".into(),
                )),
            }
        }
    }
}

/// The [`Space`] a whole-library ranking compares (playlists, map, clusters, outliers): the
/// same choice as [`choose_parts`] for `seed` when there is one (so a playlist and `similar`
/// of one song compare the same vectors with the same weights), else, for `auto`, musicnn and
/// DSP blended with [`AUTO_BLEND`] where the library holds both (the one it holds otherwise).
pub async fn choose_space(
    backend: &dyn StorageBackend,
    choice: &Choice,
    seed: Option<&SongMetadata>,
) -> AppResult<Space> {
    if let Some(s) = seed {
        let target = Target::Song(Box::new(s.clone()));
        return choose_parts(backend, &target, choice, None).await;
    }
    if *choice != Choice::Auto {
        // Stored vectors need no song: a stand-in is enough.
        let target = Target::Song(Box::new(SongMetadata::new(SongId::from_bytes(b""), "")));
        return choose_parts(backend, &target, choice, None).await;
    }
    let stats = backend.models().await?;
    if let Some((name, _)) = defaults(&stats).into_iter().find(|d| d.1) {
        return Ok(Space::from(crate::embedders::model_by_name(name)?));
    }
    let mut parts = Vec::new();
    for (name, w) in [("musicnn", AUTO_BLEND), ("dsp", 1.0 - AUTO_BLEND)] {
        let m = crate::embedders::model_by_name(name)?;
        if stats.iter().any(|s| s.count > 0 && s.model == m) {
            parts.push((m, w));
        }
    }
    if parts.is_empty() {
        // Neither live embedder's vectors: the stored model with the most songs.
        let best = stats
            .into_iter()
            .filter(|s| s.count > 0)
            .max_by_key(|s| s.count);
        return best.map(|s| Space::from(s.model)).ok_or_else(|| {
            AppError::Invalid("the library holds no vectors yet; ingest some songs first".into())
        });
    }
    Ok(Space::blend(parts))
}

impl Choice {
    /// The choice of the options every door offers (`--embedder`/`--blend`/`--model` of the
    /// CLI, `embedder`/`blend`/`model` of the REST API): `model` wins over `embedder`, `blend`
    /// over `embedder`; no option at all is `auto`.
    pub fn from_options(
        embedder: Option<&str>,
        blend: Option<f32>,
        model: Option<&str>,
    ) -> AppResult<Self> {
        match (model, blend) {
            (Some(_), Some(_)) => Err(AppError::Invalid(
                "give either a model (NAME@VERSION of stored vectors) or a blend weight, not both"
                    .into(),
            )),
            (Some(m), None) => Ok(Choice::Model(m.trim().to_owned())),
            (None, Some(w)) if !(0.0..=1.0).contains(&w) => Err(AppError::Invalid(format!(
                "the blend takes the neural weight between 0 and 1, not {w}"
            ))),
            (None, Some(w)) => Ok(Choice::Blend(w)),
            (None, None) => embedder.unwrap_or("auto").parse(),
        }
    }
}

impl std::str::FromStr for Choice {
    type Err = AppError;
    /// `auto`, `dsp`, `musicnn`, or `blend` / `blend:0.7` (a weight between 0 and 1).
    fn from_str(s: &str) -> AppResult<Self> {
        let t = s.trim().to_ascii_lowercase();
        if t == "auto" || t.is_empty() {
            return Ok(Choice::Auto);
        }
        if t == "blend" || t == "both" {
            return Ok(Choice::Blend(DEFAULT_BLEND));
        }
        if let Some(w) = t.strip_prefix("blend:") {
            let bad = |_| AppError::Invalid(format!("bad blend weight {w:?}"));
            return Choice::from_options(None, Some(w.parse().map_err(bad)?), None);
        }
        if t.contains('@') {
            return Ok(Choice::Model(s.trim().to_owned()));
        }
        Ok(Choice::Embedder(t))
    }
}

#[cfg(test)]
mod choice_tests {
    use super::*;

    #[test]
    fn parses_choices() {
        assert_eq!("auto".parse::<Choice>().unwrap(), Choice::Auto);
        assert_eq!(
            "DSP".parse::<Choice>().unwrap(),
            Choice::Embedder("dsp".into())
        );
        assert_eq!(
            "both".parse::<Choice>().unwrap(),
            Choice::Blend(DEFAULT_BLEND)
        );
        assert_eq!("blend:0.3".parse::<Choice>().unwrap(), Choice::Blend(0.3));
        assert_eq!(
            "legacy@0".parse::<Choice>().unwrap(),
            Choice::Model("legacy@0".into())
        );
        assert!("blend:x".parse::<Choice>().is_err());
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn doc_auto_weight() {
        use crate::similar::{AUTO_BLEND, AUTO_BLEND_SHORT, auto_weight};
        assert_eq!(auto_weight(0.3), AUTO_BLEND_SHORT);
        assert_eq!(auto_weight(200.0), AUTO_BLEND);
    }

    #[test]
    fn doc_from_options() {
        use crate::similar::Choice;
        assert_eq!(
            Choice::from_options(None, None, None).unwrap(),
            Choice::Auto
        );
        assert_eq!(
            Choice::from_options(Some("both"), None, None).unwrap(),
            Choice::Blend(0.6)
        );
        assert_eq!(
            Choice::from_options(Some("dsp"), Some(0.3), None).unwrap(),
            Choice::Blend(0.3)
        );
        assert!(Choice::from_options(None, Some(0.3), Some("legacy@0")).is_err());
    }
}
