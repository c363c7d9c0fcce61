//! The model registry (documents of kind `model` in the songs collection, cached), `init` and
//! per-model vector counts. Names and templates are in `schema`.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use songrec_storage::{ModelInfo, ModelStats, StorageError, StorageResult};

use super::connection::AstraOptions;
use super::errors;
use super::handle::AstraBackend;
use super::schema::{self, InitReport, RegisteredModel, Registry, registry_key};
use super::storage::Ops;
use super::writes::insert_failure_message;
use crate::dataapi::{Collection, ErrorKind};

/// The collections `init` found and would create, against the database's budget.
struct CollectionBudget {
    existing: Vec<String>,
    needed: Vec<String>,
    max: Option<usize>,
}

impl CollectionBudget {
    /// The budget from a server message such as "the maximum number of collections per
    /// database is 5" (the first number after "maximum"/"exceed"), if it names one.
    fn from_message(msg: &str) -> Option<usize> {
        let lower = msg.to_lowercase();
        let at = lower.find("maximum").or_else(|| lower.find("exceed"))?;
        lower[at..]
            .split(|c: char| !c.is_ascii_digit())
            .find(|w| !w.is_empty())
            .and_then(|w| w.parse().ok())
    }

    fn error(&self, said: Option<&str>) -> StorageError {
        let max = self.max.or_else(|| said.and_then(Self::from_message));
        let total = self.existing.len() + self.needed.len();
        let limit = match max {
            Some(m) => format!("this database allows {m} collections"),
            None => "this database allows no more collections".to_owned(),
        };
        let mut message = format!(
            "not enough room for songrec's collections: {limit} (5 on older Astra databases, 10 \
             on newer ones); songrec needs {} more (one for the songs plus one per embedding \
             model: {}), {total} in all, and {} exist{} ({}). Nothing more was created. Delete \
             collections you no longer use, create fewer models (`songrec init-astra --embedder \
             dsp`), or use another database.",
            self.needed.len(),
            self.needed.join(", "),
            self.existing.len(),
            if self.existing.len() == 1 { "s" } else { "" },
            if self.existing.is_empty() {
                "none".to_owned()
            } else {
                self.existing.join(", ")
            },
        );
        if let Some(s) = said {
            message.push_str(&format!(" The server said: {s}"));
        }
        errors::backend(message)
    }
}

impl AstraBackend {
    /// Creates (idempotently) the songs collection and a vector collection per model, and
    /// registers the models. Existing collections with different settings are an error that
    /// names the collection, the difference and what to do.
    pub async fn init(opts: &AstraOptions, models: &[ModelInfo]) -> StorageResult<InitReport> {
        Self::connect(opts)?.init_schema(models).await
    }

    /// [`AstraBackend::init`] with a known collection budget (5 or 10 per Astra database): when
    /// the collections would not fit, nothing is created and the error says what is needed.
    pub async fn init_within(
        opts: &AstraOptions,
        models: &[ModelInfo],
        max_collections: Option<usize>,
    ) -> StorageResult<InitReport> {
        Self::connect(opts)?
            .init_schema_within(models, max_collections)
            .await
    }

    /// [`AstraBackend::init`] on this backend's client.
    pub async fn init_schema(&self, models: &[ModelInfo]) -> StorageResult<InitReport> {
        self.init_schema_within(models, None).await
    }

