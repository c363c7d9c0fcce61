//! The musicnn embedder on native ONNX Runtime (`SONGREC_TEST_ORT_LIBRARY`, the PyPI
//! onnxruntime 1.31.1 wheel's library; `scripts/test-deps.sh` provides it). Unset is a failure.
//!
//! ort's runtime is process-wide (one process runs one runtime), and the rest of this test binary
//! runs tract: so each test here runs in a process of its own, which only ever starts ONNX
//! Runtime ([`in_own_process`]); the tract side of the cross-check runs in a child process too
//! (the `songrec-musicnn` tool).

use std::process::Command;
use std::sync::{Arc, OnceLock};

use songrec_audio::MonoAudio;
use songrec_neural::musicnn::reference_signal;
use songrec_neural::{KernelPath, MusicnnConfig, MusicnnEmbedder, NeuralError, Runtime};
use songrec_testkit::audio::{music, write_mono};
use songrec_testkit::fixtures::ort_library;
use songrec_testkit::neural::*;
use songrec_testkit::process::in_own_process;

fn ort() -> Arc<MusicnnEmbedder> {
    static E: OnceLock<Arc<MusicnnEmbedder>> = OnceLock::new();
    E.get_or_init(|| {
        Arc::new(
            MusicnnEmbedder::new(&MusicnnConfig {
                runtime: Runtime::OnnxRuntime {
                    library: ort_library(),
                },
                max_sessions: 2,
                // ONNX Runtime itself, not songrec's kernels (which run on either runtime).
                kernels: KernelPath::Tract,
                ..MusicnnConfig::default()
            })
            .expect("ONNX Runtime musicnn embedder"),
        )
    })
    .clone()
}

/// Runs the `songrec-musicnn` tool on tract and parses its JSON lines.
fn tract_child(args: &[&str]) -> Vec<serde_json::Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_songrec-musicnn"))
        .args(["--runtime", "tract"])
        .args(args)
        .env_remove("SONGREC_ORT_LIBRARY")
        .env_remove("ORT_DYLIB_PATH")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "songrec-musicnn failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("runtime: tract"));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn reproduces_expected_json() {
    in_own_process("onnxruntime::reproduces_expected_json", || {
        let e = ort();
        assert!(
            e.runtime().version().starts_with("1.31"),
            "{}",
            e.runtime().version()
        );
        let exp = expected();
        let out = e.run_batch(&reference_signal()).unwrap();
        let dp = max_abs_diff(&out.penultimate, &flat(&exp.penultimate));
        let dt = max_abs_diff(&out.taggram, &flat(&exp.taggram));
        eprintln!("onnxruntime vs expected.json: penultimate {dp:.2e}, taggram {dt:.2e}");
        assert!(dp < exp.tol_onnxruntime, "penultimate differs by {dp}");
        assert!(dt < exp.tol_onnxruntime, "taggram differs by {dt}");
    });
}

#[test]
fn agrees_with_tract() {
    in_own_process("onnxruntime::agrees_with_tract", || {
        let e = ort();
        let dir = tempfile::tempdir().unwrap();
        // Raw model outputs on the reference signal.
        let mine = e.run_batch(&reference_signal()).unwrap();
        let theirs = tract_child(&["--reference"]);
        assert_eq!(theirs.len(), 1);
        let dp = max_abs_diff(&mine.penultimate, &floats(&theirs[0]["penultimate"]));
        let dt = max_abs_diff(&mine.taggram, &floats(&theirs[0]["taggram"]));
        eprintln!("onnxruntime vs tract: penultimate {dp:.2e}, taggram {dt:.2e}");
        assert!(dp < 1e-4 && dt < 1e-4, "penultimate {dp}, taggram {dt}");
        // A whole song from a file: decode + resample + patches + pooling on both sides.
        let samples = music(12.0, 4);
        let path = dir.path().join("song.wav");
        write_mono(&path, &samples, 22_050);
        let decoded = songrec_audio::decode_file(&path).unwrap();
        let a = e.analyze(&decoded.audio).unwrap();
        let t = tract_child(&[path.to_str().unwrap()]);
        let d = max_abs_diff(&a.embedding, &floats(&t[0]["embedding"]));
        eprintln!("song embedding, onnxruntime vs tract: {d:.2e}");
        assert!(d < 1e-4, "embeddings differ by {d}");
        assert_eq!(t[0]["patches"], a.patches);
    });
}

#[test]
fn embedding_basics_on_onnxruntime() {
    in_own_process("onnxruntime::embedding_basics_on_onnxruntime", || {
        let e = ort();
        let audio = MonoAudio::from_samples(music(8.0, 5), 22_050);
        let a = e.analyze(&audio).unwrap();
        assert_eq!(a.embedding.len(), 400);
        assert_eq!(a.embedding, e.analyze(&audio).unwrap().embedding);
        let norm: f32 = a.embedding.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5);
        let short = e
            .analyze(&MonoAudio::from_samples(music(0.1, 1), 22_050))
            .unwrap();
        assert_eq!(short.embedding.len(), 400);
        assert!(short.embedding.iter().all(|x| x.is_finite()));
    });
}

