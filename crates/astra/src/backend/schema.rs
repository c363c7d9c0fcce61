//! Collection names, the `migrations/astra/` templates, the model registry and `init`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};
use songrec_storage::{ModelInfo, SongId, StorageError, StorageResult};

use super::errors;
use crate::dataapi::{Collection, CollectionInfo, DataApiError, ErrorKind};

const SONGS_TEMPLATE: &str = include_str!("../../../../migrations/astra/songs_collection.json");
const VECTOR_TEMPLATE: &str =
    include_str!("../../../../migrations/astra/vector_collection.template.json");
const REGISTRY_TEMPLATE: &str =
    include_str!("../../../../migrations/astra/model_registry_doc.template.json");

/// The id, in the songs collection, of the document recording the schema version of the
/// documents and the upgrades `init` applied (no `deleted` field, so listings never see it).
pub(crate) const SCHEMA_ID: &str = "schema";
/// Every schema version and what it changed; `init` applies the versions above the recorded
/// one in order and records each (`migrations/astra/README.md`).
pub(crate) const VERSIONS: [(u64, &str); 3] = [
    (1, "the collections and documents of migrations/astra"),
    (2, "title and artist sort keys in natural order"),
    (
        3,
        "a later version of a model shares its vector collection (documents <id>@<version>, mv)",
    ),
];
/// The schema version this songrec writes.
pub(crate) const SCHEMA_VERSION: u64 = VERSIONS[VERSIONS.len() - 1].0;

/// The schema version recorded in `songs` (1 when none is: a library of an earlier songrec).
pub(crate) async fn recorded_version(songs: &Collection) -> Result<u64, DataApiError> {
    let doc = songs.find_one(json!({"_id": SCHEMA_ID}), Default::default());
    Ok(doc.await?.and_then(|d| d["version"].as_u64()).unwrap_or(1))
}

/// Longest collection name the Data API accepts.
pub(crate) const MAX_COLLECTION_NAME: usize = 48;
/// Longest collection prefix (leaves room for `_v_<model>`).
pub(crate) const MAX_PREFIX: usize = 30;

/// Checks a collection prefix: `\w+`, at most [`MAX_PREFIX`] characters.
pub(crate) fn validate_prefix(prefix: &str) -> StorageResult<()> {
    let ok = !prefix.is_empty()
        && prefix.len() <= MAX_PREFIX
        && prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
    ok.then_some(()).ok_or_else(|| {
        StorageError::InvalidInput(format!(
            "collection prefix {prefix:?} must be 1-{MAX_PREFIX} letters, digits or underscores ([astra] collection_prefix in config.toml)"
        ))
    })
}

/// Name of the songs collection.
pub(crate) fn songs_name(prefix: &str) -> String {
    format!("{prefix}_songs")
}

/// Name of a model's vector collection; `taken` are names other models already use.
pub(crate) fn vector_name(prefix: &str, model: &ModelInfo, taken: &BTreeSet<String>) -> String {
    let key = model.file_key().replace('-', "_");
    let plain = format!("{prefix}_v_{key}");
    if plain.len() <= MAX_COLLECTION_NAME && !taken.contains(&plain) {
        return plain;
    }
    let hash = hex::encode(&Sha256::digest(model.key().as_bytes())[..4]);
    let room = MAX_COLLECTION_NAME.saturating_sub(prefix.len() + 3 + 1 + hash.len());
    let short: String = key.chars().take(room).collect();
    format!("{prefix}_v_{short}_{hash}")
}

