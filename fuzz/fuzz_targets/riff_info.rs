//! RIFF/WAVE `LIST`/`INFO` tags (`songrec_audio::tags::riff_info_tags`: the chunk walk and the
//! tag values' year and track-number parsing), and the same bytes as a file name
//! (`parse_file_name`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = songrec_audio::tags::riff_info_tags(data);
    let name = String::from_utf8_lossy(data);
    let _ = songrec_audio::tags::parse_file_name(std::path::Path::new(name.as_ref()));
});
