//! The neural embedder's integration tests, in one test binary: tract here, ONNX Runtime in
//! processes of their own (see `onnxruntime`).
//!
//! tract is songrec-neural's `tract` feature: without it only what needs no tract is built (the
//! aisfx front end, the ONNX Runtime tests); `cargo test -p songrec-neural --features tract`
//! runs everything, as `cargo test --workspace` does (songrec-benches turns the feature on).

mod aisfx;
#[cfg(feature = "tract")]
mod aisfx_int8;
mod onnxruntime;
mod paths;
#[cfg(feature = "tract")]
mod tract;
