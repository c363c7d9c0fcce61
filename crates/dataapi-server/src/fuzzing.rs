//! Entry point for the fuzz targets under `fuzz/` and the test that replays their corpus: runs
//! request bodies through the same parsing and command execution as an HTTP request, against a
//! fresh in-memory store. Not part of the server's API.

use serde_json::Value;

use crate::commands::{self, Limits, Response, Target};
use crate::error::ServerError;
use crate::store::{DEFAULT_KEYSPACE, Store};

/// An in-memory database holding two collections of `default_keyspace`: `songs` (3-d cosine
/// vectors) and `plain` (no vectors), each with a few documents of assorted types.
pub struct Session {
    store: Store,
    limits: Limits,
}

const SETUP: &[(u8, &str)] = &[
    (
        b'k',
        r#"{"createCollection":{"name":"songs","options":{"vector":{"dimension":3,"metric":"cosine"}}}}"#,
    ),
    (b'k', r#"{"createCollection":{"name":"plain"}}"#),
    (
        b's',
        r#"{"insertMany":{"documents":[
            {"_id":"a","title":"One","bpm":120.5,"tags":["rock","live"],"n":{"x":1,"y":[1,2,3]},"$vector":[0.1,0.2,0.3]},
            {"_id":2,"title":"Two","bpm":-3,"tags":[],"when":{"$date":1700000000000},"$vector":[1,0,0]},
            {"_id":"c","title":null,"ok":true,"big":1e300,"$vector":[0.5,-0.5,0.25]}]}}"#,
    ),
    (
        b'p',
        r#"{"insertMany":{"documents":[{"_id":"x","a":[{"b":1},{"b":2}],"s":"text"},{"_id":"y","a":5}]}}"#,
    ),
];

impl Session {
    /// A fresh store with the collections and documents described above.
    pub fn new() -> Result<Self, ServerError> {
        let store = Store::open(None, &[])?;
        let session = Session {
            store,
            limits: Limits {
                page_size: 20,
                max_collections: 10,
                max_sort_count: commands::MAX_SORT_CANDIDATES,
            },
        };
        for (target, body) in SETUP {
            let resp = session.request(*target, body.as_bytes());
            if resp.get("errors").is_some() {
                return Err(ServerError::Config(format!("session setup failed: {resp}")));
            }
        }
        Ok(session)
    }

    /// Runs one request body (the bytes an HTTP client would POST) and returns the JSON
    /// response. `target` picks the URL: `d` the database, `k` the keyspace, `s` the `songs`
    /// collection, `p` the `plain` collection, anything else a collection that does not exist.
    pub fn request(&self, target: u8, body: &[u8]) -> Value {
        let ks = DEFAULT_KEYSPACE.to_string();
        let target = match target {
            b'd' => Target::Database,
            b'k' => Target::Keyspace(ks),
            b's' => Target::Collection(ks, "songs".into()),
            b'p' => Target::Collection(ks, "plain".into()),
            _ => Target::Collection(ks, "missing".into()),
        };
        let resp = crate::json::parse_request(body)
            .and_then(commands::split_command)
            .map_or_else(Response::from_error, |(name, cmd)| {
                commands::execute(&self.store, &self.limits, &target, &name, &cmd)
            });
        resp.to_json()
    }

    /// Runs a fuzz input: requests separated by `0xFF` bytes (which valid JSON never holds),
    /// each starting with its target byte (see [`Session::request`]).
    pub fn run(&self, input: &[u8]) -> Vec<Value> {
        input
            .split(|&b| b == 0xFF)
            .take(8)
            .filter_map(|chunk| chunk.split_first())
            .map(|(&t, body)| self.request(t, body))
            .collect()
    }
}

#[cfg(test)]
#[path = "../../../fuzz/replay.rs"]
mod replay;

#[cfg(test)]
mod tests {
    use super::*;

    /// Every committed seed and regression input of the `dataapi_request` fuzz target runs
    /// without a panic and gets a response; the hand-made valid seeds get no error.
    #[test]
    fn fuzz_corpus_and_regressions_replay() {
        for (_, bytes) in replay::inputs("dataapi_request") {
            Session::new().unwrap().run(&bytes);
        }
        let valid = replay::valid("dataapi_request");
        assert!(!valid.is_empty());
        let refused: Vec<String> = valid
            .iter()
            .flat_map(|(path, bytes)| {
                let session = Session::new().unwrap();
                session
                    .run(bytes)
                    .into_iter()
                    .filter(|resp| resp.get("errors").is_some())
                    .map(move |resp| format!("{}: {resp}", path.display()))
            })
            .collect();
        assert!(
            refused.is_empty(),
            "valid seeds refused:\n{}",
            refused.join("\n")
        );
    }

    /// A few thousand mutants of the seeds, on one session (state carries over, as in a
    /// long-running server): every one is answered, none panics.
    #[test]
    fn fuzz_random_requests_are_answered() {
        let seeds = replay::inputs("dataapi_request");
        let session = Session::new().unwrap();
        for input in replay::mutants(&seeds, 3000, 0x5eed_da7a) {
            session.run(&input);
        }
    }
}
