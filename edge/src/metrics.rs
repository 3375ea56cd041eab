//! Prometheus metrics: requests by face, operation and status; bytes in and out per space;
//! latency histograms.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use prometheus::{Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder};

/// The metric families. Cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    bytes_in: IntCounterVec,
    bytes_out: IntCounterVec,
    cdn_requests: IntCounterVec,
    cdn_bytes: IntCounterVec,
    cdn_cache: IntCounterVec,
    cdn_origin: IntCounterVec,
    /// The newest change of the cluster's change feed this node has applied.
    feed_position: IntGauge,
    /// Lifecycle expirer passes this node ran.
    lifecycle_passes: IntCounter,
    /// What the expirer removed, by kind.
    lifecycle_removed: IntCounterVec,
    /// Bytes the expirer freed or hid.
    lifecycle_bytes: IntCounter,
    /// 1 while this node holds the expirer's lease.
    lifecycle_holder: IntGauge,
    /// 1 when this node's last pass did everything due, 0 when its budget ran out.
    lifecycle_complete: IntGauge,
    /// Label lookups done once for the requests that come by the tens of thousands a second
    /// (a cached CDN hit made five of them, each hashing its labels under a lock).
    hot_requests: Arc<[HotRequests]>,
    cdn_spaces: Arc<RwLock<HashMap<String, Arc<SpaceCdn>>>>,
}

/// The counters of one (face, operation) pair for the usual statuses.
struct HotRequests {
    face: &'static str,
    op: &'static str,
    latency: Histogram,
    by_status: [(u16, IntCounter); HOT_STATUSES.len()],
}

const HOT_STATUSES: [u16; 5] = [200, 206, 304, 404, 412];

