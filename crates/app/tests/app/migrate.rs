//! `migrate` in process between two local libraries, the target behind a `Chaos` layer that
//! fails 30% of calls before they happen and 20% of repeat-safe writes after they happened:
//! songs that fail transiently are retried in later rounds, a run that stops early is picked
//! up by the next, and in the end both sides are equal and the ledger agrees.

use std::time::Duration;

use songrec_app::migrate::ledger::{Ledger, RunStatus, SongState};
use songrec_app::migrate::{
    LedgerContext, MigrateOptions, NoProgress, VerifyLevel, migrate, plan_for, verify,
};
use songrec_local::LocalBackend;
use songrec_storage::layers::{Chaos, LayerExt};
use songrec_storage::prelude::*;
use songrec_storage::{Embedding, ModelInfo, SongId, SongMetadata, SongRecord};

async fn library(root: &std::path::Path, n: usize) {
    let lib = LocalBackend::open(root).unwrap();
    let model = ModelInfo::new("m", "1", 4);
    let tmp = tempfile::tempdir().unwrap();
    let mut recs = Vec::new();
    for i in 0..n {
        let bytes = format!("audio bytes of song {i}").repeat(50).into_bytes();
        let id = SongId::from_bytes(&bytes);
        let p = tmp.path().join("a");
        std::fs::write(&p, &bytes).unwrap();
        lib.put_audio(&id, &p).await.unwrap();
        let mut m = SongMetadata::new(id.clone(), format!("Song {i}"));
        m.content_hash = id.as_str().to_owned();
        m.bpm = Some(100.0 + i as f32 / 3.0);
        recs.push(SongRecord {
            metadata: m,
            embeddings: vec![
                Embedding::new(model.clone(), vec![i as f32, 1.0, -0.5, 0.25]).unwrap(),
            ],
        });
    }
    lib.put_songs(&recs).await.unwrap();
    lib.flush().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_on_the_target_is_retried_and_reruns_finish_the_job() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    library(&a, 30).await;
    let source = LocalBackend::open(&a).unwrap();
    let ledger = Ledger::open(&dir.path().join("ledger.sqlite")).unwrap();
    let ctx = LedgerContext {
        ledger: &ledger,
        source: "local:a".into(),
        target: "local:b".into(),
    };
    let mut opts = MigrateOptions::new(dir.path().join("scratch"));
    opts.batch_size = 7;
    opts.concurrency = 3;
    opts.retry_rounds = 2;
    opts.retry_delay = Duration::from_millis(1);

    let mut retried = false;
    let mut runs = 0;
    let mut injected = 0;
    let mut migrations = 0;
    loop {
        runs += 1;
        assert!(runs <= 20, "never finished");
        let target = LocalBackend::open(&b)
            .unwrap()
            .layer(Chaos::new(runs).fail_ratio(0.3).after_ratio(0.2));
        let Ok(plan) = plan_for(&source, &target).await else {
            injected += target.injected();
            continue; // listing the target failed: try again, as a user would
        };
        migrations += 1;
        let r = migrate(&source, &target, plan, &opts, &NoProgress, Some(&ctx)).await;
        injected += target.injected();
        if let Ok(rep) = r {
            retried |= rep.retry_rounds > 0;
            if rep.failed.is_empty() {
                break;
            }
        }
    }
    assert!(injected > 10, "{injected} faults");
    assert!(retried, "some songs needed a retry round");

    let target = LocalBackend::open(&b).unwrap();
    let v = verify(
        &source,
        &target,
        VerifyLevel::Full,
        1,
        &[], // every song was copied by these runs: any difference is a fault
        &dir.path().join("v"),
    )
    .await
    .unwrap();
    assert!(v.is_clean(), "{}: {:?}", v.summary(), v.differences);
    assert_eq!(v.checked, 30);

    // The ledger: one run per attempt, the last one done; every song `done` in some run, and
    // every `done` song is really on the target.
    let all = ledger.runs(100).unwrap();
    assert_eq!(all.len(), migrations);
    assert_eq!(all[0].status, RunStatus::Done);
    assert!(all[1..].iter().all(|r| r.status != RunStatus::Running));
    let on_target: std::collections::HashSet<String> = target
        .list_versions()
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.id.as_str().to_owned())
        .collect();
    let mut written = std::collections::HashSet::new();
    for r in &all {
        for s in ledger.songs(r.id, None).unwrap() {
            if s.state == SongState::Done {
                assert!(
                    on_target.contains(&s.id),
                    "ledger says done, target lacks it"
                );
            }
            // A write whose acknowledgement was lost is recorded as failed, and the next
            // run finds the song already there: the ledger may under-claim, never over-claim.
            if matches!(s.state, SongState::Done | SongState::Failed) {
                written.insert(s.id);
            }
        }
    }
    assert_eq!(
        written, on_target,
        "every song on the target was written by some run"
    );
}
