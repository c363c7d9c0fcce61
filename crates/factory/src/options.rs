//! The backends' options from the configuration: the local backend's from `[local]` and
//! `[library]`, the Astra backend's from `[astra]` and `[s3]`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use songrec_astra::{AstraOptions, S3Options};
use songrec_config::Config;
use songrec_storage::StorageResult;

/// The local backend's options from `[local]` and `[library]`.
pub fn local_options(cfg: &Config) -> StorageResult<songrec_local::LocalOptions> {
    let c = &cfg.local;
    let quantization = c
        .ann_quantization
        .parse()
        .map_err(songrec_storage::StorageError::InvalidInput)?;
    Ok(songrec_local::LocalOptions {
        ann: songrec_local::AnnOptions {
            min_vectors: if c.ann_threshold == 0 {
                usize::MAX
            } else {
                c.ann_threshold
            },
            quantization,
            expansion_search: (c.ann_ef_search > 0).then_some(c.ann_ef_search),
            ..songrec_local::AnnOptions::default()
        },
        audio: cfg.library.audio,
        music: cfg.library.music.as_deref().map(absolute).transpose()?,
        ..songrec_local::LocalOptions::default()
    })
}

/// `p` made absolute against the working folder (references store absolute paths).
fn absolute(p: &Path) -> StorageResult<PathBuf> {
    std::path::absolute(p).map_err(|e| songrec_storage::StorageError::io(p, e))
}

/// The Astra backend's options from the `[astra]` and `[s3]` settings.
pub fn astra_options(cfg: &Config) -> AstraOptions {
    let (a, s) = (&cfg.astra, &cfg.s3);
    AstraOptions {
        api_endpoint: a.api_endpoint.clone(),
        token: a.token.clone(),
        keyspace: a.keyspace.clone(),
        collection_prefix: a.collection_prefix.clone(),
        api_path: a.api_path.clone(),
        request_timeout: Duration::from_secs(a.request_timeout_secs),
        allow_http: a.allow_http,
        s3: S3Options {
            endpoint: s.endpoint.clone(),
            bucket: s.bucket.clone(),
            region: s.region.clone(),
            prefix: s.prefix.clone(),
            access_key_id: s.access_key_id.clone(),
            secret_access_key: s.secret_access_key.clone(),
            allow_http: s.allow_http,
            request_timeout: Duration::from_secs(s.request_timeout_secs),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_astra_options_carry_the_configuration_and_never_show_its_secrets() {
        let mut cfg = Config::from_sources(None, &Default::default()).unwrap();
        cfg.astra.token = songrec_storage::Secret::new("AstraCS:token-never-shown");
        cfg.s3.secret_access_key = songrec_storage::Secret::new("s3-secret-never-shown");
        cfg.s3.bucket = "music".into();
        cfg.astra.request_timeout_secs = 17;
        let o = astra_options(&cfg);
        assert_eq!(
            (o.s3.bucket.as_str(), o.request_timeout.as_secs()),
            ("music", 17)
        );
        assert_eq!(o.token.expose(), "AstraCS:token-never-shown");
        let shown = format!("{o:?}");
        assert!(!shown.contains("never-shown"), "{shown}");
    }
}
