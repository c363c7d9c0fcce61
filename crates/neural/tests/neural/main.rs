//! The neural embedder's integration tests, in one test binary: the built-in runtime here
//! (`tract.rs`: songrec's own kernels, the runtime's name kept from when tract ran it), ONNX
//! Runtime in processes of their own (see `onnxruntime`).
//!
//! What compares with tract itself (the int8 aisfx against tract's graphs, `aisfx_int8`) needs
//! songrec-neural's `tract` feature: `cargo test -p songrec-neural --features tract`. The
//! workspace's tests (`scripts/test.sh`) build no tract; the vectors of every kernel path are
//! pinned by SHA-256 (`paths`) and compared with ONNX Runtime (`onnxruntime`).

mod aisfx;
#[cfg(feature = "tract")]
mod aisfx_int8;
mod onnxruntime;
mod paths;
mod tract;
