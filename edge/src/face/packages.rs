//! The packages face: `packages.<domain>/<repo>/...` for apt clients. The publisher says which
//! object a path means; the CDN face's object path serves it (conditional requests, ranges,
//! the cache), with immutable caching for pool and by-hash files.

use std::sync::Arc;

use rustshare_control::model::{PublicationRules, Purpose, Repository, Space, Visibility};
use rustshare_control::{Control, PublicSite};
use rustshare_publisher::{Publisher, Resolved};

use crate::face::cdn::{self, Cdn};
use crate::wire::Body;

type Resp = ::http::Response<Body>;

/// The packages face.
pub struct Packages {
    publisher: Publisher,
    control: Control,
    cdn: Arc<Cdn>,
    /// Cache-Control of Release, InRelease and Packages files.
    index_cache_control: String,
    /// Base URL shown on repository pages.
    base_url: String,
}

/// The edge cache's site id for a repository's files: a namespace no real space id can take.
#[must_use]
pub fn site_id(repo: &str) -> String {
    format!("repo:{repo}")
}

impl Packages {
    /// A packages face; index files get `max-age=<index_max_age>`.
    #[must_use]
    pub fn new(publisher: Publisher, control: Control, cdn: Arc<Cdn>, index_max_age: u32, base_url: String) -> Self {
        Self {
            publisher,
            control,
            cdn,
            index_cache_control: format!("public, max-age={index_max_age}"),
            base_url,
        }
    }

    /// The publisher, for the API.
    #[must_use]
    pub fn publisher(&self) -> &Publisher {
        &self.publisher
    }

    fn site(&self, repo: &Repository) -> PublicSite {
        let space = Space {
            // A namespace of the edge cache no real space id can take.
            id: site_id(&repo.name),
            tenant_id: repo.tenant_id.clone(),
            workspace_id: None,
            name: repo.name.clone(),
            bucket: String::new(),
            base_prefix: rustshare_publisher::root(repo),
            visibility: Visibility::Public,
            purpose: Purpose::Packages,
            quota_bytes: None,
            created_by: String::new(),
            created_at: repo.created_at,
            disabled_at: None,
            versioning: rustshare_control::model::Versioning::Unversioned,
            object_lock: None,
        };
        let mut rules = PublicationRules::defaults(&repo.name);
        rules.cache_control.clone_from(&self.index_cache_control);
        rules.immutable_prefixes = vec!["pool/".into(), "by-hash/".into()];
        PublicSite::new(space, rules)
    }

    /// Serves one request.
    pub async fn handle<B>(&self, req: ::http::Request<B>) -> Resp {
        let (req, _) = req.into_parts();
        let mut resp = self.route(&req).await;
        if req.method == ::http::Method::HEAD {
            let (parts, _) = resp.into_parts();
            resp = ::http::Response::from_parts(parts, crate::wire::empty_body());
        }
        resp
    }