fn substitute(v: &mut Value, vars: &[(&str, &str)], dim: usize) {
    match v {
        Value::String(s) if s == "{dim}" => *v = json!(dim),
        Value::String(s) => {
            for (k, val) in vars {
                *s = s.replace(&format!("{{{k}}}"), val);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|x| substitute(x, vars, dim)),
        Value::Object(o) => o.values_mut().for_each(|x| substitute(x, vars, dim)),
        _ => {}
    }
}

fn template(text: &str, what: &str) -> StorageResult<Value> {
    serde_json::from_str(text).map_err(|e| {
        errors::backend(format!(
            "built-in schema file {what} is not valid JSON: {e}"
        ))
    })
}

/// The `createCollection` command of the songs collection.
pub(crate) fn songs_command(prefix: &str) -> StorageResult<Value> {
    let mut cmd = template(SONGS_TEMPLATE, "songs_collection.json")?;
    substitute(&mut cmd, &[("prefix", prefix)], 0);
    Ok(cmd)
}

/// The `createCollection` command of a vector collection.
pub(crate) fn vector_command(prefix: &str, name: &str, dim: usize) -> StorageResult<Value> {
    let mut cmd = template(VECTOR_TEMPLATE, "vector_collection.template.json")?;
    substitute(&mut cmd, &[("prefix", prefix)], dim);
    cmd["createCollection"]["name"] = json!(name);
    Ok(cmd)
}

/// A registry document.
pub(crate) fn registry_doc(prefix: &str, m: &RegisteredModel) -> StorageResult<Value> {
    let mut doc = template(REGISTRY_TEMPLATE, "model_registry_doc.template.json")?;
    substitute(
        &mut doc,
        &[
            ("prefix", prefix),
            ("name", &m.model.name),
            ("version", &m.model.version),
        ],
        m.model.dim,
    );
    doc["collection"] = json!(m.collection);
    if let Some(tag) = &m.tag {
        doc[TAG] = json!(tag);
    }
    Ok(doc)
}

/// Field of a vector document (and of a registry document) naming the model version of a
/// document in a collection shared with another version of the same model.
pub(crate) const TAG: &str = "mv";

/// A model in the registry and the collection holding its vectors.
///
/// Versions of one model share one vector collection: the version that created it keeps plain
/// documents (`_id` = the song id, no [`TAG`]), each later one's are `<song id>@<version>` with
/// `mv: "<version>"`, and every read is scoped to its own ([`RegisteredModel::scope`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RegisteredModel {
    pub model: ModelInfo,
    pub collection: String,
    /// `Some(version)` for a version that shares another version's collection.
    pub tag: Option<String>,
}

impl RegisteredModel {
    pub(crate) fn from_doc(doc: &Value) -> Option<Self> {
        let s = |k: &str| doc.get(k).and_then(Value::as_str).map(str::to_owned);
        Some(Self {
            model: ModelInfo::new(
                s("name")?,
                s("version")?,
                usize::try_from(doc.get("dim")?.as_u64()?).ok()?,
            ),
            collection: s("collection")?,
            tag: s(TAG),
        })
    }

    /// The `_id` of song `id`'s document of this model.
    pub(crate) fn doc_id(&self, id: &SongId) -> String {
        match &self.tag {
            None => id.as_str().to_owned(),
            Some(tag) => format!("{}@{tag}", id.as_str()),
        }
    }

    /// The filter of song `id`'s document of this model.
    pub(crate) fn id_filter(&self, id: &SongId) -> Value {
        json!({"_id": self.doc_id(id)})
    }

    /// The condition that keeps a query to this model's documents: its tag, or (for the version
    /// that owns the collection) no tag at all.
    pub(crate) fn scope(&self) -> (String, Value) {
        let v = match &self.tag {
            Some(tag) => json!(tag),
            None => json!({"$exists": false}),
        };
        (TAG.to_owned(), v)
    }

    /// A registered version of the same model with vectors of the same width, whose
    /// collection a new version shares.
    pub(crate) fn sibling<'a>(reg: &'a Registry, m: &ModelInfo) -> Option<&'a RegisteredModel> {
        reg.values()
            .filter(|r| r.model.name == m.name && r.model.dim == m.dim && r.model != *m)
            .min_by_key(|r| r.tag.is_some())
    }

    /// A new model's entry: in its sibling's collection when it has one, else in `collection`.
    pub(crate) fn new_in(
        reg: &Registry,
        m: &ModelInfo,
        collection: impl FnOnce() -> String,
    ) -> Self {
        let (collection, tag) = match Self::sibling(reg, m) {
            Some(s) => (s.collection.clone(), Some(m.version.clone())),
            None => (collection(), None),
        };
        RegisteredModel {
            model: m.clone(),
            collection,
            tag,
        }
    }
}

/// Registry contents keyed by (name, version).
pub(crate) type Registry = BTreeMap<(String, String), RegisteredModel>;

pub(crate) fn registry_key(m: &ModelInfo) -> (String, String) {
    (m.name.clone(), m.version.clone())
}

