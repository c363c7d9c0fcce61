//! Errors of the neural embedder: one variant per thing that can go wrong, each saying what to do.

use std::path::PathBuf;

/// Anything that stops the neural embedder from loading or running.
///
/// ```
/// let e = songrec_neural::NeuralError::ModelNotFound { path: "/nope.onnx".into() };
/// assert!(e.to_string().contains("/nope.onnx"));
/// ```
#[derive(Debug, thiserror::Error)]
pub enum NeuralError {
    /// The configured model file does not exist.
    #[error(
        "musicnn model file {path} does not exist; fix `[embedder] musicnn_model` / `musicnn_mtt_model` (SONGREC_MUSICNN_MODEL / SONGREC_MUSICNN_MTT_MODEL), or unset it to use the model built into songrec"
    )]
    ModelNotFound { path: PathBuf },
    /// A network songrec does not build in (only a non-default path runs it) is not where the
    /// package keeps it.
    #[error(
        "{what} is not built into songrec; it is read from {path}, which does not exist: set {env} to a copy of the file (models/aisfx/aisfx.onnx in songrec's source)"
    )]
    PackageModelMissing {
        what: &'static str,
        path: PathBuf,
        env: &'static str,
    },
    /// The model file exists but could not be read.
    #[error("cannot read musicnn model file {path}: {source}")]
    ModelRead {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The runtime could not parse the file as an ONNX model.
    #[error("{model} is not a usable ONNX model ({runtime} says: {reason})")]
    InvalidModel {
        /// Path of the model, or "the built-in model".
        model: String,
        runtime: String,
        reason: String,
    },
    /// A valid ONNX model, but not MSD_musicnn as songrec expects it (inputs, outputs, shapes or
    /// numbers differ).
    #[error(
        "{model} is not the musicnn model songrec expects: {reason}; use models/musicnn/msd_musicnn.onnx (or unset the override)"
    )]
    WrongModel {
        /// Path of the model, or "the built-in model".
        model: String,
        reason: String,
    },
    /// The bundled mix standardisation table does not fit the mix's parts (a build error).
    #[error("the mix standardisation table built into songrec is unusable: {reason}")]
    BadTable { reason: String },
    /// The configured ONNX Runtime library file does not exist.
    #[error(
        "ONNX Runtime library {path} does not exist; point SONGREC_ORT_LIBRARY / `[embedder] onnxruntime_library` at libonnxruntime.so.1.x (from the PyPI onnxruntime wheel), or unset it to run without ONNX Runtime"
    )]
    LibraryNotFound { path: PathBuf },
    /// The file exists but the dynamic loader refused it (not a shared library, wrong
    /// architecture, missing dependencies).
    #[error("cannot load ONNX Runtime library {path}: {reason}")]
    LibraryLoad { path: PathBuf, reason: String },
    /// A shared library, but not ONNX Runtime (no `OrtGetApiBase`).
    #[error(
        "{path} is a shared library but not ONNX Runtime (it has no OrtGetApiBase symbol); point SONGREC_ORT_LIBRARY at libonnxruntime.so.1.x"
    )]
    NotOnnxRuntime { path: PathBuf },
    /// ONNX Runtime, but older than the API songrec is built against.
    #[error(
        "ONNX Runtime {found} at {path} is too old: songrec needs {required} or newer (e.g. `pip download --no-deps --only-binary :all: onnxruntime==1.31.1`)"
    )]
    RuntimeTooOld {
        path: PathBuf,
        /// The library's version string.
        found: String,
        /// The oldest supported version.
        required: String,
    },
    /// The process already runs the other runtime (ort's runtime is process-wide).
    #[error(
        "this process already uses the {active} runtime; it cannot switch to {requested} (the runtime is chosen once per process)"
    )]
    RuntimeConflict { active: String, requested: String },
    /// A graph songrec's own kernels do not run was asked of tract, and this build has no
    /// tract (songrec-neural's `tract` feature, off by default).
    #[error(
        "{model} needs the tract runtime, which is not in this build of songrec (songrec's own kernels run only the built-in networks); install songrec with it (`cargo install --path crates/cli --features tract`), or point SONGREC_ORT_LIBRARY / `[embedder] onnxruntime_library` at ONNX Runtime (libonnxruntime.so.1.x)"
    )]
    TractNotBuilt {
        /// Path of the model, or "the built-in model".
        model: String,
    },
    /// The runtime failed to start.
    #[error("cannot start the {runtime} runtime: {reason}")]
    RuntimeInit { runtime: String, reason: String },
    /// Running the model failed.
    #[error("neural network inference failed ({runtime}): {reason}")]
    Inference { runtime: String, reason: String },
    #[error("no audio samples to analyse")]
    NoAudio,
    /// A kernel path this CPU cannot run, or an unknown one (`SONGREC_KERNELS`).
    #[error(transparent)]
    Kernels(#[from] crate::kernels::path::KernelsError),
}

pub type NeuralResult<T> = Result<T, NeuralError>;
