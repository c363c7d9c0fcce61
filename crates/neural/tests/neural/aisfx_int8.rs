//! aisfx's int8 network (`models/aisfx/aisfx_int8.onnx`, what the default mix runs) against
//! `models/aisfx/expected_int8.json`: its outputs on the fixed probe on tract and on ONNX Runtime
//! (each runtime's own integer arithmetic, each deterministic), and its distance from the
//! float32 network on the real freedesktop recordings.

use std::sync::{Arc, OnceLock};

use songrec_audio::decode_file_with;
use songrec_neural::aisfx::{AISFX_DECODE, EXPECTED_INT8_JSON};
use songrec_neural::{AisfxConfig, AisfxEmbedder, Runtime};
use songrec_testkit::fixtures::{ort_library, real_recording};
use songrec_testkit::neural::max_abs_diff;
use songrec_testkit::process::in_own_process;

fn expected() -> serde_json::Value {
    serde_json::from_str(EXPECTED_INT8_JSON).unwrap()
}

fn floats(v: &serde_json::Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .flat_map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
        })
        .collect()
}

/// The probe of expected_int8.json: value i is ((i · 2654435761) mod 2³² mod 1000) / 1000.
fn probe() -> Vec<f32> {
    (0..2 * 100 * 96u64)
        .map(|i| ((i * 2_654_435_761) % (1 << 32) % 1000) as f32 / 1000.0)
        .collect()
}

fn embedder(runtime: Runtime, int8: bool) -> AisfxEmbedder {
    AisfxEmbedder::new(&AisfxConfig {
        runtime,
        int8,
        max_sessions: 1,
        ..AisfxConfig::default()
    })
    .expect("aisfx")
}

/// The int8 network on tract's own integer kernels.
fn tract_itself() -> AisfxEmbedder {
    AisfxEmbedder::new(&AisfxConfig {
        int8: true,
        max_sessions: 1,
        own_kernels: false,
        ..AisfxConfig::default()
    })
    .expect("aisfx")
}

fn tract(int8: bool) -> Arc<AisfxEmbedder> {
    static E: OnceLock<[Arc<AisfxEmbedder>; 2]> = OnceLock::new();
    E.get_or_init(|| {
        [
            Arc::new(embedder(Runtime::Tract, false)),
            Arc::new(embedder(Runtime::Tract, true)),
        ]
    })[usize::from(int8)]
    .clone()
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    let n = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    dot / (n(a) * n(b))
}

fn check_probe(e: &AisfxEmbedder, key: &str) {
    let rows = e.run_blocks(&probe()).unwrap();
    let want = floats(&expected()[key]);
    let d = max_abs_diff(&rows, &want);
    eprintln!("{} int8 probe: max abs diff {d:.2e} from {key}", e.engine());
    assert!(d < 1e-4, "{d}");
    assert_eq!(rows, e.run_blocks(&probe()).unwrap(), "deterministic");
}

#[test]
fn tract_int8_reproduces_expected_int8_json() {
    let e = tract_itself();
    assert_eq!(e.engine(), e.runtime().describe());
    check_probe(&e, "probe_tract");
}

/// How far apart two engines' int8 outputs may be: tract's and ONNX Runtime's probe rows are
/// 0.0216 apart at most (values up to 15.5), each engine rounding some requantizations its own
/// way.
const ACROSS_ENGINES: f32 = 0.03;

/// songrec's kernels (the default where the CPU has AVX-512 VNNI): their own probe rows
/// (deterministic: integer sums), and within [`ACROSS_ENGINES`] of both other engines' rows.
#[test]
fn own_kernels_int8_stay_within_the_engines_spread() {
    let e = tract(true);
    if !songrec_neural::aisfx::own_int8_kernels_available() {
        assert_eq!(e.engine(), e.runtime().describe());
        return check_probe(&e, "probe_tract");
    }
    assert_eq!(e.engine(), "songrec kernels");
    check_probe(&e, "probe_songrec_kernels");
    let rows = e.run_blocks(&probe()).unwrap();
    for key in ["probe_tract", "probe_onnxruntime"] {
        let d = max_abs_diff(&rows, &floats(&expected()[key]));
        eprintln!("songrec kernels vs {key}: max abs diff {d:.2e}");
        assert!(d < ACROSS_ENGINES, "{key}: {d}");
    }
    let (a, b) = (
        floats(&expected()["probe_tract"]),
        floats(&expected()["probe_onnxruntime"]),
    );
    assert!(max_abs_diff(&a, &b) < ACROSS_ENGINES);
}

#[test]
fn onnxruntime_int8_reproduces_expected_int8_json() {
    in_own_process(
        "aisfx_int8::onnxruntime_int8_reproduces_expected_int8_json",
        || {
            // ONNX Runtime's own int8 kernels (songrec's run it where the CPU has AMX).
            let e = AisfxEmbedder::new(&AisfxConfig {
                runtime: Runtime::OnnxRuntime {
                    library: ort_library(),
                },
                int8: true,
                max_sessions: 1,
                own_kernels: false,
                ..AisfxConfig::default()
            })
            .expect("aisfx");
            assert_eq!(e.engine(), e.runtime().describe());
            check_probe(&e, "probe_onnxruntime");
        },
    );
}

/// With ONNX Runtime, the int8 network runs on songrec's kernels where the CPU has AMX-INT8
/// (the same probe rows as with tract), else on ONNX Runtime.
#[test]
fn onnxruntime_int8_runs_on_own_kernels_where_amx_is() {
    in_own_process(
        "aisfx_int8::onnxruntime_int8_runs_on_own_kernels_where_amx_is",
        || {
            let e = embedder(
                Runtime::OnnxRuntime {
                    library: ort_library(),
                },
                true,
            );
            // SONGREC_TEST_EXPECT_AMX=1 (on a CPU with AMX-INT8) makes a fallback a failure.
            if std::env::var("SONGREC_TEST_EXPECT_AMX").is_ok_and(|v| v.trim() == "1") {
                assert_eq!(e.engine(), "songrec kernels");
            }
            if e.engine() == "songrec kernels" {
                check_probe(&e, "probe_songrec_kernels");
            } else {
                eprintln!("no AMX-INT8 here: aisfx's int8 network runs on ONNX Runtime");
                assert_eq!(e.engine(), e.runtime().describe());
                check_probe(&e, "probe_onnxruntime");
            }
        },
    );
}

#[test]
fn int8_blocks_stay_close_to_float32_on_real_recordings() {
    let (f, q) = (tract(false), tract(true));
    let mut worst = 1f64;
    for file in [
        "complete.oga",
        "phone-incoming-call.oga",
        "alarm-clock-elapsed.oga",
    ] {
        let d = decode_file_with(&real_recording("freedesktop", file), &AISFX_DECODE).unwrap();
        let b = f.blocks_for(&d.audio).unwrap();
        let (rf, rq) = (
            f.run_blocks(&b.data).unwrap(),
            q.run_blocks(&b.data).unwrap(),
        );
        for (x, y) in rf.chunks(512).zip(rq.chunks(512)) {
            worst = worst.min(cosine(x, y));
        }
    }
    eprintln!("int8 vs float32 aisfx blocks on tract, real recordings: lowest cosine {worst:.5}");
    assert!(worst > 0.999, "{worst}");
}