/// What `init` did.
///
/// ```
/// use songrec_astra::InitReport;
/// let r = InitReport { created: vec!["songrec_songs".into()], ..InitReport::default() };
/// assert!(r.to_string().contains("created songrec_songs"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InitReport {
    /// Collections created now.
    pub created: Vec<String>,
    /// Collections that already existed with the expected settings.
    pub existing: Vec<String>,
    /// Models now registered, with their collection.
    pub models: Vec<(ModelInfo, String)>,
    /// Songs whose sort keys an earlier songrec wrote, upgraded now (the schema change of
    /// sort keys version 2: natural order).
    pub upgraded_sort_keys: u64,
    /// The schema version recorded before and after: before is 0 when this init created the
    /// library (its songs collection), 1 for a library of an earlier songrec that recorded none.
    pub schema: (u64, u64),
}

impl fmt::Display for InitReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.created {
            writeln!(f, "created {c}")?;
        }
        for c in &self.existing {
            writeln!(f, "ok      {c} (already present)")?;
        }
        for (m, c) in &self.models {
            writeln!(f, "model   {m} -> {c}")?;
        }
        match self.schema {
            (0, now) => writeln!(f, "created the schema, version {now} (a new cloud library)")?,
            (was, now) if was < now => writeln!(f, "schema  version {now} (was {was})")?,
            _ => {}
        }
        let n = self.upgraded_sort_keys;
        if n > 0 {
            writeln!(f, "upgraded the sort keys of {n} songs (natural order)")?;
        }
        Ok(())
    }
}

fn deny_set(options: &Value) -> Option<(String, BTreeSet<String>)> {
    let idx = options.get("indexing")?.as_object()?;
    let (mode, list) = idx.iter().next()?;
    let set = list
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    Some((mode.clone(), set))
}

/// Describes how an existing collection's options differ from the expected ones (`None` if
/// they agree on everything songrec relies on).
pub(crate) fn settings_difference(expected: &Value, existing: &CollectionInfo) -> Option<String> {
    let none = Value::Null;
    let have = existing.options.as_ref().unwrap_or(&none);
    let mut diffs = Vec::new();
    match (expected.get("vector"), existing.dimension) {
        (Some(v), have_dim) => {
            let want_dim = v.get("dimension").and_then(Value::as_u64).unwrap_or(0);
            match have_dim {
                None => diffs.push(format!(
                    "it has no vector settings, expected {want_dim}-d vectors"
                )),
                Some(d) if d as u64 != want_dim => {
                    diffs.push(format!("vector dimension is {d}, expected {want_dim}"))
                }
                Some(_) => {}
            }
            let want_metric = v.get("metric").and_then(Value::as_str).unwrap_or("cosine");
            if let Some(m) = existing.metric.as_deref()
                && m != want_metric
            {
                diffs.push(format!("similarity metric is {m}, expected {want_metric}"));
            }
        }
        (None, Some(d)) => diffs.push(format!(
            "it is a vector collection ({d}-d), expected no vector"
        )),
        (None, None) => {}
    }
    let want_idx = deny_set(expected);
    let have_idx = deny_set(have);
    if want_idx != have_idx {
        let show = |x: &Option<(String, BTreeSet<String>)>| match x {
            None => "index every field".to_owned(),
            Some((mode, set)) => format!("{mode} {set:?}"),
        };
        diffs.push(format!(
            "indexing is `{}`, expected `{}`",
            show(&have_idx),
            show(&want_idx)
        ));
    }
    (!diffs.is_empty()).then(|| diffs.join("; "))
}

/// The error for a collection whose settings differ.
pub(crate) fn different_settings(name: &str, diff: &str) -> StorageError {
    errors::backend(format!(
        "collection {name} already exists with different settings: {diff}. songrec did not change it. \
             Delete it (its documents are lost) in the Astra console or with the Data API deleteCollection command, \
             or use another collection prefix ([astra] collection_prefix in config.toml), then run `songrec init-astra` again"
    ))
}

/// Expected `options` of a `createCollection` command.
pub(crate) fn command_options(cmd: &Value) -> Value {
    cmd.pointer("/createCollection/options")
        .cloned()
        .unwrap_or_else(|| Value::Object(Map::new()))
}

