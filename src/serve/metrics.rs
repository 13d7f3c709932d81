//! Prometheus text-format metrics (exposition format 0.0.4), kept with
//! atomics and one mutex-guarded map: no global registry.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Upper bounds (seconds) of the prove-time histogram's buckets.
const BUCKETS: [f64; 12] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
pub struct Metrics {
    /// (route, status) → count.
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    /// failure kind → count.
    failures: Mutex<BTreeMap<&'static str, u64>>,
    /// model → histogram of prove seconds (successful proofs).
    prove: Mutex<BTreeMap<String, Histogram>>,
    pub queued: AtomicU64,
    pub running: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave a counter map invalid.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Metrics {
    pub fn request(&self, route: &str, status: u16) {
        *lock(&self.requests).entry((route.to_string(), status)).or_default() += 1;
    }

    pub fn failure(&self, kind: &'static str) {
        *lock(&self.failures).entry(kind).or_default() += 1;
    }

    pub fn proved(&self, model: &str, seconds: f64) {
        let mut m = lock(&self.prove);
        let h = m.entry(model.to_string()).or_default();
        for (i, &b) in BUCKETS.iter().enumerate() {
            if seconds <= b {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += seconds;
    }

    /// The text `GET /metrics` answers.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "# HELP zkinfer_requests_total HTTP requests by route and status.");
        let _ = writeln!(s, "# TYPE zkinfer_requests_total counter");
        for ((route, status), n) in lock(&self.requests).iter() {
            let _ = writeln!(s, "zkinfer_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}");
        }
        let _ = writeln!(s, "# HELP zkinfer_failures_total Failed requests by kind.");
        let _ = writeln!(s, "# TYPE zkinfer_failures_total counter");
        for (kind, n) in lock(&self.failures).iter() {
            let _ = writeln!(s, "zkinfer_failures_total{{kind=\"{kind}\"}} {n}");
        }
        let _ = writeln!(s, "# HELP zkinfer_queue_depth Prove requests waiting for a worker.");
        let _ = writeln!(s, "# TYPE zkinfer_queue_depth gauge");
        let _ = writeln!(s, "zkinfer_queue_depth {}", self.queued.load(Ordering::Relaxed));
        let _ = writeln!(s, "# HELP zkinfer_workers_busy Workers proving now.");
        let _ = writeln!(s, "# TYPE zkinfer_workers_busy gauge");
        let _ = writeln!(s, "zkinfer_workers_busy {}", self.running.load(Ordering::Relaxed));
        let _ = writeln!(s, "# HELP zkinfer_prove_seconds Time to prove one request (witness and proof).");
        let _ = writeln!(s, "# TYPE zkinfer_prove_seconds histogram");
        for (model, h) in lock(&self.prove).iter() {
            let model = label(model);
            for (b, n) in BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(s, "zkinfer_prove_seconds_bucket{{model=\"{model}\",le=\"{b}\"}} {n}");
            }
            let _ = writeln!(s, "zkinfer_prove_seconds_bucket{{model=\"{model}\",le=\"+Inf\"}} {}", h.count);
            let _ = writeln!(s, "zkinfer_prove_seconds_sum{{model=\"{model}\"}} {}", h.sum);
            let _ = writeln!(s, "zkinfer_prove_seconds_count{{model=\"{model}\"}} {}", h.count);
        }
        s
    }
}

/// A label value as the text format wants it: `\`, `"` and newlines escaped
/// (model names are folder names, which may hold any of them).
fn label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    #[test]
    fn label_values_are_escaped() {
        assert_eq!(super::label(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(super::label("x\ny"), "x\\ny");
    }
}
