//! The embedders a long-running process has started.

use std::sync::Arc;

use songrec_audio::Embedder;
use songrec_config::EmbedderConfig;

use super::make::by_name_with;
use super::names::{model_by_name, model_of};
use crate::AppResult;

/// The embedders a long-running process (the web server) has started, by model, started on
/// first use with one configuration: a query that needs musicnn to analyse a file starts it
/// once, and every later query reuses it. The CLI's one-shot commands use a fresh pool.
///
/// ```
/// use songrec_app::embedders::Pool;
/// let pool = Pool::new(songrec_config::EmbedderConfig::default());
/// let a = pool.get("dsp").unwrap();
/// let b = pool.get("songrec-dsp").unwrap();
/// assert!(std::sync::Arc::ptr_eq(&a, &b));
/// ```
pub struct Pool {
    cfg: EmbedderConfig,
    started: std::sync::Mutex<Vec<Arc<dyn Embedder>>>,
}

impl Pool {
    /// An empty pool: embedders start on first use with `cfg`.
    pub fn new(cfg: EmbedderConfig) -> Self {
        Self::with(cfg, Vec::new())
    }

    /// A pool holding already started embedders (others start on first use with `cfg`).
    pub fn with(cfg: EmbedderConfig, started: Vec<Arc<dyn Embedder>>) -> Self {
        Self {
            cfg,
            started: std::sync::Mutex::new(started),
        }
    }

    /// The embedder of a name users type (`dsp`, `musicnn`), started now if it is not yet.
    pub fn get(&self, name: &str) -> AppResult<Arc<dyn Embedder>> {
        let want = model_by_name(name)?;
        let found = |list: &[Arc<dyn Embedder>]| {
            list.iter().find(|e| model_of(e.as_ref()) == want).cloned()
        };
        if let Some(e) = found(&self.lock()) {
            return Ok(e);
        }
        // Started outside the lock (a model load takes a while); the first one stored wins.
        let e = by_name_with(name, &self.cfg)?;
        let mut list = self.lock();
        if let Some(other) = found(&list) {
            return Ok(other);
        }
        list.push(e.clone());
        Ok(e)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arc<dyn Embedder>>> {
        self.started.lock().unwrap_or_else(|e| e.into_inner())
    }
}
