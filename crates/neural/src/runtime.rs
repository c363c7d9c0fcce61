//! Which ONNX runtime runs the model, and starting it.
//!
//! * **tract** (default; [`Runtime::Tract`]): no ONNX Runtime. songrec's own kernels run the
//!   built-in networks; any other graph (an override model, the float32 aisfx, own kernels
//!   turned off) runs on the pure-Rust tract-onnx engine, called directly with the model
//!   optimised for a concrete batch shape, when songrec-neural is built with its `tract`
//!   feature (`cargo install --features tract`), and is [`NeuralError::TractNotBuilt`]
//!   otherwise.
//! * **ONNX Runtime**: the native library at a configured path (`SONGREC_ORT_LIBRARY`,
//!   `ORT_DYLIB_PATH` or `[embedder] onnxruntime_library`), opened with `libloading`, checked
//!   to export `OrtGetApiBase` with a version of at least 1.[`REQUIRED_API`], then handed to
//!   `ort::set_api`. Every failure is a typed [`NeuralError`], found before `ort` is touched.
//!
//! **One process uses one runtime** (`ort` keeps its API table process-wide; tract too, so a
//! process never mixes vectors of two runtimes): the first embedder created decides, asking
//! for the other later gives [`NeuralError::RuntimeConflict`] (library problems are reported
//! first).

use std::ffi::CStr;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::error::{NeuralError, NeuralResult};

/// The ONNX Runtime C API version songrec is built against (`ort` with feature `api-24`):
/// ONNX Runtime 1.24 or newer is required.
pub const REQUIRED_API: u32 = ort::sys::ORT_API_VERSION;

/// Environment variable naming the ONNX Runtime library (wins over `ORT_DYLIB_PATH`).
pub const ENV_ORT_LIBRARY: &str = "SONGREC_ORT_LIBRARY";
/// `ort`'s own variable for the same thing, honoured as a fallback.
pub const ENV_ORT_DYLIB_PATH: &str = "ORT_DYLIB_PATH";

/// Which runtime to use.
///
/// ```
/// use songrec_neural::Runtime;
/// assert_eq!(Runtime::from_library(None), Runtime::Tract);
/// assert_eq!(Runtime::from_library(Some("/x/libonnxruntime.so".into())).to_string(),
///            "ONNX Runtime (/x/libonnxruntime.so)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Runtime {
    /// No ONNX Runtime: songrec's own kernels, and pure-Rust tract for other graphs (only with
    /// the `tract` feature).
    #[default]
    Tract,
    /// The native ONNX Runtime library at this path.
    OnnxRuntime {
        /// Path of `libonnxruntime.so.1.x` (or `.dylib` / `.dll`).
        library: PathBuf,
    },
}

impl Runtime {
    /// ONNX Runtime when a library path is given, tract otherwise.
    pub fn from_library(library: Option<PathBuf>) -> Self {
        match library {
            Some(p) if !p.as_os_str().is_empty() => Runtime::OnnxRuntime { library: p },
            _ => Runtime::Tract,
        }
    }

    /// From the process environment: `SONGREC_ORT_LIBRARY`, else `ORT_DYLIB_PATH`, else tract.
    pub fn from_env() -> Self {
        let get = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        Self::from_library(get(ENV_ORT_LIBRARY).or_else(|| get(ENV_ORT_DYLIB_PATH)))
    }

    /// Short name: "tract" or "onnxruntime".
    pub fn kind(&self) -> &'static str {
        match self {
            Runtime::Tract => "tract",
            Runtime::OnnxRuntime { .. } => "onnxruntime",
        }
    }
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Runtime::Tract => f.write_str("tract"),
            Runtime::OnnxRuntime { library } => {
                write!(f, "ONNX Runtime ({})", library.display())
            }
        }
    }
}

/// The runtime this process runs (see the module docs).
#[derive(Debug)]
pub struct ActiveRuntime {
    runtime: Runtime,
    /// Canonical library path (ONNX Runtime only), used to compare requests.
    canonical: Option<PathBuf>,
    version: String,
    /// `ort`'s environment (ONNX Runtime only).
    pub(crate) env: Option<ort::environment::Environment>,
    _lib: Option<libloading::Library>,
}

