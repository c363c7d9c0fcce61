//! Data API request bodies (command parsing, filters, updates, projections, sorts, vectors),
//! run through the server's real parse-and-execute path against a fresh in-memory store.
//! An input is up to eight requests separated by `0xFF`, each led by a byte picking the URL.
#![no_main]

use songrec_dataapi_server::fuzzing::Session;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let session = Session::new().expect("the in-memory session opens");
    session.run(data);
});
