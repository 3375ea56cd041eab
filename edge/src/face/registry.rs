//! The registry front: `/v2/...` on the edge, forwarded to the Distribution instance serving
//! the namespace named by the path. It exists for what Distribution cannot do itself: refuse a
//! blob upload that would exceed the namespace's quota with a message the client shows
//! (Distribution turns a storage refusal into "blob upload invalid").

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use rustshare_control::Control;
use serde_json::json;

use crate::wire::Body;

type Upstream = Client<HttpConnector, Body>;

/// Forwards registry requests.
pub struct RegistryFront {
    control: Control,
    client: Upstream,
    realm: String,
}

/// Headers that belong to one connection, not to the request.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

fn full(status: StatusCode, body: &serde_json::Value) -> Response<Body> {
    let mut r = Response::new(crate::wire::full_body(body.to_string()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r.headers_mut()
        .insert("docker-distribution-api-version", HeaderValue::from_static("registry/2.0"));
    r
}

fn error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    full(status, &json!({"errors": [{"code": code, "message": message}]}))
}

/// The namespace of a `/v2/<namespace>/<repository>/...` path.
#[must_use]
pub fn namespace_of(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/v2/")?;
    let (ns, more) = rest.split_once('/')?;
    (!ns.is_empty() && !more.is_empty() && ns != "_catalog").then_some(ns)
}

/// Whether the request sends blob data (a chunk or the final part of an upload).
fn is_blob_upload(method: &Method, path: &str) -> bool {
    matches!(*method, Method::PATCH | Method::PUT | Method::POST) && path.contains("/blobs/uploads/")
}

/// The quota message, if `incoming` more bytes would exceed it.
#[must_use]
pub fn over_quota(ns: &str, used: u64, quota: u64, incoming: u64) -> Option<String> {
    (used.saturating_add(incoming) > quota).then(|| {
        format!(
            "namespace {ns} is over its quota: this upload of {incoming} bytes would bring it to {} of {quota} bytes; delete tags (rustshare registry retention) or raise the quota",
            used.saturating_add(incoming)
        )
    })
}

/// The most of a refused upload read and dropped before answering.
const DRAIN_LIMIT: u64 = 1 << 30;

/// Reads and drops a body; false if it was longer than `limit` or failed.
async fn drain<B>(body: B, limit: u64) -> bool
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
{
    let mut body = std::pin::pin!(body);
    let mut seen = 0u64;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(f) => {
                seen += f.data_ref().map_or(0, |d| d.len() as u64);
                if seen > limit {
                    return false;
                }
            }
            Err(_) => return false,
        }
    }
    true
}

impl RegistryFront {
    /// `realm`: our token endpoint.
    #[must_use]
    pub fn new(control: Control, realm: String) -> Self {
        Self {
            control,
            client: Client::builder(hyper_util::rt::TokioExecutor::new()).build(HttpConnector::new()),
            realm,
        }
    }

