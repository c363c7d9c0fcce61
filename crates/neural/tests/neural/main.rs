//! The neural embedder's integration tests, in one test binary: tract here, ONNX Runtime in
//! processes of their own (see `onnxruntime`).

mod aisfx;
mod aisfx_int8;
mod onnxruntime;
mod tract;
