//! The listening history steers mixes: a song skipped more than played (and last skipped)
//! never joins one; a play or a star brings it back.

use songrec_conformance::MemoryBackend;
use songrec_discover::playlist::{self, SeedRequest};
use songrec_storage::listening::{Heard, record, star};
use songrec_storage::prelude::*;
use songrec_storage::{Embedding, ModelInfo, SongId, SongMetadata, SongRecord};

fn model() -> ModelInfo {
    ModelInfo::new("line", "1", 2)
}

/// Songs 0..10 on a quarter circle: song i is nearest i-1 and i+1.
async fn library() -> MemoryBackend {
    let b = MemoryBackend::new();
    let songs: Vec<SongRecord> = (0..10u8)
        .map(|i| {
            let a = f32::from(i) * 0.15;
            SongRecord {
                metadata: SongMetadata::new(SongId::from_bytes(&[i]), format!("song {i}")),
                embeddings: vec![Embedding {
                    model: model(),
                    vector: vec![a.cos(), a.sin()],
                }],
            }
        })
        .collect();
    assert!(b.put_songs(&songs).await.unwrap().is_complete());
    b
}

async fn mix(b: &MemoryBackend) -> Vec<SongId> {
    let req = SeedRequest {
        seeds: vec![SongId::from_bytes(&[0])],
        model: model().into(),
        n: 3,
        constraints: Default::default(),
    };
    playlist::from_seeds(b, &req).await.unwrap().ids()
}

async fn change(b: &MemoryBackend, i: u8, f: impl FnOnce(&mut SongMetadata)) {
    let mut m = b
        .get_metadata(&SongId::from_bytes(&[i]))
        .await
        .unwrap()
        .unwrap();
    f(&mut m);
    b.put_metadata(&m).await.unwrap();
}

#[tokio::test]
async fn skipped_songs_leave_mixes_until_played_or_starred() {
    let b = library().await;
    let id = |i: u8| SongId::from_bytes(&[i]);
    assert_eq!(mix(&b).await, [id(1), id(2), id(3)]);
    let t = |s: i64| chrono::DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap();

    change(&b, 2, |m| record(m, Heard::Skipped, t(0), "here")).await;
    assert_eq!(
        mix(&b).await,
        [id(1), id(3), id(4)],
        "the skipped song is left out"
    );
    // One play after the skip: skips no longer outnumber plays.
    change(&b, 2, |m| record(m, Heard::Played, t(1), "here")).await;
    assert_eq!(mix(&b).await, [id(1), id(2), id(3)]);
    // Skipped twice more: out again; a star brings it back whatever the counts.
    change(&b, 2, |m| {
        record(m, Heard::Skipped, t(2), "here");
        record(m, Heard::Skipped, t(3), "here");
    })
    .await;
    assert!(!mix(&b).await.contains(&id(2)));
    change(&b, 2, |m| {
        star(m, Some(t(4)));
    })
    .await;
    assert!(mix(&b).await.contains(&id(2)));
    // The seed itself may be a skipped song: it still seeds.
    change(&b, 0, |m| record(m, Heard::Skipped, t(5), "here")).await;
    assert_eq!(mix(&b).await.len(), 3);
    assert_eq!(b.list_all(&Default::default()).await.unwrap().len(), 10);
}