#[test]
fn model_errors_on_onnxruntime() {
    in_own_process("onnxruntime::model_errors_on_onnxruntime", || {
        let _ = ort();
        let dir = tempfile::tempdir().unwrap();
        let cfg = |p| MusicnnConfig {
            runtime: Runtime::OnnxRuntime {
                library: ort_library(),
            },
            model: Some(p),
            max_sessions: 1,
            ..MusicnnConfig::default()
        };
        let err = MusicnnEmbedder::new(&cfg(temp_file(&dir, "t.onnx", b"hello"))).unwrap_err();
        assert!(matches!(err, NeuralError::InvalidModel { .. }), "{err}");
        let err =
            MusicnnEmbedder::new(&cfg(temp_file(&dir, "i.onnx", &identity_model()))).unwrap_err();
        assert!(matches!(err, NeuralError::WrongModel { .. }), "{err}");
        let err = MusicnnEmbedder::new(&cfg(temp_file(&dir, "p.onnx", &perturbed_musicnn())))
            .unwrap_err();
        assert!(matches!(err, NeuralError::WrongModel { .. }), "{err}");
    });
}

#[test]
fn switching_runtime_in_one_process_is_refused() {
    in_own_process(
        "onnxruntime::switching_runtime_in_one_process_is_refused",
        || {
            let _ = ort();
            let err = MusicnnEmbedder::new(&MusicnnConfig::default()).unwrap_err();
            assert!(matches!(err, NeuralError::RuntimeConflict { .. }), "{err}");
            assert!(err.to_string().contains("ONNX Runtime"), "{err}");
        },
    );
}

/// A pip-installed ONNX Runtime is found without configuration: the newest that loads wins,
/// one older than 1.24 is passed over, and a machine with only that one gets none (tract).
#[test]
fn an_installed_onnxruntime_is_discovered() {
    in_own_process(
        "onnxruntime::an_installed_onnxruntime_is_discovered",
        || {
            use songrec_neural::discover::{candidates_in, first_loadable};
            use songrec_testkit::fixtures::old_ort_library;
            let dir = tempfile::tempdir().unwrap();
            let wheel = |venv: &str, py: &str, lib: &std::path::Path| {
                let capi = dir
                    .path()
                    .join(venv)
                    .join("lib")
                    .join(py)
                    .join("site-packages/onnxruntime/capi");
                std::fs::create_dir_all(&capi).unwrap();
                let name = lib.file_name().unwrap();
                std::os::unix::fs::symlink(lib, capi.join(name)).unwrap();
                capi.join(name)
            };
            let new = wheel("venv", "python3.11", &ort_library());
            let old = wheel("venv", "python3.10", &old_ort_library());
            let old_only = wheel("oldenv", "python3.9", &old_ort_library());
            let roots = [dir.path().join("venv"), dir.path().join("oldenv")];
            let candidates = candidates_in(&roots);
            assert_eq!(candidates, vec![new.clone(), old, old_only.clone()]);
            let found = first_loadable(candidates).expect("the 1.31 library is found");
            // The wheel's file is a link here: what is found is the file it points at.
            assert_eq!(found.library, ort_library().canonicalize().unwrap());
            assert_ne!(found.library, new);
            assert_eq!(found.version, "1.31.1");
            // Only a too-old one: nothing usable (songrec stays on tract).
            assert_eq!(first_loadable(vec![old_only]), None);
        },
    );
}

/// A discovered library is loaded from exactly the file the trust check inspected: a link is
/// resolved once, and that real path is checked, probed and returned. A link swapped after the
/// check (here: to a too-old library) changes nothing about what is then loaded (issue 31).
#[test]
fn a_discovered_library_is_the_file_that_was_checked() {
    in_own_process(
        "onnxruntime::a_discovered_library_is_the_file_that_was_checked",
        || {
            use songrec_neural::discover::first_loadable;
            use songrec_testkit::fixtures::old_ort_library;
            let dir = tempfile::tempdir().unwrap();
            let link = dir.path().join("libonnxruntime.so.1.99.0");
            std::os::unix::fs::symlink(ort_library(), &link).unwrap();
            let found = first_loadable(vec![link.clone()]).expect("the linked library is found");
            assert_eq!(found.library, ort_library().canonicalize().unwrap());
            assert_eq!(found.version, "1.31.1");
            // Between the check and the load, the link is pointed elsewhere.
            std::fs::remove_file(&link).unwrap();
            std::os::unix::fs::symlink(old_ort_library(), &link).unwrap();
            let active = songrec_neural::runtime::activate(&Runtime::OnnxRuntime {
                library: found.library,
            })
            .expect("the checked library starts");
            assert_eq!(active.version(), "1.31.1", "the checked file is what loads");
        },
    );
}