/// The CDN counters of one space.
struct SpaceCdn {
    bytes: IntCounter,
    origin: IntCounter,
    results: [(&'static str, IntCounter); 4],
    by_status: [(u16, IntCounter); HOT_STATUSES.len()],
}

/// A status code as a label without allocating.
fn status_label(status: u16) -> &'static str {
    static LABELS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let labels = LABELS.get_or_init(|| (100..600u16).map(|c| c.to_string()).collect());
    status
        .checked_sub(100)
        .and_then(|i| labels.get(usize::from(i)))
        .map_or("other", String::as_str)
}

/// CDN figures of one space, for the usage API.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct CdnStats {
    /// Requests answered.
    pub requests: u64,
    /// Body bytes sent (bandwidth).
    pub bytes_out: u64,
    /// Answered from cache.
    pub hits: u64,
    /// Fetched from the store.
    pub misses: u64,
    /// Stale entries confirmed unchanged by the store.
    pub revalidations: u64,
    /// Stale entries served because the store failed.
    pub stale: u64,
    /// Reads from the store (one per coalesced group of misses).
    pub origin_fetches: u64,
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
        let cdn_requests = IntCounterVec::new(
            Opts::new("rustshare_cdn_requests_total", "CDN requests by space and status"),
            &["space", "status"],
        )
        .expect("valid metric");
        let cdn_bytes = IntCounterVec::new(
            Opts::new("rustshare_cdn_bytes_out_total", "CDN body bytes sent, by space"),
            &["space"],
        )
        .expect("valid metric");
        let cdn_cache = IntCounterVec::new(
            Opts::new(
                "rustshare_cdn_cache_total",
                "CDN cache results by space: hit, miss, revalidated, stale",
            ),
            &["space", "result"],
        )
        .expect("valid metric");
        let cdn_origin = IntCounterVec::new(
            Opts::new(
                "rustshare_cdn_origin_fetches_total",
                "Reads from the store on behalf of the CDN, by space",
            ),
            &["space"],
        )
        .expect("valid metric");
        for c in [&requests, &bytes_in, &bytes_out, &cdn_requests, &cdn_bytes, &cdn_cache, &cdn_origin] {
            registry.register(Box::new(c.clone())).expect("unique metric");
        }
        registry.register(Box::new(latency.clone())).expect("unique metric");
        let feed_position = IntGauge::new(
            "rustshare_change_feed_position",
            "Sequence number of the newest change from other nodes this node has applied (compare with the database's newest to see a lagging node)",
        )
        .expect("valid metric");
        registry.register(Box::new(feed_position.clone())).expect("unique metric");
        let lifecycle_passes =
            IntCounter::new("rustshare_lifecycle_passes_total", "Lifecycle expirer passes this node ran").expect("valid metric");
        let lifecycle_removed = IntCounterVec::new(
            Opts::new(
                "rustshare_lifecycle_removed_total",
                "What the lifecycle expirer removed: expired (current objects), noncurrent, markers, uploads",
            ),
            &["kind"],
        )
        .expect("valid metric");
        let lifecycle_bytes =
            IntCounter::new("rustshare_lifecycle_bytes_total", "Bytes the lifecycle expirer freed or hid").expect("valid metric");
        let lifecycle_holder = IntGauge::new(
            "rustshare_lifecycle_holder",
            "1 while this node holds the lifecycle expirer's lease",
        )
        .expect("valid metric");
        let lifecycle_complete = IntGauge::new(
            "rustshare_lifecycle_pass_complete",
            "1 when this node's last expirer pass did everything due, 0 when its batch ran out",
        )
        .expect("valid metric");
        registry.register(Box::new(lifecycle_passes.clone())).expect("unique metric");
        registry.register(Box::new(lifecycle_removed.clone())).expect("unique metric");
        registry.register(Box::new(lifecycle_bytes.clone())).expect("unique metric");
        registry.register(Box::new(lifecycle_holder.clone())).expect("unique metric");
        registry.register(Box::new(lifecycle_complete.clone())).expect("unique metric");
        let hot_requests = [("cdn", "cdn"), ("packages", "packages")]
            .map(|(face, op)| HotRequests {
                face,
                op,
                latency: latency.with_label_values(&[face, op]),
                by_status: HOT_STATUSES.map(|st| (st, requests.with_label_values(&[face, op, status_label(st)]))),
            })
            .into();
        Self {
            hot_requests,
            cdn_spaces: Arc::default(),
            registry,
            requests,
            latency,
            bytes_in,
            bytes_out,
            cdn_requests,
            cdn_bytes,
            cdn_cache,
            cdn_origin,
            feed_position,
            lifecycle_passes,
            lifecycle_removed,
            lifecycle_bytes,
            lifecycle_holder,
            lifecycle_complete,
        }
    }

    /// Counts one expirer pass: what it removed by kind (`expired`, `noncurrent`, `markers`,
    /// `uploads`), the bytes, and whether it did everything due.
    pub fn lifecycle_pass(&self, removed: &[(&str, u64)], bytes: u64, complete: bool) {
        self.lifecycle_passes.inc();
        for (kind, n) in removed {
            self.lifecycle_removed.with_label_values(&[kind]).inc_by(*n);
        }
        self.lifecycle_bytes.inc_by(bytes);
        self.lifecycle_complete.set(i64::from(complete));
    }

    /// Whether this node holds the expirer's lease.
    pub fn lifecycle_holder(&self, held: bool) {
        self.lifecycle_holder.set(i64::from(held));
    }

    /// Records how far this node has read the change feed.
    pub fn feed_position(&self, seq: i64) {
        self.feed_position.set(seq);
    }

    /// Counts one request.
    pub fn request(&self, face: &str, op: &str, status: u16, seconds: f64) {
        if let Some(hot) = self.hot_requests.iter().find(|h| h.face == face && h.op == op) {
            hot.latency.observe(seconds);
            match hot.by_status.iter().find(|(st, _)| *st == status) {
                Some((_, c)) => c.inc(),
                None => self.requests.with_label_values(&[face, op, status_label(status)]).inc(),
            }
            return;
        }
        self.requests.with_label_values(&[face, op, status_label(status)]).inc();
        self.latency.with_label_values(&[face, op]).observe(seconds);
    }

    fn cdn_space(&self, space: &str) -> Arc<SpaceCdn> {
        if let Some(s) = self.cdn_spaces.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(space) {
            return s.clone();
        }
        let made = Arc::new(SpaceCdn {
            bytes: self.cdn_bytes.with_label_values(&[space]),
            origin: self.cdn_origin.with_label_values(&[space]),
            results: ["hit", "miss", "revalidated", "stale"].map(|r| (r, self.cdn_cache.with_label_values(&[space, r]))),
            by_status: HOT_STATUSES.map(|st| (st, self.cdn_requests.with_label_values(&[space, status_label(st)]))),
        });
        self.cdn_spaces
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(space.to_owned())
            .or_insert(made)
            .clone()
    }

    /// Counts uploaded bytes.
    pub fn bytes_in(&self, space: &str, n: u64) {
        self.bytes_in.with_label_values(&[space]).inc_by(n);
    }

    /// Counts downloaded bytes.
    pub fn bytes_out(&self, space: &str, n: u64) {
        self.bytes_out.with_label_values(&[space]).inc_by(n);
    }

    /// Counts one CDN response.
    pub fn cdn_request(&self, space: &str, status: u16, body_bytes: u64) {
        let s = self.cdn_space(space);
        match s.by_status.iter().find(|(st, _)| *st == status) {
            Some((_, c)) => c.inc(),
            None => self.cdn_requests.with_label_values(&[space, status_label(status)]).inc(),
        }
        s.bytes.inc_by(body_bytes);
    }

    /// Counts a cache result: `hit`, `miss`, `revalidated` or `stale`.
    pub fn cdn_cache(&self, space: &str, result: &str) {
        match self.cdn_space(space).results.iter().find(|(r, _)| *r == result) {
            Some((_, c)) => c.inc(),
            None => self.cdn_cache.with_label_values(&[space, result]).inc(),
        }
    }

    /// Counts a read from the store for the CDN.
    pub fn cdn_origin_fetch(&self, space: &str) {
        self.cdn_space(space).origin.inc();
    }

    /// The CDN figures of a space since start.
    #[must_use]
    pub fn cdn_stats(&self, space: &str) -> CdnStats {
        let mut s = CdnStats {
            bytes_out: self.cdn_bytes.with_label_values(&[space]).get(),
            origin_fetches: self.cdn_origin.with_label_values(&[space]).get(),
            hits: self.cdn_cache.with_label_values(&[space, "hit"]).get(),
            misses: self.cdn_cache.with_label_values(&[space, "miss"]).get(),
            revalidations: self.cdn_cache.with_label_values(&[space, "revalidated"]).get(),
            stale: self.cdn_cache.with_label_values(&[space, "stale"]).get(),
            requests: 0,
        };
        for fam in self.registry.gather().iter().filter(|f| f.name() == "rustshare_cdn_requests_total") {
            for m in fam.get_metric() {
                if m.get_label().iter().any(|l| l.name() == "space" && l.value() == space) {
                    // Counters hold integers; the f64 is exact below 2^53.
                    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                    let v = m.get_counter().get_value() as u64;
                    s.requests += v;
                }
            }
        }
        s
    }

    /// Per space since start: bytes in (S3), bytes out (S3 and CDN), CDN requests.
    #[must_use]
    pub fn traffic_totals(&self) -> std::collections::HashMap<String, [u64; 3]> {
        let mut out: std::collections::HashMap<String, [u64; 3]> = std::collections::HashMap::new();
        for fam in self.registry.gather() {
            let slot = match fam.name() {
                "rustshare_bytes_in_total" => 0,
                "rustshare_bytes_out_total" | "rustshare_cdn_bytes_out_total" => 1,
                "rustshare_cdn_requests_total" => 2,
                _ => continue,
            };
            for m in fam.get_metric() {
                let Some(space) = m.get_label().iter().find(|l| l.name() == "space") else {
                    continue;
                };
                // Counters hold integers; the f64 is exact below 2^53.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let v = m.get_counter().get_value() as u64;
                out.entry(space.value().to_owned()).or_default()[slot] += v;
            }
        }
        out
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

    #[test]
    fn traffic_totals_add_s3_and_cdn_per_space() {
        let m = Metrics::new();
        m.bytes_in("sp_1", 10);
        m.bytes_out("sp_1", 5);
        m.cdn_request("sp_1", 200, 7);
        m.cdn_request("sp_1", 404, 0);
        m.cdn_request("sp_2", 200, 3);
        let t = m.traffic_totals();
        assert_eq!(t.get("sp_1"), Some(&[10, 12, 2]));
        assert_eq!(t.get("sp_2"), Some(&[0, 3, 1]));
    }

    #[test]
    fn pre_resolved_counters_count_like_the_families() {
        let m = Metrics::new();
        m.request("cdn", "cdn", 200, 0.001);
        m.request("cdn", "cdn", 200, 0.001);
        m.request("cdn", "cdn", 503, 0.001);
        m.cdn_request("sp_1", 200, 7);
        m.cdn_request("sp_1", 503, 0);
        m.cdn_cache("sp_1", "hit");
        m.cdn_cache("sp_1", "miss");
        m.cdn_cache("sp_1", "hit");
        m.cdn_origin_fetch("sp_1");
        let t = m.render();
        for want in [
            "rustshare_requests_total{face=\"cdn\",operation=\"cdn\",status=\"200\"} 2",
            "rustshare_requests_total{face=\"cdn\",operation=\"cdn\",status=\"503\"} 1",
            "rustshare_request_duration_seconds_count{face=\"cdn\",operation=\"cdn\"} 3",
            "rustshare_cdn_requests_total{space=\"sp_1\",status=\"503\"} 1",
        ] {
            assert!(t.contains(want), "{want} missing in {t}");
        }
        let s = m.cdn_stats("sp_1");
        assert_eq!((s.requests, s.bytes_out, s.hits, s.misses, s.origin_fetches), (2, 7, 2, 1, 1));
        assert_eq!(m.cdn_stats("sp_2").requests, 0);
    }
}