/// Name in a `createCollection` command.
pub(crate) fn command_name(cmd: &Value) -> String {
    cmd.pointer("/createCollection/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Maps a `createCollection` failure: different settings get the descriptive error.
pub(crate) fn create_error(e: DataApiError, name: &str, diff: Option<String>) -> StorageError {
    if e.kind() == Some(ErrorKind::ExistingCollectionDifferentSettings) {
        different_settings(
            name,
            diff.as_deref()
                .unwrap_or("the server reports EXISTING_COLLECTION_DIFFERENT_SETTINGS"),
        )
    } else if e.kind() == Some(ErrorKind::TooManyCollections) {
        errors::backend(format!(
            "creating collection {name}: the database has no room for another collection \
                 (5 per database on older Astra databases, 10 on newer ones; songrec needs one \
                 for the songs plus one per embedding model). Delete collections you no longer \
                 use or use another database. The server said: {}",
            e.failure().map(ToString::to_string).unwrap_or_default()
        ))
    } else {
        errors::api(e, &format!("creating collection {name}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_the_limits() {
        let m = ModelInfo::new("musicnn-msd", "1", 200);
        assert_eq!(
            vector_name("songrec", &m, &BTreeSet::new()),
            "songrec_v_musicnn_msd_1"
        );
        let long = ModelInfo::new("a-very-long-model-name-that-goes-on-and-on", "2024.1", 8);
        let n = vector_name("songrec", &long, &BTreeSet::new());
        assert!(n.len() <= MAX_COLLECTION_NAME, "{n}");
        assert!(n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
        let taken: BTreeSet<String> = ["songrec_v_musicnn_msd_1".to_owned()].into();
        assert_ne!(
            vector_name("songrec", &m, &taken),
            "songrec_v_musicnn_msd_1"
        );
        assert!(validate_prefix("songrec").is_ok());
        assert!(validate_prefix("bad-prefix").is_err());
        assert!(validate_prefix("").is_err());
    }

    #[test]
    fn templates_substitute() {
        let cmd = vector_command("p", "p_v_m_1", 8).unwrap_or_default();
        assert_eq!(
            cmd.pointer("/createCollection/name"),
            Some(&json!("p_v_m_1"))
        );
        assert_eq!(
            cmd.pointer("/createCollection/options/vector/dimension"),
            Some(&json!(8))
        );
        let songs = songs_command("p").unwrap_or_default();
        assert_eq!(command_name(&songs), "p_songs");
        let reg = RegisteredModel {
            model: ModelInfo::new("m", "1", 8),
            collection: "p_v_m_1".into(),
            tag: None,
        };
        let doc = registry_doc("p", &reg).unwrap_or_default();
        assert_eq!(doc["_id"], json!("model:m@1"));
        assert_eq!(RegisteredModel::from_doc(&doc), Some(reg.clone()));
        // A second version shares the first one's collection, its documents tagged.
        let mut known = Registry::new();
        known.insert(registry_key(&reg.model), reg.clone());
        let v2 = ModelInfo::new("m", "2", 8);
        let r2 = RegisteredModel::new_in(&known, &v2, || unreachable!("no new collection"));
        assert_eq!(
            (r2.collection.as_str(), r2.tag.as_deref()),
            ("p_v_m_1", Some("2"))
        );
        let doc = registry_doc("p", &r2).unwrap_or_default();
        assert_eq!(RegisteredModel::from_doc(&doc), Some(r2.clone()));
        let id = SongId::parse(&"ab".repeat(32)).unwrap();
        assert_eq!(r2.doc_id(&id), format!("{}@2", id.as_str()));
        assert_eq!(reg.doc_id(&id), id.as_str());
        assert_eq!(r2.scope(), (TAG.to_owned(), json!("2")));
        assert_eq!(reg.scope(), (TAG.to_owned(), json!({"$exists": false})));
        // Another width or another name gets a collection of its own.
        for other in [ModelInfo::new("m", "3", 4), ModelInfo::new("n", "1", 8)] {
            let r = RegisteredModel::new_in(&known, &other, || "own".into());
            assert_eq!((r.collection.as_str(), r.tag), ("own", None));
        }
    }

    #[test]
    fn differences_are_described() {
        let want = command_options(&vector_command("p", "p_v_m", 8).unwrap_or_default());
        let info = CollectionInfo {
            name: "p_v_m".into(),
            dimension: Some(3),
            metric: None,
            options: Some(json!({"vector": {"dimension": 3}, "indexing": {"deny": ["meta"]}})),
        };
        let d = settings_difference(&want, &info).unwrap_or_default();
        assert!(d.contains("dimension is 3, expected 8"), "{d}");
        let same = CollectionInfo {
            dimension: Some(8),
            options: Some(
                json!({"vector": {"dimension": 8, "metric": "cosine"}, "indexing": {"deny": ["meta"]}}),
            ),
            ..info
        };
        assert_eq!(settings_difference(&want, &same), None);
    }
}
