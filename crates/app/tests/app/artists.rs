//! Similar artists on a small library with known vectors: best first by the best cosine of one
//! of their songs to one of the artist's, the artist matched case-insensitively, an unknown
//! artist a typed error with names that contain it.

use songrec_app::embedders::Pool;
use songrec_app::similar::artists::{ArtistsError, UNKNOWN_ARTIST, similar_artists};
use songrec_conformance::MemoryBackend;
use songrec_storage::prelude::*;
use songrec_storage::{Embedding, ModelInfo, SongId, SongMetadata};

/// A song at `angle` radians on the unit circle of model `m@1`.
async fn put(b: &MemoryBackend, title: &str, artist: Option<&str>, angle: f32) {
    let mut m = SongMetadata::new(SongId::from_bytes(title.as_bytes()), title);
    m.artist = artist.map(str::to_owned);
    m.duration_secs = 100.0 + f64::from(angle) * 50.0;
    b.put_metadata(&m).await.unwrap();
    let e = Embedding::new(ModelInfo::new("m", "1", 2), vec![angle.cos(), angle.sin()]).unwrap();
    b.put_embedding(&m.id, &e).await.unwrap();
}

#[tokio::test]
async fn similar_artists_best_first_with_their_songs() {
    let b = MemoryBackend::new();
    put(&b, "a1", Some("Alpha"), 0.0).await;
    put(&b, "a2", Some("alpha "), 0.1).await;
    put(&b, "b1", Some("Beta"), 0.35).await;
    put(&b, "g1", Some("Gamma"), 0.25).await;
    put(&b, "g2", Some("Gamma"), 2.5).await;
    put(&b, "u1", None, 1.2).await;
    let pool = Pool::new(Default::default());

    let got = similar_artists(&b, &pool, "  ALPHA ", 10).await.unwrap();
    assert_eq!(got.artist, "Alpha");
    assert_eq!((got.songs, got.probes), (2, 2));
    let names: Vec<(&str, usize)> = got
        .similar
        .iter()
        .map(|a| (a.name.as_str(), a.songs))
        .collect();
    assert_eq!(
        names,
        [("Gamma", 2), ("Beta", 1), (UNKNOWN_ARTIST, 1)],
        "{got:?}"
    );
    // Gamma's best: g1 (0.25) against a2 (0.1).
    assert!(
        (got.similar[0].similarity - 0.15f32.cos()).abs() < 1e-4,
        "{got:?}"
    );
    assert!(
        (got.similar[2].similarity - 1.1f32.cos()).abs() < 1e-4,
        "{got:?}"
    );

    let one = similar_artists(&b, &pool, "alpha", 1).await.unwrap();
    assert_eq!(one.similar.len(), 1);
    assert_eq!(one.similar[0].name, "Gamma");

    // Songs without an artist are one artist, asked for by the catalog's name.
    let unknown = similar_artists(&b, &pool, UNKNOWN_ARTIST, 10)
        .await
        .unwrap();
    assert_eq!(unknown.similar[0].name, "Beta", "{unknown:?}");

    match similar_artists(&b, &pool, "alph", 10).await {
        Err(ArtistsError::UnknownArtist { name, near }) => {
            assert_eq!(name, "alph");
            assert_eq!(near, ["Alpha"]);
        }
        other => panic!("{other:?}"),
    }
}
