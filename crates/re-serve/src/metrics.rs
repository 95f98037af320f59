//! Prometheus text-format metrics, written by hand (a few counters and histograms do not need a metrics crate):
//! requests by route and status, request latency by route, batch sizes (records and requests per model call),
//! queue depth and records scored.
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Latency bucket upper bounds in seconds.
const LATENCY_BOUNDS: [f64; 14] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
/// Batch-size bucket upper bounds (records, or requests, per model call).
const BATCH_BOUNDS: [f64; 10] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

/// A cumulative-bucket histogram as Prometheus exposes it.
#[derive(Clone, Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    /// Observations per bucket (not cumulative); the last entry is `+Inf`.
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Histogram { bounds, counts: vec![0; bounds.len() + 1], sum: 0.0, count: 0 }
    }

    pub fn observe(&mut self, v: f64) {
        let i = self.bounds.iter().position(|&b| v <= b).unwrap_or(self.bounds.len());
        self.counts[i] += 1;
        self.sum += v;
        self.count += 1;
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn sum(&self) -> f64 {
        self.sum
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (i, c) in self.counts.iter().enumerate() {
            cumulative += c;
            let le = self.bounds.get(i).map_or_else(|| "+Inf".to_string(), |b| b.to_string());
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {cumulative}");
        }
        let braces = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

/// Everything `/metrics` shows. Shared by the routes (requests) and the model thread (batches).
#[derive(Debug)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    batch_records: Mutex<Histogram>,
    batch_requests: Mutex<Histogram>,
    queue_depth: AtomicI64,
    records_scored: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            requests: Mutex::default(),
            latency: Mutex::default(),
            batch_records: Mutex::new(Histogram::new(&BATCH_BOUNDS)),
            batch_requests: Mutex::new(Histogram::new(&BATCH_BOUNDS)),
            queue_depth: AtomicI64::new(0),
            records_scored: AtomicU64::new(0),
        }
    }
}

// A poisoned lock only means another thread panicked while counting; the numbers are still usable.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Metrics {
    /// One answered request: `route` is the matched route (or `other`), `status` its HTTP status.
    pub fn record_request(&self, route: &str, status: u16, elapsed: Duration) {
        *lock(&self.requests).entry((route.to_string(), status)).or_insert(0) += 1;
        lock(&self.latency)
            .entry(route.to_string())
            .or_insert_with(|| Histogram::new(&LATENCY_BOUNDS))
            .observe(elapsed.as_secs_f64());
    }

    /// One model call over `records` records merged from `requests` requests.
    pub fn record_batch(&self, records: usize, requests: usize) {
        lock(&self.batch_records).observe(records as f64);
        lock(&self.batch_requests).observe(requests as f64);
        self.records_scored.fetch_add(records as u64, Ordering::Relaxed);
    }

    pub fn queue_push(&self) {
        self.queue_depth.fetch_add(1, Ordering::Relaxed);
    }

    pub fn queue_pop(&self) {
        self.queue_depth.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn queue_depth(&self) -> i64 {
        self.queue_depth.load(Ordering::Relaxed)
    }

    /// Snapshot of the records-per-model-call histogram.
    pub fn batch_records(&self) -> Histogram {
        lock(&self.batch_records).clone()
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP kre_http_requests_total HTTP requests answered, by route and status.\n");
        out.push_str("# TYPE kre_http_requests_total counter\n");
        for ((route, status), n) in lock(&self.requests).iter() {
            let _ = writeln!(out, "kre_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}");
        }
        out.push_str("# HELP kre_http_request_duration_seconds Time from request to answer, by route.\n");
        out.push_str("# TYPE kre_http_request_duration_seconds histogram\n");
        for (route, h) in lock(&self.latency).iter() {
            h.render(&mut out, "kre_http_request_duration_seconds", &format!("route=\"{route}\""));
        }
        out.push_str("# HELP kre_batch_size_records Records per model call (dynamic batching).\n");
        out.push_str("# TYPE kre_batch_size_records histogram\n");
        lock(&self.batch_records).render(&mut out, "kre_batch_size_records", "");
        out.push_str("# HELP kre_batch_size_requests Requests merged into one model call.\n");
        out.push_str("# TYPE kre_batch_size_requests histogram\n");
        lock(&self.batch_requests).render(&mut out, "kre_batch_size_requests", "");
        out.push_str("# HELP kre_queue_depth Requests waiting for the model thread.\n");
        out.push_str("# TYPE kre_queue_depth gauge\n");
        let _ = writeln!(out, "kre_queue_depth {}", self.queue_depth());
        out.push_str("# HELP kre_records_scored_total Records scored by the model.\n");
        out.push_str("# TYPE kre_records_scored_total counter\n");
        let _ = writeln!(out, "kre_records_scored_total {}", self.records_scored.load(Ordering::Relaxed));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_end_in_inf() {
        let m = Metrics::default();
        m.record_batch(1, 1);
        m.record_batch(3, 2);
        m.record_batch(1000, 40);
        let text = m.render();
        assert!(text.contains("kre_batch_size_records_bucket{le=\"1\"} 1\n"), "{text}");
        assert!(text.contains("kre_batch_size_records_bucket{le=\"2\"} 1\n"), "{text}");
        assert!(text.contains("kre_batch_size_records_bucket{le=\"4\"} 2\n"), "{text}");
        assert!(text.contains("kre_batch_size_records_bucket{le=\"512\"} 2\n"), "{text}");
        assert!(text.contains("kre_batch_size_records_bucket{le=\"+Inf\"} 3\n"), "{text}");
        assert!(text.contains("kre_batch_size_records_sum 1004\n"), "{text}");
        assert!(text.contains("kre_batch_size_requests_count 3\n"), "{text}");
        assert!(text.contains("kre_records_scored_total 1004\n"), "{text}");
    }

    #[test]
    fn requests_are_counted_by_route_and_status() {
        let m = Metrics::default();
        m.record_request("/v1/predict", 200, Duration::from_millis(3));
        m.record_request("/v1/predict", 200, Duration::from_millis(30));
        m.record_request("/v1/predict", 400, Duration::from_micros(10));
        m.queue_push();
        m.queue_push();
        m.queue_pop();
        let text = m.render();
        assert!(text.contains("kre_http_requests_total{route=\"/v1/predict\",status=\"200\"} 2\n"), "{text}");
        assert!(text.contains("kre_http_requests_total{route=\"/v1/predict\",status=\"400\"} 1\n"), "{text}");
        assert!(
            text.contains("kre_http_request_duration_seconds_bucket{route=\"/v1/predict\",le=\"0.005\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("kre_http_request_duration_seconds_count{route=\"/v1/predict\"} 3\n"), "{text}");
        assert!(text.contains("kre_queue_depth 1\n"), "{text}");
    }
}
