//! songrec_app::embedders::NAMES only (read by server/src/openapi.rs).
pub mod embedders { pub const NAMES: &[&str] = &["dsp", "musicnn"]; }
