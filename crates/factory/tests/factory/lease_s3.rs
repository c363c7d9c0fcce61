//! The sync lease on a real S3-protocol server (s3s-fs, SigV4) on 127.0.0.1: conditional
//! create and ETag-conditional replace, and the lease protocol over them.

use std::sync::Arc;
use std::time::Duration;

use songrec_factory::sync::lease_store;
use songrec_sync::lease::{Lease, LeaseError, LeaseInfo, LeaseStore, LeaseTag};
use songrec_sync::stores::object_lease::ObjectLeaseStore;

/// The lease store on `cloud` as `songrec sync` builds it (key prefix `lib`).
fn s3_lease(cloud: &songrec_testkit::LocalCloud) -> ObjectLeaseStore {
    lease_store(&songrec_testkit::sync::astra(cloud))
}

#[tokio::test]
async fn conditional_create_and_replace() {
    let cloud = songrec_testkit::LocalCloud::start().await;
    let store = s3_lease(&cloud);
    assert_eq!(store.key(), "lib/locks/sync.lease");
    assert!(store.to_string().contains("locks/sync.lease"));
    assert!(store.read().await.unwrap().is_none());
    let t1 = store.create(b"first").await.unwrap().expect("created");
    assert!(
        store.create(b"second").await.unwrap().is_none(),
        "If-None-Match: *"
    );
    let (bytes, tag) = store.read().await.unwrap().unwrap();
    assert_eq!(bytes, b"first");
    assert_eq!(tag, t1);
    let t2 = store
        .replace(b"renewed", &t1)
        .await
        .unwrap()
        .expect("If-Match ok");
    assert_ne!(t1, t2);
    assert!(
        store.replace(b"stale", &t1).await.unwrap().is_none(),
        "stale ETag refused"
    );
    assert!(
        store
            .replace(b"bogus", &LeaseTag("\"nope\"".into()))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.read().await.unwrap().unwrap().0, b"renewed");
}

#[tokio::test]
async fn two_machines_one_lease() {
    let cloud = songrec_testkit::LocalCloud::start().await;
    let store: Arc<dyn LeaseStore> = Arc::new(s3_lease(&cloud));
    let a = Arc::new(Lease::new(
        store.clone(),
        "machine-a",
        Duration::from_secs(30),
    ));
    let b = Lease::new(store.clone(), "machine-b", Duration::from_secs(30));
    let got = a.acquire().await.unwrap();
    assert_eq!(got.holder, "machine-a");
    match b.acquire().await {
        Err(LeaseError::Held(info)) => assert_eq!(info.holder, "machine-a"),
        other => panic!("{other:?}"),
    }
    a.renew().await.unwrap();
    a.check().await.unwrap();
    // The holder's content is what the bucket says.
    let (bytes, _) = store.read().await.unwrap().unwrap();
    let info: LeaseInfo = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(info.holder, "machine-a");
    assert!(info.expires_at > chrono::Utc::now());
    a.release().await.unwrap();
    b.acquire().await.unwrap();
    // An expired lease of another machine is taken over; the loser notices on renewal.
    let (bytes, tag) = store.read().await.unwrap().unwrap();
    let mut info: LeaseInfo = serde_json::from_slice(&bytes).unwrap();
    info.expires_at = chrono::Utc::now() - chrono::Duration::seconds(5);
    store
        .replace(&serde_json::to_vec(&info).unwrap(), &tag)
        .await
        .unwrap()
        .unwrap();
    let c = Lease::new(store.clone(), "machine-c", Duration::from_secs(30));
    c.acquire().await.unwrap();
    assert!(matches!(b.renew().await, Err(LeaseError::Lost(_))));
}
