//! Embedding models and vectors.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{StorageError, StorageResult};

/// Which model produced a vector: vectors of different models never mix.
///
/// ```
/// use songrec_storage::ModelInfo;
/// let m = ModelInfo::new("songrec-dsp", "1", 64);
/// assert_eq!(m.key(), "songrec-dsp@1");
/// assert_eq!(m.file_key(), "songrec-dsp-1");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Model name, e.g. `songrec-dsp` or `musicnn-msd`.
    pub name: String,
    /// Model version; bumped whenever the model's output changes.
    pub version: String,
    pub dim: usize,
}

impl ModelInfo {
    /// `Ok` when `registered`, the model a library holds under this one's name and version,
    /// has this one's dimension; else the [`StorageError::DimensionMismatch`] every backend
    /// answers before it searches or stores.
    pub fn same_dim_as(&self, registered: &ModelInfo) -> StorageResult<()> {
        self.check_dim(registered.dim, self.dim)
    }

    /// The [`StorageError::DimensionMismatch`] of this model when `got` is not `expected`.
    pub(crate) fn check_dim(&self, expected: usize, got: usize) -> StorageResult<()> {
        if expected == got {
            return Ok(());
        }
        let model = self.key();
        Err(StorageError::DimensionMismatch {
            model,
            expected,
            got,
        })
    }

    pub fn new(name: impl Into<String>, version: impl Into<String>, dim: usize) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            dim,
        }
    }

    /// `name@version`: how users and errors name the model.
    pub fn key(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }

    /// A file- and collection-name-safe form of the key (`[A-Za-z0-9_-]` only), distinct for
    /// distinct (name, version) pairs.
    ///
    /// A model named with `[A-Za-z0-9_-]` and versioned with `[A-Za-z0-9_]` (non-empty) keeps
    /// the plain form `name-version`, so existing folders, packs and indexes are still found:
    /// the version cannot contain `-`, so the last `-` splits it off. Any other model is
    /// encoded: `_` doubled, every other byte outside `[A-Za-z0-9]` written `_` and two hex
    /// digits, name and version joined by `-`, and a final `-`, which no plain key ends with.
    ///
    /// ```
    /// use songrec_storage::ModelInfo;
    /// let key = |n: &str, v: &str| ModelInfo::new(n, v, 1).file_key();
    /// assert_eq!(key("songrec-dsp", "1"), "songrec-dsp-1");
    /// assert_eq!(key("a@b", "1.0"), "a_40b-1_2e0-");
    /// assert_ne!(key("a-b", "1"), key("a", "b-1"));
    /// assert_ne!(key("m", "1.0"), key("m", "1_0"));
    /// ```
    pub fn file_key(&self) -> String {
        let plain = |s: &str, dash: bool| {
            s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || (dash && c == '-'))
        };
        if plain(&self.name, true) && !self.version.is_empty() && plain(&self.version, false) {
            return format!("{}-{}", self.name, self.version);
        }
        let enc = |s: &str| {
            let mut out = String::with_capacity(s.len() * 2);
            for b in s.bytes() {
                match b {
                    b'_' => out.push_str("__"),
                    b if b.is_ascii_alphanumeric() => out.push(char::from(b)),
                    b => out.push_str(&format!("_{b:02x}")),
                }
            }
            out
        };
        format!("{}-{}-", enc(&self.name), enc(&self.version))
    }

    /// Whether `other` names the same model (name and version; dimension is checked separately).
    pub fn same_model(&self, other: &ModelInfo) -> bool {
        self.name == other.name && self.version == other.version
    }
}

impl fmt::Display for ModelInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{} ({}-d)", self.name, self.version, self.dim)
    }
}

/// A vector together with the model that made it.
///
/// ```
/// use songrec_storage::{Embedding, ModelInfo};
/// let e = Embedding::new(ModelInfo::new("m", "1", 2), vec![3.0, 4.0]).unwrap();
/// assert!(Embedding::new(ModelInfo::new("m", "1", 3), vec![1.0]).is_err());
/// assert_eq!(e.norm(), 5.0);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Embedding {
    /// The model that produced the vector.
    pub model: ModelInfo,
    /// The vector itself (`model.dim` finite values).
    pub vector: Vec<f32>,
}

impl Embedding {
    /// Checks that the vector has the model's dimension and only finite values.
    pub fn new(model: ModelInfo, vector: Vec<f32>) -> StorageResult<Self> {
        let e = Self { model, vector };
        e.validate()?;
        Ok(e)
    }

    /// Re-checks the invariants (used by backends on write).
    pub fn validate(&self) -> StorageResult<()> {
        (self.model).check_dim(self.model.dim, self.vector.len())?;
        if self.vector.is_empty() {
            return Err(StorageError::InvalidInput(format!(
                "empty vector for model {}",
                self.model.key()
            )));
        }
        if let Some(i) = self.vector.iter().position(|v| !v.is_finite()) {
            return Err(StorageError::InvalidInput(format!(
                "vector for model {} has a non-finite value at index {i}",
                self.model.key()
            )));
        }
        Ok(())
    }

    /// Euclidean norm.
    pub fn norm(&self) -> f32 {
        crate::math::norm(&self.vector)
    }
}

#[cfg(test)]
mod file_key_tests {
    use super::ModelInfo;

    /// The key older versions gave every model: not distinct.
    fn legacy(m: &ModelInfo) -> String {
        format!("{}-{}", m.name, m.version)
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    }

    /// Names that collided under the old key, and plain ones that must keep it.
    #[test]
    fn file_keys_are_distinct_and_plain_ones_unchanged() {
        let pairs = [
            ("a-b", "1"),
            ("a", "b-1"),
            ("a.b", "1"),
            ("a_b", "1"),
            ("a", "1.0"),
            ("a", "1_0"),
            ("a", "1-0"),
            ("a", ""),
            ("a-", ""),
            ("", "a-"),
            ("a_40b", "1"),
            ("a@b", "1"),
            ("é", "1"),
            ("_c3_a9", "1"),
            ("songrec-dsp", "1"),
            ("a_2eb-1_2e0", "x"),
            ("a.b", "1.0"),
        ];
        let keys: Vec<String> = pairs
            .iter()
            .map(|(n, v)| ModelInfo::new(*n, *v, 1).file_key())
            .collect();
        let mut distinct = keys.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), keys.len(), "{keys:?}");
        for (k, (n, v)) in keys.iter().zip(pairs) {
            assert!(
                k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                "{k}"
            );
            let m = ModelInfo::new(n, v, 1);
            let plain = !v.is_empty() && !v.contains('-') && legacy(&m) == format!("{n}-{v}");
            assert_eq!(*k == legacy(&m), plain, "{n}@{v} -> {k}");
        }
        // The collision the old key had.
        assert_eq!(
            legacy(&ModelInfo::new("a-b", "1", 1)),
            legacy(&ModelInfo::new("a", "b-1", 1))
        );
    }
}
