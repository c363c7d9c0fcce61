//! `init` and the database's collection budget (5 per database on older Astra databases, 10 on
//! newer ones): with the budget known, nothing is created unless everything fits; without it,
//! the server's `TOO_MANY_COLLECTIONS` is explained (how many are needed, which exist).

use songrec_storage::{ModelInfo, StorageError};
use songrec_testkit::LocalCloud;

use crate::{api_config, s3_config};

fn models(n: usize) -> Vec<ModelInfo> {
    (0..n)
        .map(|i| ModelInfo::new(format!("model{i}"), "1", 4))
        .collect()
}

async fn names(b: &songrec_astra::AstraBackend) -> Vec<String> {
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

fn message(e: StorageError) -> String {
    match e {
        StorageError::Backend { message, .. } => message,
        other => panic!("want a backend error, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_checks_the_collection_budget() {
    let cloud = LocalCloud::builder().max_collections(5).start().await;
    let b = cloud.astra_with(
        api_config(&cloud.api_url(), cloud.token()),
        s3_config(&cloud),
    );
    // Two collections of something else already in the keyspace.
    for name in ["other_a", "other_b"] {
        b.client()
            .run_command(
                None,
                &serde_json::json!({"createCollection": {"name": name}}),
                true,
            )
            .await
            .expect("create");
    }

    // Known budget: songs + 3 models = 4 more, 6 in all: refused before creating anything.
    let e = b
        .init_schema_within(&models(3), Some(5))
        .await
        .expect_err("does not fit");
    let m = message(e);
    for part in [
        "allows 5 collections",
        "needs 4 more",
        "6 in all",
        "2 exist",
        "other_a",
    ] {
        assert!(m.contains(part), "{part:?} in {m}");
    }
    assert_eq!(names(&b).await, ["other_a", "other_b"], "nothing created");

    // Unknown budget: the server refuses the fourth collection; the error explains, with the
    // budget read from the server's message.
    let e = b
        .init_schema_within(&models(3), None)
        .await
        .expect_err("the server refuses");
    let m = message(e);
    for part in [
        "allows 5 collections",
        "needs 4 more",
        "other_b",
        "TOO_MANY_COLLECTIONS",
    ] {
        assert!(m.contains(part), "{part:?} in {m}");
    }

    // What fits is created: songs + 1 model beside the 2 others (and what the refused run
    // made) stays within 5.
    let b2 = cloud.astra_with(
        api_config(&cloud.api_url(), cloud.token()),
        s3_config(&cloud),
    );
    let r = b2
        .init_schema_within(&models(1), Some(5))
        .await
        .expect("fits");
    assert_eq!(r.models.len(), 1);
    assert!(names(&b2).await.len() <= 5);
}
