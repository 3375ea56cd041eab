//! The front router: host-based faces, health, metrics, the request log line and the headers
//! every response gets. Everything after routing is a face's business; the listeners (`listen`)
//! hand requests here through `listen::Handler`.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::BodyExt;
use rustshare_control::Control;
use rustshare_store::ObjectStore;
use tower::ServiceExt;
use tracing::Instrument;

use crate::face::s3::RequestInfo;
use crate::metrics::Metrics;
use crate::wire::{Body, BoxError, full, request_id};

/// Which face a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Face {
    /// Authenticated S3 (also any unknown host).
    S3,
    /// Public CDN.
    Cdn,
    /// apt repositories.
    Packages,
    /// Console and control API.
    Console,
}

impl Face {
    fn label(self) -> &'static str {
        match self {
            Face::S3 => "s3",
            Face::Cdn => "cdn",
            Face::Packages => "packages",
            Face::Console => "console",
        }
    }
}

/// Picks the face from the Host (or the absolute-form URI's authority), port ignored.
#[must_use]
pub fn face_for(host: Option<&str>, domain: &str) -> Face {
    let Some(h) = host else { return Face::S3 };
    let name = h
        .rsplit_once(':')
        .filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()))
        .map_or(h, |(n, _)| n);
    // Compared without lowercasing into a new string: this runs on every request.
    let Some(label) = name
        .len()
        .checked_sub(domain.len() + 1)
        .filter(|&cut| name.as_bytes().get(cut) == Some(&b'.') && name.get(cut + 1..).is_some_and(|d| d.eq_ignore_ascii_case(domain)))
        .and_then(|cut| name.get(..cut))
    else {
        return Face::S3;
    };
    [("cdn", Face::Cdn), ("packages", Face::Packages), ("console", Face::Console)]
        .into_iter()
        .find(|(l, _)| label.eq_ignore_ascii_case(l))
        .map_or(Face::S3, |(_, f)| f)
}

/// The handler a request goes to.
#[derive(Debug, Clone, Copy)]
enum Route {
    Healthz,
    Readyz,
    Metrics,
    Api,
    Cdn,
    Packages,
    Registry,
    Console,
    Insecure,
    BadHost,
    S3,
}

/// Everything a request can reach.
pub struct App {
    /// Control service.
    pub control: Control,
    /// Object store.
    pub store: Arc<dyn ObjectStore>,
    /// Metrics.
    pub metrics: Metrics,
    /// The S3 face.
    pub s3: s3s::service::S3Service,
    /// The control API.
    pub api: axum::Router,
    /// Domain for host routing.
    pub domain: String,
    /// The CDN face.
    pub cdn: Arc<crate::face::cdn::Cdn>,
    /// The packages face.
    pub packages: Arc<crate::face::packages::Packages>,
    /// `production` mode: the S3 face refuses plain HTTP.
    pub s3_requires_tls: bool,
    /// `Alt-Svc` value advertising HTTP/3 on TLS responses.
    pub alt_svc: Option<HeaderValue>,
    /// `/v2/...`: the registry front.
    pub registry: crate::face::registry::RegistryFront,
    /// The S3 region signatures must be scoped to.
    pub region: String,
    /// Which requests get an INFO line.
    pub request_log: crate::config::RequestLog,
}

impl App {
    /// Whether this request gets an INFO line: under load one line per request is most of the
    /// process's IO, so operators can sample or turn them off (server errors are always logged).
    fn log_request(&self, status: u16) -> bool {
        use std::sync::atomic::{AtomicU64, Ordering};
        static SEEN: AtomicU64 = AtomicU64::new(0);
        match self.request_log {
            crate::config::RequestLog::All => true,
            _ if status >= 500 => true,
            crate::config::RequestLog::Off => false,
            crate::config::RequestLog::Sampled(n) => SEEN.fetch_add(1, Ordering::Relaxed).is_multiple_of(n.max(1)),
        }
    }

