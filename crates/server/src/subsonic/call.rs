//! What a handler of `/rest/` is given ([`Call`]) and what it answers ([`Reply`]).

use std::sync::Arc;

use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Map, Value};

use crate::state::AppState;
use crate::subsonic_core::catalog::Catalog;
use crate::subsonic_core::error::Fail;
use crate::subsonic_core::params::Params;

/// A handler's answer: fields of the envelope, or a response of its own (audio).
pub enum Reply {
    Fields(Map<String, Value>),
    Raw(Response),
}

impl Reply {
    /// An answer with no fields (`ping`).
    pub fn empty() -> Self {
        Self::Fields(Map::new())
    }

    /// An answer with one field.
    pub fn one(key: &str, v: Value) -> Self {
        let mut m = Map::new();
        m.insert(key.into(), v);
        Self::Fields(m)
    }
}

/// What a handler is given.
pub struct Call<'a> {
    pub st: &'a AppState,
    pub p: &'a Params,
    pub headers: &'a HeaderMap,
}

impl Call<'_> {
    /// The library grouped into artists and albums.
    pub async fn catalog(&self) -> Result<Arc<Catalog>, Fail> {
        self.st.subsonic.catalog.get(self.st.backend.as_ref()).await
    }
}
