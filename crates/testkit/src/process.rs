//! Running one test in a process of its own, for code with process-wide state that must not
//! meet the other tests of the same binary (e.g. ONNX Runtime, whose API table `ort` keeps in
//! a global: one process runs one neural runtime).

use std::process::Command;

/// The variable that marks the child process.
const CHILD: &str = "SONGREC_TESTKIT_OWN_PROCESS";

/// Runs `body` in a process of its own: the test binary runs again with
/// `--exact test_path` and runs `body` there; here, the child's success is asserted and its
/// output shown. `test_path` is the test's path in its binary (`onnxruntime::some_test`); a path
/// that names no test fails.
pub fn in_own_process(test_path: &str, body: impl FnOnce()) {
    if std::env::var(CHILD).is_ok_and(|v| v == test_path) {
        body();
        return;
    }
    let exe = std::env::current_exe().expect("the test binary");
    let out = Command::new(exe)
        .args([test_path, "--exact", "--nocapture", "--test-threads", "1"])
        .env(CHILD, test_path)
        .output()
        .expect("running the test binary again");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(
        out.status.success(),
        "{test_path} failed in its own process ({})",
        out.status
    );
    assert!(
        stdout.contains("test result: ok. 1 passed"),
        "{test_path} did not run in its own process: is the path right?"
    );
}
