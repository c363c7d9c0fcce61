//! songrec's hand-written exposition (crates/server/src/metrics.rs, verbatim via #[path]) vs the
//! same metrics on prometheus-client 0.25: output diff, cost per observation and per render.
#[allow(dead_code)]
#[path = "../../../../../crates/server/src/metrics.rs"]
mod ours;

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use songrec_storage::layers::{Metrics as BackendMetrics, OpMetrics};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReqLabels { method: String, route: String, status: u16 }
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels { method: String, route: String }
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OpLabel { op: String }
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DirLabel { direction: String }

/// The backend's snapshot, encoded at scrape time (prometheus-client's Collector).
#[derive(Debug, Default)]
struct BackendCollector(Arc<Mutex<Option<BackendMetrics>>>);
impl Collector for BackendCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(b) = self.0.lock().unwrap().clone() else { return Ok(()) };
        {
            let mut m = enc.encode_descriptor("songrec_backend_operations", "Storage backend calls by operation", None, MetricType::Counter)?;
            for (op, s) in &b.ops { ConstCounter::new(s.calls).encode(m.encode_family(&OpLabel { op: op.to_string() })?)?; }
        }
        {
            let mut m = enc.encode_descriptor("songrec_backend_errors", "Storage backend calls that failed, by operation", None, MetricType::Counter)?;
            for (op, s) in &b.ops { ConstCounter::new(s.errors).encode(m.encode_family(&OpLabel { op: op.to_string() })?)?; }
        }
        {
            let mut m = enc.encode_descriptor("songrec_backend_operation_seconds", "Time spent in storage backend calls, by operation", None, MetricType::Counter)?;
            for (op, s) in &b.ops { ConstCounter::new(s.total_latency.as_secs_f64()).encode(m.encode_family(&OpLabel { op: op.to_string() })?)?; }
        }
        {
            let mut m = enc.encode_descriptor("songrec_backend_audio_bytes", "Audio bytes moved by the storage backend", None, MetricType::Counter)?;
            ConstCounter::new(b.audio_bytes_put).encode(m.encode_family(&DirLabel { direction: "put".into() })?)?;
            ConstCounter::new(b.audio_bytes_got).encode(m.encode_family(&DirLabel { direction: "got".into() })?)?;
        }
        Ok(())
    }
}

struct PcMetrics {
    registry: Registry,
    requests: Family<ReqLabels, Counter>,
    duration: Family<RouteLabels, Histogram>,
    in_flight: Gauge,
    uptime: Gauge<f64, AtomicU64>,
    started: Instant,
    backend: Arc<Mutex<Option<BackendMetrics>>>,
}
impl PcMetrics {
    fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<ReqLabels, Counter>::default();
        let duration = Family::<RouteLabels, Histogram>::new_with_constructor(
            (|| Histogram::new(ours::BUCKETS.iter().copied())) as fn() -> Histogram);
        let in_flight = Gauge::default();
        let uptime = Gauge::<f64, AtomicU64>::default();
        registry.register("songrec_http_requests", "HTTP requests by method, route template and status", requests.clone());
        registry.register("songrec_http_request_duration_seconds", "HTTP request latency by method and route template", duration.clone());
        registry.register("songrec_http_requests_in_flight", "HTTP requests being served", in_flight.clone());
        registry.register("songrec_uptime_seconds", "Seconds since the server started", uptime.clone());
        let backend = Arc::new(Mutex::new(None));
        registry.register_collector(Box::new(BackendCollector(backend.clone())));
        PcMetrics { registry, requests, duration, in_flight, uptime, started: Instant::now(), backend }
    }
    fn record(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.requests.get_or_create(&ReqLabels { method: method.into(), route: route.into(), status }).inc();
        self.duration.get_or_create(&RouteLabels { method: method.into(), route: route.into() }).observe(elapsed.as_secs_f64());
    }
    fn render(&self, b: Option<&BackendMetrics>) -> String {
        *self.backend.lock().unwrap() = b.cloned();
        self.uptime.set(self.started.elapsed().as_secs_f64());
        let mut s = String::new();
        prometheus_client::encoding::text::encode(&mut s, &self.registry).unwrap();
        s
    }
}

