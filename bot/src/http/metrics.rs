//! Prometheus metrics of the HTTP API, kept in atomics and a mutex-guarded map and written out
//! by hand in the text exposition format (version 0.0.4).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the run duration histogram: sandbox start-up to the longest profiles.
const DURATION_BUCKETS: [f64; 12] = [
    0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

#[derive(Debug, Default)]
struct Histogram {
    /// Counts per bucket (not cumulative; summed when written).
    buckets: [u64; DURATION_BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        if let Some(i) = DURATION_BUCKETS.iter().position(|b| seconds <= *b) {
            self.buckets[i] += 1;
        }
        self.count += 1;
        self.sum += seconds;
    }
}

#[derive(Debug, Default)]
struct Tallies {
    /// (status, language) -> runs.
    runs: BTreeMap<(String, String), u64>,
    /// refusal code -> count.
    refusals: BTreeMap<String, u64>,
    duration: Histogram,
}

/// The API's counters and gauges.
#[derive(Debug, Default)]
pub struct Metrics {
    tallies: Mutex<Tallies>,
    queued: AtomicU64,
    running: AtomicU64,
    sandbox_errors: AtomicU64,
    http_requests: AtomicU64,
}

impl Metrics {
    /// A run finished (whatever the program did).
    pub fn run_finished(&self, language: &str, status: &str, wall: Duration) {
        if status == "sandbox_error" {
            self.sandbox_errors.fetch_add(1, Ordering::Relaxed);
        }
        let mut t = self.lock();
        *t.runs
            .entry((status.to_string(), language.to_string()))
            .or_default() += 1;
        t.duration.observe(wall.as_secs_f64());
    }

    /// A run request was refused before running (rate limit, busy, not allowed, bad input...).
    pub fn refused(&self, code: &str) {
        *self.lock().refusals.entry(code.to_string()).or_default() += 1;
    }

    pub fn request_seen(&self) {
        self.http_requests.fetch_add(1, Ordering::Relaxed);
    }

    pub fn queued_delta(&self, up: bool) {
        bump(&self.queued, up);
    }

    pub fn running_delta(&self, up: bool) {
        bump(&self.running, up);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tallies> {
        // A panic while holding the lock leaves plain counters behind: still usable.
        self.tallies.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The Prometheus text format.
    pub fn render(&self) -> String {
        let t = self.lock();
        let mut out = String::with_capacity(2048);
        header(
            &mut out,
            "coderunner_runs_total",
            "counter",
            "Runs carried out through the HTTP API, by outcome status and language.",
        );
        for ((status, language), n) in &t.runs {
            let _ = writeln!(
                out,
                "coderunner_runs_total{{status=\"{}\",language=\"{}\"}} {n}",
                escape(status),
                escape(language)
            );
        }
        header(
            &mut out,
            "coderunner_refusals_total",
            "counter",
            "Run requests refused before running, by error code.",
        );
        for (code, n) in &t.refusals {
            let _ = writeln!(
                out,
                "coderunner_refusals_total{{error=\"{}\"}} {n}",
                escape(code)
            );
        }
        header(
            &mut out,
            "coderunner_sandbox_errors_total",
            "counter",
            "Runs the sandbox could not carry out (status sandbox_error).",
        );
        let _ = writeln!(
            out,
            "coderunner_sandbox_errors_total {}",
            self.sandbox_errors.load(Ordering::Relaxed)
        );
        header(
            &mut out,
            "coderunner_queue_depth",
            "gauge",
            "HTTP runs waiting for a sandbox slot.",
        );
        let _ = writeln!(
            out,
            "coderunner_queue_depth {}",
            self.queued.load(Ordering::Relaxed)
        );
        header(
            &mut out,
            "coderunner_runs_in_progress",
            "gauge",
            "HTTP runs executing now.",
        );
        let _ = writeln!(
            out,
            "coderunner_runs_in_progress {}",
            self.running.load(Ordering::Relaxed)
        );
        header(
            &mut out,
            "coderunner_run_duration_seconds",
            "histogram",
            "Wall-clock time of runs, compile included, as the client waited for them.",
        );
        let mut cumulative = 0u64;
        for (bound, n) in DURATION_BUCKETS.iter().zip(t.duration.buckets) {
            cumulative += n;
            let _ = writeln!(
                out,
                "coderunner_run_duration_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "coderunner_run_duration_seconds_bucket{{le=\"+Inf\"}} {}",
            t.duration.count
        );
        let _ = writeln!(
            out,
            "coderunner_run_duration_seconds_sum {}",
            t.duration.sum
        );
        let _ = writeln!(
            out,
            "coderunner_run_duration_seconds_count {}",
            t.duration.count
        );
        header(
            &mut out,
            "coderunner_http_requests_total",
            "counter",
            "Authenticated HTTP requests received.",
        );
        let _ = writeln!(
            out,
            "coderunner_http_requests_total {}",
            self.http_requests.load(Ordering::Relaxed)
        );
        out
    }
}

fn bump(gauge: &AtomicU64, up: bool) {
    if up {
        gauge.fetch_add(1, Ordering::Relaxed);
    } else {
        // Saturating: a decrement can never wrap the gauge to 2^64.
        let _ = gauge.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
            Some(v.saturating_sub(1))
        });
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Label values escape `\`, `"` and newlines (the only characters the format reserves).
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_and_a_cumulative_histogram() {
        let m = Metrics::default();
        m.run_finished("python", "exited", Duration::from_millis(40));
        m.run_finished("python", "exited", Duration::from_millis(300));
        m.run_finished("c", "sandbox_error", Duration::from_secs(500));
        m.refused("rate_limited");
        let text = m.render();
        assert!(text.contains("coderunner_runs_total{status=\"exited\",language=\"python\"} 2"));
        assert!(text.contains("coderunner_sandbox_errors_total 1"));
        assert!(text.contains("coderunner_refusals_total{error=\"rate_limited\"} 1"));
        assert!(text.contains("coderunner_run_duration_seconds_bucket{le=\"0.05\"} 1"));
        assert!(text.contains("coderunner_run_duration_seconds_bucket{le=\"0.5\"} 2"));
        assert!(text.contains("coderunner_run_duration_seconds_bucket{le=\"120\"} 2"));
        assert!(text.contains("coderunner_run_duration_seconds_bucket{le=\"+Inf\"} 3"));
        assert!(text.contains("coderunner_run_duration_seconds_count 3"));
    }

    #[test]
    fn gauges_never_go_below_zero_and_labels_are_escaped() {
        let m = Metrics::default();
        m.queued_delta(false);
        assert!(m.render().contains("coderunner_queue_depth 0"));
        m.run_finished("we\"ird\nlang", "exited", Duration::ZERO);
        assert!(m.render().contains("language=\"we\\\"ird\\nlang\""));
    }
}
