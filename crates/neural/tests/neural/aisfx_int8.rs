//! aisfx's int8 networks against their expected outputs: `models/aisfx/aisfx_int8.onnx`
//! (`songrec-mix@2`'s) against `expected_int8.json` and `models/aisfx/aisfx_texture_int8.onnx`
//! (the default mix's texture) against `expected_texture.json`: outputs on the fixed probe on
//! tract, on ONNX Runtime and on songrec's kernels (each engine's own integer arithmetic, each
//! deterministic), and the int8 embedding's distance from the float32 network on the real
//! freedesktop recordings.

use std::sync::{Arc, OnceLock};

use songrec_audio::decode_file_with;
use songrec_neural::aisfx::{AISFX_DECODE, EXPECTED_INT8_JSON, EXPECTED_TEXTURE_JSON};
use songrec_neural::{AisfxConfig, AisfxEmbedder, AisfxNetwork, KernelPath, Runtime};
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
        kernels: KernelPath::Tract,
        ..AisfxConfig::default()
    })
    .expect("aisfx")
}

/// An int8 network on songrec's kernels, forced onto `path`.
fn on_path(path: KernelPath, texture: bool) -> AisfxEmbedder {
    AisfxEmbedder::new(&AisfxConfig {
        network: network(true, texture),
        max_sessions: 1,
        kernels: path,
        ..AisfxConfig::default()
    })
    .expect("aisfx")
}

/// Every own kernel path this CPU runs (`SONGREC_KERNELS` could force each).
fn own_paths() -> Vec<KernelPath> {
    KernelPath::here()
        .into_iter()
        .filter(|p| p.is_own())
        .collect()
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
    assert!(d < tolerance(key), "{d}");
    assert_eq!(rows, e.run_blocks(&probe()).unwrap(), "deterministic");
}

/// How close an engine's probe rows must come to its stored ones: 1e-4, but for ONNX
/// Runtime on a CPU without VNNI, whose u8 × s8 kernels sum pairs of products in saturating
/// `i16` (ONNX Runtime's quantization docs say so: "U8S8 can saturate"), unlike the CPU
/// with VNNI that wrote its row: 0.0433 apart at most on an AMD Zen 3.
fn tolerance(key: &str) -> f32 {
    let vnni = KernelPath::Avx512Vnni.runs_here() || KernelPath::AvxVnni.runs_here();
    if key == "probe_onnxruntime" && !vnni {
        0.06
    } else {
        1e-4
    }
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

/// songrec's kernels (the default on every CPU): their own probe rows (deterministic: integer
/// sums), and within [`ACROSS_ENGINES`] of both other engines' rows.
#[test]
fn own_kernels_int8_stay_within_the_engines_spread() {
    for texture in NETWORKS {
        let e = tract(true, texture);
        assert!(
            e.engine().starts_with("songrec kernels ("),
            "{}",
            e.engine()
        );
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
                    kernels: KernelPath::Tract,
                    ..AisfxConfig::default()
                })
                .expect("aisfx");
                assert_eq!(e.engine(), e.runtime().describe());
                check_probe(&e, texture, "probe_onnxruntime");
            }
        },
    );
}

/// With ONNX Runtime too, the int8 networks run on songrec's kernels: the same probe rows as
/// without it (vectors do not depend on whether ONNX Runtime is installed).
#[test]
fn onnxruntime_int8_runs_on_own_kernels() {
    in_own_process("aisfx_int8::onnxruntime_int8_runs_on_own_kernels", || {
        for texture in NETWORKS {
            let e = embedder(
                Runtime::OnnxRuntime {
                    library: ort_library(),
                },
                true,
                texture,
            );
            assert!(
                e.engine().starts_with("songrec kernels ("),
                "{}",
                e.engine()
            );
            check_probe(&e, texture, "probe_songrec_kernels");
        }
    });
}

/// Every kernel path this CPU runs, each forced: the probe rows of both int8 networks are the
/// same to the bit as the stored `probe_songrec_kernels` rows (integer sums are exact; the
/// float32 convolutions are the same fused multiply-add chains on every path), whichever CPU
/// wrote them.
#[test]
fn every_kernel_path_gives_the_stored_probe_rows_to_the_bit() {
    for texture in NETWORKS {
        let want = floats(&expected(texture)["probe_songrec_kernels"]);
        for path in own_paths() {
            let e = on_path(path, texture);
            assert_eq!(e.engine(), format!("songrec kernels ({path})"));
            let rows = e.run_blocks(&probe()).unwrap();
            let differ = rows
                .iter()
                .zip(&want)
                .filter(|(a, b)| a.to_bits() != b.to_bits());
            assert_eq!(differ.count(), 0, "{path}, texture: {texture}");
        }
    }
}

/// A path this CPU cannot run is refused with the paths it can, before any work.
#[test]
fn a_path_this_cpu_cannot_run_is_refused() {
    for path in KernelPath::ALL.into_iter().filter(|p| !p.runs_here()) {
        let e = AisfxEmbedder::new(&AisfxConfig {
            network: AisfxNetwork::Texture,
            kernels: path,
            ..AisfxConfig::default()
        })
        .unwrap_err()
        .to_string();
        assert!(
            e.contains(path.name()) && e.contains("this CPU runs: "),
            "{e}"
        );
        assert!(e.contains("portable"), "{e}");
    }
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
