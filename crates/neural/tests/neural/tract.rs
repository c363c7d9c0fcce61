//! The musicnn embedder on the default, pure-Rust tract runtime, and every load error.
//!
//! One process = one runtime (ort keeps its API table in a global): this test binary only ever
//! starts tract; each test of `onnxruntime.rs` runs in an ONNX Runtime process of its own.
//! Library errors are checked before any runtime is touched, so they are tested here too.

use std::sync::{Arc, OnceLock};

use rayon::prelude::*;
use songrec_audio::{Embedder, MonoAudio};
use songrec_neural::musicnn::reference_signal;
use songrec_neural::patches::PATCH_LEN;
use songrec_neural::{
    MUSICNN_DIM, MusicnnConfig, MusicnnEmbedder, Net, NeuralError, PENULTIMATE_DIM, Runtime,
    ShortClip, TAGS,
};
use songrec_testkit::audio::music;
use songrec_testkit::fixtures::{non_ort_library, old_ort_library, ort_library};
use songrec_testkit::neural::*;

fn tract() -> Arc<MusicnnEmbedder> {
    static E: OnceLock<Arc<MusicnnEmbedder>> = OnceLock::new();
    E.get_or_init(|| {
        Arc::new(
            MusicnnEmbedder::new(&MusicnnConfig {
                runtime: Runtime::Tract,
                max_sessions: 2,
                ..MusicnnConfig::default()
            })
            .expect("tract musicnn embedder"),
        )
    })
    .clone()
}

fn cfg_with_model(model: std::path::PathBuf) -> MusicnnConfig {
    MusicnnConfig {
        runtime: Runtime::Tract,
        model: Some(model),
        max_sessions: 1,
        ..MusicnnConfig::default()
    }
}

#[test]
fn reproduces_expected_json() {
    let e = tract();
    assert_eq!(e.runtime().runtime(), &Runtime::Tract);
    let exp = expected();
    let out = e.run_batch(&reference_signal()).unwrap();
    assert_eq!(out.patches, 3);
    let dp = max_abs_diff(&out.penultimate, &flat(&exp.penultimate));
    let dt = max_abs_diff(&out.taggram, &flat(&exp.taggram));
    eprintln!("tract vs expected.json: penultimate {dp:.2e}, taggram {dt:.2e}");
    // expected.json allows 1e-3 for tract; it measures ~3e-6, so hold it to ONNX Runtime's 1e-4.
    assert!(exp.tol_tract >= 1e-4);
    assert!(dp < 1e-4, "penultimate differs by {dp}");
    assert!(dt < 1e-4, "taggram differs by {dt}");
}

#[test]
fn batch_rows_are_independent() {
    let e = tract();
    let sig = reference_signal();
    let all = e.run_batch(&sig).unwrap();
    let one = e.run_batch(&sig[PATCH_LEN..2 * PATCH_LEN]).unwrap();
    let d = max_abs_diff(&one.penultimate, &all.penultimate[200..400]);
    assert!(d < 1e-5, "row 1 alone differs by {d}");
}

#[test]
fn bad_batches_are_errors() {
    let e = tract();
    for len in [0, 100, PATCH_LEN + 1] {
        let err = e.run_batch(&vec![0.0; len]).unwrap_err();
        assert!(matches!(err, NeuralError::Inference { .. }), "{err}");
    }
}

#[test]
fn the_mtt_network_reproduces_its_expected_outputs() {
    let e = tract();
    let v: serde_json::Value =
        serde_json::from_str(songrec_neural::musicnn::MTT_EXPECTED_JSON).unwrap();
    let rows = |k: &str| floats(&v[k]);
    let names: Vec<String> =
        serde_json::from_str(include_str!("../../models/musicnn/mtt_tags.json")).unwrap();
    assert_eq!(songrec_neural::MTT_TAGS.to_vec(), names);
    let out = e.run_net(Net::Mtt, &reference_signal()).unwrap();
    let dp = max_abs_diff(&out.penultimate, &rows("penultimate"));
    let dt = max_abs_diff(&out.taggram, &rows("taggram"));
    assert!(dp < 1e-4 && dt < 1e-4, "MTT differs: {dp} {dt}");
    // A different network from MSD: its rows are not MSD's.
    let msd = e.run_net(Net::Msd, &reference_signal()).unwrap();
    assert!(max_abs_diff(&out.penultimate, &msd.penultimate) > 0.1);
}