    /// Serves one `/v2/...` request.
    pub async fn handle<B>(&self, req: Request<B>, tls: bool) -> Response<Body>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let path = req.uri().path().to_owned();
        if path == "/v2" || path == "/v2/" {
            // The API version check: clients learn where to get tokens here.
            if req.headers().contains_key(header::AUTHORIZATION) {
                return full(StatusCode::OK, &json!({}));
            }
            let mut r = error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "authentication required");
            if let Ok(v) = HeaderValue::from_str(&format!(
                "Bearer realm=\"{}\",service=\"{}\"",
                self.realm,
                rustshare_registry_bridge::SERVICE
            )) {
                r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
            return r;
        }
        let Some(ns_name) = namespace_of(&path).map(str::to_owned) else {
            return error(StatusCode::NOT_FOUND, "NAME_UNKNOWN", "use /v2/<namespace>/<repository>/...");
        };
        let looked = async {
            let Some(ns) = self.control.namespace_for_token(&ns_name).await? else {
                return Ok(None);
            };
            let quota = self.control.namespace_quota(&ns).await?;
            Ok::<_, rustshare_control::Error>(Some((ns, quota)))
        }
        .await;
        let (ns, quota) = match looked {
            Ok(Some(v)) => v,
            Ok(None) => return error(StatusCode::NOT_FOUND, "NAME_UNKNOWN", "no such namespace"),
            _ => {
                return error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "UNAVAILABLE",
                    "the control database is unavailable",
                );
            }
        };
        let Some(upstream) = ns.upstream.clone() else {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "UNAVAILABLE",
                &format!("namespace {ns_name} has no registry yet (rustshare registry config)"),
            );
        };
        if is_blob_upload(req.method(), &path)
            && let Some((used, limit)) = quota
        {
            let incoming = req
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
            if let Some(msg) = over_quota(&ns_name, used, limit, incoming) {
                self.control
                    .audit_registry(&ns, "registry-front", "registry.upload", "QuotaExceeded", Some(msg.clone()));
                // Clients write the whole body before they read an answer (Go's does): read and
                // drop it, so they see the refusal instead of a broken pipe. Nothing is stored.
                let drained = drain(req.into_body(), DRAIN_LIMIT).await;
                let mut r = error(StatusCode::FORBIDDEN, "DENIED", &msg);
                if !drained {
                    r.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
                }
                return r;
            }
        }
        let (mut parts, body) = req.into_parts();
        let pq = parts
            .uri
            .path_and_query()
            .map_or(path.as_str(), http::uri::PathAndQuery::as_str)
            .to_owned();
        let Ok(uri) = format!("{upstream}{pq}").parse::<http::Uri>() else {
            return error(
                StatusCode::BAD_GATEWAY,
                "UNAVAILABLE",
                "the namespace's registry address is not a URL",
            );
        };
        parts.uri = uri;
        parts.version = http::Version::HTTP_11;
        for h in HOP_BY_HOP {
            parts.headers.remove(h);
        }
        // Distribution builds Location URLs from these, so clients come back through the front.
        if let Some(host) = parts.headers.get(header::HOST).cloned() {
            parts.headers.insert("x-forwarded-host", host);
        }
        parts
            .headers
            .insert("x-forwarded-proto", HeaderValue::from_static(if tls { "https" } else { "http" }));
        let body: Body = body.map_err(Into::into).boxed_unsync();
        match self.client.request(Request::from_parts(parts, body)).await {
            Ok(resp) => resp.map(|b| {
                b.map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
                    .boxed_unsync()
            }),
            Err(e) => {
                tracing::warn!("registry front: upstream of {ns_name}: {e}");
                error(StatusCode::BAD_GATEWAY, "UNAVAILABLE", "the namespace's registry did not answer")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_from_paths() {
        assert_eq!(namespace_of("/v2/kubedo/app/blobs/uploads/"), Some("kubedo"));
        assert_eq!(namespace_of("/v2/kubedo/a/b/manifests/1.0"), Some("kubedo"));
        assert_eq!(namespace_of("/v2/_catalog"), None);
        assert_eq!(namespace_of("/v2/kubedo"), None);
        assert_eq!(namespace_of("/v2/"), None);
        assert_eq!(namespace_of("/other"), None);
    }

    #[test]
    fn uploads_beyond_the_quota_are_refused_with_a_message() {
        assert!(over_quota("k", 10, 100, 90).is_none());
        let m = over_quota("k", 10, 100, 91).expect("refused");
        assert!(m.contains("namespace k is over its quota") && m.contains("101 of 100"));
        assert!(is_blob_upload(&Method::PATCH, "/v2/k/app/blobs/uploads/abc"));
        assert!(!is_blob_upload(&Method::GET, "/v2/k/app/blobs/uploads/abc"));
        assert!(!is_blob_upload(&Method::PUT, "/v2/k/app/manifests/1.0"));
    }
}