    /// [`AstraBackend::init_within`] on this backend's client. Without a budget, a server
    /// that refuses a collection (`TOO_MANY_COLLECTIONS`) gets the same explanation, with
    /// the budget read from its message when it names one.
    pub async fn init_schema_within(
        &self,
        models: &[ModelInfo],
        max_collections: Option<usize>,
    ) -> StorageResult<InitReport> {
        let infos = self
            .client
            .find_collections(true)
            .await
            .map_err(|e| errors::api(e, "listing collections"))?;
        let songs_name = schema::songs_name(&self.prefix);
        let has = |n: &str| infos.iter().any(|i| i.name == n);
        // What init would create: the songs collection, the registered models' collections
        // that are missing, one per new model.
        let mut needed: Vec<String> = Vec::new();
        let known = if has(&songs_name) {
            self.load_registry().await?
        } else {
            needed.push(songs_name.clone());
            Registry::new()
        };
        for r in known.values() {
            if !has(&r.collection) {
                needed.push(r.collection.clone());
            }
        }
        // A new version of a registered model (or of one registered by this init) shares its
        // collection: no room needed.
        let mut new_models = BTreeSet::new();
        let mut new_names = BTreeSet::new();
        for m in models {
            if !known.contains_key(&registry_key(m))
                && new_models.insert(registry_key(m))
                && RegisteredModel::sibling(&known, m).is_none()
                && new_names.insert((m.name.clone(), m.dim))
            {
                needed.push(format!("a vector collection for model {}", m.key()));
            }
        }
        let budget = CollectionBudget {
            existing: infos.iter().map(|i| i.name.clone()).collect(),
            needed,
            max: max_collections,
        };
        if let Some(max) = max_collections
            && budget.existing.len() + budget.needed.len() > max
        {
            return Err(budget.error(None));
        }
        let mut report = InitReport::default();
        let songs_cmd = schema::songs_command(&self.prefix)?;
        self.apply_collection(&songs_cmd, &infos, &budget, &mut report)
            .await?;
        let mut guard = self.registry.lock().await;
        let mut reg = self.load_registry().await?;
        for (_, r) in reg.iter() {
            let cmd = schema::vector_command(&self.prefix, &r.collection, r.model.dim)?;
            self.apply_collection(&cmd, &infos, &budget, &mut report)
                .await?;
        }
        for m in models {
            if m.dim == 0 {
                return Err(StorageError::InvalidInput(format!(
                    "model {} has dimension 0",
                    m.key()
                )));
            }
            let r = match reg.get(&registry_key(m)) {
                Some(r) => {
                    m.same_dim_as(&r.model)?;
                    r.clone()
                }
                None => {
                    let r = self.new_entry(&reg, m);
                    if r.tag.is_none() {
                        let cmd = schema::vector_command(&self.prefix, &r.collection, m.dim)?;
                        self.apply_collection(&cmd, &infos, &budget, &mut report)
                            .await?;
                    }
                    self.write_registry_doc(&r).await?;
                    reg.insert(registry_key(m), r.clone());
                    r
                }
            };
            report.models.push((r.model, r.collection));
        }
        *guard = Some(reg);
        drop(guard);
        self.upgrade_schema(&mut report).await?;
        Ok(report)
    }

    /// Applies and records the schema versions above the recorded one; the sort keys are checked
    /// at every `init` (an earlier songrec elsewhere may still write old ones).
    async fn upgrade_schema(&self, report: &mut InitReport) -> StorageResult<()> {
        let from = (schema::recorded_version(&self.songs).await)
            .map_err(|e| errors::api(e, "reading the schema version"))?;
        if from > schema::SCHEMA_VERSION {
            return Err(errors::backend(format!(
                "this cloud library's documents are of schema version {from}, written by a newer songrec (this one knows {}): upgrade songrec",
                schema::SCHEMA_VERSION
            )));
        }
        report.upgraded_sort_keys = self.upgrade_sort_keys().await?;
        self.sort_keys_checked
            .store(true, std::sync::atomic::Ordering::Relaxed);
        for (version, what) in schema::VERSIONS.iter().filter(|(v, _)| *v > from) {
            let record = json!({"version": version, "what": what, "by": env!("CARGO_PKG_VERSION")});
            (self.songs)
                .update_one(
                    json!({"_id": schema::SCHEMA_ID}),
                    json!({"$set": {"version": version}, "$push": {"upgrades": record}}),
                    crate::dataapi::UpdateOptions::upsert(),
                )
                .await
                .map_err(|e| errors::api(e, "recording the schema version"))?;
        }
        // A songs collection created by this init holds no earlier songrec's documents: the
        // schema is new (0 before), not an upgrade of version 1.
        let created_now = report.created.iter().any(|c| c == self.songs.name());
        report.schema = (if created_now { 0 } else { from }, schema::SCHEMA_VERSION);
        Ok(())
    }