#[test]
fn embedding_is_unit_norm_400d_and_deterministic() {
    let e = tract();
    let audio = MonoAudio::from_samples(music(20.0, 1), 22_050);
    let a = e.analyze(&audio).unwrap();
    let b = e.analyze(&audio).unwrap();
    assert_eq!(a.embedding.len(), MUSICNN_DIM);
    assert_eq!(a.embedding, b.embedding, "deterministic");
    let norm: f32 = a.embedding.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-5, "norm {norm}");
    assert_eq!(
        a.patches, 7,
        "ceil(20 s / 3.008 s) patches, split between the networks"
    );
    assert!((a.analysed_secs - 7.0 * 3.008).abs() < 0.01);
    // Each half is a unit vector over √2: both networks contribute equally.
    for half in [
        &a.embedding[..PENULTIMATE_DIM],
        &a.embedding[PENULTIMATE_DIM..],
    ] {
        let n2: f32 = half.iter().map(|x| x * x).sum();
        assert!((n2 - 0.5).abs() < 1e-5, "half norm² {n2}");
    }
    // Through the Embedder trait: same vector and tags.
    let via_trait = e.embed(&audio).unwrap();
    assert_eq!(via_trait.vector, a.embedding);
    assert_eq!(via_trait.tags, a.tags);
    assert_eq!((e.name(), e.version(), e.dim()), ("musicnn", 2, 400));
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// `musicnn@2` = MSD's `penultimate` rows of the even-numbered patches and MTT's of the
/// odd-numbered ones, each summed (f64), L2-normalised and scaled by 1/√2, one after the other;
/// `pooled` = the two means. Both recomputed here from the networks' raw rows, patch by patch,
/// bit for bit (tract is deterministic).
#[test]
fn vectors_are_recomputed_from_the_raw_rows_bit_for_bit() {
    let e = tract();
    let audio = MonoAudio::from_samples(music(40.0, 2), 22_050);
    let a = e.analyze(&audio).unwrap();
    let cut = e.patches_for(&audio).unwrap();
    assert_eq!(cut.patches, 8);
    assert_eq!(a.patches, 8);
    let mut v2 = Vec::new();
    let mut pooled = Vec::new();
    for (net, first) in [(Net::Msd, 0), (Net::Mtt, 1)] {
        let mut rows = Vec::new();
        for i in (first..8).step_by(2) {
            let patch = &cut.batch[i * PATCH_LEN..(i + 1) * PATCH_LEN];
            rows.push(e.run_net(net, patch).unwrap().penultimate);
        }
        assert_eq!(rows.len(), 4);
        let sum: Vec<f64> = (0..PENULTIMATE_DIM)
            .map(|i| rows.iter().map(|r| f64::from(r[i])).sum())
            .collect();
        let norm = sum.iter().map(|x| x * x).sum::<f64>().sqrt();
        v2.extend(
            sum.iter()
                .map(|x| (x / norm * std::f64::consts::FRAC_1_SQRT_2) as f32),
        );
        pooled.extend(sum.iter().map(|s| (s / rows.len() as f64) as f32));
    }
    assert_eq!(bits(&a.embedding), bits(&v2));
    assert_eq!(bits(&a.pooled), bits(&pooled));
}

#[test]
fn different_music_gets_different_vectors() {
    let e = tract();
    let a = e
        .analyze(&MonoAudio::from_samples(music(10.0, 0), 22_050))
        .unwrap();
    let b = e
        .analyze(&MonoAudio::from_samples(
            reference_signal()[..PATCH_LEN * 2].to_vec(),
            16_000,
        ))
        .unwrap();
    let cos: f32 = a
        .embedding
        .iter()
        .zip(&b.embedding)
        .map(|(x, y)| x * y)
        .sum();
    assert!(cos < 0.99, "cosine {cos}");
}

#[test]
fn tags_are_named_sorted_and_match_the_reference() {
    let tags_json: Vec<String> =
        serde_json::from_str(include_str!("../../models/musicnn/tags.json")).unwrap();
    assert_eq!(TAGS.to_vec(), tags_json);
    let e = tract();
    // Three segments of exactly one patch each: the patches are expected.json's three rows;
    // MSD, whose tags these are, runs on patches 0 and 2.
    let sig = reference_signal();
    let audio = MonoAudio {
        sample_rate: 16_000,
        segments: sig
            .chunks(PATCH_LEN)
            .enumerate()
            .map(|(i, c)| songrec_audio::Segment {
                start_secs: i as f64 * 10.0,
                samples: c.to_vec(),
            })
            .collect(),
    };
    let a = e.analyze(&audio).unwrap();
    assert_eq!(a.patches, 3);
    assert_eq!(a.tags.len(), 50);
    assert!(a.tags.windows(2).all(|w| w[0].1 >= w[1].1));
    let exp = expected();
    for (name, p) in &a.tags {
        let i = TAGS.iter().position(|t| t == name).unwrap();
        let mean = (exp.taggram[0][i] + exp.taggram[2][i]) / 2.0;
        assert!((p - mean).abs() < 1e-4, "{name}: {p} vs {mean}");
    }
    let top: Vec<&str> = a.top_tags(3).iter().map(|t| t.0.as_str()).collect();
    assert_eq!(top, ["electronic", "ambient", "experimental"]);
}

