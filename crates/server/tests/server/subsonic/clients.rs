//! Two real Subsonic client libraries from PyPI against a real server:
//! `scripts/subsonic/clients.py` (py-sonic and py-opensonic, installed by scripts/test-deps.sh
//! from scripts/test-requirements.txt) asserts and exits non-zero on a failure.

use std::time::Duration;

use songrec_testkit::fixtures::{repo_root, test_python};

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn py_sonic_and_py_opensonic_browse_stream_and_mix() {
    let srv = serve_real(|_| {}).await;
    let script = repo_root().join("scripts/subsonic/clients.py");
    let run = tokio::process::Command::new(test_python())
        .arg(&script)
        .env("SUBSONIC_BASE", "http://127.0.0.1")
        .env("SUBSONIC_PORT", srv.addr.port().to_string())
        .env("SUBSONIC_USER", USER)
        .env("SUBSONIC_PASSWORD", PASSWORD)
        .env("SUBSONIC_API_KEY", API_KEY)
        .env("SUBSONIC_MUSIC", &real_library().music)
        .env("SUBSONIC_SONGS", LAYOUT.len().to_string())
        .kill_on_drop(true)
        .output();
    let o = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the client script did not finish within 120 s")
        .expect("running the test Python (scripts/test-deps.sh makes it)");
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    println!("{out}{err}");
    assert!(
        o.status.success(),
        "the clients failed ({}):\n{out}\n{err}",
        o.status
    );
    assert!(out.contains("all client checks passed"), "{out}");
    // The requests really came in over the Subsonic routes.
    assert!(srv.state.http.requests("POST", "/rest/{name}", 200) >= 10);
    srv.stop().await;
}
