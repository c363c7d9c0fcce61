//! `songrec doctor`: check the neural runtime and the storage in use (the local library, the
//! Astra/S3 cloud) before any work.

use anyhow::Result;
use songrec_config::Config;
use songrec_factory as factory;

use crate::exit;

/// `songrec doctor`: every check with what to fix; exit 1 if any failed.
pub async fn run(cfg: &Config) -> Result<u8> {
    // The runtime starts and runs here, not on the first song of an ingest.
    let embedder = cfg.embedder.clone();
    let runtime_ok = match tokio::task::spawn_blocking(move || {
        songrec_app::embedders::measure_runtime(&embedder, 30.0)
    })
    .await?
    {
        Ok(m) => {
            println!(
                "[ok] neural runtime: {}\n       {} analyses music at {:.0}x real time on this machine\n       songrec's kernels: {}",
                m.choice,
                m.running,
                m.times_real_time,
                songrec_neural::KernelPath::from_env_or_auto().describe()
            );
            true
        }
        Err(e) => {
            println!(
                "[fail] neural runtime: {e}\n       fix: set [embedder] runtime = \"tract\" (or SONGREC_NEURAL_RUNTIME=tract) to use the built-in runtime"
            );
            false
        }
    };
    println!(
        "[ok] built-in models: {}",
        songrec_app::embedders::MODEL_CREDITS.join("; ")
    );
    let report = factory::doctor(cfg).await;
    for c in &report.checks {
        println!("{c}");
    }
    if report.is_ok() {
        for line in vector_advice(cfg).await {
            println!("[warn] vectors: {line}");
        }
    }
    Ok(exit::ok_or(report.is_ok() && runtime_ok, exit::ERROR))
}

/// What the library's vectors lack: the default's on some songs (a library made before it),
/// or a model this build makes in another version. Nothing for an empty or unreachable
/// library (the checks above said so).
async fn vector_advice(cfg: &Config) -> Vec<String> {
    if cfg.backend == songrec_config::BackendKind::Local && !cfg.local.path.join("data").is_dir() {
        return Vec::new();
    }
    let Ok(backend) = factory::build(cfg) else {
        return Vec::new();
    };
    let Ok(stats) = backend.models().await else {
        return Vec::new();
    };
    let outdated = songrec_app::embedders::outdated_models(&stats);
    let advice = songrec_app::embedders::upgrade_advice(&stats).into_iter();
    advice.chain(outdated.iter().map(|o| o.advice())).collect()
}
