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
    /// Vector dimension.
    pub dim: usize,
}

impl ModelInfo {
    /// A model description.
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

    /// A file- and collection-name-safe form of the key (`[A-Za-z0-9_-]` only).
    pub fn file_key(&self) -> String {
        format!("{}-{}", self.name, self.version)
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
        if self.vector.len() != self.model.dim {
            return Err(StorageError::DimensionMismatch {
                model: self.model.key(),
                expected: self.model.dim,
                got: self.vector.len(),
            });
        }
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
