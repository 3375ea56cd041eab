//! The CDN face: anonymous GET/HEAD of published objects on `cdn.<domain>/<site>/<key>`,
//! with RFC 9110/9111 semantics and the edge cache. Publication rules decide what is
//! visible; everything else is a 404 that names nothing.

pub mod cache;
pub mod freshness;
pub mod http;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::StreamExt;
use http_body_util::BodyExt;
use rustshare_control::{Control, PublicSite};
use rustshare_store::{ByteRange, ListRequest, ObjectMeta, ObjectStore};

use self::cache::{Cache, Entry, key_of};
use self::freshness::{Content, Decision, Lifetimes, OnError};
use rustshare_control::clock::Clock;

/// An entry, how it was found, and the store read a large miss opened (to be streamed).
type Fetched = (Arc<Entry>, CacheResult, Option<rustshare_store::GetObject>);
use self::http::{Precondition, RangeReq, Validators};
use crate::metrics::Metrics;
use crate::wire::{Body, full_body, stream_body};

/// CDN settings (`[cdn]` in the config file).
#[derive(Debug, Clone)]
pub struct CdnConfig {
    /// Memory for cached objects.
    pub cache_bytes: u64,
    /// Objects larger than this stream from the store and are not held whole.
    pub max_object_bytes: u64,
    /// How long a 404 is remembered.
    pub negative_ttl: Duration,
    /// How long past freshness a cached object may be served while the store fails.
    pub stale_if_error: Duration,
    /// URL told (POST, JSON) about every purge, for a CDN in front.
    pub purge_webhook: Option<String>,
    /// File that gets one JSON line per CDN request.
    pub access_log: Option<std::path::PathBuf>,
}

impl Default for CdnConfig {
    fn default() -> Self {
        Self {
            cache_bytes: 256 << 20,
            max_object_bytes: 8 << 20,
            negative_ttl: Duration::from_secs(10),
            stale_if_error: Duration::from_hours(24),
            purge_webhook: None,
            access_log: None,
        }
    }
}

/// How a request was served from the cache's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CacheResult {
    Hit,
    Miss,
    Revalidated,
    Stale,
}

impl CacheResult {
    fn header_value(self) -> ::http::HeaderValue {
        ::http::HeaderValue::from_static(match self {
            CacheResult::Hit => "HIT",
            CacheResult::Miss => "MISS",
            CacheResult::Revalidated => "REVALIDATED",
            CacheResult::Stale => "STALE",
        })
    }

    fn label(self) -> &'static str {
        match self {
            CacheResult::Hit => "hit",
            CacheResult::Miss => "miss",
            CacheResult::Revalidated => "revalidated",
            CacheResult::Stale => "stale",
        }
    }
}

/// The CDN face.
pub struct Cdn {
    store: Arc<dyn ObjectStore>,
    control: Control,
    metrics: Metrics,
    cache: Cache,
    cfg: CdnConfig,
    access_log: Option<std::sync::Mutex<std::fs::File>>,
    site_lookups: SiteLookups,
    clock: Arc<dyn Clock>,
}

/// Database lookups of public sites in flight, one per name: when a site's cached entry
/// expires under load, every request in that moment waits for one query instead of each
/// taking the database in turn. moka's `try_get_with` does the coalescing; entries are dropped as
/// soon as their lookup answers, since the control service caches the sites themselves.
struct SiteLookups {
    in_flight: moka::future::Cache<String, Option<Arc<PublicSite>>>,
    /// Lookups started, for the tests.
    started: std::sync::atomic::AtomicU64,
}

