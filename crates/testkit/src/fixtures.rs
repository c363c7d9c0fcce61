//! What `scripts/test-deps.sh` installs and exports for the tests. Missing is a failure that
//! says how to get it, never a skip.

use std::path::{Path, PathBuf};

const HOW: &str = "run scripts/test.sh, or `eval \"$(scripts/test-deps.sh)\"` first";

fn exported(var: &str, what: &str) -> PathBuf {
    let p = std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| panic!("{var} is not set: the tests need {what}; {HOW}"));
    PathBuf::from(p)
}

fn existing_file(var: &str, what: &str) -> PathBuf {
    let p = exported(var, what);
    assert!(
        p.is_file(),
        "{var}={} does not exist ({what}); {HOW}",
        p.display()
    );
    p
}

/// The folder of real recordings (`$SONGREC_TEST_AUDIO`): `freedesktop/` (27 short Ogg Vorbis
/// sounds), `asc/` (3 MP3 soundtrack pieces) and `gmrockkit/` (Hydrogen's GMRockKit: real drums
/// in five velocity layers, `Crash-Soft.wav` … `Crash-Hardest.wav`), from Debian packages.
pub fn real_recordings() -> PathBuf {
    exported("SONGREC_TEST_AUDIO", "the real recordings")
}

/// The real recording `sub/name` (e.g. `("freedesktop", "complete.oga")`); asserts it exists.
pub fn real_recording(sub: &str, name: &str) -> PathBuf {
    let p = real_recordings().join(sub).join(name);
    assert!(p.is_file(), "missing real recording {}; {HOW}", p.display());
    p
}

/// The Python with astrapy and numpy (`$SONGREC_TEST_PYTHON`).
pub fn test_python() -> PathBuf {
    exported(
        "SONGREC_TEST_PYTHON",
        "a Python with astrapy and numpy (scripts/test-deps.sh makes a virtualenv)",
    )
}

/// The native ONNX Runtime (>= 1.24) the musicnn tests run against
/// (`$SONGREC_TEST_ORT_LIBRARY`, libonnxruntime.so.1.31.1 from the PyPI wheel).
pub fn ort_library() -> PathBuf {
    existing_file(
        "SONGREC_TEST_ORT_LIBRARY",
        "ONNX Runtime 1.31.1 (scripts/test-deps.sh takes it out of the PyPI onnxruntime wheel)",
    )
}

/// An ONNX Runtime older than 1.24, for the "too old" error (`$SONGREC_TEST_ORT_OLD_LIBRARY`,
/// 1.20.1).
pub fn old_ort_library() -> PathBuf {
    existing_file(
        "SONGREC_TEST_ORT_OLD_LIBRARY",
        "an older ONNX Runtime, 1.20.1 (scripts/test-deps.sh takes it out of the PyPI wheel)",
    )
}

/// A shared library that is not ONNX Runtime: the wheel's
/// `libonnxruntime_providers_shared.so`, next to [`ort_library`].
pub fn non_ort_library() -> PathBuf {
    let lib = ort_library();
    let p = lib
        .parent()
        .unwrap_or(Path::new("."))
        .join("libonnxruntime_providers_shared.so");
    assert!(
        p.is_file(),
        "{} is missing; scripts/test-deps.sh extracts it from the onnxruntime wheel",
        p.display()
    );
    p
}

/// The workspace's root folder (for `scripts/…`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the workspace root")
}