#[test]
fn short_clips_get_a_vector() {
    let e = tract();
    let long = music(2.0, 3);
    for secs in [0.05f32, 0.1, 0.4, 2.0] {
        let n = (secs * 22_050.0) as usize;
        let a = e
            .analyze(&MonoAudio::from_samples(long[..n].to_vec(), 22_050))
            .unwrap();
        assert_eq!(a.patches, 1);
        assert_eq!(a.embedding.len(), MUSICNN_DIM);
        assert!(a.embedding.iter().all(|x| x.is_finite()));
        assert!(
            (a.analysed_secs - secs).abs() < 0.01,
            "{secs}: {}",
            a.analysed_secs
        );
    }
    assert!(matches!(
        e.analyze(&MonoAudio::from_samples(Vec::new(), 22_050)),
        Err(NeuralError::NoAudio)
    ));
}

#[test]
fn short_clip_policies_differ() {
    // The default pads with silence; Loop repeats the clip. Both give unit vectors, and they are
    // not the same vector (the policy matters, so it is part of the versioned output).
    let clip = MonoAudio::from_samples(music(0.3, 2), 22_050);
    let zero = tract().analyze(&clip).unwrap();
    assert_eq!(MusicnnConfig::default().short_clip, ShortClip::ZeroPad);
    let looped = MusicnnEmbedder::new(&MusicnnConfig {
        short_clip: ShortClip::Loop,
        max_sessions: 1,
        ..MusicnnConfig::default()
    })
    .unwrap()
    .analyze(&clip)
    .unwrap();
    let cos: f32 = zero
        .embedding
        .iter()
        .zip(&looped.embedding)
        .map(|(x, y)| x * y)
        .sum();
    assert!(cos < 0.999, "cosine {cos}");
}

#[test]
fn parallel_callers_share_a_small_pool() {
    let e = tract();
    let songs: Vec<MonoAudio> = (0..6)
        .map(|s| MonoAudio::from_samples(music(4.0, s), 22_050))
        .collect();
    let serial: Vec<Vec<f32>> = songs
        .iter()
        .map(|s| e.analyze(s).unwrap().embedding)
        .collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(4)
        .build()
        .unwrap();
    let parallel: Vec<Vec<f32>> = pool.install(|| {
        songs
            .par_iter()
            .map(|s| e.analyze(s).unwrap().embedding)
            .collect()
    });
    assert_eq!(serial, parallel);
    assert!(e.sessions() >= 1 && e.sessions() <= 2, "{}", e.sessions());
}

#[test]
fn missing_model_file() {
    let err = MusicnnEmbedder::new(&cfg_with_model("/no/such/model.onnx".into())).unwrap_err();
    assert!(matches!(err, NeuralError::ModelNotFound { .. }), "{err}");
    assert!(err.to_string().contains("/no/such/model.onnx"));
}

#[test]
fn text_file_as_model() {
    let dir = tempfile::tempdir().unwrap();
    let p = temp_file(&dir, "notes.onnx", b"this is not a model\n");
    let err = MusicnnEmbedder::new(&cfg_with_model(p)).unwrap_err();
    assert!(matches!(err, NeuralError::InvalidModel { .. }), "{err}");
    assert!(err.to_string().contains("notes.onnx"), "{err}");
}

/// Another graph is refused: with the `tract` feature by the check, which names what differs;
/// without it before any check, because no engine of this build could run it, with what to
/// install instead.
#[test]
fn other_onnx_model() {
    let dir = tempfile::tempdir().unwrap();
    let p = temp_file(&dir, "identity.onnx", &identity_model());
    let err = MusicnnEmbedder::new(&cfg_with_model(p)).unwrap_err();
    if cfg!(feature = "tract") {
        match &err {
            NeuralError::WrongModel { reason, .. } => assert!(reason.contains("wave"), "{reason}"),
            other => panic!("expected WrongModel, got {other}"),
        }
    } else {
        let msg = err.to_string();
        assert!(msg.contains("identity.onnx"), "{msg}");
        assert!(msg.contains("--features tract"), "{msg}");
        assert!(msg.contains("SONGREC_ORT_LIBRARY"), "{msg}");
    }
}