impl ActiveRuntime {
    /// The runtime as requested.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// Version: the ONNX Runtime library's own string, or the tract release.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// e.g. "tract 0.23" or "onnxruntime 1.31.1".
    pub fn describe(&self) -> String {
        format!("{} {}", self.runtime.kind(), self.version)
    }
}

static ACTIVE: Mutex<Option<Arc<ActiveRuntime>>> = Mutex::new(None);

/// Version of the built-in tract engine (tract-onnx 0.23.9).
pub const TRACT_VERSION: &str = "0.23";

/// How much faster a song is ingested with ONNX Runtime than with the built-in engine
/// (`songrec-mix@4`, measured in docs/quality.md, "Speed: where the CPU goes").
pub const ORT_SONG_SPEEDUP: &str = "1.0×";

/// How much faster ONNX Runtime runs the two networks alone, measured the same way.
pub const ORT_MODEL_SPEEDUP: &str = "1.1×";

/// A validated ONNX Runtime library, not yet installed as `ort`'s API.
struct LoadedOrt {
    lib: libloading::Library,
    api: ort::sys::OrtApi,
    version: String,
    canonical: PathBuf,
}

/// Runs `f`, turning a panic into `"{what} panicked: {message}"`.
pub(crate) fn catch_panic<T>(what: &str, f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| {
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_string()))
            .unwrap_or_else(|| "unknown panic".into());
        format!("{what} panicked: {msg}")
    })
}

/// Parses "1.31.1" into (1, 31).
fn major_minor(v: &str) -> Option<(u32, u32)> {
    let mut it = v.trim().split('.');
    let major = it.next()?.parse().ok()?;
    let minor = it.next()?.parse().ok()?;
    Some((major, minor))
}

/// Opens and checks an ONNX Runtime library without touching `ort`'s global state.
fn load_ort(path: &Path) -> NeuralResult<LoadedOrt> {
    // Loading a library runs its code: a relative path (from the working directory, maybe a
    // downloaded folder) is refused.
    let not_loaded = |reason: String| NeuralError::LibraryLoad {
        path: path.to_path_buf(),
        reason,
    };
    let not_ort = || NeuralError::NotOnnxRuntime {
        path: path.to_path_buf(),
    };
    if !path.is_absolute() {
        return Err(not_loaded(
            "the path is relative; give the absolute path of the library file".into(),
        ));
    }
    if !path.exists() {
        return Err(NeuralError::LibraryNotFound {
            path: path.to_path_buf(),
        });
    }
    if path.is_dir() {
        return Err(not_loaded(
            "it is a directory; give the path of the library file itself".into(),
        ));
    }
    let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    // SAFETY: loading a library runs its initialisers. The user configured this path as ONNX
    // Runtime; that trust is the premise of the feature.
    let lib = catch_panic("loading the library", || unsafe {
        libloading::Library::new(&canonical)
    })
    .map_err(not_loaded)?
    .map_err(|e| not_loaded(e.to_string()))?;
    type GetApiBase = unsafe extern "C" fn() -> *const ort::sys::OrtApiBase;
    // SAFETY: the symbol, if present, has ONNX Runtime's documented signature.
    let get_base: libloading::Symbol<GetApiBase> =
        unsafe { lib.get(b"OrtGetApiBase\0") }.map_err(|_| not_ort())?;
    // SAFETY: OrtGetApiBase takes no arguments and returns a static table (or null).
    let base = unsafe { get_base() };
    if base.is_null() {
        return Err(not_ort());
    }
    // SAFETY: `base` is non-null and points to ONNX Runtime's static OrtApiBase.
    let base = unsafe { &*base };
    // SAFETY: GetVersionString returns a static NUL-terminated string.
    let version = unsafe {
        let p = (base.GetVersionString)();
        if p.is_null() {
            String::new()
        } else {
            CStr::from_ptr(p).to_string_lossy().into_owned()
        }
    };
    let new_enough = major_minor(&version).is_some_and(|v| v >= (1, REQUIRED_API));
    // SAFETY: GetApi is safe to call with any version; it returns null when unsupported.
    let api_ptr = if new_enough {
        unsafe { (base.GetApi)(REQUIRED_API) }
    } else {
        std::ptr::null()
    };
    if api_ptr.is_null() {
        return Err(NeuralError::RuntimeTooOld {
            path: path.to_path_buf(),
            found: version,
            required: format!("1.{REQUIRED_API}"),
        });
    }
    // SAFETY: a non-null OrtApi of version REQUIRED_API has at least the fields of
    // `ort::sys::OrtApi` (built for that version); later versions only append fields.
    let api = unsafe { std::ptr::read(api_ptr) };
    Ok(LoadedOrt {
        lib,
        api,
        version,
        canonical,
    })
}

