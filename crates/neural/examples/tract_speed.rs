//! Time of the built-in MSD network on tract, per patch, at a given batch size:
//!
//! ```text
//! taskset -c 1 target/release/examples/tract_speed [BATCH]   # default 8
//! PROFILE=1 …   per-node times of the whole model (tract's plan, one patch batch)
//! SHAPES=1 …    the optimised graph with its shapes
//! ```
//! Prints the whole model on the concrete shape `[BATCH, 48128]`, the embedder's own
//! `run_batch` (tract, one patch per run) and the log-mel front end alone. The figures of `crates/neural/src/tract_plan.rs` and the README come from it.
use std::time::Instant;
use tract_onnx::prelude::*;

fn time(
    label: &str,
    model: &std::sync::Arc<TypedRunnableModel>,
    x: Tensor,
    batch: usize,
) -> TractResult<()> {
    for _ in 0..2 {
        model.run(tvec!(x.clone().into()))?;
    }
    let reps = 5;
    let t = Instant::now();
    for _ in 0..reps {
        model.run(tvec!(x.clone().into()))?;
    }
    let per = t.elapsed().as_secs_f64() / reps as f64;
    println!(
        "{label} batch {batch}: {:.1} ms per batch, {:.2} ms per patch",
        per * 1e3,
        per * 1e3 / batch as f64
    );
    Ok(())
}

fn main() -> TractResult<()> {
    let bytes = songrec_neural::musicnn::BUNDLED_MODEL;
    let args: Vec<String> = std::env::args().collect();
    let batch: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(8);
    let load = || {
        let mut r = bytes;
        tract_onnx::onnx().model_for_read(&mut r)
    };
    let wave: Vec<f32> = songrec_neural::musicnn::reference_signal();
    let mut input = Vec::with_capacity(batch * 48128);
    while input.len() < batch * 48128 {
        input.extend_from_slice(&wave[..48128]);
    }
    let flat_input = input.clone();
    let x: Tensor = tract_ndarray::Array2::from_shape_vec((batch, 48128), input)?.into();
    // whole
    let whole = load()?
        .with_input_fact(0, f32::fact([batch, 48128]).into())?
        .into_optimized()?;
    if std::env::var_os("SHAPES").is_some() {
        shapes(&whole);
    }
    let whole = whole.into_runnable()?;
    time("whole", &whole, x.clone(), batch)?;
    if std::env::var_os("PROFILE").is_some() {
        profile(&whole, x.clone())?;
    }
    {
        let e = songrec_neural::MusicnnEmbedder::new(&songrec_neural::MusicnnConfig::default())
            .unwrap();
        let flat: Vec<f32> = flat_input.clone();
        e.run_batch(&flat).unwrap();
        let t = Instant::now();
        for _ in 0..3 {
            e.run_batch(&flat).unwrap();
        }
        let per = t.elapsed().as_secs_f64() / 3.0;
        println!(
            "embedder run_batch, {batch} patches: {:.1} ms, {:.2} ms per patch",
            per * 1e3,
            per * 1e3 / batch as f64
        );
    }
    // front only
    let front = load()?
        .with_input_fact(0, f32::fact([batch, 48128]).into())?
        .with_outputs_by_name(["logmel/mul_1"])?
        .into_optimized()?
        .into_runnable()?;
    time("log-mel front end", &front, x, batch)?;
    Ok(())
}

pub fn profile(model: &std::sync::Arc<TypedRunnableModel>, x: Tensor) -> TractResult<()> {
    use std::collections::HashMap;
    let mut acc: HashMap<String, (f64, String)> = HashMap::new();
    for _ in 0..3 {
        let mut state = tract_onnx::tract_core::plan::SimpleState::new(model)?;
        state.run_plan_with_eval(tvec!(x.clone().into()), |ctx, st, node, input| {
            let t = Instant::now();
            let r = tract_onnx::tract_core::plan::eval(ctx, st, node, input);
            let e = acc
                .entry(node.name.clone())
                .or_insert((0.0, format!("{}", node.op)));
            e.0 += t.elapsed().as_secs_f64() / 3.0;
            r
        })?;
    }
    let mut v: Vec<_> = acc.into_iter().collect();
    v.sort_by(|a, b| b.1.0.partial_cmp(&a.1.0).unwrap());
    let total: f64 = v.iter().map(|x| x.1.0).sum();
    println!("total {:.1} ms", total * 1e3);
    for (n, (t, op)) in v.iter().take(25) {
        println!(
            "{:7.2} ms {:5.1}%  {n}  {}",
            t * 1e3,
            100.0 * t / total,
            op.chars().take(120).collect::<String>()
        );
    }
    Ok(())
}

pub fn shapes(model: &TypedModel) {
    for n in model.nodes() {
        let ins: Vec<String> = n
            .inputs
            .iter()
            .map(|o| {
                format!(
                    "{:?}",
                    model.outlet_fact(*o).map(|f| f.shape.to_tvec()).ok()
                )
            })
            .collect();
        let out = model
            .outlet_fact(OutletId::new(n.id, 0))
            .map(|f| format!("{:?}", f.shape.to_tvec()))
            .unwrap_or_default();
        println!("{} [{}] {} <- {}", n.name, n.op, out, ins.join(", "));
    }
}