    async fn route(&self, req: &::http::request::Parts) -> Resp {
        use ::http::Method;
        if req.method != Method::GET && req.method != Method::HEAD {
            let mut r = cdn::page(::http::StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
            r.headers_mut()
                .insert(::http::header::ALLOW, ::http::HeaderValue::from_static("GET, HEAD"));
            return r;
        }
        let path = match cdn::http::parse_path(req.uri.path()) {
            Ok(p) => p,
            Err(cdn::http::PathError::NotFound) => return cdn::not_found(),
            Err(cdn::http::PathError::BadRequest) => return cdn::page(::http::StatusCode::BAD_REQUEST, "Bad Request"),
        };
        // Most requests find the repository in memory, as the CDN face finds its sites; the
        // database is asked when the cached entry is older than a couple of seconds.
        let looked = match self.control.repository_public_cached(&path.site) {
            Some(hit) => Ok(hit),
            None => self.control.repository_public(&path.site).await,
        };
        let repo = match looked {
            Ok(Some(r)) => r,
            Ok(None) => return cdn::not_found(),
            Err(e) => {
                tracing::error!("looking up a repository: {e}");
                return cdn::page(::http::StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable");
            }
        };
        match self.publisher.resolve(&repo, &path.key).await {
            Ok(Resolved::Page) => self.page(&repo),
            Ok(Resolved::Object { key, immutable: true }) => {
                let mut resp = self.cdn.serve_object(req, &self.site(&repo), &key).await;
                // Pool files are the uploaded objects themselves; whatever Content-Type the
                // uploader set, they are served as packages.
                if key.starts_with("pool/") && resp.status().is_success() {
                    let ct = if std::path::Path::new(&key)
                        .extension()
                        .is_some_and(|e| e.eq_ignore_ascii_case("deb"))
                    {
                        "application/vnd.debian.binary-package"
                    } else {
                        "application/octet-stream"
                    };
                    if resp
                        .headers()
                        .get(::http::header::CONTENT_TYPE)
                        .is_some_and(|v| !v.as_bytes().starts_with(b"multipart/"))
                    {
                        resp.headers_mut()
                            .insert(::http::header::CONTENT_TYPE, ::http::HeaderValue::from_static(ct));
                    }
                }
                resp
            }
            Ok(Resolved::Object { key, immutable: false }) => {
                // `dists/.../InRelease` names a new object after every publish, and two publishes
                // can fall in the same second: a date validator would then tell apt "not
                // modified" for a changed file. These answer without dates; the strong ETag
                // still validates, and the indices themselves come by hash.
                let mut parts = req.clone();
                for h in [::http::header::IF_MODIFIED_SINCE, ::http::header::IF_UNMODIFIED_SINCE] {
                    parts.headers.remove(h);
                }
                if parts
                    .headers
                    .get(::http::header::IF_RANGE)
                    .is_some_and(|v| !v.as_bytes().starts_with(b"\""))
                {
                    parts.headers.remove(::http::header::IF_RANGE);
                    parts.headers.remove(::http::header::RANGE);
                }
                let mut resp = self.cdn.serve_object(&parts, &self.site(&repo), &key).await;
                if resp.status() == ::http::StatusCode::NOT_FOUND
                    && key.starts_with("snapshots/")
                    && rustshare_publisher::index::packed_only(&key)
                {
                    return self.unpacked(req, &repo, &key).await;
                }
                resp.headers_mut().remove(::http::header::LAST_MODIFIED);
                resp
            }
            Ok(Resolved::NotFound) => cdn::not_found(),
            Err(e) => {
                tracing::error!(repo = %repo.name, "resolving a packages path: {e}");
                cdn::page(::http::StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
            }
        }
    }

    /// `Packages` or `Contents-<arch>` of a snapshot that stores them compressed only: the
    /// `.gz` unpacked as it is sent. apt fetches the compressed forms; this is for people and
    /// scripts that ask for the plain name.
    async fn unpacked(&self, req: &::http::request::Parts, repo: &Repository, key: &str) -> Resp {
        match self.publisher.unpacked(repo, &format!("{key}.gz")).await {
            Ok(Some((etag, body))) => {
                let etag = format!("{etag}-plain");
                let header = |h| req.headers.get(h).and_then(|v: &::http::HeaderValue| v.to_str().ok());
                // The CDN's precondition rules; these answers carry no date (see above).
                let validators = cdn::http::Validators {
                    if_match: header(::http::header::IF_MATCH),
                    if_none_match: header(::http::header::IF_NONE_MATCH),
                    ..cdn::http::Validators::default()
                };
                let (status, body) = match cdn::http::evaluate(&validators, &etag, std::time::UNIX_EPOCH) {
                    cdn::http::Precondition::Proceed => (::http::StatusCode::OK, crate::wire::stream_body(body)),
                    cdn::http::Precondition::NotModified => (::http::StatusCode::NOT_MODIFIED, crate::wire::empty_body()),
                    cdn::http::Precondition::Failed => {
                        return cdn::page(::http::StatusCode::PRECONDITION_FAILED, "Precondition Failed");
                    }
                };
                let etag = format!("\"{etag}\"");
                let mut r = ::http::Response::new(body);
                *r.status_mut() = status;
                let h = r.headers_mut();
                h.insert(
                    ::http::header::CONTENT_TYPE,
                    ::http::HeaderValue::from_static("text/plain; charset=utf-8"),
                );
                if let Ok(v) = ::http::HeaderValue::from_str(&self.index_cache_control) {
                    h.insert(::http::header::CACHE_CONTROL, v);
                }
                if let Ok(v) = ::http::HeaderValue::from_str(&etag) {
                    h.insert(::http::header::ETAG, v);
                }
                r
            }
            Ok(None) => cdn::not_found(),
            Err(e) => {
                tracing::error!(repo = %repo.name, "unpacking an index: {e}");
                cdn::page(::http::StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
            }
        }
    }

    fn page(&self, repo: &Repository) -> Resp {
        let esc = cdn::http::html_escape;
        let name = &repo.name;
        let url = format!("{}/{name}", self.base_url);
        let c = &repo.config;
        let suites: Vec<&str> = c.distributions.iter().map(|d| d.suite.as_str()).collect();
        let sources = format!(
            "Types: deb\nURIs: {url}\nSuites: {}\nComponents: {}\nSigned-By: /etc/apt/keyrings/{name}.gpg\n",
            suites.join(" "),
            c.components.join(" ")
        );
        let setup = format!(
            "sudo install -d -m 0755 /etc/apt/keyrings\nsudo curl -fsSL {url}/key.gpg -o /etc/apt/keyrings/{name}.gpg\nsudo tee /etc/apt/sources.list.d/{name}.sources >/dev/null <<'EOF'\n{sources}EOF\nsudo apt-get update"
        );
        let body = format!(
            "<!doctype html><meta charset=utf-8><title>{n} package repository</title>\n<h1>{n}</h1>\n<p>{d}</p>\n<p>Signing key fingerprint: <code>{fp}</code> (<a href=\"key.asc\">key.asc</a>, <a href=\"key.gpg\">key.gpg</a>)</p>\n<p>Distributions: {s}; components: {comps}; architectures: {archs}.</p>\n<h2>Set up apt</h2>\n<pre>{setup}</pre>\n<h2>{name}.sources</h2>\n<pre>{src}</pre>\n",
            n = esc(name),
            d = esc(&c.description),
            fp = esc(&repo.fingerprint),
            s = esc(&suites.join(", ")),
            comps = esc(&c.components.join(", ")),
            archs = esc(&c.architectures.join(", ")),
            setup = esc(&setup),
            src = esc(&sources),
        );
        cdn::html(body, "public, max-age=60")
    }
}
