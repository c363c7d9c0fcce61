//! `songrec doctor` checks for the astra backend.

use sha2::{Digest as _, Sha256};

use super::connection::{AstraOptions, data_api_config, s3_config};
use super::schema::{self, RegisteredModel};
use crate::blobs::{BlobError, BlobStore};
use crate::dataapi::{DataApiClient, DataApiError};
pub use songrec_storage::doctor::{CheckStatus, DoctorCheck, DoctorReport};

/// Check names, stable for scripts and tests.
pub mod names {
    /// Endpoint, token, keyspace, bucket are configured.
    pub const CONFIG: &str = "configuration";
    /// The Data API answers.
    pub const ENDPOINT: &str = "Data API endpoint reachable";
    /// The token is accepted.
    pub const TOKEN: &str = "application token accepted";
    /// The keyspace exists.
    pub const KEYSPACE: &str = "keyspace exists";
    /// The collections exist with the expected settings.
    pub const COLLECTIONS: &str = "collections";
    /// The documents are of the schema version this songrec writes.
    pub const SCHEMA: &str = "schema version";
    /// Put/get/delete of a probe object.
    pub const BUCKET: &str = "S3 bucket read/write";
    /// `If-None-Match: *` is honoured.
    pub const CONDITIONAL_PUT: &str = "S3 conditional put";
}

struct Checks {
    out: Vec<DoctorCheck>,
    redact: Vec<songrec_storage::Secret>,
}

impl Checks {
    fn add(&mut self, name: &str, status: CheckStatus, detail: String, fix: Option<&str>) {
        let clean = |s: &str| {
            self.redact
                .iter()
                .fold(s.to_owned(), |t, sec| sec.redact(&t))
        };
        self.out.push(DoctorCheck {
            name: name.to_owned(),
            status,
            detail: clean(&detail),
            fix: fix.map(clean),
        });
    }

    /// A check that failed, and what to do about it.
    fn fail(&mut self, name: &str, detail: impl Into<String>, fix: &str) {
        self.add(name, CheckStatus::Fail, detail.into(), Some(fix));
    }

    /// A check that passed.
    fn ok(&mut self, name: &str, detail: impl Into<String>) {
        self.add(name, CheckStatus::Ok, detail.into(), None);
    }

    /// A check that could not run for want of settings.
    fn not_checked(&mut self, name: &str) {
        let detail = "not checked (configuration incomplete)".into();
        self.add(
            name,
            CheckStatus::Warn,
            detail,
            Some("complete the configuration first"),
        );
    }
}

/// Runs every check against the configured Data API and S3 bucket. Never fails: problems are
/// reported as checks; secrets never appear in the report.
pub async fn doctor(opts: &AstraOptions) -> DoctorReport {
    let mut c = Checks {
        out: Vec::new(),
        redact: vec![opts.token.clone(), opts.s3.secret_access_key.clone()],
    };
    let api = data_api_config(opts);
    let s3 = s3_config(&opts.s3);
    match (&api, &s3) {
        (Ok(_), Ok(_)) => c.ok(
            names::CONFIG,
            format!(
                "endpoint {}, keyspace {}, bucket {}",
                crate::origin::host_of(&opts.api_endpoint),
                opts.keyspace,
                opts.s3.bucket
            ),
        ),
        _ => {
            let msgs: Vec<String> = [api.as_ref().err(), s3.as_ref().err()]
                .into_iter()
                .flatten()
                .map(ToString::to_string)
                .collect();
            c.fail(
                names::CONFIG,
                msgs.join("; "),
                "set the variables named above in the environment or in .env",
            );
        }
    }
    match api.map(DataApiClient::new) {
        Ok(Ok(client)) => data_api_checks(&mut c, &client, &opts.collection_prefix).await,
        Ok(Err(e)) => c.fail(
            names::ENDPOINT,
            e.to_string(),
            "fix ASTRA_DB_API_ENDPOINT / ASTRA_DB_APPLICATION_TOKEN",
        ),
        Err(_) => c.not_checked(names::ENDPOINT),
    }
    match s3.map(BlobStore::new) {
        Ok(Ok(store)) => bucket_checks(&mut c, &store).await,
        Ok(Err(e)) => c.fail(
            names::BUCKET,
            e.to_string(),
            "fix the [s3] settings / SONGREC_S3_* variables",
        ),
        Err(_) => c.not_checked(names::BUCKET),
    }
    DoctorReport { checks: c.out }
}