    /// Creates the collection of `cmd` unless it exists with the same settings; a creation the
    /// server refuses for the collection budget is explained by `budget`.
    async fn apply_collection(
        &self,
        cmd: &Value,
        infos: &[crate::dataapi::CollectionInfo],
        budget: &CollectionBudget,
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
        match self.client.run_command(None, cmd, true).await {
            Ok(_) => {}
            Err(e) if e.kind() == Some(ErrorKind::TooManyCollections) => {
                let said = e.failure().map(|f| f.to_string()).unwrap_or_default();
                return Err(budget.error(Some(&said)));
            }
            Err(e) => return Err(schema::create_error(e, &name, None)),
        }
        report.created.push(name);
        Ok(())
    }

    async fn load_registry(&self) -> StorageResult<Registry> {
        let what = format!("reading the model registry in {}", self.songs.name());
        let docs = self
            .songs_where(json!({"kind": "model"}), None, &what)
            .await?;
        Ok(docs
            .iter()
            .filter_map(RegisteredModel::from_doc)
            .map(|r| (registry_key(&r.model), r))
            .collect())
    }

    pub(super) async fn registry(&self) -> StorageResult<Registry> {
        self.registry_if(|_| true).await
    }

    /// The cached registry when `fresh_enough` accepts it, else the registry loaded (and
    /// cached) now.
    async fn registry_if(
        &self,
        fresh_enough: impl Fn(&Registry) -> bool,
    ) -> StorageResult<Registry> {
        let mut guard = self.registry.lock().await;
        if let Some(r) = guard.as_ref().filter(|r| fresh_enough(r)) {
            return Ok(r.clone());
        }
        let r = self.load_registry().await?;
        *guard = Some(r.clone());
        Ok(r)
    }

    /// The registered entry of a model (cached; reloaded once on a miss).
    pub(super) async fn lookup(&self, model: &ModelInfo) -> StorageResult<Option<RegisteredModel>> {
        let key = registry_key(model);
        Ok(self
            .registry_if(|r| r.contains_key(&key))
            .await?
            .remove(&key))
    }

    async fn write_registry_doc(&self, r: &RegisteredModel) -> StorageResult<()> {
        let doc = schema::registry_doc(&self.prefix, r)?;
        let report = self
            .songs
            .insert_many(vec![doc])
            .await
            .map_err(|e| errors::api(e, "registering a model"))?;
        match report.failures.first() {
            Some(f) if !f.is_already_exists() => Err(errors::backend(format!(
                "registering model {}: {}",
                r.model.key(),
                insert_failure_message(f)
            ))),
            _ => Ok(()),
        }
    }

    /// The model's registry entry, registering it (and creating its collection) if new.
    pub(super) async fn ensure_model(&self, model: &ModelInfo) -> StorageResult<RegisteredModel> {
        let check = |r: &RegisteredModel| model.same_dim_as(&r.model).map(|()| r.clone());
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
        let r = self.new_entry(&reg, model);
        let name = r.collection.clone();
        let cmd = schema::vector_command(&self.prefix, &name, model.dim)?;
        let created = match r.tag {
            Some(_) => None,
            None => self.client.run_command(None, &cmd, true).await.err(),
        };
        if let Some(e) = created {
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
        self.write_registry_doc(&r).await?;
        // Another process may have registered the model concurrently: trust the stored entry.
        reg = self.load_registry().await?;
        let out = reg.get(&registry_key(model)).map_or(Ok(r), check);
        *guard = Some(reg);
        out
    }

    /// A new model's entry: in a sibling version's collection, else in one of its own.
    fn new_entry(&self, reg: &Registry, m: &ModelInfo) -> RegisteredModel {
        let taken: BTreeSet<String> = reg.values().map(|r| r.collection.clone()).collect();
        RegisteredModel::new_in(reg, m, || schema::vector_name(&self.prefix, m, &taken))
    }

    pub(super) fn vectors(&self, r: &RegisteredModel) -> Collection {
        self.client.collection(&r.collection)
    }
}

impl Ops<'_> {
    /// Implements `StorageBackend::models`: every registered model with its count of live vectors.
    pub(super) async fn models(&self) -> StorageResult<Vec<ModelStats>> {
        let reg = self.registry_if(|_| false).await?;
        let mut out = Vec::new();
        for r in reg.into_values() {
            let (tag, scope) = r.scope();
            let filter = json!({"live": true, tag: scope});
            let count = self.exact_count(&self.vectors(&r), filter).await?;
            out.push(ModelStats {
                model: r.model,
                count,
            });
        }
        Ok(out)
    }
}