/// Checks that `path` is ONNX Runtime 1.[`REQUIRED_API`] or newer and returns its version,
/// without starting it (the library is closed again).
pub(crate) fn probe_library(path: &Path) -> NeuralResult<String> {
    load_ort(path).map(|l| l.version)
}

/// Starts the requested runtime for this process, or returns the one already running when it
/// is the same. Safe to call from many threads.
pub fn activate(requested: &Runtime) -> NeuralResult<Arc<ActiveRuntime>> {
    // Validate a library first: a bad path is reported as such even when a runtime is active.
    let loaded = match requested {
        Runtime::Tract => None,
        Runtime::OnnxRuntime { library } => Some(load_ort(library)?),
    };
    let mut guard = ACTIVE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(active) = guard.as_ref() {
        let same = match (&active.runtime, &loaded) {
            (Runtime::Tract, None) => true,
            (Runtime::OnnxRuntime { .. }, Some(l)) => {
                active.canonical.as_ref() == Some(&l.canonical)
            }
            _ => false,
        };
        return if same {
            Ok(Arc::clone(active))
        } else {
            Err(NeuralError::RuntimeConflict {
                active: active.runtime.to_string(),
                requested: requested.to_string(),
            })
        };
    }
    let active = Arc::new(match loaded {
        None => ActiveRuntime {
            runtime: Runtime::Tract,
            canonical: None,
            version: TRACT_VERSION.to_string(),
            env: None,
            _lib: None,
        },
        Some(l) => {
            tracing::info!(
                "ONNX Runtime {} loaded from {}",
                l.version,
                l.canonical.display()
            );
            let init_err = |reason: String| NeuralError::RuntimeInit {
                runtime: requested.to_string(),
                reason,
            };
            if !ort::set_api(l.api) {
                return Err(init_err(
                    "the ort API was already set outside songrec-neural".into(),
                ));
            }
            let env = catch_panic("ort::init", || ort::init().with_name("songrec").build())
                .map_err(init_err)?
                .map_err(|e| init_err(e.to_string()))?;
            ActiveRuntime {
                runtime: requested.clone(),
                canonical: Some(l.canonical),
                version: l.version,
                env: Some(env),
                _lib: Some(l.lib),
            }
        }
    });
    *guard = Some(Arc::clone(&active));
    Ok(active)
}

/// The runtime already started in this process, if any.
pub fn active() -> Option<Arc<ActiveRuntime>> {
    ACTIVE.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse() {
        assert_eq!(major_minor("1.31.1"), Some((1, 31)));
        assert_eq!(major_minor("1.20.1"), Some((1, 20)));
        assert_eq!(major_minor("garbage"), None);
    }

    #[test]
    fn a_relative_library_path_is_refused_before_any_loading() {
        let dir = tempfile::tempdir().unwrap();
        // Even when the relative path names an existing file from the working directory.
        let err = load_ort(Path::new("Cargo.toml")).err().unwrap();
        assert!(
            matches!(&err, NeuralError::LibraryLoad { reason, .. } if reason.contains("relative")),
            "{err}"
        );
        let err = load_ort(Path::new("libonnxruntime.so.1")).err().unwrap();
        assert!(err.to_string().contains("relative"), "{err}");
        // An absolute path still goes on to the usual checks.
        let missing = dir.path().join("libonnxruntime.so");
        assert!(matches!(
            load_ort(&missing).err().unwrap(),
            NeuralError::LibraryNotFound { .. }
        ));
    }

    #[test]
    fn runtime_from_library() {
        assert_eq!(Runtime::from_library(Some(PathBuf::new())), Runtime::Tract);
        assert_eq!(
            Runtime::from_library(Some("/a.so".into())).kind(),
            "onnxruntime"
        );
    }
}
