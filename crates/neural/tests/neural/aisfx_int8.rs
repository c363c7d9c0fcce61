//! aisfx's int8 networks against their expected outputs: `models/aisfx/aisfx_int8.onnx`
//! (`songrec-mix@2`'s) against `expected_int8.json` and `models/aisfx/aisfx_texture_int8.onnx`
//! (the default mix's texture) against `expected_texture.json`: outputs on the fixed probe on
//! tract, on ONNX Runtime and on songrec's kernels (each engine's own integer arithmetic, each
//! deterministic), and the int8 embedding's distance from the float32 network on the real
//! freedesktop recordings.

use std::sync::{Arc, OnceLock};

use songrec_audio::decode_file_with;
use songrec_neural::aisfx::{AISFX_DECODE, EXPECTED_INT8_JSON, EXPECTED_TEXTURE_JSON};
use songrec_neural::{AisfxConfig, AisfxEmbedder, AisfxNetwork, Runtime};
use songrec_storage::math::cosine;
use songrec_testkit::fixtures::{ort_library, real_recording};
use songrec_testkit::neural::{floats, max_abs_diff};
use songrec_testkit::process::in_own_process;

/// The two int8 networks: the embedding's and the texture's.
const NETWORKS: [bool; 2] = [false, true];

fn expected(texture: bool) -> serde_json::Value {
    serde_json::from_str(if texture {
        EXPECTED_TEXTURE_JSON
    } else {
        EXPECTED_INT8_JSON
    })
    .unwrap()
}

/// The probe of expected_int8.json: value i is ((i · 2654435761) mod 2³² mod 1000) / 1000.
fn probe() -> Vec<f32> {
    (0..2 * 100 * 96u64)
        .map(|i| ((i * 2_654_435_761) % (1 << 32) % 1000) as f32 / 1000.0)
        .collect()
}

/// The network: the texture's, else the int8 embedding's or the float32 one's.
fn network(int8: bool, texture: bool) -> AisfxNetwork {
    match (int8, texture) {
        (_, true) => AisfxNetwork::Texture,
        (true, false) => AisfxNetwork::Int8,
        (false, false) => AisfxNetwork::Float32,
    }
}

fn embedder(runtime: Runtime, int8: bool, texture: bool) -> AisfxEmbedder {
    AisfxEmbedder::new(&AisfxConfig {
        runtime,
        network: network(int8, texture),
        max_sessions: 1,
        ..AisfxConfig::default()
    })
    .expect("aisfx")
}

/// An int8 network on tract's own integer kernels.
fn tract_itself(texture: bool) -> AisfxEmbedder {
    AisfxEmbedder::new(&AisfxConfig {
        network: network(true, texture),
        max_sessions: 1,
        own_kernels: false,
        ..AisfxConfig::default()
    })
    .expect("aisfx")
}

/// The float32 network, the int8 one and the texture one with tract (songrec's kernels where
/// the CPU allows).
fn tract(int8: bool, texture: bool) -> Arc<AisfxEmbedder> {
    static E: OnceLock<[Arc<AisfxEmbedder>; 3]> = OnceLock::new();
    E.get_or_init(|| {
        [
            Arc::new(embedder(Runtime::Tract, false, false)),
            Arc::new(embedder(Runtime::Tract, true, false)),
            Arc::new(embedder(Runtime::Tract, true, true)),
        ]
    })[if texture { 2 } else { usize::from(int8) }]
    .clone()
}

fn check_probe(e: &AisfxEmbedder, texture: bool, key: &str) {
    let rows = e.run_blocks(&probe()).unwrap();
    let want = floats(&expected(texture)[key]);
    assert_eq!(rows.len(), want.len(), "{key}");
    let d = max_abs_diff(&rows, &want);
    eprintln!(
        "{} int8 probe (texture: {texture}): max abs diff {d:.2e} from {key}",
        e.engine()
    );
    assert!(d < 1e-4, "{d}");
    assert_eq!(rows, e.run_blocks(&probe()).unwrap(), "deterministic");
}

#[test]
fn tract_int8_reproduces_expected_int8_json() {
    for texture in NETWORKS {
        let e = tract_itself(texture);
        assert_eq!(e.engine(), e.runtime().describe());
        check_probe(&e, texture, "probe_tract");
    }
}

/// How far apart two engines' int8 outputs may be: tract's and ONNX Runtime's probe rows are
/// 0.0216 apart at most (values up to 15.5), each engine rounding some requantizations its own
/// way.
const ACROSS_ENGINES: f32 = 0.03;

