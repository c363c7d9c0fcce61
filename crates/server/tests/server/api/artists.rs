//! `GET /api/v1/artists/{name}/similar` on a library with known vectors: the order of the
//! artists, the artist matched in any case, an unknown artist a JSON 404.

use songrec_conformance::MemoryBackend;
use songrec_storage::prelude::*;
use songrec_storage::{Embedding, ModelInfo, SongId, SongMetadata};
use songrec_testkit::server::serve;

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn similar_artists_best_first_and_unknown_is_404() {
    let b = MemoryBackend::new();
    for (title, artist, angle) in [
        ("a1", Some("Alpha"), 0.0f32),
        ("a2", Some("Alpha"), 0.1),
        ("b1", Some("Beta"), 0.35),
        ("g1", Some("Gamma"), 0.25),
        ("g2", Some("Gamma"), 2.5),
        ("u1", None, 1.2),
    ] {
        let mut m = SongMetadata::new(SongId::from_bytes(title.as_bytes()), title);
        m.artist = artist.map(str::to_owned);
        m.duration_secs = 100.0 + f64::from(angle) * 50.0;
        b.put_metadata(&m).await.unwrap();
        let e = Embedding::new(ModelInfo::new("m", "1", 2), vec![angle.cos(), angle.sin()]);
        b.put_embedding(&m.id, &e.unwrap()).await.unwrap();
    }
    let srv = serve(Arc::new(b), |_| {}).await;

    let (s, v) = get(&srv.url("/api/v1/artists/alpha/similar")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["artist"], "Alpha");
    assert_eq!(v["songs"], 2);
    let names: Vec<(&str, u64)> = v["similar"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["name"].as_str().unwrap(), a["songs"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        names,
        [("Gamma", 2), ("Beta", 1), ("[Unknown Artist]", 1)],
        "{v}"
    );

    let (s, v) = get(&srv.url("/api/v1/artists/%20GAMMA/similar?k=1")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["similar"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["similar"][0]["name"], "Beta", "{v}");

    let got = get(&srv.url("/api/v1/artists/Alp/similar")).await;
    let msg = assert_error(&got, StatusCode::NOT_FOUND, "not_found");
    assert!(msg.contains("\"Alp\"") && msg.contains("Alpha"), "{msg}");
    let got = get(&srv.url("/api/v1/artists/alpha/similar?k=0")).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "bad_request");
    srv.stop().await;
}
