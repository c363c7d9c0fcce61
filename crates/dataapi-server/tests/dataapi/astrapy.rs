//! Runs `scripts/astrapy/check.py` (the official Python client, astrapy)
//! against a server on an ephemeral port. Needs `SONGREC_TEST_PYTHON`: the
//! Python of the venv made by `scripts/astrapy/setup.sh`.

use std::path::PathBuf;

use songrec_testkit::dataapi::*;

#[tokio::test]
async fn astrapy_check_script_passes() {
    let python = songrec_testkit::fixtures::test_python();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../scripts/astrapy/check.py")
        .canonicalize()
        .expect("check.py exists");
    let api = server().await;
    let out = tokio::process::Command::new(&python)
        .arg(&script)
        .args(["--endpoint", &api.base, "--token", TOKEN])
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success() && stdout.contains("ASTRAPY CHECK PASSED"),
        "astrapy check failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
}