    async fn ready(&self) -> Response<Body> {
        let store = self.store.health().await;
        let db_ok = self.control.ping().await.is_ok();
        if let Err(e) = &store {
            tracing::warn!("readiness: store: {e}");
        }
        let body =
            serde_json::json!({"store": if store.is_ok() {"ok"} else {"unavailable"}, "database": if db_ok {"ok"} else {"unavailable"}});
        let status = if store.is_ok() && db_ok {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        full(status, "application/json", body.to_string())
    }

    /// Where a request goes, decided from borrowed parts so the hot path copies nothing.
    fn route<B>(&self, face: Face, req: &Request<B>, tls: bool) -> Route {
        match (face, req.uri().path()) {
            (_, "/healthz") => Route::Healthz,
            (_, "/readyz") => Route::Readyz,
            (_, "/metrics") => Route::Metrics,
            (Face::S3 | Face::Console, p) if p.starts_with("/api/") || p.starts_with("/registry/") => Route::Api,
            (Face::Cdn, _) => Route::Cdn,
            (Face::Packages, _) => Route::Packages,
            // No bucket is named `v2` (ours start with `rs-`), so the registry API can sit
            // beside S3 on the same address.
            (Face::S3 | Face::Console, p) if p == "/v2" || p.starts_with("/v2/") => Route::Registry,
            (Face::Console, _) => Route::Console,
            (Face::S3, p) if crate::face::console::is_asset_path(p) || crate::face::console::is_browser_navigation(req) => Route::Console,
            (Face::S3, _) if self.s3_requires_tls && !tls => Route::Insecure,
            (Face::S3, _) => Route::S3,
        }
    }

    /// Handles one request from any listener (HTTP/1.1, HTTP/2, HTTP/3; `tls` when encrypted).
    pub async fn serve_request<B>(self: Arc<Self>, mut req: Request<B>, peer: SocketAddr, tls: bool) -> Response<Body>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let t0 = Instant::now();
        let rid = request_id(&req);
        let host = req.headers().get(http::header::HOST).and_then(|v| v.to_str().ok());
        let face = face_for(
            host.or_else(|| req.uri().authority().map(http::uri::Authority::as_str)),
            &self.domain,
        );
        let span = tracing::info_span!("request", request_id = %rid, method = %req.method(), face = face.label());
        let head = req.method() == http::Method::HEAD;
        let expects_continue = req.version() <= http::Version::HTTP_11
            && req
                .headers()
                .get(http::header::EXPECT)
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        // Two Host headers make the face a matter of which one a component reads (RFC 9112
        // requires a 400).
        let route = if req.headers().get_all(http::header::HOST).iter().nth(1).is_some() {
            Route::BadHost
        } else {
            self.route(face, &req, tls)
        };
        // Every face but the CDN is boxed: hyper moves the request future into place, and the
        // S3 and API futures are several times the size of the CDN's.
        let (mut resp, op): (Response<Body>, Cow<'static, str>) = async {
            match route {
                Route::Healthz => (full(StatusCode::OK, "text/plain", "ok\n"), "healthz".into()),
                Route::Readyz => (Box::pin(self.ready()).await, "readyz".into()),
                Route::Metrics => (
                    full(StatusCode::OK, "text/plain; version=0.0.4", self.metrics.render()),
                    "metrics".into(),
                ),
                Route::Api => {
                    req.extensions_mut().insert(crate::api::extract::Transport { tls });
                    // The console's object calls run on the S3 face and audit with these.
                    req.extensions_mut().insert(RequestInfo::new(rid.clone(), Some(peer.ip())));
                    (Box::pin(self.api(req)).await, "api".into())
                }
                Route::Cdn => (self.cdn.handle(req).await, "cdn".into()),
                Route::Packages => (Box::pin(self.packages.handle(req)).await, "packages".into()),
                Route::Registry => (Box::pin(self.registry.handle(req, tls)).await, "registry".into()),
                Route::Console => (crate::face::console::page(&req), "console".into()),
                Route::Insecure => (
                    full(StatusCode::FORBIDDEN, "application/xml", "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>InsecureTransport</Code><Message>This endpoint accepts S3 requests over HTTPS only.</Message></Error>"),
                    "insecure".into(),
                ),
                Route::BadHost => (
                    full(StatusCode::BAD_REQUEST, "text/plain", "A request must carry exactly one Host header.\n"),
                    "bad-host".into(),
                ),
                Route::S3 => Box::pin(self.s3(req, RequestInfo::new(rid.clone(), Some(peer.ip())))).await,
            }
        }
        .instrument(span.clone())
        .await;
        if head {
            // HTTP/2 and HTTP/3 forbid a body on HEAD; hyper strips it only on HTTP/1.
            *resp.body_mut() = crate::wire::empty_body();
        }
        if expects_continue && (resp.status().is_client_error() || resp.status().is_server_error()) {
            // Refused before its body was read: the client holds the body back, and hyper may
            // still drain the announced length from the connection after the answer, which then
            // eats the start of the client's next request on it (boto3 saw 403s without headers
            // and SignatureDoesNotMatch on the request after a refused PUT). A fresh connection
            // for the next request is the cure.
            resp.headers_mut()
                .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
        }
        if tls && let Some(v) = &self.alt_svc {
            resp.headers_mut().insert(http::header::ALT_SVC, v.clone());
        }
        if let Ok(v) = HeaderValue::from_str(&rid) {
            if face == Face::S3 {
                resp.headers_mut().insert("x-amz-request-id", v.clone());
            }
            resp.headers_mut().insert("x-request-id", v);
        }
        let status = resp.status().as_u16();
        let secs = t0.elapsed().as_secs_f64();
        self.metrics.request(face.label(), &op, status, secs);
        // Object keys and access keys stay out of logs: the operation and status say enough,
        // and the audit log has the detail for those allowed to see it.
        if self.log_request(status) {
            span.in_scope(|| tracing::info!(op = %op, status, ms = secs * 1000.0, "served"));
        }
        resp
    }

