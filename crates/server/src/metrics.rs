//! Request metrics per route and their Prometheus text rendering (exposition format 0.0.4),
//! together with the storage backend's per-operation counters.
//! Hand-written: `prometheus-client` speaks only OpenMetrics, which would change what users'
//! scrapers see (`scripts/eval/crate_compare/REPORT.md` §2).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use songrec_storage::layers::Metrics as BackendMetrics;

/// Histogram bucket upper bounds, seconds.
pub const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Clone, Debug, Default)]
struct RouteStats {
    by_status: BTreeMap<u16, u64>,
    buckets: Vec<u64>,
    sum_secs: f64,
    count: u64,
}

/// Counters for HTTP requests, keyed by (method, route template).
#[derive(Debug)]
pub struct HttpMetrics {
    routes: Mutex<BTreeMap<(String, String), RouteStats>>,
    in_flight: AtomicI64,
    started: Instant,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Escapes a label value (backslash, quote, newline).
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn num(x: f64) -> String {
    if x.is_finite() {
        format!("{x}")
    } else if x.is_nan() {
        "NaN".into()
    } else if x > 0.0 {
        "+Inf".into()
    } else {
        "-Inf".into()
    }
}

impl HttpMetrics {
    pub fn new() -> Self {
        Self {
            routes: Mutex::new(BTreeMap::new()),
            in_flight: AtomicI64::new(0),
            started: Instant::now(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, String), RouteStats>> {
        self.routes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A request started (for the in-flight gauge).
    pub fn begin(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    /// A request finished.
    pub fn end(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    /// Records one finished request.
    pub fn record(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let mut routes = self.lock();
        let s = routes
            .entry((method.to_owned(), route.to_owned()))
            .or_insert_with(|| RouteStats {
                buckets: vec![0; BUCKETS.len()],
                ..RouteStats::default()
            });
        *s.by_status.entry(status).or_default() += 1;
        for (b, le) in s.buckets.iter_mut().zip(BUCKETS) {
            if secs <= *le {
                *b += 1;
            }
        }
        s.sum_secs += secs;
        s.count += 1;
    }

    /// Requests seen for a method, route and status.
    pub fn requests(&self, method: &str, route: &str, status: u16) -> u64 {
        self.lock()
            .get(&(method.to_owned(), route.to_owned()))
            .and_then(|s| s.by_status.get(&status).copied())
            .unwrap_or(0)
    }

    /// The Prometheus text exposition of these counters plus the backend's.
    pub fn render(&self, backend: Option<&BackendMetrics>) -> String {
        let mut o = String::new();
        let routes = self.lock().clone();
        let requests = "songrec_http_requests_total";
        let help = "HTTP requests by method, route template and status.";
        header(&mut o, requests, "counter", help);
        for ((m, r), s) in &routes {
            let l = format!("method=\"{}\",route=\"{}\"", label(m), label(r));
            for (status, n) in &s.by_status {
                let _ = writeln!(o, "{requests}{{{l},status=\"{status}\"}} {n}");
            }
        }
        let duration = "songrec_http_request_duration_seconds";
        let help = "HTTP request latency by method and route template.";
        header(&mut o, duration, "histogram", help);
        for ((m, r), s) in &routes {
            let l = format!("method=\"{}\",route=\"{}\"", label(m), label(r));
            for (b, le) in s.buckets.iter().zip(BUCKETS) {
                let _ = writeln!(o, "{duration}_bucket{{{l},le=\"{}\"}} {b}", num(*le));
            }
            let _ = writeln!(o, "{duration}_bucket{{{l},le=\"+Inf\"}} {}", s.count);
            let _ = writeln!(o, "{duration}_sum{{{l}}} {}", num(s.sum_secs));
            let _ = writeln!(o, "{duration}_count{{{l}}} {}", s.count);
        }
        let in_flight = "songrec_http_requests_in_flight";
        header(&mut o, in_flight, "gauge", "HTTP requests being served.");
        let _ = writeln!(o, "{in_flight} {}", self.in_flight.load(Ordering::Relaxed));
        let uptime = "songrec_uptime_seconds";
        header(&mut o, uptime, "gauge", "Seconds since the server started.");
        let _ = writeln!(o, "{uptime} {}", num(self.started.elapsed().as_secs_f64()));
        if let Some(b) = backend {
            render_backend(&mut o, b);
        }
        o
    }
}

/// The `# HELP` and `# TYPE` lines of metric `name`.
fn header(o: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn render_backend(o: &mut String, b: &BackendMetrics) {
    type Value = fn(&songrec_storage::layers::OpMetrics) -> String;
    let per_op: [(&str, &str, Value); 3] = [
        (
            "songrec_backend_operations_total",
            "Storage backend calls by operation.",
            |m| m.calls.to_string(),
        ),
        (
            "songrec_backend_errors_total",
            "Storage backend calls that failed, by operation.",
            |m| m.errors.to_string(),
        ),
        (
            "songrec_backend_operation_seconds_total",
            "Time spent in storage backend calls, by operation.",
            |m| num(m.total_latency.as_secs_f64()),
        ),
    ];
    for (name, help, value) in per_op {
        header(o, name, "counter", help);
        for (op, m) in &b.ops {
            let _ = writeln!(o, "{name}{{op=\"{}\"}} {}", label(op), value(m));
        }
    }
    let bytes = "songrec_backend_audio_bytes_total";
    let help = "Audio bytes moved by the storage backend.";
    header(o, bytes, "counter", help);
    let _ = writeln!(o, "{bytes}{{direction=\"put\"}} {}", b.audio_bytes_put);
    let _ = writeln!(o, "{bytes}{{direction=\"got\"}} {}", b.audio_bytes_got);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative() {
        let m = HttpMetrics::new();
        m.record("GET", "/a", 200, Duration::from_millis(2));
        m.record("GET", "/a", 404, Duration::from_millis(200));
        let t = m.render(None);
        assert!(t.contains(
            "songrec_http_request_duration_seconds_bucket{method=\"GET\",route=\"/a\",le=\"0.0025\"} 1"
        ));
        assert!(t.contains(
            "songrec_http_request_duration_seconds_bucket{method=\"GET\",route=\"/a\",le=\"0.25\"} 2"
        ));
        assert!(t.contains(
            "songrec_http_request_duration_seconds_count{method=\"GET\",route=\"/a\"} 2"
        ));
        assert_eq!(m.requests("GET", "/a", 404), 1);
        assert!(
            t.contains(r#"songrec_http_requests_total{method="GET",route="/a",status="200"} 1"#)
        );
    }

    #[test]
    fn labels_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