/// songrec's kernels (the default where the CPU has AVX-512 VNNI): their own probe rows
/// (deterministic: integer sums), and within [`ACROSS_ENGINES`] of both other engines' rows.
#[test]
fn own_kernels_int8_stay_within_the_engines_spread() {
    for texture in NETWORKS {
        let e = tract(true, texture);
        if !songrec_neural::aisfx::own_int8_kernels_available() {
            assert_eq!(e.engine(), e.runtime().describe());
            check_probe(&e, texture, "probe_tract");
            continue;
        }
        assert_eq!(e.engine(), "songrec kernels");
        check_probe(&e, texture, "probe_songrec_kernels");
        let rows = e.run_blocks(&probe()).unwrap();
        let want = expected(texture);
        for key in ["probe_tract", "probe_onnxruntime"] {
            let d = max_abs_diff(&rows, &floats(&want[key]));
            eprintln!("songrec kernels vs {key} (texture: {texture}): max abs diff {d:.2e}");
            assert!(d < ACROSS_ENGINES, "{key}: {d}");
        }
        let (a, b) = (
            floats(&want["probe_tract"]),
            floats(&want["probe_onnxruntime"]),
        );
        assert!(max_abs_diff(&a, &b) < ACROSS_ENGINES);
    }
}

#[test]
fn onnxruntime_int8_reproduces_expected_int8_json() {
    in_own_process(
        "aisfx_int8::onnxruntime_int8_reproduces_expected_int8_json",
        || {
            // ONNX Runtime's own int8 kernels (songrec's run it where the CPU has AMX).
            for texture in NETWORKS {
                let e = AisfxEmbedder::new(&AisfxConfig {
                    runtime: Runtime::OnnxRuntime {
                        library: ort_library(),
                    },
                    network: network(true, texture),
                    max_sessions: 1,
                    own_kernels: false,
                    ..AisfxConfig::default()
                })
                .expect("aisfx");
                assert_eq!(e.engine(), e.runtime().describe());
                check_probe(&e, texture, "probe_onnxruntime");
            }
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
            for texture in NETWORKS {
                let e = embedder(
                    Runtime::OnnxRuntime {
                        library: ort_library(),
                    },
                    true,
                    texture,
                );
                // SONGREC_TEST_EXPECT_AMX=1 (on a CPU with AMX-INT8) makes a fallback a failure.
                if std::env::var("SONGREC_TEST_EXPECT_AMX").is_ok_and(|v| v.trim() == "1") {
                    assert_eq!(e.engine(), "songrec kernels");
                }
                if e.engine() == "songrec kernels" {
                    check_probe(&e, texture, "probe_songrec_kernels");
                } else {
                    eprintln!("no AMX-INT8 here: aisfx's int8 network runs on ONNX Runtime");
                    assert_eq!(e.engine(), e.runtime().describe());
                    check_probe(&e, texture, "probe_onnxruntime");
                }
            }
        },
    );
}

/// The log-mel blocks aisfx cuts from each of three real freedesktop recordings.
fn real_blocks() -> Vec<Vec<f32>> {
    let e = tract(false, false);
    [
        "complete.oga",
        "phone-incoming-call.oga",
        "alarm-clock-elapsed.oga",
    ]
    .iter()
    .map(|file| {
        let d = decode_file_with(&real_recording("freedesktop", file), &AISFX_DECODE).unwrap();
        e.blocks_for(&d.audio).unwrap().data
    })
    .collect()
}

/// The lowest cosine between the two engines' outputs, block by block (`width` values each).
fn lowest_block_cosine(a: &AisfxEmbedder, b: &AisfxEmbedder, blocks: &[f32], width: usize) -> f64 {
    let (ra, rb) = (a.run_blocks(blocks).unwrap(), b.run_blocks(blocks).unwrap());
    assert_eq!(ra.len(), blocks.len() / (100 * 96) * width);
    ra.chunks(width)
        .zip(rb.chunks(width))
        .map(|(x, y)| f64::from(cosine(x, y)))
        .fold(1.0, f64::min)
}

#[test]
fn int8_blocks_stay_close_to_float32_on_real_recordings() {
    let (f, q) = (tract(false, false), tract(true, false));
    let worst = real_blocks()
        .iter()
        .map(|b| lowest_block_cosine(&f, &q, b, 512))
        .fold(1.0, f64::min);
    eprintln!("int8 vs float32 aisfx blocks on tract, real recordings: lowest cosine {worst:.5}");
    assert!(worst > 0.999, "{worst}");
}

/// The texture network on real recordings: songrec's kernels (where the CPU has AVX-512 VNNI)
/// and tract's own integer kernels give each block nearly the same texture, and the song's
/// pooled part is 1024 finite, non-negative values that differ between the recordings.
#[test]
fn the_texture_of_real_recordings_agrees_across_engines() {
    let (own, graph) = (tract(true, true), tract_itself(true));
    let mut worst = 1f64;
    let mut parts = Vec::new();
    for b in real_blocks() {
        worst = worst.min(lowest_block_cosine(&own, &graph, &b, 1024));
        let part = own.pool(&own.run_blocks(&b).unwrap());
        assert!(part.len() == 1024 && part.iter().all(|v| v.is_finite() && *v >= 0.0));
        parts.push(part);
    }
    eprintln!(
        "texture, {} vs {}, real recordings: lowest block cosine {worst:.6}",
        own.engine(),
        graph.engine()
    );
    assert!(worst > 0.9999, "{worst}");
    assert!(cosine(&parts[0], &parts[1]) < 0.9999 && cosine(&parts[1], &parts[2]) < 0.9999);
}
