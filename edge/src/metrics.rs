//! Prometheus metrics: requests by face, operation and status; bytes in and out per space;
//! latency histograms.

use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder};

/// The metric families. Cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    bytes_in: IntCounterVec,
    bytes_out: IntCounterVec,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers the families.
    ///
    /// # Panics
    /// Never in practice: names and labels are constants checked by the tests.
    #[must_use]
    #[allow(clippy::expect_used)]
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("rustshare_requests_total", "Requests by face, operation and status"),
            &["face", "operation", "status"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "rustshare_request_duration_seconds",
                "Time to response headers, by face and operation",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["face", "operation"],
        )
        .expect("valid metric");
        let bytes_in =
            IntCounterVec::new(Opts::new("rustshare_bytes_in_total", "Object bytes received, by space"), &["space"]).expect("valid metric");
        let bytes_out =
            IntCounterVec::new(Opts::new("rustshare_bytes_out_total", "Object bytes sent, by space"), &["space"]).expect("valid metric");
        for c in [&requests, &bytes_in, &bytes_out] {
            registry.register(Box::new(c.clone())).expect("unique metric");
        }
        registry.register(Box::new(latency.clone())).expect("unique metric");
        Self {
            registry,
            requests,
            latency,
            bytes_in,
            bytes_out,
        }
    }

    /// Counts one request.
    pub fn request(&self, face: &str, op: &str, status: u16, seconds: f64) {
        self.requests.with_label_values(&[face, op, &status.to_string()]).inc();
        self.latency.with_label_values(&[face, op]).observe(seconds);
    }

    /// Counts uploaded bytes.
    pub fn bytes_in(&self, space: &str, n: u64) {
        self.bytes_in.with_label_values(&[space]).inc_by(n);
    }

    /// Counts downloaded bytes.
    pub fn bytes_out(&self, space: &str, n: u64) {
        self.bytes_out.with_label_values(&[space]).inc_by(n);
    }

    /// The text exposition format.
    #[must_use]
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buf) {
            tracing::error!("encoding metrics: {e}");
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_all_families() {
        let m = Metrics::new();
        m.request("s3", "PutObject", 200, 0.01);
        m.bytes_in("sp_1", 10);
        m.bytes_out("sp_1", 5);
        let t = m.render();
        for want in [
            "rustshare_requests_total{face=\"s3\",operation=\"PutObject\",status=\"200\"} 1",
            "rustshare_bytes_in_total{space=\"sp_1\"} 10",
            "rustshare_request_duration_seconds_bucket",
        ] {
            assert!(t.contains(want), "{want} missing in {t}");
        }
    }
}
