//! Cost of the aisfx embedder on one core: the network per block (tract at several plan
//! batches, or ONNX Runtime with one intra-op thread), the front end, and a whole track
//! (6 excerpts of 15 s at 44.1 kHz, as `AISFX_DECODE` gives a 3-minute song: 8 blocks).
//!
//! ```sh
//! cargo run -p songrec-neural --example aisfx_speed                      # tract
//! cargo run -p songrec-neural --example aisfx_speed -- /path/libonnxruntime.so.1.31.1
//! ```

use std::time::Instant;

use songrec_audio::{MonoAudio, Segment};
use songrec_neural::aisfx::frontend::{BLOCK, FrontEnd, N_MELS};
use songrec_neural::{AisfxConfig, AisfxEmbedder, NeuralResult, Runtime};

fn song() -> MonoAudio {
    let seg = |k: usize| Segment {
        start_secs: 30.0 * k as f64,
        samples: (0..44_100 * 15)
            .map(|i| {
                let t = i as f32 / 44_100.0;
                0.3 * (t * (220.0 + 40.0 * k as f32) * std::f32::consts::TAU).sin()
                    + 0.1 * ((i * 7919 + k) % 1000) as f32 / 1000.0
            })
            .collect(),
    };
    MonoAudio {
        sample_rate: 44_100,
        segments: (0..6).map(seg).collect(),
    }
}

fn time<T>(reps: usize, mut f: impl FnMut() -> T) -> f64 {
    f();
    let t = Instant::now();
    for _ in 0..reps {
        std::hint::black_box(f());
    }
    t.elapsed().as_secs_f64() / reps as f64
}

fn main() -> NeuralResult<()> {
    let ort = std::env::args().nth(1);
    let runtime = Runtime::from_library(ort.map(Into::into));
    let audio = song();
    let fe = FrontEnd::new();
    let segs: Vec<&[f32]> = audio
        .segments
        .iter()
        .map(|s| s.samples.as_slice())
        .collect();
    let fe_s = time(5, || fe.blocks(&segs, 8));
    println!("front end, 8 blocks from 6 x 15 s: {:.1} ms", fe_s * 1e3);
    let blocks: Vec<f32> = (0..8 * BLOCK * N_MELS)
        .map(|i| ((i * 2654435761usize) % 1000) as f32 / 1000.0)
        .collect();
    let batches: &[usize] = if runtime == Runtime::Tract {
        &[1, 2, 4, 8]
    } else {
        &[1]
    };
    for &b in batches {
        let e = AisfxEmbedder::new(&AisfxConfig {
            runtime: runtime.clone(),
            max_sessions: 1,
            tract_batch: b,
            ..AisfxConfig::default()
        })?;
        let per_block = time(3, || e.run_blocks(&blocks)) / 8.0;
        let track = time(3, || e.analyze(&audio));
        println!(
            "{} (plan batch {b}): {:.1} ms per block, {:.0} ms per track (8 blocks + front end)",
            e.runtime().describe(),
            per_block * 1e3,
            track * 1e3
        );
    }
    Ok(())
}
