//! Who is calling and may they: s3s verifies SigV4 with the secret [`Auth`] returns; [`Access`]
//! then applies the policy to every operation before its input is parsed.

use std::sync::Arc;

use rustshare_control::policy::{self, Action, Decision, DenyReason, Resource};
use rustshare_control::{Control, Credential};
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};
use s3s::path::S3Path;
use s3s::{S3Error, S3ErrorCode, S3Result, s3_error};
use time::OffsetDateTime;

use super::RequestInfo;

/// Looks up secrets for SigV4.
pub struct Auth {
    pub(crate) control: Control,
}

#[async_trait::async_trait]
impl S3Auth for Auth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        let cred = credential(&self.control, access_key).await?;
        // Revoked and expired keys still verify here, so the denial comes after the signature
        // check and cannot be used to probe which key ids exist.
        match cred {
            Some(c) => Ok(SecretKey::from(c.secret.as_str())),
            None => Err(s3_error!(
                InvalidAccessKeyId,
                "The AWS access key Id you provided does not exist in our records."
            )),
        }
    }
}

/// The credential behind an access key: from memory when fresh (every request asks twice, for
/// the signature and for the policy), else from the database on the blocking pool.
async fn credential(control: &Control, access_key: &str) -> S3Result<Option<Arc<Credential>>> {
    if let Some(c) = control.credential_cached(access_key) {
        return Ok(Some(c));
    }
    let control = control.clone();
    let ak = access_key.to_owned();
    tokio::task::spawn_blocking(move || control.credential(&ak))
        .await
        .map_err(|e| super::errors::internal(&e))?
        .map_err(super::errors::control)
}

/// Applies [`policy::decide`] to every request.
pub struct Access {
    pub(crate) control: Control,
}

/// The action and resource an operation needs, or `None` for the bucket-level operations any
/// active key of the space may call (and unsupported ones, which answer NotImplemented).
pub(crate) fn requirement<'a>(op: &str, path: &'a S3Path) -> (Option<Action>, Resource<'a>) {
    let key = match path {
        S3Path::Object { key, .. } => Some(&**key),
        _ => None,
    };
    let obj = |a| match key {
        Some(k) => (Some(a), Resource::Object(k)),
        None => (Some(a), Resource::Bucket),
    };
    match op {
        "GetObject" | "HeadObject" | "GetObjectAttributes" => obj(Action::GetObject),
        "PutObject" | "CopyObject" | "CreateMultipartUpload" | "UploadPart" | "UploadPartCopy" | "CompleteMultipartUpload" => {
            obj(Action::PutObject)
        }
        "DeleteObject" | "DeleteObjects" => obj(Action::DeleteObject),
        "AbortMultipartUpload" => obj(Action::AbortMultipartUpload),
        "ListParts" => obj(Action::ListMultipartUploadParts),
        "ListObjects" | "ListObjectsV2" => (Some(Action::ListBucket), Resource::Bucket),
        "ListMultipartUploads" => (Some(Action::ListBucketMultipartUploads), Resource::Bucket),
        _ => (None, key.map_or(Resource::Bucket, Resource::Object)),
    }
}

/// The S3 error for a denial.
pub(crate) fn denied(reason: DenyReason) -> S3Error {
    let code = match reason {
        DenyReason::Expired => S3ErrorCode::ExpiredToken,
        _ => S3ErrorCode::AccessDenied,
    };
    S3Error::with_message(code, reason.message())
}

/// Checks one more resource for an already-authenticated request (list prefixes, copy
/// sources, keys of DeleteObjects).
pub(crate) fn authorize(cred: &Credential, bucket: &str, action: Action, res: Resource<'_>) -> S3Result<()> {
    match policy::decide(&cred.identity, &cred.space, bucket, Some(action), res, OffsetDateTime::now_utc()) {
        Decision::Allow => Ok(()),
        Decision::Deny(r) => Err(denied(r)),
    }
}

#[async_trait::async_trait]
impl S3Access for Access {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let Some(creds) = cx.credentials() else {
            return Err(s3_error!(
                AccessDenied,
                "Anonymous access is not allowed on the S3 endpoint; sign the request."
            ));
        };
        let cred: Arc<Credential> = credential(&self.control, &creds.access_key)
            .await?
            .ok_or_else(|| s3_error!(InvalidAccessKeyId))?;
        let op = cx.s3_op().name().to_owned();
        let op = op.as_str();
        let info = cx.extensions_mut().get::<RequestInfo>().cloned();
        if let Some(i) = &info {
            i.set_op(op);
        }
        let decision = match cx.s3_path() {
            // ListBuckets: answered with the key's own bucket only.
            S3Path::Root => policy::decide(
                &cred.identity,
                &cred.space,
                &cred.space.bucket,
                None,
                Resource::Bucket,
                OffsetDateTime::now_utc(),
            ),
            path @ (S3Path::Bucket { bucket } | S3Path::Object { bucket, .. }) => {
                let (action, res) = requirement(op, path);
                policy::decide(&cred.identity, &cred.space, bucket, action, res, OffsetDateTime::now_utc())
            }
        };
        if let Decision::Deny(reason) = decision {
            let key = match cx.s3_path() {
                S3Path::Object { key, .. } => Some(key.to_string()),
                _ => None,
            };
            let mut row = super::object_event(&cred, info.as_ref(), cx.headers(), op, key.as_deref(), "AccessDenied", 0);
            row.detail = Some(format!("{reason:?}"));
            self.control.audit(row);
            return Err(denied(reason));
        }
        self.control.touch(&cred.identity.id);
        cx.extensions_mut().insert(cred);
        Ok(())
    }
}
