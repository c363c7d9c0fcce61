//! The model registry (documents of kind `model` in the songs collection) and `init`: creating
//! the collections, registering models (each with its vector collection), the cached registry,
//! and per-model vector counts. Names and templates are in `schema`.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use songrec_config::Config;
use songrec_storage::{ModelInfo, ModelStats, StorageError, StorageResult};

use super::AstraBackend;
use super::errors::{self, BACKEND};
use super::schema::{self, InitReport, RegisteredModel, Registry, registry_key};
use super::writes::insert_failure_message;
use crate::dataapi::{Collection, ErrorKind, FindOptions};

impl AstraBackend {
    /// Creates (idempotently) the songs collection and a vector collection per model, and
    /// registers the models. Existing collections with different settings are an error that
    /// names the collection, the difference and what to do.
    pub async fn init(cfg: &Config, models: &[ModelInfo]) -> StorageResult<InitReport> {
        Self::connect(cfg)?.init_schema(models).await
    }

    /// [`AstraBackend::init`] on this backend's client.
    pub async fn init_schema(&self, models: &[ModelInfo]) -> StorageResult<InitReport> {
        let infos = self
            .client
            .find_collections(true)
            .await
            .map_err(|e| errors::api(e, "listing collections"))?;
        let mut report = InitReport::default();
        let songs_cmd = schema::songs_command(&self.prefix)?;
        self.apply_collection(&songs_cmd, &infos, &mut report)
            .await?;
        let mut guard = self.registry.lock().await;
        let mut reg = self.load_registry().await?;
        for (_, r) in reg.iter() {
            let cmd = schema::vector_command(&self.prefix, &r.collection, r.model.dim)?;
            self.apply_collection(&cmd, &infos, &mut report).await?;
        }
        for m in models {
            if m.dim == 0 {
                return Err(StorageError::InvalidInput(format!(
                    "model {} has dimension 0",
                    m.key()
                )));
            }
            let r = match reg.get(&registry_key(m)) {
                Some(r) if r.model.dim != m.dim => {
                    return Err(StorageError::DimensionMismatch {
                        model: m.key(),
                        expected: r.model.dim,
                        got: m.dim,
                    });
                }
                Some(r) => r.clone(),
                None => {
                    let taken: BTreeSet<String> =
                        reg.values().map(|r| r.collection.clone()).collect();
                    let name = schema::vector_name(&self.prefix, m, &taken);
                    let cmd = schema::vector_command(&self.prefix, &name, m.dim)?;
                    self.apply_collection(&cmd, &infos, &mut report).await?;
                    let r = RegisteredModel {
                        model: m.clone(),
                        collection: name,
                    };
                    self.write_registry_doc(&r).await?;
                    reg.insert(registry_key(m), r.clone());
                    r
                }
            };
            report.models.push((r.model, r.collection));
        }
        *guard = Some(reg);
        Ok(report)
    }

    async fn apply_collection(
        &self,
        cmd: &Value,
        infos: &[crate::dataapi::CollectionInfo],
        report: &mut InitReport,
    ) -> StorageResult<()> {
        let name = schema::command_name(cmd);
        let want = schema::command_options(cmd);
        if let Some(info) = infos.iter().find(|i| i.name == name) {
            if let Some(diff) = schema::settings_difference(&want, info) {
                return Err(schema::different_settings(&name, &diff));
            }
            if !report.existing.contains(&name) {
                report.existing.push(name);
            }
            return Ok(());
        }
        self.client
            .run_command(None, cmd, true)
            .await
            .map_err(|e| schema::create_error(e, &name, None))?;
        report.created.push(name);
        Ok(())
    }

    async fn load_registry(&self) -> StorageResult<Registry> {
        let docs = self
            .songs
            .find(json!({"kind": "model"}), FindOptions::default())
            .collect_all()
            .await
            .map_err(|e| {
                errors::api(
                    e,
                    &format!("reading the model registry in {}", self.songs.name()),
                )
            })?;
        Ok(docs
            .iter()
            .filter_map(RegisteredModel::from_doc)
            .map(|r| (registry_key(&r.model), r))
            .collect())
    }