const ROUTES: &[&str] = &["/healthz", "/metrics", "/api/v1/songs", "/api/v1/songs/{id}", "/api/v1/songs/{id}/similar",
    "/api/v1/songs/{id}/audio", "/api/v1/search", "/api/v1/similar", "/api/v1/stats", "/api/v1/map", "/api/v1/playlists",
    "/api/v1/clusters", "/api/v1/outliers", "/api/v1/duplicates", "/openapi.json", "/"];
fn workload(i: usize) -> (&'static str, &'static str, u16, Duration) {
    let r = ROUTES[i % ROUTES.len()];
    let st = [200u16, 200, 200, 404, 400, 500][i % 6];
    (if i % 7 == 0 { "POST" } else { "GET" }, r, st, Duration::from_micros(((i * 7919) % 300_000) as u64 + 50))
}
fn backend() -> BackendMetrics {
    let mut b = BackendMetrics::default();
    for (k, op) in ["get_embedding", "search", "put_audio", "get_audio", "list_songs"].iter().enumerate() {
        b.ops.insert(op, OpMetrics { calls: 100 * (k as u64 + 1), errors: k as u64, total_latency: Duration::from_millis(1234 + k as u64) });
    }
    b.audio_bytes_put = 123_456_789; b.audio_bytes_got = 987_654;
    b
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let o = ours::HttpMetrics::new();
    let p = PcMetrics::new();
    if mode == "sample" {
        // The same small scrape for both, for the side-by-side diff.
        for (m, r, s, d) in [("GET", "/api/v1/songs/{id}", 200, 3), ("GET", "/api/v1/songs/{id}", 200, 30), ("GET", "/api/v1/songs/{id}", 404, 1), ("POST", "/api/v1/similar", 200, 120)] {
            o.record(m, r, s, Duration::from_millis(d)); p.record(m, r, s, Duration::from_millis(d));
        }
        o.begin(); p.in_flight.inc();
        let mut b = BackendMetrics::default();
        b.ops.insert("search", OpMetrics { calls: 7, errors: 1, total_latency: Duration::from_millis(250) });
        b.audio_bytes_put = 1000;
        std::fs::write("ours.txt", o.render(Some(&b))).unwrap();
        std::fs::write("prometheus_client.txt", p.render(Some(&b))).unwrap();
        return;
    }
    let n = 2_000_000;
    let t = Instant::now(); for i in 0..n { let (m, r, s, d) = workload(i); o.record(m, r, s, d); }
    let ours_rec = t.elapsed().as_nanos() as f64 / n as f64;
    let t = Instant::now(); for i in 0..n { let (m, r, s, d) = workload(i); p.record(m, r, s, d); }
    let pc_rec = t.elapsed().as_nanos() as f64 / n as f64;
    let b = backend();
    let reps = 2000;
    let t = Instant::now(); let mut len_o = 0; for _ in 0..reps { len_o = std::hint::black_box(o.render(Some(&b))).len(); }
    let ours_render = t.elapsed().as_secs_f64() * 1e6 / reps as f64;
    let t = Instant::now(); let mut len_p = 0; for _ in 0..reps { len_p = std::hint::black_box(p.render(Some(&b))).len(); }
    let pc_render = t.elapsed().as_secs_f64() * 1e6 / reps as f64;
    // Contended: 2 threads recording at once (the server records from every request task).
    let o = Arc::new(o); let p = Arc::new(p);
    let run = |f: Arc<dyn Fn(usize) + Send + Sync>| { let t = Instant::now();
        let hs: Vec<_> = (0..2).map(|k| { let f = f.clone(); std::thread::spawn(move || for i in 0..n / 2 { f(i * 2 + k) }) }).collect();
        for h in hs { h.join().unwrap() } t.elapsed().as_nanos() as f64 / n as f64 };
    let oo = o.clone(); let ours_rec2 = run(Arc::new(move |i| { let (m, r, s, d) = workload(i); oo.record(m, r, s, d) }));
    let pp = p.clone(); let pc_rec2 = run(Arc::new(move |i| { let (m, r, s, d) = workload(i); pp.record(m, r, s, d) }));
    println!("series: {} routes x statuses; {n} observations", ROUTES.len());
    println!("record ns/observation, 1 thread:  ours {ours_rec:.0}  prometheus-client {pc_rec:.0}");
    println!("record ns/observation, 2 threads: ours {ours_rec2:.0}  prometheus-client {pc_rec2:.0}");
    println!("render µs/scrape ({len_o} / {len_p} bytes): ours {ours_render:.1}  prometheus-client {pc_render:.1}");
}
