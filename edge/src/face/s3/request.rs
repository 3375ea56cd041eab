//! What the S3 face knows of a request besides its S3 input: the facts the front router attaches
//! (request id, client address), the operation once s3s has routed it, and the audit row an
//! object operation writes.

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use rustshare_control::Credential;
use rustshare_control::model::NewAuditEvent;

/// Per-request facts the server attaches before s3s runs.
#[derive(Clone, Debug)]
pub struct RequestInfo {
    /// The request id echoed in `x-request-id` and `x-amz-request-id`.
    pub request_id: Arc<str>,
    /// Client address.
    pub ip: Option<IpAddr>,
    op: Arc<OnceLock<String>>,
    /// The body's length is unknown: whatever Content-Length s3s saw is a stand-in
    /// ([`unsized_put`]).
    unsized_body: bool,
}

impl RequestInfo {
    /// A new record.
    #[must_use]
    pub fn new(request_id: Arc<str>, ip: Option<IpAddr>) -> Self {
        Self {
            request_id,
            ip,
            op: Arc::default(),
            unsized_body: false,
        }
    }

    /// Marks the body as one of unknown length ([`unsized_put`]).
    #[must_use]
    pub fn with_unsized_body(mut self) -> Self {
        self.unsized_body = true;
        self
    }

    /// Whether the body's length is unknown (the face streams it and meters the quota).
    #[must_use]
    pub fn unsized_body(&self) -> bool {
        self.unsized_body
    }

    pub(crate) fn set_op(&self, op: &str) {
        let _ = self.op.set(op.to_owned());
    }

    /// The S3 operation name, once s3s has routed the request.
    #[must_use]
    pub fn op(&self) -> Option<&str> {
        self.op.get().map(String::as_str)
    }
}

/// A header-signed `UNSIGNED-PAYLOAD` PUT sent `Transfer-Encoding: chunked` with no length (a
/// pipe). S3 and Ceph accept one; s3s 0.14.1 refuses it with 411 once the signature has been
/// checked (following MinIO). Such a request gets a stand-in `Content-Length: 0` past that check,
/// and its [`RequestInfo`] says the length is unknown, so the face streams the body
/// (`face::s3::meter`) and never reads the stand-in; a path that did would refuse the body as
/// longer than declared. Content-Length is not among the headers such a client signed (it sent
/// none), so the signature is unchanged.
#[must_use]
pub fn unsized_put(method: &http::Method, headers: &http::HeaderMap) -> bool {
    let has = |name: &str| headers.contains_key(name);
    method == http::Method::PUT
        && has("authorization")
        && !has("content-length")
        && !has("x-amz-decoded-content-length")
        && headers.get("x-amz-content-sha256").is_some_and(|v| v == "UNSIGNED-PAYLOAD")
        && headers
            .get_all(http::header::TRANSFER_ENCODING)
            .iter()
            .any(|v| v.to_str().is_ok_and(|v| v.to_ascii_lowercase().contains("chunked")))
}

/// The audit row of one object operation, allowed or denied.
pub(crate) fn object_event(
    cred: &Credential,
    info: Option<&RequestInfo>,
    headers: &http::HeaderMap,
    op: &str,
    key: Option<&str>,
    status: &str,
    bytes: u64,
) -> NewAuditEvent {
    NewAuditEvent {
        tenant_id: Some(cred.identity.tenant_id.clone()),
        object_space_id: Some(cred.space.id.clone()),
        // The console's calls carry a credential of no stored identity (its actor names the admin).
        identity_id: (!cred.identity.id.is_empty()).then(|| cred.identity.id.clone()),
        actor: cred.identity.access_key_id.clone(),
        kind: "object".into(),
        operation: op.to_owned(),
        object_key: key.map(str::to_owned),
        source_ip: info.and_then(|i| i.ip.map(|a| a.to_string())),
        user_agent: headers
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        status: status.to_owned(),
        bytes,
        detail: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_header_signed_unsigned_chunked_puts_without_a_length_are_unsized() {
        let h = |pairs: &[(&'static str, &'static str)]| {
            let mut m = http::HeaderMap::new();
            for (k, v) in pairs {
                m.append(*k, http::HeaderValue::from_static(v));
            }
            m
        };
        let base = [
            ("authorization", "AWS4-HMAC-SHA256 Credential=x"),
            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
            ("transfer-encoding", "chunked"),
        ];
        assert!(unsized_put(&http::Method::PUT, &h(&base)));
        assert!(!unsized_put(&http::Method::POST, &h(&base)));
        let mut with_len = base.to_vec();
        with_len.push(("content-length", "5"));
        assert!(!unsized_put(&http::Method::PUT, &h(&with_len)));
        // A signed payload hash must be checked against the bytes: s3s needs the length.
        let signed = [base[0], ("x-amz-content-sha256", "e3b0c44298fc1c149afbf4c8996fb924"), base[2]];
        assert!(!unsized_put(&http::Method::PUT, &h(&signed)));
        assert!(!unsized_put(&http::Method::PUT, &h(&base[..2])), "not chunked");
        assert!(!unsized_put(&http::Method::PUT, &h(&base[1..])), "presigned: s3s takes it as it is");
    }
}
