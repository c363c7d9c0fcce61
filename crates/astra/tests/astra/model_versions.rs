//! A new version of a registered model (`songrec-mix@1` → `@2`) shares the first version's
//! vector collection, so an upgrade needs no room for another collection: each version reads,
//! searches, counts and deletes only its own documents.

use songrec_storage::prelude::*;

use songrec_storage::{Embedding, ModelInfo, SearchQuery, SongRecord};
use songrec_testkit::LocalCloud;
use songrec_testkit::data::song;

use crate::{api_config, s3_config};

fn v(version: &str) -> ModelInfo {
    ModelInfo::new("songrec-mix", version, 4)
}

fn vector(n: usize, version: usize) -> Vec<f32> {
    (0..4)
        .map(|i| ((n * 3 + i * 5 + version) % 7) as f32 + 1.0)
        .collect()
}

async fn collections(b: &songrec_astra::AstraBackend) -> Vec<String> {
    let mut v: Vec<String> = b
        .client()
        .find_collections(false)
        .await
        .expect("list")
        .into_iter()
        .map(|c| c.name)
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_version_shares_the_collection_of_the_old_one() {
    // A database with room for two collections: the songs and one vector collection.
    let cloud = LocalCloud::builder().max_collections(2).start().await;
    let b = cloud.astra_with(
        api_config(&cloud.api_url(), cloud.token()),
        s3_config(&cloud),
    );
    b.init_schema_within(&[v("1")], Some(2))
        .await
        .expect("init");
    let before = collections(&b).await;
    assert_eq!(before.len(), 2, "{before:?}");

    // Three songs with version 1 (batch path), two of them also get version 2: one through
    // `put_embedding` (as `reembed` does), one through a batch with both versions (as `ingest`
    // does meanwhile).
    let recs: Vec<SongRecord> = (0..3)
        .map(|n| SongRecord {
            metadata: song(n),
            embeddings: vec![Embedding {
                model: v("1"),
                vector: vector(n, 1),
            }],
        })
        .collect();
    assert!(b.put_songs(&recs).await.expect("put").is_complete());
    b.put_embedding(
        &song(0).id,
        &Embedding {
            model: v("2"),
            vector: vector(0, 2),
        },
    )
    .await
    .expect("put v2");
    let both = SongRecord {
        metadata: song(3),
        embeddings: vec![
            Embedding {
                model: v("1"),
                vector: vector(3, 1),
            },
            Embedding {
                model: v("2"),
                vector: vector(3, 2),
            },
        ],
    };
    assert!(b.put_songs(&[both]).await.expect("put both").is_complete());
    // Registering version 2 again (init) fits in the same budget: nothing created.
    b.init_schema_within(&[v("1"), v("2")], Some(2))
        .await
        .expect("init with both versions");
    assert_eq!(collections(&b).await, before, "no collection added");

    let counts: Vec<(String, u64)> = b
        .models()
        .await
        .expect("models")
        .into_iter()
        .map(|s| (s.model.version, s.count))
        .collect();
    assert_eq!(counts, [("1".to_owned(), 4), ("2".to_owned(), 2)]);

    for (version, n) in [(1, 0), (2, 0), (1, 3), (2, 3)] {
        let got = b
            .get_embedding(&song(n).id, &v(&version.to_string()))
            .await
            .expect("get")
            .expect("stored");
        assert_eq!(got.vector, vector(n, version), "song {n} version {version}");
    }
    assert!(
        b.get_embedding(&song(1).id, &v("2"))
            .await
            .expect("get")
            .is_none()
    );

    // Each version's search sees its own songs, under their plain ids, with their metadata.
    let ids = |ms: Vec<songrec_storage::Match>| -> Vec<String> {
        let mut v: Vec<String> = ms.iter().map(|m| m.id.as_str().to_owned()).collect();
        v.sort();
        v
    };
    let mut want2 = vec![
        song(0).id.as_str().to_owned(),
        song(3).id.as_str().to_owned(),
    ];
    want2.sort();
    let q2 = SearchQuery::new(v("2"), vector(0, 2), 10);
    let found = b.search(&q2).await.expect("search v2");
    assert!(found.iter().all(|m| m.metadata.id == m.id), "{found:?}");
    assert_eq!(ids(found), want2);
    assert_eq!(
        b.search(&SearchQuery::new(v("1"), vector(0, 1), 10))
            .await
            .expect("search v1")
            .len(),
        4
    );
    let mut q2x = q2.clone();
    q2x.exclude = vec![song(0).id];
    assert_eq!(
        ids(b.search(&q2x).await.expect("search v2 excluding")),
        [song(3).id.as_str().to_owned()]
    );

    // Deleting a song deletes its vectors of both versions.
    assert!(b.delete_song(&song(0).id).await.expect("delete"));
    let counts: Vec<u64> = b
        .models()
        .await
        .expect("models")
        .into_iter()
        .map(|s| s.count)
        .collect();
    assert_eq!(counts, [3, 1]);
}