    /// The S3 face, with bucket CORS around it: preflights are answered from the bucket's rules
    /// without a credential, and a browser's actual requests (those with an Origin) get the
    /// headers of the rule that allows them, errors included, so the page can read why.
    async fn s3<B>(&self, req: Request<B>, info: RequestInfo) -> (Response<Body>, Cow<'static, str>)
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        use crate::face::s3::cors;
        if cors::is_preflight(req.method()) {
            info.set_op("PreflightCors");
            return (
                cors::preflight(&self.control, req.uri().path(), req.headers()).await,
                "PreflightCors".into(),
            );
        }
        let browser = req
            .headers()
            .get(http::header::ORIGIN)
            .and_then(|o| o.to_str().ok())
            .map(|o| (o.to_owned(), req.method().clone(), req.uri().path().to_owned()));
        let (mut resp, op) = self.s3_signed(req, info).await;
        if let Some((origin, method, path)) = browser {
            cors::apply(&self.control, &method, &path, &origin, &mut resp).await;
        }
        (resp, op)
    }

    async fn s3_signed<B>(&self, mut req: Request<B>, info: RequestInfo) -> (Response<Body>, Cow<'static, str>)
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        crate::face::s3::date_as_amz_date(req.headers_mut());
        if let Err(e) = crate::face::s3::precheck(req.method(), req.headers(), req.uri(), &self.region) {
            info.set_op("Refused");
            let resp = match e.to_http_response() {
                Ok(r) => s3_response(r, &info.request_id),
                Err(_) => full(StatusCode::BAD_REQUEST, "text/plain", "bad request\n"),
            };
            return (resp, Cow::Borrowed("refused"));
        }
        let info = if crate::face::s3::unsized_put(req.method(), req.headers()) {
            req.headers_mut()
                .insert(http::header::CONTENT_LENGTH, HeaderValue::from_static("0"));
            info.with_unsized_body()
        } else {
            info
        };
        req.extensions_mut().insert(info.clone());
        let body = if crate::face::s3::post::is_form(req.method(), req.headers()) {
            let (mut parts, b) = req.into_parts();
            let (b, file) = crate::face::s3::post::sniff(Box::pin(b));
            parts.extensions.insert(file);
            Request::from_parts(parts, s3s::Body::http_body_unsync(b.map_err(Into::into)))
        } else {
            req.map(|b| s3s::Body::http_body_unsync(b.map_err(Into::into)))
        };
        let r = self.s3.call(body).await;
        let resp = match r {
            Ok(r) => s3_response(r, &info.request_id),
            Err(e) => {
                tracing::error!("s3 service error: {e:?}");
                full(StatusCode::INTERNAL_SERVER_ERROR, "text/plain", "internal error\n")
            }
        };
        (resp, Cow::Owned(info.op().unwrap_or("unknown").to_owned()))
    }

    async fn api<B>(&self, req: Request<B>) -> Response<Body>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        match self.api.clone().oneshot(req).await {
            Ok(r) => r.map(|b| {
                b.map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
                    .boxed_unsync()
            }),
            Err(never) => match never {},
        }
    }
}

/// An S3 response as the listeners send it; an error document gets the request's id.
fn s3_response(r: Response<s3s::Body>, request_id: &str) -> Response<Body> {
    let (mut parts, body) = r.into_parts();
    if parts.status.as_u16() >= 400
        && let Some(b) = body.bytes().and_then(|b| crate::face::s3::errors::with_request_id(&b, request_id))
    {
        if parts.headers.contains_key(http::header::CONTENT_LENGTH) {
            parts.headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(b.len()));
        }
        return Response::from_parts(parts, crate::wire::full_body(b));
    }
    Response::from_parts(parts, body.boxed_unsync())
}

impl crate::listen::Handler for App {
    fn handle<B>(self: Arc<Self>, req: Request<B>, peer: SocketAddr, tls: bool) -> impl std::future::Future<Output = Response<Body>> + Send
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        self.serve_request(req, peer, tls)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_pick_faces() {
        assert_eq!(face_for(Some("cdn.localhost:8080"), "localhost"), Face::Cdn);
        assert_eq!(face_for(Some("packages.example.com"), "example.com"), Face::Packages);
        assert_eq!(face_for(Some("CONSOLE.example.com"), "example.com"), Face::Console);
        assert_eq!(face_for(Some("s3.localhost"), "localhost"), Face::S3);
        assert_eq!(face_for(Some("127.0.0.1:8080"), "localhost"), Face::S3);
        assert_eq!(face_for(Some("cdn.other.com"), "localhost"), Face::S3);
        assert_eq!(face_for(Some("evilcdn.localhost"), "localhost"), Face::S3);
        assert_eq!(face_for(None, "localhost"), Face::S3);
        assert_eq!(face_for(Some("Cdn.LocalHost:80"), "localhost"), Face::Cdn);
        assert_eq!(face_for(Some(".localhost"), "localhost"), Face::S3);
        assert_eq!(face_for(Some("cdnlocalhost"), "localhost"), Face::S3);
        assert_eq!(face_for(Some("é.localhost"), "localhost"), Face::S3);
    }
}
