//! songrec-audio's integration tests (decoding every format, DSP on synthetic signals), in one test binary.

mod decode_formats;
mod dsp_synthetic;
mod identity;
mod opus;
mod pinned;
