//! The replay of a listener who skips one label: skips lead the radio away from it sooner
//! than the control without neighbour steering, on a library of three clusters.

use songrec_conformance::MemoryBackend;
use songrec_mpd::RadioOptions;
use songrec_mpd::replay::{replay, steering};
use songrec_storage::prelude::*;
use songrec_storage::{Embedding, Field, ModelInfo, SongId, SongMetadata, SongRecord};

fn model() -> ModelInfo {
    ModelInfo::new("clusters", "1", 2)
}

/// Three labels of 8 songs, each a tight arc on the circle; "g" and "h" are neighbours,
/// "k" is further away.
async fn library() -> (MemoryBackend, Vec<SongMetadata>) {
    let b = MemoryBackend::new();
    let mut records = Vec::new();
    for (c, (label, centre)) in [("g", 0.0f32), ("h", 0.9), ("k", 2.0)]
        .into_iter()
        .enumerate()
    {
        for i in 0..8u8 {
            let a = centre + f32::from(i) * 0.04;
            let mut m = SongMetadata::new(SongId::from_bytes(&[c as u8, i]), format!("{label}{i}"));
            m.album = Some(label.to_owned());
            m.artist = Some(format!("artist {label}{i}"));
            records.push(SongRecord {
                metadata: m,
                embeddings: vec![Embedding {
                    model: model(),
                    vector: vec![a.cos(), a.sin()],
                }],
            });
        }
    }
    assert!(b.put_songs(&records).await.unwrap().is_complete());
    let songs = records.into_iter().map(|r| r.metadata).collect();
    (b, songs)
}

fn opts(avoid: usize) -> RadioOptions {
    let mut o = RadioOptions::default();
    o.rules.ahead = 1;
    o.avoid_per_skip = avoid;
    o.history_skips = 0;
    o
}

#[tokio::test]
async fn skips_lead_away_sooner_than_without_steering() {
    let (b, songs) = library().await;
    let album = Field::Album;
    let steered = steering(&b, &songs, &album, 4, 4, 12, &opts(3))
        .await
        .unwrap();
    let control = steering(&b, &songs, &album, 4, 4, 12, &opts(0))
        .await
        .unwrap();
    assert_eq!(steered.len(), 3);
    for (s, c) in steered.iter().zip(&control) {
        assert_eq!(s.label, c.label);
        assert_eq!(s.runs, 4);
        assert!(
            s.early < c.early && s.last_at < c.last_at,
            "steered {s:?} vs control {c:?}"
        );
        assert_eq!(s.late, 0.0, "{s:?}");
    }
    // A replay never meets a song twice, and the skipped label's songs are skips.
    let seed = &songs[0];
    let heard = replay(&b, seed, 12, &opts(3), &|m| m.album.as_deref() == Some("g"))
        .await
        .unwrap();
    assert_eq!(heard.len(), 12);
    let mut ids: Vec<&SongId> = heard.iter().map(|h| &h.song.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 12);
    assert!(!ids.contains(&&seed.id));
}
