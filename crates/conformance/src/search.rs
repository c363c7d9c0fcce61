//! Embeddings and search: round trips, model separation, exact search against the brute-force oracle, invalid queries.

use songrec_storage::backend::{SongRecord, StorageBackend};
use songrec_storage::error::StorageError;
use songrec_storage::filter::{Condition, Field, Filter, Value};
use songrec_storage::math::Metric;
use songrec_storage::model::{Embedding, ModelInfo};
use songrec_storage::query::{ListQuery, SearchQuery};
use songrec_storage::rng::SplitMix;

use crate::fixtures::{assert_search, brute_force, clear, model_a, model_b, put_library, song};

/// Vectors round-trip exactly, per model; dimensions are enforced; models never mix.
pub async fn embeddings_roundtrip_and_models(b: &dyn StorageBackend) {
    let m = song(901);
    let e = Embedding::new(
        model_a(),
        vec![0.5, -1.25, 3.0e-7, 1.0e6, -0.0, 2.0, -3.5, 0.125],
    )
    .expect("valid");
    b.put_embedding(&m.id, &e).await.expect("put_embedding");
    b.put_metadata(&m).await.expect("put_metadata");
    let got = b
        .get_embedding(&m.id, &model_a())
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(
        got.vector, e.vector,
        "vector round trip must be exact (f32)"
    );
    assert_eq!(got.model, model_a());
    assert!(
        b.get_embedding(&m.id, &model_b())
            .await
            .expect("get b")
            .is_none(),
        "no vector for model b yet"
    );

    // Same model, other dimension: refused, and the stored vector is untouched.
    let wrong = Embedding {
        model: ModelInfo::new("conformance-a", "1", 3),
        vector: vec![1.0, 2.0, 3.0],
    };
    let err = b
        .put_embedding(&m.id, &wrong)
        .await
        .expect_err("dimension mismatch must fail");
    assert!(
        matches!(err, StorageError::DimensionMismatch { .. }),
        "want DimensionMismatch, got {err}"
    );
    let broken = Embedding {
        model: model_a(),
        vector: vec![1.0; 5],
    };
    assert!(
        b.put_embedding(&m.id, &broken).await.is_err(),
        "vector shorter than its model's dim"
    );
    assert_eq!(
        b.get_embedding(&m.id, &model_a())
            .await
            .expect("get")
            .expect("kept")
            .vector,
        e.vector
    );

    // A second model lives side by side.
    let eb = Embedding::new(model_b(), vec![1.0, 0.0, 0.0, 0.0, 0.0]).expect("valid");
    b.put_embedding(&m.id, &eb).await.expect("put b");
    let other = song(902);
    b.put_songs(&[SongRecord {
        metadata: other.clone(),
        embeddings: vec![Embedding::new(model_b(), vec![0.0, 1.0, 0.0, 0.0, 0.0]).expect("valid")],
    }])
    .await
    .expect("put other");
    let mut models = b.models().await.expect("models");
    models.sort_by(|x, y| x.model.cmp(&y.model));
    let summary: Vec<_> = models.iter().map(|s| (s.model.clone(), s.count)).collect();
    assert_eq!(
        summary,
        vec![(model_a(), 1), (model_b(), 2)],
        "models() summary"
    );
    // Searching model a never returns the song that only has a model-b vector.
    let hits = b
        .search(&SearchQuery::new(model_a(), vec![1.0; 8], 10))
        .await
        .expect("search a");
    assert_eq!(
        hits.iter().map(|h| h.id.clone()).collect::<Vec<_>>(),
        vec![m.id.clone()]
    );
    // Replacing a vector changes search results.
    let e2 = Embedding::new(model_b(), vec![0.0, 1.0, 0.0, 0.0, 0.0]).expect("valid");
    b.put_embedding(&m.id, &e2).await.expect("replace");
    let hits = b
        .search(&SearchQuery::new(
            model_b(),
            vec![0.0, 1.0, 0.0, 0.0, 0.0],
            10,
        ))
        .await
        .expect("search b");
    assert_eq!(hits.len(), 2);
    assert!(
        hits.iter().all(|h| (h.similarity - 1.0).abs() < 1e-5),
        "both now identical to the query"
    );
    b.delete_song(&m.id).await.expect("delete");
    b.delete_song(&other.id).await.expect("delete");
    assert!(
        b.get_embedding(&m.id, &model_a())
            .await
            .expect("get")
            .is_none(),
        "delete removes vectors"
    );
    let left: u64 = b
        .models()
        .await
        .expect("models")
        .iter()
        .map(|s| s.count)
        .sum();
    assert_eq!(left, 0, "no vectors left after deletes");
}