async fn data_api_checks(c: &mut Checks, client: &DataApiClient, prefix: &str) {
    let infos = match client.find_collections(true).await {
        Ok(i) => {
            c.ok(names::ENDPOINT, "answers");
            c.ok(names::TOKEN, "accepted");
            c.ok(names::KEYSPACE, client.config().keyspace.clone());
            i
        }
        Err(e @ DataApiError::Unauthorized { .. }) => {
            c.ok(names::ENDPOINT, "answers");
            c.fail(
                names::TOKEN,
                e.to_string(),
                "create an application token for this database in the Astra console and put it in ASTRA_DB_APPLICATION_TOKEN",
            );
            return;
        }
        Err(e @ DataApiError::KeyspaceNotFound(_)) => {
            c.ok(names::ENDPOINT, "answers");
            c.ok(names::TOKEN, "accepted");
            c.fail(
                names::KEYSPACE,
                e.to_string(),
                "create the keyspace in the Astra console, or set ASTRA_DB_KEYSPACE to an existing one",
            );
            return;
        }
        Err(e) => {
            let fix = match &e {
                DataApiError::Http {
                    http_status: 404, ..
                } => {
                    "check the API path: /api/json/v1 on Astra, /v1 on self-hosted servers (ASTRA_DB_API_PATH)"
                }
                _ => {
                    "check ASTRA_DB_API_ENDPOINT and the network; if the database is hibernated, resume it in the Astra console"
                }
            };
            c.fail(names::ENDPOINT, e.to_string(), fix);
            return;
        }
    };
    let songs_cmd = match schema::songs_command(prefix) {
        Ok(cmd) => cmd,
        Err(e) => {
            c.add(names::COLLECTIONS, CheckStatus::Fail, e.to_string(), None);
            return;
        }
    };
    let songs_name = schema::command_name(&songs_cmd);
    let Some(info) = infos.iter().find(|i| i.name == songs_name) else {
        c.fail(
            names::COLLECTIONS,
            format!("collection {songs_name} does not exist"),
            "run `songrec init-astra`",
        );
        return;
    };
    let mut problems = Vec::new();
    if let Some(d) = schema::settings_difference(&schema::command_options(&songs_cmd), info) {
        problems.push(format!("{songs_name}: {d}"));
    }
    let registry = client
        .collection(&songs_name)
        .find(serde_json::json!({"kind": "model"}), Default::default())
        .collect_all()
        .await;
    let mut names_ok = vec![songs_name.clone()];
    match registry {
        Ok(docs) => {
            for r in docs.iter().filter_map(RegisteredModel::from_doc) {
                let Ok(cmd) = schema::vector_command(prefix, &r.collection, r.model.dim) else {
                    continue;
                };
                match infos.iter().find(|i| i.name == r.collection) {
                    None => problems.push(format!(
                        "{} (model {}) does not exist",
                        r.collection,
                        r.model.key()
                    )),
                    Some(i) => match schema::settings_difference(&schema::command_options(&cmd), i)
                    {
                        Some(d) => problems.push(format!("{}: {d}", r.collection)),
                        None => names_ok.push(r.collection.clone()),
                    },
                }
            }
        }
        Err(e) => problems.push(format!("reading the model registry: {e}")),
    }
    if problems.is_empty() {
        c.ok(names::COLLECTIONS, names_ok.join(", "));
        schema_check(c, &client.collection(&songs_name)).await;
    } else {
        c.fail(
            names::COLLECTIONS,
            problems.join("; "),
            "run `songrec init-astra`; a collection with different settings must be deleted (its data is lost) or another collection_prefix used",
        );
    }
}

/// The schema version recorded in the songs collection against this songrec's.
async fn schema_check(c: &mut Checks, songs: &crate::dataapi::Collection) {
    let want = schema::SCHEMA_VERSION;
    let (status, detail, fix) = match schema::recorded_version(songs).await {
        Err(e) => (CheckStatus::Warn, format!("could not be read: {e}"), None),
        Ok(v) if v == want => (CheckStatus::Ok, format!("{want} (current)"), None),
        Ok(v) if v < want => (
            CheckStatus::Warn,
            format!("{v} of {want}: reads work, some more slowly"),
            Some("run `songrec init-astra` (with a token that can write) to upgrade the documents"),
        ),
        Ok(v) => (
            CheckStatus::Fail,
            format!("{v} (written by a newer songrec; this one knows {want})"),
            Some("upgrade songrec"),
        ),
    };
    c.add(names::SCHEMA, status, detail, fix);
}

fn blob_fix(e: &BlobError) -> &'static str {
    match e {
        BlobError::Unauthorized { .. } => {
            "check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, their permissions on the bucket, and the system clock"
        }
        BlobError::NotFound { .. } => "check SONGREC_S3_BUCKET (the bucket must exist)",
        _ => "check SONGREC_S3_ENDPOINT, SONGREC_S3_BUCKET, SONGREC_S3_REGION and the network",
    }
}

async fn bucket_checks(c: &mut Checks, store: &BlobStore) {
    let probe = format!("songrec doctor probe {}", uuid::Uuid::new_v4());
    let hash = hex::encode(Sha256::digest(probe.as_bytes()));
    let result: Result<(), (BlobError, &str)> = async {
        let io = |path| move |source| (BlobError::Io { path, source }, "put");
        let dir = tempfile::tempdir().map_err(io(std::env::temp_dir()))?;
        let src = dir.path().join("probe");
        std::fs::write(&src, probe.as_bytes()).map_err(io(src.clone()))?;
        store.put_file(&hash, &src).await.map_err(|e| (e, "put"))?;
        let back = dir.path().join("back");
        let got = store.get_to_file(&hash, &back).await;
        let deleted = store.delete(&hash).await;
        got.map_err(|e| (e, "get"))?;
        deleted.map_err(|e| (e, "delete"))?;
        Ok(())
    }
    .await;
    match result {
        Ok(()) => c.ok(
            names::BUCKET,
            format!(
                "put, get and delete of a probe object in {} work",
                store.bucket()
            ),
        ),
        Err((e, step)) => {
            c.fail(
                names::BUCKET,
                format!("{step} of a probe object failed: {e}"),
                blob_fix(&e),
            );
            return;
        }
    }
    match store.check_conditional_put().await {
        Ok(()) => c.ok(names::CONDITIONAL_PUT, "supported"),
        Err(e @ BlobError::ConditionalPutUnsupported(_)) => c.add(
            names::CONDITIONAL_PUT,
            CheckStatus::Warn,
            e.to_string(),
            Some("uploads still work (blobs are content-addressed, a double upload writes the same bytes), but use an S3 server that honours If-None-Match to avoid redundant uploads"),
        ),
        Err(e) => {
            let fix = blob_fix(&e);
            c.fail(names::CONDITIONAL_PUT, e.to_string(), fix);
        }
    }
}
