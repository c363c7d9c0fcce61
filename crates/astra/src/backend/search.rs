//! Reading vectors: one song's vector, and similarity search (the server's ANN search for
//! cosine with filters it can apply, otherwise an exact scan of the model's collection).

use futures::StreamExt as _;
use serde_json::{Value, json};
use songrec_storage::math::{self, TopK};
use songrec_storage::{
    Embedding, Match, Metric, ModelInfo, SearchQuery, SongId, StorageError, StorageResult,
};

use super::docs::{self, META};
use super::errors;
use super::filter::translate;
use super::handle::{AstraBackend, base};
use super::storage::Ops;
use crate::dataapi::{Collection, FindOptions, Sort, decode_vector, document_vector};

/// Extra candidates fetched by a cosine search so client-side re-ranking (exact f32 cosine,
/// ties by id) cannot be affected by server rounding at the cut-off.
const SEARCH_MARGIN: usize = 8;

impl AstraBackend {
    async fn search_ann(
        &self,
        q: &SearchQuery,
        coll: &Collection,
        filter: Value,
    ) -> StorageResult<Vec<Match>> {
        let want = q.ranking.offset + q.ranking.k;
        let fetch = (want + SEARCH_MARGIN).min(songrec_storage::query::MAX_RESULTS);
        let opts = FindOptions::default()
            .sort(Sort::Vector(q.vector.clone()))
            .limit(fetch)
            .include_similarity(true)
            .projection(json!({ META: 1, "$vector": 1 }));
        let docs = coll.find(filter, opts).collect_all().await.map_err(|e| {
            errors::api_vector(
                e,
                "similarity search",
                &q.model.key(),
                q.model.dim,
                q.vector.len(),
            )
        })?;
        let qn = math::norm(&q.vector);
        let mut top = TopK::new(want);
        for (i, doc) in docs.iter().enumerate() {
            let id = docs::doc_id(doc)?;
            let score = match doc.get("$vector").map(decode_vector) {
                Some(Ok(v)) => {
                    math::score(Metric::Cosine, math::dot(&q.vector, &v), qn, math::norm(&v)).0
                }
                _ => (doc.get("$similarity").and_then(Value::as_f64))
                    .map_or(0.0, |s| (2.0 * s - 1.0) as f32),
            };
            if q.ranking.threshold.is_some_and(|t| score < t) {
                continue;
            }
            top.push(score, (id, i));
        }
        top.into_sorted()
            .into_iter()
            .skip(q.ranking.offset)
            .map(|s| {
                let (id, i) = s.key;
                let doc = docs.get(i).unwrap_or(&Value::Null);
                Ok(Match {
                    metadata: docs::parse_meta(doc)?,
                    id,
                    similarity: s.score,
                    distance: None,
                    approximate: false,
                })
            })
            .collect()
    }

    async fn search_scan(
        &self,
        q: &SearchQuery,
        coll: &Collection,
        filter: Value,
        recheck: bool,
    ) -> StorageResult<Vec<Match>> {
        let mut stream = std::pin::pin!(
            coll.find(
                filter,
                FindOptions::default().projection(json!({ META: 1, "$vector": 1 })),
            )
            .into_stream()
        );
        let (qn, r) = (math::norm(&q.vector), &q.ranking);
        // Key: (id, l2 distance bits, metadata text); ids are unique, so ties order by id.
        let mut top: TopK<(SongId, u32, String)> = TopK::new(r.offset + r.k);
        while let Some(doc) = stream.next().await {
            let doc = doc.map_err(|e| errors::api(e, "scanning vectors"))?;
            let id = docs::doc_id(&doc)?;
            let Some(Ok(v)) = doc.get("$vector").map(decode_vector) else {
                continue;
            };
            if v.len() != q.vector.len() {
                return Err(StorageError::DimensionMismatch {
                    model: q.model.key(),
                    expected: v.len(),
                    got: q.vector.len(),
                });
            }
            let meta = doc.get(META).and_then(Value::as_str).unwrap_or_default();
            if recheck && !r.filter.matches(&docs::parse_meta(&doc)?) {
                continue;
            }
            let (s, d) = math::score(r.metric, math::dot(&q.vector, &v), qn, math::norm(&v));
            if r.threshold.is_some_and(|t| s < t) || top.floor().is_some_and(|f| s < f) {
                continue;
            }
            top.push(s, (id, d.unwrap_or(0.0).to_bits(), meta.to_owned()));
        }
        top.into_sorted()
            .into_iter()
            .skip(r.offset)
            .map(|s| {
                let (id, distance_bits, meta) = s.key;
                let doc = json!({"_id": id.as_str(), META: meta});
                let metadata = docs::parse_meta(&doc)?;
                let distance = (r.metric == Metric::L2).then(|| f32::from_bits(distance_bits));
                Ok(Match {
                    id,
                    similarity: s.score,
                    distance,
                    metadata,
                    approximate: false,
                })
            })
            .collect()
    }
}

impl Ops<'_> {
    pub(super) async fn get_embedding(
        &self,
        id: &SongId,
        model: &ModelInfo,
    ) -> StorageResult<Option<Embedding>> {
        let Some(r) = self.lookup(model).await? else {
            return Ok(None);
        };
        let what = format!("reading the {} vector of song {id}", r.model.key());
        let projection = FindOptions::default().projection(json!({"live": 1, "$vector": 1}));
        let doc = self.vectors(&r).find_one(r.id_filter(id), projection).await;
        let doc = doc.map_err(|e| errors::api(e, &what))?;
        let Some(doc) = doc else { return Ok(None) };
        let vector = document_vector(&doc).map_err(|e| {
            let model = r.model.key();
            let why = format!("the stored {model} vector of song {id} is unreadable: {e}");
            errors::backend(why)
        })?;
        Ok(vector.map(|vector| Embedding {
            model: r.model,
            vector,
        }))
    }

    pub(super) async fn search(&self, query: &SearchQuery) -> StorageResult<Vec<Match>> {
        query.validate_for(songrec_storage::query::MAX_RESULTS)?;
        let Some(r) = self.lookup(&query.model).await? else {
            return Ok(Vec::new());
        };
        query.model.same_dim_as(&r.model)?;
        let t = translate(&query.ranking.filter);
        if t.never {
            return Ok(Vec::new());
        }
        let mut b = base("live", json!(true));
        let (tag, scope) = r.scope();
        b.insert(tag, scope);
        if !query.exclude.is_empty() {
            let ids: Vec<String> = query.exclude.iter().map(|id| r.doc_id(id)).collect();
            b.insert("_id".into(), json!({ "$nin": ids }));
        }
        let filter = t.with_base(b);
        let coll = self.vectors(&r);
        if query.ranking.metric == Metric::Cosine && !t.needs_recheck {
            self.search_ann(query, &coll, filter).await
        } else {
            self.search_scan(query, &coll, filter, t.needs_recheck)
                .await
        }
    }
}
