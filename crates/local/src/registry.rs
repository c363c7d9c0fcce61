//! The model registry (`library.json`): which models a library holds vectors of, and in which
//! folder; registering a new model, and adopting the flat `.npy` files of a library written by
//! the Python tool.

use std::fs;

use songrec_storage::{ModelInfo, StorageError, StorageResult};

use crate::layout::{RegisteredModel, mkdirs, write_json};
use crate::npy;
use crate::state::{Inner, State};

impl Inner {
    /// A library written by the Python tool has flat `.npy` files but no registry: register them
    /// as model `legacy@0` with the dimension of the first file.
    pub(crate) fn adopt_legacy_vectors(&self, st: &mut State) -> StorageResult<()> {
        let Ok(entries) = fs::read_dir(&self.paths.embeddings) else {
            return Ok(());
        };
        let npy_files = entries.flatten().map(|e| e.path());
        for path in npy_files.filter(|p| p.extension().is_some_and(|x| x == "npy")) {
            match npy::read_checked(&path)? {
                Err(why) => tracing::warn!("skipping {}: {why}", path.display()),
                Ok(v) => {
                    let model = ModelInfo::new("legacy", "0", v.len());
                    let dir = String::new();
                    st.registry.models.push(RegisteredModel { model, dir });
                    tracing::info!(
                        "adopted existing .npy vectors as model legacy@0 ({}-d)",
                        v.len()
                    );
                    break;
                }
            }
        }
        Ok(())
    }

    pub(crate) fn register(
        &self,
        st: &mut State,
        model: &ModelInfo,
    ) -> StorageResult<RegisteredModel> {
        if let Some(r) = st.model(model) {
            model.same_dim_as(&r.model)?;
            return Ok(r.clone());
        }
        if model.dim == 0 {
            return Err(StorageError::InvalidInput(format!(
                "model {} has dimension 0",
                model.key()
            )));
        }
        let dir = if st.registry.models.is_empty() {
            String::new()
        } else {
            // Folders are recorded here, so a library whose models got folders from the older,
            // non-distinct key keeps them; a new model never shares one.
            let key = model.file_key();
            let taken = |d: &str| st.registry.models.iter().any(|r| r.dir == d);
            std::iter::once(key.clone())
                .chain((2..).map(|n| format!("{key}-{n}")))
                .find(|d| !taken(d))
                .unwrap_or(key)
        };
        let r = RegisteredModel {
            model: model.clone(),
            dir,
        };
        st.registry.format = 1;
        st.registry.models.push(r.clone());
        write_json(&self.paths.registry, &st.registry)?;
        mkdirs(&self.paths.model_dir(&r))?;
        Ok(r)
    }
}
