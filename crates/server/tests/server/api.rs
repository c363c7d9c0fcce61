//! The REST API over a real local library on a 127.0.0.1 socket: listings, look-ups,
//! similarity by id and by upload, audio ranges, stats, map, metrics, OpenAPI, errors.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::Value;
use songrec_testkit::server::{PER_STYLE, Running, SECONDS, STYLES, library, serve_library};

mod artists;
mod audio;
mod guards;
mod search;
mod uploads;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn get(url: &str) -> (StatusCode, Value) {
    let r = client().get(url).send().await.unwrap();
    let status = r.status();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = r.text().await.unwrap();
    assert!(
        ct.starts_with("application/json"),
        "{url}: {status} {ct}: {body}"
    );
    (status, serde_json::from_str(&body).unwrap())
}

/// Asserts a JSON error with a status and code.
fn assert_error(got: &(StatusCode, Value), status: StatusCode, code: &str) -> String {
    assert_eq!(got.0, status, "{}", got.1);
    assert_eq!(got.1["error"]["code"], code, "{}", got.1);
    let msg = got.1["error"]["message"].as_str().unwrap().to_owned();
    assert!(!msg.is_empty());
    msg
}

async fn all_ids(base: &str) -> Vec<String> {
    let (s, v) = get(&format!("{base}/api/v1/songs?limit=1000&sort=id")).await;
    assert_eq!(s, StatusCode::OK);
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_owned())
        .collect()
}

