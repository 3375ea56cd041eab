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
}

impl RequestInfo {
    /// A new record.
    #[must_use]
    pub fn new(request_id: Arc<str>, ip: Option<IpAddr>) -> Self {
        Self {
            request_id,
            ip,
            op: Arc::default(),
        }
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
        identity_id: Some(cred.identity.id.clone()),
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
