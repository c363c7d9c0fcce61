//! A library made by older versions of the embedders: which default it is answered with, what
//! completes it, and the advice songrec gives.

use songrec_storage::ModelInfo;
use songrec_storage::plural::count;

use super::names::{DEFAULT, OLD_DEFAULT, PREVIOUS_DEFAULTS, model_by_name, short_name};

fn count_of(stats: &[songrec_storage::ModelStats], name: &str) -> u64 {
    model_by_name(name).map_or(0, |m| {
        stats.iter().filter(|s| s.model == m).map(|s| s.count).sum()
    })
}

/// Songs with an older default's vectors ([`PREVIOUS_DEFAULTS`] or [`OLD_DEFAULT`], the
/// largest count) and songs with the default's.
fn default_counts(stats: &[songrec_storage::ModelStats]) -> (u64, u64) {
    let old = OLD_DEFAULT
        .iter()
        .chain(PREVIOUS_DEFAULTS)
        .map(|n| count_of(stats, n))
        .max()
        .unwrap_or(0);
    (old, count_of(stats, DEFAULT))
}

/// The previous mix whose vectors a library is answered with until the default is complete:
/// of [`PREVIOUS_DEFAULTS`], the one most songs have (the newer on a tie), when it holds at
/// least as many as of the older pair; `None` when no previous mix answers.
///
/// ```
/// use songrec_storage::ModelStats;
/// use songrec_app::embedders::{model_by_name, previous_mix};
/// let s = |n: &str, count| ModelStats { model: model_by_name(n).unwrap(), count };
/// assert_eq!(previous_mix(&[s("mix", 1), s("mix@2", 3), s("mix@1", 1)]), Some("mix@2"));
/// assert_eq!(previous_mix(&[s("mix@2", 1), s("mix@1", 3)]), Some("mix@1"));
/// assert_eq!(previous_mix(&[s("mix@1", 2), s("musicnn", 3), s("dsp", 3)]), None);
/// assert_eq!(previous_mix(&[s("mix", 3)]), None);
/// ```
pub fn previous_mix(stats: &[songrec_storage::ModelStats]) -> Option<&'static str> {
    let (name, prev) = PREVIOUS_DEFAULTS
        .iter()
        .map(|n| (*n, count_of(stats, n)))
        .reduce(|best, x| if x.1 > best.1 { x } else { best })?;
    (prev > 0 && OLD_DEFAULT.iter().all(|n| count_of(stats, n) <= prev)).then_some(name)
}

/// Whether `auto` compares the default's vectors in a library with these models: it holds
/// some, and at least as many as of the older default's (a library being brought to the
/// default by `reembed` is answered with the older vectors, which every song has, until then).
///
/// ```
/// use songrec_storage::{ModelInfo, ModelStats};
/// use songrec_app::embedders::{default_is_complete, model_by_name};
/// let s = |n: &str, count| ModelStats { model: model_by_name(n).unwrap(), count };
/// assert!(default_is_complete(&[s("mix", 3)]));
/// assert!(!default_is_complete(&[s("mix", 2), s("musicnn", 3), s("dsp", 3)]));
/// assert!(default_is_complete(&[s("mix", 3), s("musicnn", 3), s("dsp", 3)]));
/// assert!(!default_is_complete(&[s("dsp", 3)]));
/// ```
pub fn default_is_complete(stats: &[songrec_storage::ModelStats]) -> bool {
    let (old, mix) = default_counts(stats);
    mix > 0 && mix >= old
}

/// One line for the user when some songs lack the default's vectors that the older default
/// gave them (a library made before `mix`, or a `reembed` under way); `None` otherwise.
pub fn upgrade_advice(stats: &[songrec_storage::ModelStats]) -> Option<String> {
    let (old, mix) = default_counts(stats);
    let answering = previous_mix(stats).map_or_else(|| OLD_DEFAULT.to_vec(), |p| vec![p]);
    (old > mix).then(|| {
        format!(
            "{mix} of {old} {} the default {} vectors; until `songrec reembed` \
             (resumable) computes the rest, `similar` and every ranking compare {} \
             (the vectors all songs have)",
            if old == 1 { "song has" } else { "songs have" },
            model_by_name(DEFAULT).map_or_else(|_| DEFAULT.into(), |m| m.key()),
            answering
                .iter()
                .filter_map(|n| model_by_name(n).ok())
                .map(|m| m.key())
                .collect::<Vec<_>>()
                .join(" and ")
        )
    })
}

/// The embedders `ingest` runs when none is named (a comma list): the default, and while it is
/// not complete ([`default_is_complete`]) the older default's the library holds.
pub fn default_ingest_spec(stats: &[songrec_storage::ModelStats]) -> String {
    let (old, mix) = default_counts(stats);
    let mut names = vec![DEFAULT];
    if old > mix {
        names.extend(
            OLD_DEFAULT
                .iter()
                .chain(PREVIOUS_DEFAULTS)
                .filter(|n| count_of(stats, n) > 0),
        );
    }
    names.join(",")
}

/// A stored model made by another version of an embedder this build runs: songs that only
/// have its vectors drop out of searches in the live space until `songrec reembed`.
#[derive(Clone, Debug, PartialEq)]
pub struct OutdatedModel {
    /// The stored model and how many songs have its vectors.
    pub stored: songrec_storage::ModelStats,
    /// What this build's embedder of the same name makes.
    pub live: ModelInfo,
}

impl OutdatedModel {
    /// One line for the user: what is outdated and the command that fixes it.
    pub fn advice(&self) -> String {
        let one = self.stored.count == 1;
        let (has, they_are, them) = if one {
            ("has", "it is", "it")
        } else {
            ("have", "they are", "them")
        };
        format!(
            "{} {has} {} vectors, but this songrec makes {}: {they_are} left out of searches \
             in that space until `songrec reembed --embedder {}` recomputes {them}",
            count(self.stored.count, "song"),
            self.stored.model.key(),
            self.live.key(),
            short_name(&self.live.name),
        )
    }
}

/// The stored models of a live embedder's name but another version (see [`OutdatedModel`]),
/// but the default's previous versions ([`upgrade_advice`] speaks of them).
pub fn outdated_models(stored: &[songrec_storage::ModelStats]) -> Vec<OutdatedModel> {
    let previous: Vec<ModelInfo> = PREVIOUS_DEFAULTS
        .iter()
        .filter_map(|n| model_by_name(n).ok())
        .collect();
    stored
        .iter()
        .filter(|s| s.count > 0 && !previous.contains(&s.model))
        .filter_map(|s| {
            let live = model_by_name(short_name(&s.model.name)).ok()?;
            (live.name == s.model.name && live.version != s.model.version).then(|| OutdatedModel {
                stored: s.clone(),
                live,
            })
        })
        .collect()
}