    pub(super) async fn registry(&self) -> StorageResult<Registry> {
        let mut guard = self.registry.lock().await;
        if let Some(r) = guard.as_ref() {
            return Ok(r.clone());
        }
        let r = self.load_registry().await?;
        *guard = Some(r.clone());
        Ok(r)
    }

    /// The registered entry of a model (cached; reloaded once on a miss).
    pub(super) async fn lookup(&self, model: &ModelInfo) -> StorageResult<Option<RegisteredModel>> {
        let mut guard = self.registry.lock().await;
        if let Some(r) = guard.as_ref().and_then(|r| r.get(&registry_key(model))) {
            return Ok(Some(r.clone()));
        }
        let reg = self.load_registry().await?;
        let found = reg.get(&registry_key(model)).cloned();
        *guard = Some(reg);
        Ok(found)
    }

    async fn write_registry_doc(&self, r: &RegisteredModel) -> StorageResult<()> {
        let doc = schema::registry_doc(&self.prefix, r)?;
        let report = self
            .songs
            .insert_many(vec![doc])
            .await
            .map_err(|e| errors::api(e, "registering a model"))?;
        match report.failures.first() {
            None => Ok(()),
            Some(f) if f.is_already_exists() => Ok(()),
            Some(f) => Err(StorageError::Backend {
                backend: BACKEND.into(),
                message: format!(
                    "registering model {}: {}",
                    r.model.key(),
                    insert_failure_message(f)
                ),
                transient: false,
            }),
        }
    }

    /// The model's registry entry, registering it (and creating its collection) if new.
    pub(super) async fn ensure_model(&self, model: &ModelInfo) -> StorageResult<RegisteredModel> {
        let check = |r: &RegisteredModel| {
            if r.model.dim == model.dim {
                Ok(r.clone())
            } else {
                Err(StorageError::DimensionMismatch {
                    model: model.key(),
                    expected: r.model.dim,
                    got: model.dim,
                })
            }
        };
        let mut guard = self.registry.lock().await;
        if let Some(r) = guard.as_ref().and_then(|g| g.get(&registry_key(model))) {
            return check(r);
        }
        let mut reg = self.load_registry().await?;
        if let Some(r) = reg.get(&registry_key(model)) {
            let out = check(r);
            *guard = Some(reg);
            return out;
        }
        let taken: BTreeSet<String> = reg.values().map(|r| r.collection.clone()).collect();
        let name = schema::vector_name(&self.prefix, model, &taken);
        let cmd = schema::vector_command(&self.prefix, &name, model.dim)?;
        if let Err(e) = self.client.run_command(None, &cmd, true).await {
            let diff = if e.kind() == Some(ErrorKind::ExistingCollectionDifferentSettings) {
                self.client
                    .find_collections(true)
                    .await
                    .ok()
                    .and_then(|infos| {
                        infos.iter().find(|i| i.name == name).and_then(|i| {
                            schema::settings_difference(&schema::command_options(&cmd), i)
                        })
                    })
            } else {
                None
            };
            return Err(schema::create_error(e, &name, diff));
        }
        let r = RegisteredModel {
            model: model.clone(),
            collection: name,
        };
        self.write_registry_doc(&r).await?;
        // Another process may have registered the model concurrently: trust the stored entry.
        reg = self.load_registry().await?;
        let out = match reg.get(&registry_key(model)) {
            Some(stored) => check(stored),
            None => Ok(r),
        };
        *guard = Some(reg);
        out
    }

    pub(super) fn vectors(&self, r: &RegisteredModel) -> Collection {
        self.client.collection(&r.collection)
    }

    /// Implements `StorageBackend::models`: every registered model with its count of live vectors.
    pub(super) async fn model_stats(&self) -> StorageResult<Vec<ModelStats>> {
        let reg = {
            let mut guard = self.registry.lock().await;
            let reg = self.load_registry().await?;
            *guard = Some(reg.clone());
            reg
        };
        let mut out = Vec::new();
        for r in reg.into_values() {
            let count = self
                .exact_count(&self.vectors(&r), json!({"live": true}))
                .await?;
            out.push(ModelStats {
                model: r.model,
                count,
            });
        }
        Ok(out)
    }
}