impl Default for SiteLookups {
    fn default() -> Self {
        Self {
            in_flight: moka::future::Cache::builder().max_capacity(10_000).build(),
            started: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

type Req = ::http::request::Parts;
type Resp = ::http::Response<Body>;

pub(crate) fn page(status: ::http::StatusCode, title: &str) -> Resp {
    let mut r = html(
        format!("<!doctype html><meta charset=utf-8><title>{title}</title><h1>{title}</h1>\n"),
        "no-store",
    );
    *r.status_mut() = status;
    r
}

/// An HTML response the face writes itself.
pub(crate) fn html(body: String, cache_control: &'static str) -> Resp {
    let mut r = ::http::Response::new(full_body(body));
    let h = r.headers_mut();
    h.insert(
        ::http::header::CONTENT_TYPE,
        ::http::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert("x-content-type-options", ::http::HeaderValue::from_static("nosniff"));
    h.insert(::http::header::CACHE_CONTROL, ::http::HeaderValue::from_static(cache_control));
    r
}

pub(crate) fn not_found() -> Resp {
    page(::http::StatusCode::NOT_FOUND, "Not Found")
}

fn hv(s: &str) -> Option<::http::HeaderValue> {
    ::http::HeaderValue::from_str(s).ok()
}

fn set(h: &mut ::http::HeaderMap, name: ::http::HeaderName, v: &str) {
    if let Some(v) = hv(v) {
        h.insert(name, v);
    }
}

fn content_length(resp: &Resp) -> u64 {
    resp.headers()
        .get(::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn header(req: &Req, name: ::http::HeaderName) -> Option<&str> {
    req.headers.get(name).and_then(|v| v.to_str().ok())
}

fn system_time(t: time::OffsetDateTime) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(t.unix_timestamp()).unwrap_or(0))
}

impl Cdn {
    /// A CDN face over `store`.
    ///
    /// # Errors
    /// When the access log cannot be opened.
    pub fn new(store: Arc<dyn ObjectStore>, control: Control, metrics: Metrics, cfg: CdnConfig) -> std::io::Result<Self> {
        let access_log = match &cfg.access_log {
            Some(p) => Some(std::sync::Mutex::new(
                std::fs::OpenOptions::new().create(true).append(true).open(p)?,
            )),
            None => None,
        };
        let cache = Cache::new(cfg.cache_bytes).announcing(control.clone());
        // One clock for the whole process: the control service's, which tests replace.
        let clock = control.clock();
        Ok(Self {
            store,
            control,
            metrics,
            cache,
            cfg,
            access_log,
            site_lookups: SiteLookups::default(),
            clock,
        })
    }

    /// The cache, for invalidation by the S3 face and purges.
    #[must_use]
    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// Settings.
    #[must_use]
    pub fn config(&self) -> &CdnConfig {
        &self.cfg
    }

    /// The published site behind a public name: from the control cache, else from the
    /// database through one lookup shared by every request that asks meanwhile.
    async fn site(&self, name: &str) -> Result<Option<Arc<PublicSite>>, String> {
        if let Some(hit) = self.control.public_site_cached(name) {
            return Ok(hit);
        }
        let lookups = &self.site_lookups;
        let r = lookups
            .in_flight
            .try_get_with(name.to_owned(), async {
                // A lookup that finished (and left this map) since this request looked has
                // filled the control cache: no second lookup, not even a trip to the executor.
                if let Some(hit) = self.control.public_site_cached(name) {
                    return Ok(hit);
                }
                lookups.started.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                self.control.public_site(name).await
            })
            .await;
        lookups.in_flight.invalidate(name).await;
        r.map_err(|e| e.to_string())
    }

    /// How long an entry lives: the rules' max-age (the negative TTL for a 404), and the
    /// stale-if-error window.
    fn lifetimes(&self, site: &PublicSite, key: &str, e: &Entry) -> Lifetimes {
        let fresh_for = match e.content {
            Content::Absent => self.cfg.negative_ttl,
            _ => Duration::from_secs(http::max_age(site.rules.cache_control_for(key)).unwrap_or(0)),
        };
        Lifetimes {
            fresh_for,
            stale_if_error: self.cfg.stale_if_error,
        }
    }

    /// The entry for a key: fresh from cache, revalidated, refetched (one fetch for any
    /// number of concurrent misses), or stale when the store fails. `body`: the caller will send
    /// the object's bytes (a GET); a miss then reads it once, and when it is too large to cache
    /// the read that found out is handed back to be streamed, not dropped and opened again.
    /// Without `body` (a HEAD) a miss asks the store for the metadata only.
    async fn entry(&self, site: &PublicSite, key: &str, body: bool) -> Result<Fetched, rustshare_store::Error> {
        let ck = key_of(&site.space.id, key);
        let cached = match self.cache.moka().get(&ck).await {
            Some(e) => match freshness::decide(&e.content, e.stored, self.clock.now(), self.lifetimes(site, key, &e)) {
                Decision::Fresh => return Ok((e, CacheResult::Hit, None)),
                d => Some((e, d)),
            },
            None => None,
        };
        // Boxed: the revalidation and fetch futures are many times the size of a hit's, and
        // every request's future is moved into place whole.
        Box::pin(self.refresh(site, key, ck, cached, body)).await
    }

    /// Whether `e` may stand in for a store that failed with `err`.
    fn stale_or(&self, site: &PublicSite, key: &str, e: &Entry, err: &dyn std::fmt::Display) -> bool {
        let ok = freshness::on_origin_error(e.stored, self.clock.now(), self.lifetimes(site, key, e)) == OnError::ServeStale;
        if ok {
            tracing::warn!("store unavailable, serving stale: {err}");
        }
        ok
    }

    /// The slow part of [`Self::entry`]: a stale entry revalidated (with the decision `entry`
    /// made), or a miss fetched.
    async fn refresh(
        &self,
        site: &PublicSite,
        key: &str,
        ck: String,
        cached: Option<(Arc<Entry>, Decision)>,
        body: bool,
    ) -> Result<Fetched, rustshare_store::Error> {
        let full = || format!("{}{key}", site.space.base_prefix);
        let mut stale = None;
        if let Some((e, decision)) = cached {
            if let (Decision::Revalidate, Some(m)) = (decision, e.meta()) {
                match self.store.head(&full()).await {
                    Ok(now) if now.etag == m.etag => {
                        let renewed = Arc::new(e.revalidated(self.clock.now()));
                        self.cache.moka().insert(ck, renewed.clone()).await;
                        return Ok((renewed, CacheResult::Revalidated, None));
                    }
                    Ok(_) | Err(rustshare_store::Error::NotFound) => {}
                    Err(err) if self.stale_or(site, key, &e, &err) => return Ok((e, CacheResult::Stale, None)),
                    Err(err) => return Err(err),
                }
            }
            self.cache.moka().invalidate(&ck).await;
            stale = Some(e);
        }
        let now = self.clock.now();
        if !body && stale.is_none() {
            // A HEAD that misses: the metadata is all it needs. Only a large object's entry
            // (which holds no bytes anyway) is kept; a small one is cached by the first GET.
            return match self.store.head(&full()).await {
                Ok(m) if m.size > self.cfg.max_object_bytes => {
                    let e = Arc::new(Entry::new(Content::MetaOnly(m), now));
                    self.cache.moka().insert(ck, e.clone()).await;
                    Ok((e, CacheResult::Miss, None))
                }
                Ok(m) => Ok((Arc::new(Entry::new(Content::MetaOnly(m), now)), CacheResult::Miss, None)),
                Err(rustshare_store::Error::NotFound) => Ok((Arc::new(Entry::new(Content::Absent, now)), CacheResult::Miss, None)),
                Err(e) => Err(e),
            };
        }
        // The read of a large object, for the request whose fetch made it.
        let opened: std::sync::Mutex<Option<rustshare_store::GetObject>> = std::sync::Mutex::new(None);
        let fetch = async {
            self.metrics.cdn_origin_fetch(&site.space.id);
            match self.store.get(&full(), None).await {
                Ok(g) if g.meta.size <= self.cfg.max_object_bytes => {
                    let mut buf = Vec::with_capacity(usize::try_from(g.meta.size).unwrap_or(0));
                    let mut body = g.body;
                    while let Some(chunk) = body.next().await {
                        buf.extend_from_slice(&chunk.map_err(rustshare_store::Error::Body)?);
                    }
                    Ok(Arc::new(Entry::new(Content::Whole(g.meta, Bytes::from(buf)), self.clock.now())))
                }
                // Too large to hold: remember the validators only; bytes stream per request,
                // this one's from the read already open.
                Ok(g) => {
                    let meta = g.meta.clone();
                    *opened.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(g);
                    Ok(Arc::new(Entry::new(Content::MetaOnly(meta), self.clock.now())))
                }
                Err(rustshare_store::Error::NotFound) => Ok(Arc::new(Entry::new(Content::Absent, self.clock.now()))),
                Err(e) => Err(e),
            }
        };
        match self.cache.moka().try_get_with(ck.clone(), fetch).await {
            Ok(e) => Ok((
                e,
                CacheResult::Miss,
                opened.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner),
            )),
            Err(err) => match stale {
                Some(s) if self.stale_or(site, key, &s, &err) => {
                    self.cache.moka().insert(ck, s.clone()).await;
                    Ok((s, CacheResult::Stale, None))
                }
                _ => Err(rustshare_store::Error::Backend(err.to_string())),
            },
        }
    }

    /// Serves one request.
    pub async fn handle<B>(&self, req: ::http::Request<B>) -> Resp {
        // The CDN face reads no request body; dropping it also tells HTTP/3 clients so.
        let (req, _) = req.into_parts();
        let method = req.method.clone();
        let mut resp = self.route(&req).await;
        if method == ::http::Method::HEAD {
            // Same headers as GET, no body.
            let (parts, _) = resp.into_parts();
            resp = ::http::Response::from_parts(parts, full_body(Bytes::new()));
        }
        resp
    }

    async fn route(&self, req: &Req) -> Resp {
        use ::http::Method;
        let m = &req.method;
        if m != Method::GET && m != Method::HEAD && m != Method::OPTIONS {
            let mut r = page(::http::StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
            r.headers_mut()
                .insert(::http::header::ALLOW, ::http::HeaderValue::from_static("GET, HEAD, OPTIONS"));
            return r;
        }
        let path = match http::parse_path(req.uri.path()) {
            Ok(p) => p,
            Err(http::PathError::NotFound) => return not_found(),
            Err(http::PathError::BadRequest) => return page(::http::StatusCode::BAD_REQUEST, "Bad Request"),
        };
        let site = match self.site(&path.site).await {
            Ok(Some(s)) => s,
            Ok(None) => return not_found(),
            Err(e) => {
                tracing::error!("looking up a public site: {e}");
                return page(::http::StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable");
            }
        };
        let origin = header(req, ::http::header::ORIGIN).and_then(|o| site.rules.cors_allow(o));
        let mut resp = if req.method == Method::OPTIONS {
            Self::preflight(req, &site, origin.as_deref())
        } else if path.key.is_empty() || path.key.ends_with('/') {
            Box::pin(self.directory(req, &site, &path.key)).await
        } else if !site.rules.publishes(&path.key) {
            not_found()
        } else {
            self.object(req, &site, &path.key).await
        };
        let h = resp.headers_mut();
        if !site.rules.cors_origins.is_empty() {
            h.append(::http::header::VARY, ::http::HeaderValue::from_static("Origin"));
        }
        if let Some(o) = origin {
            set(h, ::http::header::ACCESS_CONTROL_ALLOW_ORIGIN, &o);
            h.insert(
                ::http::header::ACCESS_CONTROL_EXPOSE_HEADERS,
                ::http::HeaderValue::from_static("Content-Length, Content-Range, ETag, Last-Modified, Age"),
            );
        }
        let sent = if req.method == Method::GET { content_length(&resp) } else { 0 };
        let status = resp.status().as_u16();
        self.metrics.cdn_request(&site.space.id, status, sent);
        self.log_access(
            req,
            &site,
            status,
            sent,
            resp.headers().get("x-cache").and_then(|v| v.to_str().ok()).unwrap_or(""),
        );
        resp
    }

    fn preflight(req: &Req, site: &PublicSite, origin: Option<&str>) -> Resp {
        let mut r = ::http::Response::new(full_body(Bytes::new()));
        *r.status_mut() = ::http::StatusCode::NO_CONTENT;
        let h = r.headers_mut();
        h.insert(::http::header::ALLOW, ::http::HeaderValue::from_static("GET, HEAD, OPTIONS"));
        let wanted = header(req, ::http::header::ACCESS_CONTROL_REQUEST_METHOD);
        if origin.is_some() && matches!(wanted, Some("GET" | "HEAD")) {
            h.insert(
                ::http::header::ACCESS_CONTROL_ALLOW_METHODS,
                ::http::HeaderValue::from_static("GET, HEAD"),
            );
            if let Some(rh) = req.headers.get(::http::header::ACCESS_CONTROL_REQUEST_HEADERS) {
                h.insert(::http::header::ACCESS_CONTROL_ALLOW_HEADERS, rh.clone());
            }
            h.insert(::http::header::ACCESS_CONTROL_MAX_AGE, ::http::HeaderValue::from_static("86400"));
        }
        let _ = site;
        r
    }

    async fn directory(&self, req: &Req, site: &PublicSite, dir: &str) -> Resp {
        let index = format!("{dir}index.html");
        if site.rules.publishes(&index)
            && let Ok((e, ..)) = self.entry(site, &index, false).await
            && e.meta().is_some()
        {
            return self.object(req, site, &index).await;
        }
        // Listing shows only what lies inside a published prefix, and only when enabled.
        let inside = site.rules.prefixes.iter().any(|p| dir.starts_with(p.as_str()));
        if !site.rules.directory_listing || !inside {
            return not_found();
        }
        let base = &site.space.base_prefix;
        let mut rows = String::new();
        let mut after = None;
        for _ in 0..10 {
            let page = match self
                .store
                .list(&ListRequest {
                    prefix: format!("{base}{dir}"),
                    delimiter: Some("/".into()),
                    start_after: after.clone(),
                    max_keys: 1000,
                })
                .await
            {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!("directory listing: {e}");
                    return page(::http::StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable");
                }
            };
            for cp in &page.common_prefixes {
                let name = cp.strip_prefix(base.as_str()).and_then(|k| k.strip_prefix(dir)).unwrap_or("");
                rows.push_str(&format!(
                    "<tr><td><a href=\"{0}\">{1}</a></td><td>-</td><td>-</td></tr>\n",
                    enc_href(name),
                    http::html_escape(name)
                ));
            }
            for e in &page.entries {
                let name = e.key.strip_prefix(base.as_str()).and_then(|k| k.strip_prefix(dir)).unwrap_or("");
                let date = httpdate::fmt_http_date(system_time(e.last_modified));
                rows.push_str(&format!(
                    "<tr><td><a href=\"{0}\">{1}</a></td><td>{2}</td><td>{date}</td></tr>\n",
                    enc_href(name),
                    http::html_escape(name),
                    e.size
                ));
            }
            if !page.is_truncated {
                break;
            }
            after = page.next_marker;
        }
        let title = http::html_escape(&format!("/{}/{dir}", site.rules.public_name));
        let page_html = format!(
            "<!doctype html><meta charset=utf-8><title>Index of {title}</title><h1>Index of {title}</h1>\n<table><tr><th>Name</th><th>Size</th><th>Last modified</th></tr>\n{rows}</table>\n"
        );
        html(page_html, "public, max-age=60")
    }

    /// Serves one object of `site` (for the packages face), counted in the metrics.
    pub(crate) async fn serve_object(&self, req: &Req, site: &PublicSite, key: &str) -> Resp {
        let resp = self.object(req, site, key).await;
        let sent = if req.method == ::http::Method::GET {
            content_length(&resp)
        } else {
            0
        };
        self.metrics.cdn_request(&site.space.id, resp.status().as_u16(), sent);
        resp
    }

    #[allow(clippy::too_many_lines)] // one RFC 9110 decision sequence; splitting it hides the order
    async fn object(&self, req: &Req, site: &PublicSite, key: &str) -> Resp {
        let head_only = req.method == ::http::Method::HEAD;
        let (entry, result, opened) = match self.entry(site, key, !head_only).await {
            Ok(x) => x,
            Err(e) => {
                tracing::error!("CDN origin read failed: {e}");
                return page(::http::StatusCode::BAD_GATEWAY, "Bad Gateway");
            }
        };
        self.metrics.cdn_cache(&site.space.id, result.label());
        let Some(meta) = entry.meta() else { return not_found() };
        let lm = system_time(meta.last_modified);
        let pre = entry.prebuilt.get_or_init(|| {
            let content_type = http::content_type(meta.attrs.content_type.as_deref(), key);
            cache::Prebuilt {
                etag: hv(&format!("\"{}\"", meta.etag)).unwrap_or_else(|| ::http::HeaderValue::from_static("\"\"")),
                last_modified: hv(&httpdate::fmt_http_date(lm)).unwrap_or_else(|| ::http::HeaderValue::from_static("")),
                content_type_value: hv(&content_type),
                content_type,
            }
        });
        let ctype = pre.content_type.as_str();
        if !site.rules.allows_type(ctype) {
            return not_found();
        }
        let range_header = header(req, ::http::header::RANGE);
        let compress = http::compressible(ctype) && meta.attrs.content_encoding.is_none() && entry.body().is_some() && meta.size >= 256;
        let coding = if compress && range_header.is_none() {
            http::negotiate(header(req, ::http::header::ACCEPT_ENCODING))
        } else {
            None
        };
        let rep_etag = match coding {
            Some(c) => format!("{}-{}", meta.etag, c.token()),
            None => meta.etag.clone(),
        };
        let mut r = ::http::Response::new(full_body(Bytes::new()));
        // Room for every header of a hit up front, instead of growing the map twice.
        *r.headers_mut() = ::http::HeaderMap::with_capacity(16);
        {
            let h = r.headers_mut();
            if coding.is_some() {
                set(h, ::http::header::ETAG, &format!("\"{rep_etag}\""));
            } else {
                h.insert(::http::header::ETAG, pre.etag.clone());
            }
            h.insert(::http::header::LAST_MODIFIED, pre.last_modified.clone());
            set(h, ::http::header::CACHE_CONTROL, site.rules.cache_control_for(key));
            h.insert(::http::header::ACCEPT_RANGES, ::http::HeaderValue::from_static("bytes"));
            h.insert("x-content-type-options", ::http::HeaderValue::from_static("nosniff"));
            if let Some(v) = &pre.content_type_value {
                h.insert(::http::header::CONTENT_TYPE, v.clone());
            }
            h.insert(::http::HeaderName::from_static("x-cache"), result.header_value());
            if result != CacheResult::Miss {
                h.insert(
                    ::http::header::AGE,
                    ::http::HeaderValue::from(freshness::age(entry.stored, self.clock.now())),
                );
            }
            if compress {
                h.insert(::http::header::VARY, ::http::HeaderValue::from_static("Accept-Encoding"));
            }
            if let Some(d) = &meta.attrs.content_disposition {
                set(h, ::http::header::CONTENT_DISPOSITION, d);
            }
            if let Some(e) = &meta.attrs.content_encoding {
                set(h, ::http::header::CONTENT_ENCODING, e);
            }
        }
        let v = Validators {
            if_match: header(req, ::http::header::IF_MATCH),
            if_none_match: header(req, ::http::header::IF_NONE_MATCH),
            if_modified_since: header(req, ::http::header::IF_MODIFIED_SINCE),
            if_unmodified_since: header(req, ::http::header::IF_UNMODIFIED_SINCE),
        };
        // If-None-Match may carry either representation's tag.
        let pre = match http::evaluate(&v, &rep_etag, lm) {
            Precondition::Proceed if coding.is_some() => match http::evaluate(
                &Validators {
                    if_match: None,
                    if_unmodified_since: None,
                    ..v
                },
                &meta.etag,
                lm,
            ) {
                Precondition::NotModified => Precondition::NotModified,
                _ => Precondition::Proceed,
            },
            p => p,
        };
        match pre {
            Precondition::NotModified => {
                *r.status_mut() = ::http::StatusCode::NOT_MODIFIED;
                r.headers_mut().remove(::http::header::CONTENT_TYPE);
                return r;
            }
            Precondition::Failed => {
                let mut f = page(::http::StatusCode::PRECONDITION_FAILED, "Precondition Failed");
                f.headers_mut()
                    .insert(::http::header::ETAG, r.headers()[::http::header::ETAG].clone());
                return f;
            }
            Precondition::Proceed => {}
        }
        let ranges = if http::if_range_holds(header(req, ::http::header::IF_RANGE), &meta.etag, lm) {
            http::parse_range(range_header, meta.size)
        } else {
            RangeReq::Full
        };
        match ranges {
            RangeReq::Unsatisfiable => {
                let mut u = page(::http::StatusCode::RANGE_NOT_SATISFIABLE, "Range Not Satisfiable");
                set(u.headers_mut(), ::http::header::CONTENT_RANGE, &format!("bytes */{}", meta.size));
                u
            }
            RangeReq::Ranges(rs) if rs.len() == 1 => {
                let (a, b) = rs[0];
                *r.status_mut() = ::http::StatusCode::PARTIAL_CONTENT;
                set(
                    r.headers_mut(),
                    ::http::header::CONTENT_RANGE,
                    &format!("bytes {a}-{b}/{}", meta.size),
                );
                let body = if head_only {
                    full_body(Bytes::new())
                } else {
                    self.slice(&entry, site, key, a, b).await
                };
                Self::finish(r, body, b - a + 1)
            }
            RangeReq::Ranges(rs) => {
                let boundary = format!("rs{}", &meta.etag.chars().take(16).collect::<String>());
                let mut parts: Vec<Body> = Vec::new();
                let mut total = 0u64;
                for (i, (a, b)) in rs.iter().copied().enumerate() {
                    let head = format!(
                        "{}--{boundary}\r\nContent-Type: {ctype}\r\nContent-Range: bytes {a}-{b}/{}\r\n\r\n",
                        if i == 0 { "" } else { "\r\n" },
                        meta.size
                    );
                    total += head.len() as u64 + (b - a + 1);
                    parts.push(full_body(head));
                    parts.push(if head_only {
                        full_body(Bytes::new())
                    } else {
                        self.slice(&entry, site, key, a, b).await
                    });
                }
                let tail = format!("\r\n--{boundary}--\r\n");
                total += tail.len() as u64;
                parts.push(full_body(tail));
                *r.status_mut() = ::http::StatusCode::PARTIAL_CONTENT;
                set(
                    r.headers_mut(),
                    ::http::header::CONTENT_TYPE,
                    &format!("multipart/byteranges; boundary={boundary}"),
                );
                Self::finish(r, concat(parts), total)
            }
            RangeReq::Full => match (coding, entry.body()) {
                (Some(c), Some(_)) => match entry.variant(c) {
                    Some(z) => {
                        set(r.headers_mut(), ::http::header::CONTENT_ENCODING, c.token());
                        let n = z.len() as u64;
                        Self::finish(r, full_body(z), n)
                    }
                    None => Self::finish(r, full_body(entry.body().cloned().unwrap_or_default()), meta.size),
                },
                (_, Some(b)) => {
                    let n = b.len() as u64;
                    Self::finish(r, full_body(b.clone()), n)
                }
                (_, None) => {
                    let body = match opened {
                        _ if head_only => full_body(Bytes::new()),
                        Some(g) if g.meta.etag == meta.etag && g.range.is_none() => stream_body(g.body),
                        _ => self.stream(site, key, None, meta).await,
                    };
                    Self::finish(r, body, meta.size)
                }
            },
        }
    }

    /// Bytes `a..=b`: from the cached body, else a ranged read of the store.
    async fn slice(&self, entry: &Entry, site: &PublicSite, key: &str, a: u64, b: u64) -> Body {
        match entry.body() {
            Some(body) => full_body(body.slice(usize::try_from(a).unwrap_or(0)..usize::try_from(b + 1).unwrap_or(0))),
            None => match entry.meta() {
                Some(m) => self.stream(site, key, Some(ByteRange::FromTo(a, b)), m).await,
                None => full_body(Bytes::new()),
            },
        }
    }

    async fn stream(&self, site: &PublicSite, key: &str, range: Option<ByteRange>, expect: &ObjectMeta) -> Body {
        let full = format!("{}{key}", site.space.base_prefix);
        match self.store.get(&full, range).await {
            // An overwrite since the entry was cached would splice two versions: refuse.
            Ok(g) if g.meta.etag == expect.etag => stream_body(g.body),
            Ok(_) => {
                // Every node that cached the old version finds out the same way.
                Box::pin(self.cache.forget(&site.space.id, key)).await;
                stream_body(Box::pin(futures::stream::once(async {
                    Err(std::io::Error::other("object changed while being served"))
                })))
            }
            Err(e) => stream_body(Box::pin(futures::stream::once(
                async move { Err(std::io::Error::other(e.to_string())) },
            ))),
        }
    }

    fn finish(mut r: Resp, body: Body, len: u64) -> Resp {
        r.headers_mut()
            .insert(::http::header::CONTENT_LENGTH, ::http::HeaderValue::from(len));
        *r.body_mut() = body;
        r
    }

    fn log_access(&self, req: &Req, site: &PublicSite, status: u16, bytes: u64, cache: &str) {
        use std::io::Write;
        let Some(f) = &self.access_log else { return };
        // The path only: query strings may carry signatures or tokens.
        let line = serde_json::json!({
            "ts": httpdate::fmt_http_date(SystemTime::now()),
            "site": site.rules.public_name,
            "method": req.method.as_str(),
            "path": req.uri.path(),
            "status": status,
            "bytes": bytes,
            "cache": cache,
            "user_agent": header(req, ::http::header::USER_AGENT),
        });
        let mut f = f.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = writeln!(f, "{line}");
    }
}

fn enc_href(name: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b'/');
    percent_encoding::utf8_percent_encode(name, SET).to_string()
}

fn concat(parts: Vec<Body>) -> Body {
    let frames = futures::stream::iter(parts).flat_map(http_body_util::BodyStream::new);
    http_body_util::StreamBody::new(frames).boxed_unsync()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A control with one published space (every key public), and a CDN on `store`.
    async fn published<S: ObjectStore>(
        store: Arc<S>,
        cfg: CdnConfig,
    ) -> (
        Arc<Cdn>,
        Control,
        rustshare_control::model::Space,
        rustshare_control::model::PublicationRules,
    ) {
        published_with(store, cfg, None, rustshare_control::clock::system()).await
    }

    async fn published_with<S: ObjectStore>(
        store: Arc<S>,
        cfg: CdnConfig,
        cache_control: Option<&str>,
        clock: Arc<dyn Clock>,
    ) -> (
        Arc<Cdn>,
        Control,
        rustshare_control::model::Space,
        rustshare_control::model::PublicationRules,
    ) {
        let control = Control::with_clock(
            Arc::new(rustshare_control::db::SqliteRepo::in_memory().expect("db")),
            rustshare_control::seal::MasterKey::generate(),
            clock,
        );
        let tok = control.bootstrap_operator(None).await.expect("bootstrap").expect("token");
        let p = control.authenticate(&tok).await.expect("operator");
        control.create_tenant(&p, "t").await.expect("tenant");
        let space = control
            .create_space(
                &p,
                rustshare_control::NewSpace {
                    tenant: Some("t".into()),
                    name: "www".into(),
                    purpose: None,
                    visibility: None,
                    quota_bytes: None,
                    workspace_id: None,
                },
            )
            .await
            .expect("space");
        let input = rustshare_control::PublicationInput {
            prefixes: Some(vec![String::new()]),
            cache_control: cache_control.map(str::to_owned),
            ..Default::default()
        };
        let (_, rules) = control.enable_publication(&p, &space.id, input).await.expect("publish");
        let cdn = Arc::new(Cdn::new(store, control.clone(), Metrics::new(), cfg).expect("cdn"));
        (cdn, control, space, rules)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_requests_share_one_site_lookup() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Arc::new(rustshare_store::FsStore::open_sync(dir.path().to_path_buf()).expect("store"));
        let (cdn, _control, space, rules) = published(store, CdnConfig::default()).await;
        // The control cache is empty for this name (as after its entry expired); every request
        // arriving meanwhile waits on one lookup.
        let mut tasks = Vec::new();
        for _ in 0..64 {
            let cdn = cdn.clone();
            let name = rules.public_name.clone();
            tasks.push(tokio::spawn(async move { cdn.site(&name).await }));
        }
        for t in tasks {
            let site = t.await.expect("task").expect("lookup").expect("published");
            assert_eq!(site.space.id, space.id);
        }
        let started = cdn.site_lookups.started.load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(started, 1, "lookups for 64 concurrent requests");
        cdn.site_lookups.in_flight.run_pending_tasks().await;
        assert_eq!(cdn.site_lookups.in_flight.entry_count(), 0, "finished lookups are removed");
        // An unknown name is looked up too, and remembered as absent.
        assert!(cdn.site("nope").await.expect("lookup").is_none());
    }

    /// The store is asked only what each request needs: a HEAD asks for metadata and never opens
    /// a read; a GET that misses on an object too large to cache reads it once and streams that
    /// read; a small object's HEAD miss leaves the caching to its first GET.
    #[tokio::test]
    async fn large_objects_cost_the_store_one_request_each() {
        use http_body_util::BodyExt as _;
        let dir = tempfile::tempdir().expect("dir");
        let fs = rustshare_store::FsStore::open_sync(dir.path().to_path_buf()).expect("store");
        let store = Arc::new(rustshare_store::Counted::new(fs));
        let cfg = CdnConfig {
            max_object_bytes: 1024,
            ..CdnConfig::default()
        };
        let (cdn, _control, space, rules) = published(store.clone(), cfg).await;
        let put = |key: &str, n: usize| {
            let store = store.clone();
            let key = format!("{}{key}", space.base_prefix);
            async move {
                let data = Bytes::from(vec![b'x'; n]);
                let body: rustshare_store::ByteStream = Box::pin(futures::stream::once(async move { Ok(data) }));
                store
                    .put(&key, body, Some(n as u64), rustshare_store::ObjectAttrs::default())
                    .await
                    .expect("put");
            }
        };
        put("big.bin", 4096).await;
        put("big2.bin", 4096).await;
        put("small.txt", 100).await;
        let call = |method: ::http::Method, key: &str| {
            let cdn = cdn.clone();
            let uri = format!("/{}/{key}", rules.public_name);
            async move {
                let req = ::http::Request::builder().method(method).uri(uri).body(()).expect("request");
                let resp = cdn.handle(req).await;
                let status = resp.status();
                let len = resp.headers().get(::http::header::CONTENT_LENGTH).cloned();
                let body = resp.into_body().collect().await.expect("body").to_bytes();
                (status, len.and_then(|v| v.to_str().ok().map(str::to_owned)), body.len())
            }
        };
        let reads = || store.counts.reads();
        let base = reads();
        let since = |b: (u64, u64, u64)| {
            let n = reads();
            (n.0 - b.0, n.1 - b.1, n.2 - b.2)
        };

        // HEAD of a large object, a miss then a hit: one metadata read, no object read.
        let r = call(::http::Method::HEAD, "big.bin").await;
        assert_eq!(r, (::http::StatusCode::OK, Some("4096".into()), 0));
        assert_eq!(since(base), (0, 0, 1), "(get, ranged get, head) for a HEAD miss");
        let b = reads();
        call(::http::Method::HEAD, "big.bin").await;
        assert_eq!(since(b), (0, 0, 0), "a HEAD hit asks the store nothing");

        // GET that misses on a large object: one read, streamed whole.
        let b = reads();
        let r = call(::http::Method::GET, "big2.bin").await;
        assert_eq!(r, (::http::StatusCode::OK, Some("4096".into()), 4096));
        assert_eq!(since(b), (1, 0, 0), "one read for a large miss");
        // Afterwards each GET streams its own read, and a HEAD reads nothing.
        let b = reads();
        assert_eq!(call(::http::Method::GET, "big2.bin").await.2, 4096);
        call(::http::Method::HEAD, "big2.bin").await;
        assert_eq!(since(b), (1, 0, 0));

        // A small object: HEAD miss is one metadata read; the GET reads and caches it.
        let b = reads();
        assert_eq!(call(::http::Method::HEAD, "small.txt").await.1.as_deref(), Some("100"));
        assert_eq!(call(::http::Method::GET, "small.txt").await.2, 100);
        call(::http::Method::GET, "small.txt").await;
        call(::http::Method::HEAD, "small.txt").await;
        assert_eq!(since(b), (1, 0, 1), "small: one HEAD, one GET, then hits");
    }

    /// Freshness, revalidation, the Age header and negative caching follow the CDN's clock: the
    /// end-to-end tests used to sleep past a one-second max-age for each of these.
    #[tokio::test]
    async fn freshness_follows_the_injected_clock() {
        let dir = tempfile::tempdir().expect("dir");
        let fs = rustshare_store::FsStore::open_sync(dir.path().to_path_buf()).expect("store");
        let store = Arc::new(rustshare_store::Counted::new(fs));
        let clock = rustshare_control::clock::ManualClock::new();
        let cfg = CdnConfig {
            negative_ttl: Duration::from_secs(10),
            ..CdnConfig::default()
        };
        let (cdn, _control, space, rules) = published_with(store.clone(), cfg, Some("public, max-age=60"), clock.clone()).await;
        let put = |key: &str, data: &'static [u8]| {
            let store = store.clone();
            let key = format!("{}{key}", space.base_prefix);
            async move {
                let body: rustshare_store::ByteStream = Box::pin(futures::stream::once(async move { Ok(Bytes::from_static(data)) }));
                store
                    .put(&key, body, Some(data.len() as u64), rustshare_store::ObjectAttrs::default())
                    .await
                    .expect("put");
            }
        };
        let get = |key: &str| {
            let cdn = cdn.clone();
            let uri = format!("/{}/{key}", rules.public_name);
            async move {
                let req = ::http::Request::get(uri).body(()).expect("request");
                let resp = cdn.handle(req).await;
                let h = |n: &str| resp.headers().get(n).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                (resp.status().as_u16(), h("x-cache"), h("age"))
            }
        };
        let s = Duration::from_secs;
        put("a.txt", b"one").await;
        assert_eq!(get("a.txt").await, (200, "MISS".into(), String::new()), "a miss has no Age");
        clock.advance(s(30));
        assert_eq!(get("a.txt").await, (200, "HIT".into(), "30".into()));
        clock.advance(s(29));
        assert_eq!(get("a.txt").await, (200, "HIT".into(), "59".into()));
        // Past max-age: one metadata read confirms the copy, and its age starts again.
        let before = store.counts.reads();
        clock.advance(s(1));
        assert_eq!(get("a.txt").await, (200, "REVALIDATED".into(), "0".into()));
        let after = store.counts.reads();
        assert_eq!((after.0 - before.0, after.2 - before.2), (0, 1), "(gets, heads) to revalidate");
        clock.advance(s(5));
        assert_eq!(get("a.txt").await, (200, "HIT".into(), "5".into()));

        // A 404 is remembered for the negative TTL, then asked again.
        assert_eq!(get("later.txt").await.0, 404);
        put("later.txt", b"here").await;
        clock.advance(s(9));
        assert_eq!(get("later.txt").await.0, 404, "still inside the negative TTL");
        clock.advance(s(1));
        assert_eq!(get("later.txt").await, (200, "MISS".into(), String::new()));
    }
}
