//! `songrec migrate` through `FaultProxy`s that fail 20% of Data API and S3 requests
//! (429 with Retry-After, 503, timeouts, connection resets; before and after forwarding): both
//! directions complete, the verify step is clean, and both sides are equal when read directly.

use std::time::Duration;

use songrec_local::LocalBackend;
use songrec_testkit::cli::{text, write_request_timeouts};
use songrec_testkit::data::{assert_same, local_library, snapshot};
use songrec_testkit::{Endpoints, FaultPlan, FaultProxy, LocalCloud, When};

use crate::{init_astra, on_cloud};

const N: usize = 40;

fn faulty(seed: u64) -> FaultPlan {
    // Held connections are abandoned by the client after its 1 s request timeout.
    FaultPlan::random(seed, 0.2).with_hold(Duration::from_secs(20))
}

fn assert_faults_of_every_timing(name: &str, p: &FaultProxy) {
    let f = p.injected_faults();
    assert!(f.len() >= 3, "{name}: only {} faults injected", f.len());
    assert!(
        f.iter().any(|x| x.when == When::Before) && f.iter().any(|x| x.when == When::After),
        "{name}: {f:?}"
    );
}

/// A local cloud, a home whose requests time out after 1 s, and a local library of N songs in
/// it, with the cloud's schema initialised.
fn cloud_and_library() -> (LocalCloud, tempfile::TempDir, std::path::PathBuf) {
    let c = LocalCloud::start_blocking();
    let home = tempfile::tempdir().unwrap();
    write_request_timeouts(home.path(), 1);
    let lib = home.path().join("lib");
    c.block_on(local_library(&lib, N));
    init_astra(&c, home.path());
    (c, home, lib)
}

/// The Data API and S3 behind proxies failing by [`faulty`] (seeds `seed` and `seed + 1`), and
/// the endpoints through them.
fn faulty_endpoints(c: &LocalCloud, seed: u64) -> (FaultProxy, FaultProxy, Endpoints) {
    let (api, s3) = (
        c.block_on(c.proxy_api(faulty(seed))),
        c.block_on(c.proxy_s3(faulty(seed + 1))),
    );
    let ep = Endpoints {
        api: api.base_url(),
        s3: s3.base_url(),
    };
    (api, s3, ep)
}

/// A migration `o` copied all N songs, verified clean, while both proxies injected faults.
fn assert_clean_copy_through_faults(o: &std::process::Output, api: &FaultProxy, s3: &FaultProxy) {
    let t = text(o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("copied 40 songs, 0 failed"), "{t}");
    assert!(t.contains("verify: clean: 40/40"), "{t}");
    assert_faults_of_every_timing("data api", api);
    assert_faults_of_every_timing("s3", s3);
}

fn migrate(
    c: &LocalCloud,
    ep: &Endpoints,
    home: &std::path::Path,
    lib: &std::path::Path,
    spec: &str,
) -> std::process::Output {
    on_cloud(
        c,
        ep,
        home,
        &[
            "--library",
            lib.to_str().unwrap(),
            "migrate",
            spec,
            "--batch-size",
            "16",
            "--verify",
            "full",
        ],
    )
    .output()
    .unwrap()
}

#[test]
fn local_to_astra_with_20_percent_of_requests_failing() {
    let (c, home, lib) = cloud_and_library();
    let before = snapshot(&lib);

    let (api, s3, ep) = faulty_endpoints(&c, 1);
    let o = migrate(&c, &ep, home.path(), &lib, "local->astra");
    assert_clean_copy_through_faults(&o, &api, &s3);

    c.block_on(assert_same(&LocalBackend::open(&lib).unwrap(), &c.astra()));
    assert_eq!(c.audio_objects().len(), N);
    let o = migrate(&c, &ep, home.path(), &lib, "local->astra");
    assert!(
        text(&o).contains("nothing to do: 40 songs already on target"),
        "{}",
        text(&o)
    );
    assert_eq!(snapshot(&lib), before, "the source library is untouched");
}

#[test]
fn astra_to_local_with_20_percent_of_requests_failing() {
    let (c, home, lib) = cloud_and_library();
    let o = migrate(&c, &c.direct(), home.path(), &lib, "local->astra");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let s3_before = snapshot(&c.s3_root());

    let (api, s3, ep) = faulty_endpoints(&c, 3);
    let lib2 = home.path().join("lib2");
    let o = migrate(&c, &ep, home.path(), &lib2, "astra->local");
    assert_clean_copy_through_faults(&o, &api, &s3);

    c.block_on(assert_same(&c.astra(), &LocalBackend::open(&lib2).unwrap()));
    c.block_on(assert_same(
        &LocalBackend::open(&lib).unwrap(),
        &LocalBackend::open(&lib2).unwrap(),
    ));
    assert_eq!(
        snapshot(&c.s3_root()),
        s3_before,
        "the source's blobs are untouched"
    );
}