fn form(name: &str, bytes: Vec<u8>) -> reqwest::multipart::Form {
    reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned()),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_filters_sorts_and_pages() {
    let srv = serve_library(|_| {}).await;
    let n = STYLES.len() * PER_STYLE;
    let (s, v) = get(&srv.url("/api/v1/songs")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["total"], n);
    assert_eq!(v["items"].as_array().unwrap().len(), n);

    // Filters are the CLI's: genre, bpm range, where.
    let (_, v) = get(&srv.url("/api/v1/songs?genre=TECHNO")).await;
    assert_eq!(v["total"], PER_STYLE);
    assert!(
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["genre"] == "techno")
    );
    let (_, v) = get(&srv.url("/api/v1/songs?where=genre%3Drock&bpm=1..1000")).await;
    assert!(
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["genre"] == "rock" && x["bpm"].as_f64().is_some())
    );

    // Cursor paging covers everything exactly once.
    let mut seen = Vec::new();
    let mut url = srv.url("/api/v1/songs?limit=4&sort=id");
    loop {
        let (s, v) = get(&url).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        for x in v["items"].as_array().unwrap() {
            seen.push(x["id"].as_str().unwrap().to_owned());
        }
        match v["next_cursor"].as_str() {
            Some(c) => url = srv.url(&format!("/api/v1/songs?limit=4&sort=id&cursor={c}")),
            None => break,
        }
    }
    let ids = all_ids(&srv.base).await;
    assert_eq!(seen, ids);

    // Offset paging.
    let (_, v) = get(&srv.url("/api/v1/songs?sort=id&offset=4&limit=10")).await;
    let page: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        page,
        ids[4..].iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert!(v["next_offset"].is_null());
    let (_, v) = get(&srv.url("/api/v1/songs?sort=id&offset=1&limit=2")).await;
    assert_eq!(v["next_offset"], 3);

    // Text search over artist/title.
    let (_, v) = get(&srv.url("/api/v1/songs?q=warehouse%20PULSE")).await;
    assert_eq!(v["total"], PER_STYLE);
    assert!(
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["title"].as_str().unwrap().starts_with("Warehouse Pulse"))
    );

    // Sorting.
    let (_, v) = get(&srv.url("/api/v1/songs?sort=title&desc=true")).await;
    let titles: Vec<String> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["title"].as_str().unwrap().to_lowercase())
        .collect();
    let mut sorted = titles.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(titles, sorted);

    // Malformed queries are 400s naming the problem.
    for (q, needle) in [
        ("bpm=fast", "bpm"),
        ("limit=0", "limit"),
        ("limit=abc", "limit"),
        ("colour=red", "colour"),
        ("sort=loudness", "sort key"),
        ("key=H%20dorian", "musical key"),
        ("desc=maybe", "desc"),
        ("desc=", "desc"),
        ("cursor=abc&offset=3", "cursor"),
        ("where=nonsense", "FIELD=VALUE"),
    ] {
        let got = get(&srv.url(&format!("/api/v1/songs?{q}"))).await;
        let msg = assert_error(&got, StatusCode::BAD_REQUEST, "bad_request");
        assert!(msg.contains(needle), "{q}: {msg}");
    }
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn songs_by_id_and_prefix_with_clear_errors() {
    let srv = serve_library(|_| {}).await;
    let ids = all_ids(&srv.base).await;
    let (s, v) = get(&srv.url(&format!("/api/v1/songs/{}", ids[0]))).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["song"]["id"], ids[0].as_str());
    assert_eq!(v["has_audio"], true);
    let model = v["models"][0].as_str().unwrap();
    assert!(model.starts_with("songrec-dsp@"), "{v}");
    assert_eq!(
        v["audio_url"],
        format!("/api/v1/songs/{}/audio", ids[0]).as_str()
    );
    // A unique prefix works too.
    let (s, v2) = get(&srv.url(&format!("/api/v1/songs/{}", &ids[1][..10]))).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v2["song"]["id"], ids[1].as_str());

    let unknown = "0".repeat(64);
    assert_error(
        &get(&srv.url(&format!("/api/v1/songs/{unknown}"))).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &get(&srv.url("/api/v1/songs/not-an-id")).await,
        StatusCode::BAD_REQUEST,
        "invalid_id",
    );
    assert_error(
        &get(&srv.url(&format!("/api/v1/songs/{unknown}/similar"))).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &get(&srv.url("/api/v1/nothing/here")).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let r = client()
        .delete(srv.url("/api/v1/songs"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "method_not_allowed");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn similar_by_id_ranks_excludes_and_filters() {
    let srv = serve_library(|_| {}).await;
    let ids = all_ids(&srv.base).await;
    let n = ids.len();
    for id in &ids {
        let (s, v) = get(&srv.url(&format!("/api/v1/songs/{id}/similar?k=100"))).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let res = v["results"].as_array().unwrap();
        assert_eq!(res.len(), n - 1, "every other song, never itself");
        assert!(res.iter().all(|r| r["song"]["id"] != id.as_str()));
        let sims: Vec<f64> = res
            .iter()
            .map(|r| r["similarity"].as_f64().unwrap())
            .collect();
        assert!(sims.windows(2).all(|w| w[0] >= w[1]), "{sims:?}");
        assert!(sims.iter().all(|s| (-1.0..=1.0001).contains(s)));
        // Songs of one style sound alike: the nearest song shares the query's genre.
        assert_eq!(res[0]["song"]["genre"], v["query"]["song"]["genre"], "{v}");
    }
    let id = &ids[0];
    let (_, v) = get(&srv.url(&format!("/api/v1/songs/{id}/similar?k=10&genre=ambient"))).await;
    assert!(!v["results"].as_array().unwrap().is_empty());
    assert!(
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["song"]["genre"] == "ambient")
    );
    let (_, v) = get(&srv.url(&format!("/api/v1/songs/{id}/similar?metric=l2&k=2"))).await;
    assert_eq!(v["metric"], "l2");
    assert!(v["results"][0]["distance"].as_f64().is_some());
    let (_, v) = get(&srv.url(&format!("/api/v1/songs/{id}/similar?threshold=1.5"))).await;
    assert_eq!(v["results"].as_array().unwrap().len(), 0);
    let (_, v) = get(&srv.url(&format!("/api/v1/songs/{id}/similar?k=2&offset=1"))).await;
    let (_, all) = get(&srv.url(&format!("/api/v1/songs/{id}/similar?k=3"))).await;
    assert_eq!(
        v["results"][0]["song"]["id"],
        all["results"][1]["song"]["id"]
    );

    // The CLI's choices of vectors, by the same names: auto (the default) is the DSP vectors
    // this library holds; both asks for musicnn's too, which these songs lack (a 404 naming
    // the command that computes them); a blend weight outside 0..1 is a 400.
    let (_, auto) = get(&srv.url(&format!("/api/v1/songs/{id}/similar?k=3"))).await;
    let (s, v) = get(&srv.url(&format!("/api/v1/songs/{id}/similar?k=3&embedder=auto"))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(result_ids(&v), result_ids(&auto));
    assert!(
        v["model"].as_str().unwrap().starts_with("songrec-dsp@"),
        "{v}"
    );
    let msg = assert_error(
        &get(&srv.url(&format!("/api/v1/songs/{id}/similar?embedder=both"))).await,
        StatusCode::NOT_FOUND,
        "no_vector",
    );
    assert!(msg.contains("songrec reembed --embedder musicnn"), "{msg}");
    assert_error(
        &get(&srv.url(&format!("/api/v1/songs/{id}/similar?blend=1.5"))).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    );
    let msg = assert_error(
        &get(&srv.url(&format!("/api/v1/songs/{id}/similar?model=nope@1"))).await,
        StatusCode::BAD_REQUEST,
        "unknown_model",
    );
    assert!(
        msg.contains("songrec-dsp@"),
        "lists the models it has: {msg}"
    );
    // A local library has no search cap of its own (the Data API's 1000 is not its limit):
    // k = 2000 is answered; the API's own cap per response is 10,000.
    let (status, body) = get(&srv.url(&format!("/api/v1/songs/{id}/similar?k=2000"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for q in [
        "k=0",
        "k=20000",
        "metric=manhattan",
        "threshold=x",
        "k=9000&offset=2000",
    ] {
        assert_error(
            &get(&srv.url(&format!("/api/v1/songs/{id}/similar?{q}"))).await,
            StatusCode::BAD_REQUEST,
            "bad_request",
        );
    }
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_map_health_and_metrics() {
    let srv = serve_library(|_| {}).await;
    let n = STYLES.len() * PER_STYLE;
    let (s, v) = get(&srv.url("/healthz")).await;
    assert_eq!((s, v["status"].as_str()), (StatusCode::OK, Some("ok")));
    assert_eq!(v["songs"], n);

    let (s, st) = get(&srv.url("/api/v1/stats")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(st["songs"], n);
    let genres = st["genres"].as_array().unwrap();
    assert_eq!(genres.len(), STYLES.len());
    assert!(genres.iter().all(|g| g["count"] == PER_STYLE));
    assert_eq!(st["models"][0]["count"], n);
    let bytes: u64 = std::fs::read_dir(&library().music)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert_eq!(st["total_bytes"], bytes);
    assert!(st["total_secs"].as_f64().unwrap() > n as f64 * (SECONDS as f64 - 0.5));

    let (s, m) = get(&srv.url("/api/v1/map")).await;
    assert_eq!(s, StatusCode::OK, "{m}");
    let pts = m["points"].as_array().unwrap();
    assert_eq!(pts.len(), n);
    let got: BTreeSet<&str> = pts.iter().map(|p| p["id"].as_str().unwrap()).collect();
    let want_ids = all_ids(&srv.base).await;
    let want: BTreeSet<&str> = want_ids.iter().map(String::as_str).collect();
    assert_eq!(got, want);
    let ev: f64 = m["explained_variance"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .sum();
    assert!(ev > 0.0 && ev <= 1.0001, "{ev}");
    // Songs of one style lie closer together than songs of different styles.
    let pos = |i: usize| (pts[i]["x"].as_f64().unwrap(), pts[i]["y"].as_f64().unwrap());
    let (mut same, mut diff) = (Vec::new(), Vec::new());
    for i in 0..n {
        for j in i + 1..n {
            let (a, b) = (pos(i), pos(j));
            let d = ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt();
            if pts[i]["genre"] == pts[j]["genre"] {
                same.push(d)
            } else {
                diff.push(d)
            }
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    assert!(mean(&same) < mean(&diff), "same {same:?} diff {diff:?}");
    // The second map comes from the cache: no vector reads.
    let reads = |srv: &Running| {
        srv.state
            .recorder
            .metrics()
            .op("get_embedding")
            .map_or(0, |o| o.calls)
    };
    let before = reads(&srv);
    let (_, m2) = get(&srv.url("/api/v1/map")).await;
    assert_eq!(m2, m);
    assert_eq!(reads(&srv), before);
    let (_, mg) = get(&srv.url("/api/v1/map?genre=rock&limit=1")).await;
    assert_eq!(mg["points"].as_array().unwrap().len(), 1);
    assert_eq!(mg["truncated"], true);

    // Metrics: valid exposition lines, per-route counters, backend operations.
    let ids = all_ids(&srv.base).await;
    for _ in 0..3 {
        get(&srv.url(&format!("/api/v1/songs/{}", ids[0]))).await;
    }
    get(&srv.url("/api/v1/songs/zzzz")).await;
    let text = client()
        .get(srv.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut names = HashSet::new();
    for line in text.lines() {
        if line.starts_with('#') {
            let parts: Vec<&str> = line.splitn(4, ' ').collect();
            assert!(
                matches!(parts.get(1), Some(&"HELP") | Some(&"TYPE")),
                "{line}"
            );
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap();
        assert!(
            value.parse::<f64>().is_ok() || value == "+Inf",
            "bad value: {line}"
        );
        let name = series.split('{').next().unwrap();
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "{line}"
        );
        if let Some(labels) = series.strip_prefix(name) {
            assert!(
                labels.is_empty() || (labels.starts_with('{') && labels.ends_with('}')),
                "{line}"
            );
        }
        names.insert(name.to_owned());
    }
    let value = |series: &str| -> f64 {
        text.lines()
            .find_map(|l| {
                l.strip_prefix(series)
                    .map(|v| v.trim().parse::<f64>().unwrap())
            })
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
    };
    assert!(
        value(
            r#"songrec_http_requests_total{method="GET",route="/api/v1/songs/{id}",status="200"}"#
        ) >= 3.0
    );
    assert_eq!(
        value(
            r#"songrec_http_requests_total{method="GET",route="/api/v1/songs/{id}",status="400"}"#
        ),
        1.0
    );
    assert!(value(r#"songrec_backend_operations_total{op="list"}"#) >= 1.0);
    assert!(
        value(r#"songrec_http_request_duration_seconds_count{method="GET",route="/api/v1/map"}"#)
            >= 3.0
    );
    for n in [
        "songrec_http_requests_total",
        "songrec_http_request_duration_seconds_bucket",
        "songrec_backend_operations_total",
        "songrec_backend_errors_total",
        "songrec_uptime_seconds",
    ] {
        assert!(names.contains(n), "{n} missing");
    }
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_lists_every_route() {
    let srv = serve_library(|_| {}).await;
    let (s, doc) = get(&srv.url("/api/v1/openapi.json")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(doc, songrec_server::openapi::document());
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    let mut in_doc = BTreeSet::new();
    let mut op_ids = HashSet::new();
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            let op_id = op["operationId"].as_str().unwrap();
            assert!(
                op_ids.insert(op_id.to_owned()),
                "duplicate operationId {op_id}"
            );
            assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()));
            in_doc.insert((method.clone(), path.clone(), op_id.to_owned()));
        }
    }
    let in_router: BTreeSet<(String, String, String)> = songrec_server::ROUTES
        .iter()
        .map(|r| {
            (
                r.method.to_owned(),
                r.path.to_owned(),
                r.operation_id.to_owned(),
            )
        })
        .collect();
    assert_eq!(in_doc, in_router);

    // Every $ref resolves.
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r.clone());
                }
                m.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let ptr = r.strip_prefix('#').unwrap();
        assert!(doc.pointer(ptr).is_some(), "dangling {r}");
    }

    // What the document says of the similarity limits and defaults, and of words that match
    // nothing, is what the server does: k up to the API's cap on a local library (its
    // defaults Ranking::default's), and 404 no_match rather than an empty result (which
    // `api/search.rs` asks for).
    let ids = all_ids(&srv.base).await;
    let params = &doc["components"]["parameters"];
    let max = songrec_server::params::MAX_RESPONSE_RESULTS;
    let d = songrec_storage::Ranking::default();
    assert_eq!(params["k"]["schema"]["maximum"], max, "{}", params["k"]);
    assert_eq!(params["k"]["schema"]["default"], d.k, "{}", params["k"]);
    assert_eq!(params["metric"]["schema"]["default"], d.metric.to_string());
    let similar = |q: String| srv.url(&format!("/api/v1/songs/{}/similar?{q}", ids[0]));
    let (s, v) = get(&similar(format!("k={max}"))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["k"], max, "{v}");
    let (s, v) = get(&similar(String::new())).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["k"], d.k, "{v}");
    assert_eq!(v["metric"], d.metric.to_string(), "{v}");
    let msg = assert_error(
        &get(&similar(format!("k={max}&offset=1"))).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    );
    assert!(
        msg.contains(&format!("k + offset must be at most {max}")),
        "{msg}"
    );
    let words = &doc["paths"]["/api/v1/similar"]["get"]["responses"];
    assert!(
        words["404"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("no_match")),
        "{words}"
    );

    // And every route of the table is really served (not the 404/405 fallbacks).
    let (_, first) = get(&srv.url(&format!("/api/v1/songs/{}", ids[0]))).await;
    let artist = first["song"]["artist"]
        .as_str()
        .unwrap_or("[Unknown Artist]");
    for r in songrec_server::ROUTES {
        let path = r.path.replace("{id}", &ids[0]).replace("{name}", artist);
        let resp = match r.method {
            "get" => client().get(srv.url(&path)).send().await.unwrap(),
            "post" => client()
                .post(srv.url(&path))
                .multipart(form("x.txt", b"text".to_vec()))
                .send()
                .await
                .unwrap(),
            m => panic!("untested method {m}"),
        };
        let status = resp.status();
        assert!(
            status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED,
            "{} {path}: {status}",
            r.method
        );
    }
    srv.stop().await;
}

#[tokio::test]
async fn the_metrics_wrapper_passes_the_conformance_suite() {
    use songrec_conformance::MemoryBackend;
    use songrec_storage::layers::{LayerExt, MetricsRecorder};
    let rec = MetricsRecorder::new();
    let shared: Arc<dyn songrec_storage::StorageBackend> = Arc::new(MemoryBackend::new());
    let b = shared.layer(rec.clone());
    assert_eq!(b.to_string(), "Metrics(Memory)");
    songrec_conformance::run_all(&b).await;
    assert!(rec.metrics().op("search").unwrap().calls > 0);
}

/// The song ids of a similarity response, best first.
fn result_ids(v: &Value) -> Vec<String> {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["song"]["id"].as_str().unwrap().to_owned())
        .collect()
}