#[test]
fn same_shapes_other_weights() {
    let dir = tempfile::tempdir().unwrap();
    let p = temp_file(&dir, "perturbed.onnx", &perturbed_musicnn());
    let err = MusicnnEmbedder::new(&cfg_with_model(p)).unwrap_err();
    match &err {
        NeuralError::WrongModel { reason, .. } => {
            assert!(reason.contains("reference signal"), "{reason}")
        }
        other => panic!("expected WrongModel, got {other}"),
    }
}

#[test]
fn an_mtt_override_is_checked_against_mtt() {
    let dir = tempfile::tempdir().unwrap();
    // The MSD network given as the MTT override: right shapes, wrong network.
    let msd = temp_file(&dir, "msd.onnx", songrec_neural::musicnn::BUNDLED_MODEL);
    let cfg = |p: std::path::PathBuf| MusicnnConfig {
        runtime: Runtime::Tract,
        mtt_model: Some(p),
        max_sessions: 1,
        ..MusicnnConfig::default()
    };
    match MusicnnEmbedder::new(&cfg(msd)).unwrap_err() {
        NeuralError::WrongModel { reason, model } => {
            assert!(reason.contains("MTT_musicnn"), "{reason}");
            assert!(model.contains("msd.onnx"), "{model}");
        }
        other => panic!("expected WrongModel, got {other}"),
    }
    let copy = temp_file(&dir, "mtt.onnx", songrec_neural::musicnn::BUNDLED_MTT_MODEL);
    let e = MusicnnEmbedder::new(&cfg(copy)).unwrap();
    let audio = MonoAudio::from_samples(music(8.0, 3), 22_050);
    assert_eq!(
        e.analyze(&audio).unwrap().embedding,
        tract().analyze(&audio).unwrap().embedding
    );
}

#[test]
fn a_copy_of_the_right_model_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let p = temp_file(&dir, "copy.onnx", songrec_neural::musicnn::BUNDLED_MODEL);
    let e = MusicnnEmbedder::new(&cfg_with_model(p)).unwrap();
    let a = e.run_batch(&reference_signal()[..PATCH_LEN]).unwrap();
    assert!(max_abs_diff(&a.penultimate, &expected().penultimate[0]) < 1e-4);
}

fn ort_cfg(library: std::path::PathBuf) -> MusicnnConfig {
    MusicnnConfig {
        runtime: Runtime::OnnxRuntime { library },
        ..MusicnnConfig::default()
    }
}

#[test]
fn missing_library() {
    let err = MusicnnEmbedder::new(&ort_cfg("/no/such/libonnxruntime.so".into())).unwrap_err();
    assert!(matches!(err, NeuralError::LibraryNotFound { .. }), "{err}");
}

#[test]
fn text_file_as_library() {
    let dir = tempfile::tempdir().unwrap();
    let p = temp_file(&dir, "libonnxruntime.so", b"not a shared library");
    let err = MusicnnEmbedder::new(&ort_cfg(p)).unwrap_err();
    assert!(matches!(err, NeuralError::LibraryLoad { .. }), "{err}");
    let dir_err = MusicnnEmbedder::new(&ort_cfg(dir.path().to_path_buf())).unwrap_err();
    assert!(
        matches!(dir_err, NeuralError::LibraryLoad { .. }),
        "{dir_err}"
    );
}

#[test]
fn shared_library_that_is_not_onnxruntime() {
    let err = MusicnnEmbedder::new(&ort_cfg(non_ort_library())).unwrap_err();
    assert!(matches!(err, NeuralError::NotOnnxRuntime { .. }), "{err}");
}

#[test]
fn onnxruntime_too_old() {
    let err = MusicnnEmbedder::new(&ort_cfg(old_ort_library())).unwrap_err();
    match &err {
        NeuralError::RuntimeTooOld {
            found, required, ..
        } => {
            assert!(found.starts_with("1.20"), "{found}");
            assert_eq!(required, "1.24");
        }
        other => panic!("expected RuntimeTooOld, got {other}"),
    }
}

#[test]
fn switching_runtime_in_one_process_is_refused() {
    let _ = tract();
    let err = MusicnnEmbedder::new(&ort_cfg(ort_library())).unwrap_err();
    assert!(matches!(err, NeuralError::RuntimeConflict { .. }), "{err}");
}
