//! `songrec doctor`'s storage checks: the local library's own, then the cloud's (Astra + S3),
//! in the storage contract's report types ([`songrec_storage::doctor`]).

use songrec_config::{BackendKind, Config};
use songrec_storage::doctor::{CheckStatus, DoctorCheck, DoctorReport};
use songrec_storage::prelude::*;

use songrec_local::LocalBackend;
use songrec_storage::Filter;
use songrec_storage::plural::{count, noun};

use crate::options::{astra_options, local_options};

/// Checks the Astra/S3 configuration (credentials, keyspace, collections, bucket), each check
/// with what to fix.
pub async fn astra_doctor(cfg: &Config) -> DoctorReport {
    songrec_astra::doctor(&astra_options(cfg)).await
}

/// `songrec doctor`'s storage checks: the local library when it is the backend, then the cloud
/// (Astra + S3) when it is the backend or configured (else one line saying it is not).
pub async fn doctor(cfg: &Config) -> DoctorReport {
    let mut report = DoctorReport::default();
    if cfg.backend == BackendKind::Local {
        report.checks.extend(local_doctor(cfg).await);
        if !cloud_configured(cfg) {
            report.checks.push(DoctorCheck {
                name: "cloud (Astra + S3)".into(),
                status: CheckStatus::Ok,
                detail: "not configured; it is used by `--storage-backend astra` (or \
                         SONGREC_STORAGE_BACKEND=astra, `[storage] backend = \"astra\"`), \
                         `sync` and `migrate`"
                    .into(),
                fix: None,
            });
            return report;
        }
    }
    report.checks.extend(astra_doctor(cfg).await.checks);
    report
}

/// Whether any cloud setting is given (an endpoint, a token, a bucket or S3 keys).
fn cloud_configured(cfg: &Config) -> bool {
    !cfg.astra.api_endpoint.trim().is_empty()
        || !cfg.astra.token.is_empty()
        || !cfg.s3.bucket.trim().is_empty()
        || !cfg.s3.access_key_id.trim().is_empty()
        || !cfg.s3.secret_access_key.is_empty()
}

/// The local library's checks: what it holds, whether another process is writing to it, and
/// whether each model's vectors have the index `similar` expects at their number.
async fn local_doctor(cfg: &Config) -> Vec<DoctorCheck> {
    let root = &cfg.local.path;
    let check = |name: &str, status, detail: String, fix: Option<&str>| DoctorCheck {
        name: name.into(),
        status,
        detail,
        fix: fix.map(str::to_owned),
    };
    if !root.join("data").is_dir() {
        return vec![check(
            "local library",
            CheckStatus::Warn,
            format!("no library at {} yet", root.display()),
            Some(
                "`songrec ingest ~/Music` creates it (or point --library / SONGREC_LIBRARY at yours)",
            ),
        )];
    }
    let failed = |e: songrec_storage::StorageError| {
        let detail = format!("{}: {e}", root.display());
        check("local library", CheckStatus::Fail, detail, None)
    };
    let opened =
        local_options(cfg).and_then(|o| LocalBackend::open_with(root, o.clone()).map(|b| (b, o)));
    let (lib, opts) = match opened {
        Ok(x) => x,
        Err(e) => return vec![failed(e)],
    };
    let mut out = Vec::new();
    let listed = async {
        Ok::<_, songrec_storage::StorageError>((
            lib.count(&Filter::default()).await?,
            lib.list_versions().await?,
            lib.models().await?,
        ))
    }
    .await;
    let models = match listed {
        Ok((n, versions, models)) => {
            let tombstones = versions.iter().filter(|e| e.deleted).count();
            let vectors: Vec<String> = models
                .iter()
                .map(|m| format!("{} {}", m.model.key(), m.count))
                .collect();
            out.push(check(
                "local library",
                CheckStatus::Ok,
                format!(
                    "{}: {}, {tombstones} deleted ({}), vectors: {}",
                    root.display(),
                    count(n, "song"),
                    noun(tombstones, "tombstone"),
                    if vectors.is_empty() {
                        "none".into()
                    } else {
                        vectors.join(", ")
                    }
                ),
                None,
            ));
            models
        }
        Err(e) => {
            out.push(failed(e));
            Vec::new()
        }
    };
    for m in models {
        let bytes = lib.ann_index_bytes(&m.model).await.ok().flatten();
        let (key, vectors) = (m.model.key(), count(m.count, "vector"));
        let wanted = usize::try_from(m.count).unwrap_or(usize::MAX) >= opts.ann.min_vectors;
        let (status, detail, fix) = match (bytes, wanted) {
            (Some(b), _) => {
                let mb = b as f64 / 1e6;
                let detail = format!("{key}: {vectors}, approximate index ({mb:.1} MB)");
                (CheckStatus::Ok, detail, None)
            }
            (None, false) => (
                CheckStatus::Ok,
                format!("{key}: {vectors}, searched exactly"),
                None,
            ),
            (None, true) => (
                CheckStatus::Warn,
                format!("{key}: {vectors} and no approximate index: every search scans them all"),
                Some("`songrec reindex` builds it"),
            ),
        };
        out.push(check("vector index", status, detail, fix));
    }
    let (status, detail, fix) = match lib.lock_for_writing().await {
        Ok(()) => {
            let free = "free (no other songrec is writing to this library)";
            (CheckStatus::Ok, free.into(), None)
        }
        Err(e @ songrec_storage::StorageError::Locked { .. }) => {
            let wait = "wait for that command to finish; reading commands work meanwhile";
            (CheckStatus::Warn, e.to_string(), Some(wait))
        }
        Err(e) => {
            let fix = "check the library folder's permissions";
            (CheckStatus::Fail, e.to_string(), Some(fix))
        }
    };
    out.push(check("write lock", status, detail, fix));
    out
}
