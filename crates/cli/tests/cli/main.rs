//! The `songrec` binary end to end, in one test binary: on local libraries, and on the Astra
//! backend against the local cloud (`songrec_testkit::LocalCloud`), including fault proxies,
//! crashes, the offline fallback and sync between machines.

mod artists;
mod astra;
mod cli;
mod damage;
mod discover;
mod docs;
mod doors;
mod edges;
mod in_place;
mod library;
mod messages;
mod migrate_crash;
mod migrate_faults;
mod mpd;
mod offline;
mod quality;
mod readers;
mod serve;
mod settings;
mod sync;
mod unix;
mod writers;

use std::path::Path;
use std::process::{Command, Output};

use songrec_testkit::cli::{Songrec, text};
use songrec_testkit::{Endpoints, LocalCloud};

/// The `songrec` binary under test.
fn bin() -> Songrec {
    Songrec::new(env!("CARGO_BIN_EXE_songrec"))
}

/// `songrec --library LIB ARGS` (see [`Songrec::on_library`]).
fn on_library(lib: &Path, args: &[&str]) -> Output {
    bin()
        .on_library(lib)
        .args(args)
        .output()
        .expect("run songrec")
}

/// `songrec ARGS` for the user at `home`, on `cloud` reached through `ep`.
fn on_cloud(cloud: &LocalCloud, ep: &Endpoints, home: &Path, args: &[&str]) -> Command {
    let mut c = bin().at_home(home);
    c.envs(cloud.env_via(ep)).args(args);
    c
}

/// A replayed iTunes Search API on 127.0.0.1, served on `rt` until it is dropped: `GET /search`
/// answers what `answer` makes of the server's address; `GET /files/NAME` the bytes `files`
/// holds under NAME (404 for any other). Returns the base URL (`SONGREC_PREVIEWS_BASE_URL`).
fn replayed_itunes(
    rt: &tokio::runtime::Runtime,
    answer: impl FnOnce(std::net::SocketAddr) -> serde_json::Value,
    files: Vec<(String, Vec<u8>)>,
) -> String {
    use axum::extract::Path as UrlPath;
    use axum::http::StatusCode;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let answer = answer(addr);
        let files: std::collections::HashMap<String, Vec<u8>> = files.into_iter().collect();
        let app = axum::Router::new()
            .route(
                "/search",
                axum::routing::get(move || async move { axum::Json(answer) }),
            )
            .route(
                "/files/{name}",
                axum::routing::get(move |UrlPath(name): UrlPath<String>| async move {
                    match files.get(&name) {
                        Some(b) => (StatusCode::OK, b.clone()),
                        None => (StatusCode::NOT_FOUND, Vec::new()),
                    }
                }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}")
    })
}

/// `songrec init-astra` on `cloud`: creates the collections.
fn init_astra(cloud: &LocalCloud, home: &Path) {
    let o = on_cloud(cloud, &cloud.direct(), home, &["init-astra"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
}