/// Exact search equals brute force for every metric, with filters, thresholds, offset and exclusions.
pub async fn search_matches_brute_force(b: &dyn StorageBackend) {
    let mut rng = SplitMix::new(42);
    let lib = put_library(b, 40, &mut rng).await;
    let qv = rng.vector(model_a().dim);
    for metric in [Metric::Cosine, Metric::Dot, Metric::L2] {
        let mut q = SearchQuery::new(model_a(), qv.clone(), 7);
        q.ranking.metric = metric;
        assert_search(b, &lib, &q, &format!("{metric} plain")).await;
        q.ranking.filter =
            Filter::default().and(Condition::Eq(Field::Genre, Value::Text("JAZZ".into())));
        assert_search(b, &lib, &q, &format!("{metric} filtered")).await;
    }
    // Up to the backend's own cap (1000 on the Data API; a local library has none, so 2000
    // must work there): a query reaching it is answered in full.
    let reach = b.max_results().min(2000);
    let mut q = SearchQuery::new(model_a(), qv.clone(), reach - 1);
    q.ranking.offset = 1;
    assert_search(b, &lib, &q, &format!("k {} after offset 1", reach - 1)).await;
    // A filter that keeps songs far down the unfiltered ranking still returns them (exactness).
    let mut q = SearchQuery::new(model_a(), qv.clone(), 40);
    let ranked = brute_force(&lib, &q);
    let worst = ranked.last().expect("results").0.clone();
    let worst_song = lib
        .iter()
        .find(|(m, _)| m.id == worst)
        .expect("song")
        .0
        .clone();
    q.ranking.k = 1;
    q.ranking.filter = Filter::default().and(Condition::Eq(
        Field::Title,
        Value::Text(worst_song.title.to_uppercase()),
    ));
    let hits = b.search(&q).await.expect("needle search");
    assert_eq!(
        hits.iter().map(|h| h.id.clone()).collect::<Vec<_>>(),
        vec![worst],
        "filter-then-rank"
    );

    let mut q = SearchQuery::new(model_a(), qv.clone(), 5);
    q.ranking.offset = 3;
    q.exclude = vec![ranked[0].0.clone(), ranked[4].0.clone()];
    assert_search(b, &lib, &q, "offset + exclude").await;
    let mut q = SearchQuery::new(model_a(), qv.clone(), 40);
    q.ranking.threshold = Some(0.2);
    assert_search(b, &lib, &q, "threshold").await;
    q.ranking.filter = Filter::default()
        .and(Condition::Range {
            field: Field::Bpm,
            min: Some(110.0),
            max: Some(150.0),
        })
        .and(Condition::Eq(Field::Tags, Value::Text("bright".into())));
    assert_search(b, &lib, &q, "threshold + range + tag").await;
    // A stored song's own vector finds itself first with similarity 1.
    let (m0, v0) = &lib[11];
    let hits = b
        .search(&SearchQuery::new(model_a(), v0.clone(), 1))
        .await
        .expect("self search");
    assert_eq!(hits[0].id, m0.id);
    assert!((hits[0].similarity - 1.0).abs() < 1e-5);
    assert_eq!(hits[0].metadata, *m0, "match carries full metadata");
    clear(b, &lib).await;
}

/// Bad queries are refused with `InvalidInput` / `DimensionMismatch`, identically everywhere.
pub async fn invalid_queries(b: &dyn StorageBackend) {
    let ok = SearchQuery::new(model_a(), vec![1.0; 8], 5);
    let max = b.max_results();
    let sized = |k, offset| {
        let mut q = ok.clone();
        (q.ranking.k, q.ranking.offset) = (k, offset);
        q
    };
    let mut cases: Vec<(&str, SearchQuery)> = vec![
        ("k = 0", sized(0, 0)),
        ("offset + k overflowing", sized(usize::MAX, 1)),
        (
            "zero vector with cosine",
            SearchQuery {
                vector: vec![0.0; 8],
                ..ok.clone()
            },
        ),
        (
            "NaN in query",
            SearchQuery {
                vector: vec![f32::NAN; 8],
                ..ok.clone()
            },
        ),
    ];
    // The backend's own search cap, when it has one (the Data API's 1000).
    if max < usize::MAX {
        cases.push(("k over the cap", sized(max + 1, 0)));
        cases.push(("offset + k over the cap", sized(10, max - 5)));
    }
    for (what, q) in cases {
        let err = b.search(&q).await.expect_err(what);
        assert!(
            matches!(err, StorageError::InvalidInput(_)),
            "{what}: want InvalidInput, got {err}"
        );
    }
    let err = b
        .search(&SearchQuery {
            vector: vec![1.0; 3],
            ..ok.clone()
        })
        .await
        .expect_err("dim");
    assert!(
        matches!(err, StorageError::DimensionMismatch { .. }),
        "query dim: got {err}"
    );
    let err = b
        .list(&ListQuery {
            limit: 0,
            ..ListQuery::default()
        })
        .await
        .expect_err("limit 0");
    assert!(
        matches!(err, StorageError::InvalidInput(_)),
        "list limit 0: got {err}"
    );
}
