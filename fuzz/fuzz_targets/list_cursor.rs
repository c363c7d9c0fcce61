//! The cloud backend's listing cursor (`songrec_astra`'s `Cursor::decode`, which every cursor a
//! client of `songrec serve` sends goes through); see `harness::list_cursor`. The cursor's
//! module depends only on serde, serde_json and base64, so it is compiled in here as it is,
//! without the backend's dependencies.
#![no_main]

#[path = "../../crates/astra/src/backend/list_cursor.rs"]
#[allow(dead_code)]
mod list_cursor;

#[path = "../harness/list_cursor.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    harness::list_cursor(data);
});
