//! Who is calling and may they. Three layers, each default-deny:
//!
//! 1. [`precheck`] runs on the raw request before s3s touches it: SigV2 is refused, a presigned
//!    URL may live at most seven days, and the credential scope must name our region and `s3`.
//! 2. [`Access::check`] looks the operation up in [`REQUIREMENTS`] (every operation s3s can
//!    dispatch has an entry; anything else is refused), validates the path's key through
//!    [`rustshare_control::names`] and applies [`policy::decide`].
//! 3. Operations whose names live in the request body or query (list prefixes and markers,
//!    copy sources, DeleteObjects keys, the POST form's key) get their credential only from
//!    their own access hook, after those names passed the same validator and policy. The face
//!    reads the credential with [`authorized`], so an operation whose hook is missing fails
//!    closed.

use std::sync::Arc;

use base64::Engine;
use rustshare_control::model::PermissionMode;
use rustshare_control::names::{self, NameError};
use rustshare_control::policy::{self, Action, Decision, DenyReason, Resource};
use rustshare_control::{Control, Credential};
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};
use s3s::dto::{
    CopyObjectInput, CopySource, DeleteObjectsInput, ListMultipartUploadsInput, ListObjectVersionsInput, ListObjectsInput,
    ListObjectsV2Input, PostObjectInput, PutBucketAclInput, PutObjectInput, UploadPartCopyInput,
};
use s3s::path::S3Path;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Result, s3_error};
use time::OffsetDateTime;

use super::request::RequestInfo;

/// Longest presigned URL lifetime S3 accepts (seven days).
pub(crate) const MAX_PRESIGNED_SECS: u64 = 604_800;

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
/// the signature and for the policy), else from the database on the control's executor.
async fn credential(control: &Control, access_key: &str) -> S3Result<Option<Arc<Credential>>> {
    if let Some(c) = control.credential_cached(access_key) {
        return Ok(Some(c));
    }
    control.credential(access_key).await.map_err(super::errors::control)
}

/// What an operation needs before it may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Requirement {
    /// ListBuckets: any active key; the answer names the key's own bucket only.
    Root,
    /// Any active key of the bucket's space (HeadBucket, GetBucketLocation).
    Bucket,
    /// The action on the object the path names.
    Object(Action),
    /// The action, granted by the key's mode, at bucket level; the names the operation takes
    /// from its query or body are checked by its access hook before it gets a credential.
    Names(Action),
    /// A bucket-wide setting: the action, granted by the key's mode, to a key whose allowed
    /// prefix is the whole bucket.
    Setting(Action),
    /// CreateBucket: an existing bucket the key reaches answers as made; a new name needs
    /// [`Action::ManageBuckets`] (the tenant-wide mode).
    Create,
    /// Not offered: refused before the body is read.
    Refused,
}

/// Every operation s3s 0.14 can dispatch, with what it needs. Written out in full, refusals
/// included, so that a reader sees the whole surface and a test can compare it with s3s's own
/// list; [`requirement`] refuses any name missing here.
pub(crate) const REQUIREMENTS: &[(&str, Requirement)] = {
    use Action::{
        AbortMultipartUpload, DeleteObject, GetObject, ListBucket, ListBucketMultipartUploads, ListMultipartUploadParts, ManageBuckets,
        PutBucketCors, PutBucketLifecycle, PutBucketObjectLock, PutBucketVersioning, PutObject, PutObjectLegalHold, PutObjectRetention,
    };
    use Requirement::{Bucket, Create, Names, Object, Refused, Root, Setting};
    &[
        ("ListBuckets", Root),
        ("HeadBucket", Bucket),
        ("GetBucketLocation", Bucket),
        ("CreateBucket", Create),
        ("DeleteBucket", Setting(ManageBuckets)),
        ("GetObject", Object(GetObject)),
        ("HeadObject", Object(GetObject)),
        ("PutObject", Object(PutObject)),
        ("CopyObject", Object(PutObject)),
        ("CreateMultipartUpload", Object(PutObject)),
        ("UploadPart", Object(PutObject)),
        ("UploadPartCopy", Object(PutObject)),
        ("CompleteMultipartUpload", Object(PutObject)),
        ("AbortMultipartUpload", Object(AbortMultipartUpload)),
        ("ListParts", Object(ListMultipartUploadParts)),
        ("DeleteObject", Object(DeleteObject)),
        ("DeleteObjects", Names(DeleteObject)),
        ("ListObjects", Names(ListBucket)),
        ("ListObjectsV2", Names(ListBucket)),
        ("ListMultipartUploads", Names(ListBucketMultipartUploads)),
        ("PostObject", Names(PutObject)),
        // ACLs are disabled, as in a bucket whose Object Ownership is "bucket owner enforced"
        // (face::s3::acl): reads answer the owner's full control; writes accept only ACLs that
        // change nothing, and need a mode that may write.
        ("GetBucketAcl", Bucket),
        ("GetBucketOwnershipControls", Bucket),
        ("GetObjectAcl", Object(GetObject)),
        ("GetObjectAttributes", Object(GetObject)),
        ("PutObjectAcl", Object(PutObject)),
        ("PutBucketAcl", Names(PutObject)),
        // Tags are kept by control (face::s3::tagging); changing them is a write.
        ("GetObjectTagging", Object(GetObject)),
        ("PutObjectTagging", Object(PutObject)),
        ("DeleteObjectTagging", Object(PutObject)),
        // Bucket CORS (control::cors): any key of the space may read the rules (a browser can
        // see their effect anyway); setting them is the publisher mode's, or an admin's.
        ("GetBucketCors", Bucket),
        ("PutBucketCors", Setting(PutBucketCors)),
        ("DeleteBucketCors", Setting(PutBucketCors)),
        // Versioning (control::versioning): any key of the space may read the state; setting
        // it is a bucket-wide setting. Listing versions is a listing; reading or copying a
        // version is GetObject, deleting one for good DeleteObject, as in S3.
        ("GetBucketVersioning", Bucket),
        ("PutBucketVersioning", Setting(PutBucketVersioning)),
        ("ListObjectVersions", Names(ListBucket)),
        // Lifecycle rules (control::lifecycle): any key of the space may read them; setting
        // them is a bucket-wide setting.
        ("GetBucketLifecycleConfiguration", Bucket),
        ("PutBucketLifecycleConfiguration", Setting(PutBucketLifecycle)),
        ("DeleteBucketLifecycle", Setting(PutBucketLifecycle)),
        // Object lock (control::lock): any key of the space may read the configuration, and a
        // key that may read an object its retention and legal hold; setting the configuration
        // is a bucket-wide setting; setting a version's retention or hold is the publisher
        // mode's (a compliance retention cannot be undone, so not every writer may set one).
        ("GetObjectLockConfiguration", Bucket),
        ("PutObjectLockConfiguration", Setting(PutBucketObjectLock)),
        ("GetObjectRetention", Object(GetObject)),
        ("PutObjectRetention", Object(PutObjectRetention)),
        ("GetObjectLegalHold", Object(GetObject)),
        ("PutObjectLegalHold", Object(PutObjectLegalHold)),
        // Not offered: bucket configuration belongs to the control API, and the rest has no
        // implementation behind it.
        ("CreateBucketMetadataTableConfiguration", Refused),
        ("CreateSession", Refused),
        ("DeleteBucketAnalyticsConfiguration", Refused),
        ("DeleteBucketEncryption", Refused),
        ("DeleteBucketIntelligentTieringConfiguration", Refused),
        ("DeleteBucketInventoryConfiguration", Refused),
        ("DeleteBucketMetadataTableConfiguration", Refused),
        ("DeleteBucketMetricsConfiguration", Refused),
        ("DeleteBucketOwnershipControls", Refused),
        ("DeleteBucketPolicy", Refused),
        ("DeleteBucketReplication", Refused),
        ("DeleteBucketTagging", Refused),
        ("DeleteBucketWebsite", Refused),
        ("DeletePublicAccessBlock", Refused),
        ("GetBucketAccelerateConfiguration", Refused),
        ("GetBucketAnalyticsConfiguration", Refused),
        ("GetBucketEncryption", Refused),
        ("GetBucketIntelligentTieringConfiguration", Refused),
        ("GetBucketInventoryConfiguration", Refused),
        ("GetBucketLogging", Refused),
        ("GetBucketMetadataTableConfiguration", Refused),
        ("GetBucketMetricsConfiguration", Refused),
        ("GetBucketNotificationConfiguration", Refused),
        ("GetBucketPolicy", Refused),
        ("GetBucketPolicyStatus", Refused),
        ("GetBucketReplication", Refused),
        ("GetBucketRequestPayment", Refused),
        ("GetBucketTagging", Refused),
        ("GetBucketWebsite", Refused),
        ("GetObjectTorrent", Refused),
        ("GetPublicAccessBlock", Refused),
        ("ListBucketAnalyticsConfigurations", Refused),
        ("ListBucketIntelligentTieringConfigurations", Refused),
        ("ListBucketInventoryConfigurations", Refused),
        ("ListBucketMetricsConfigurations", Refused),
        ("ListDirectoryBuckets", Refused),
        ("PutBucketAccelerateConfiguration", Refused),
        ("PutBucketAnalyticsConfiguration", Refused),
        ("PutBucketEncryption", Refused),
        ("PutBucketIntelligentTieringConfiguration", Refused),
        ("PutBucketInventoryConfiguration", Refused),
        ("PutBucketLogging", Refused),
        ("PutBucketMetricsConfiguration", Refused),
        ("PutBucketNotificationConfiguration", Refused),
        ("PutBucketOwnershipControls", Refused),
        ("PutBucketPolicy", Refused),
        ("PutBucketReplication", Refused),
        ("PutBucketRequestPayment", Refused),
        ("PutBucketTagging", Refused),
        ("PutBucketWebsite", Refused),
        ("PutPublicAccessBlock", Refused),
        ("RestoreObject", Refused),
        ("SelectObjectContent", Refused),
        ("WriteGetObjectResponse", Refused),
    ]
};

/// The requirement of an operation; [`Requirement::Refused`] for any name not in the table.
pub(crate) fn requirement(op: &str) -> Requirement {
    REQUIREMENTS
        .iter()
        .find(|(name, _)| *name == op)
        .map_or(Requirement::Refused, |(_, r)| *r)
}

/// The S3 error for a denial.
pub(crate) fn denied(reason: DenyReason) -> S3Error {
    match reason {
        DenyReason::Expired => S3Error::with_message(S3ErrorCode::ExpiredToken, reason.message()),
        DenyReason::InvalidName => S3Error::with_message(S3ErrorCode::InvalidArgument, reason.message()),
        _ => S3Error::with_message(S3ErrorCode::AccessDenied, reason.message()),
    }
}

/// 400 for a name that fails the validator; `what` says which input it was.
pub(crate) fn bad_name(what: &str, e: NameError) -> S3Error {
    let code = if e == NameError::TooLong && what == "key" {
        S3ErrorCode::KeyTooLongError
    } else {
        S3ErrorCode::InvalidArgument
    };
    S3Error::with_message(code, format!("The {what} is not valid: {e}."))
}

/// Validates an object key at the boundary.
pub(crate) fn check_key(key: &str) -> S3Result<()> {
    names::key(key).map_err(|e| bad_name("key", e))
}

/// Validates a prefix, marker or start-after value at the boundary.
pub(crate) fn check_prefix(what: &str, p: &str) -> S3Result<()> {
    names::prefix(p).map_err(|e| bad_name(what, e))
}

/// Checks one more resource for an already-authenticated request, at `now` by the control
/// service's clock (so a key's expiry is decided by the same time that stamped it).
pub(crate) fn authorize(cred: &Credential, bucket: &str, action: Action, res: Resource<'_>, now: OffsetDateTime) -> S3Result<()> {
    match policy::decide(&cred.identity, &cred.space, bucket, Some(action), res, now) {
        Decision::Allow => Ok(()),
        Decision::Deny(r) => Err(denied(r)),
    }
}

/// A credential whose operation still has names to check; only the operation's access hook
/// turns it into the `Arc<Credential>` the face reads.
#[derive(Clone)]
struct Pending(Arc<Credential>);

/// The credential the access layer attached once everything the operation names was allowed.
/// Its absence is a bug (an operation without its hook), answered with AccessDenied.
pub(crate) fn authorized<T>(req: &S3Request<T>) -> S3Result<Arc<Credential>> {
    req.extensions
        .get::<Arc<Credential>>()
        .cloned()
        .ok_or_else(|| s3_error!(AccessDenied, "The request was not authorized."))
}

/// The decoded ListObjectsV2 continuation token (ours: base64 of the last key).
pub(crate) fn continuation(token: Option<&String>) -> S3Result<Option<String>> {
    token
        .map(|t| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| s3_error!(InvalidArgument, "The continuation token provided is incorrect."))
        })
        .transpose()
}

/// Refuses what s3s would otherwise verify but we do not accept, before any body is read:
/// SigV2 (header, presigned, and its POST form fields are refused later by the face), presigned
/// lifetimes outside 1..=604800 s, and credential scopes for another region or service.
///
/// # Errors
/// The S3 error to answer with.
pub fn precheck(method: &http::Method, headers: &http::HeaderMap, uri: &http::Uri, region: &str) -> S3Result<()> {
    xml_body_bound(method, headers)?;
    // An empty Content-MD5 is a digest that cannot match, not an absent one.
    if headers
        .get("content-md5")
        .is_some_and(|v| v.as_bytes().iter().all(u8::is_ascii_whitespace))
    {
        return Err(s3_error!(InvalidDigest, "The Content-MD5 you specified is not valid."));
    }
    let sigv2 = || {
        S3Error::with_message(
            S3ErrorCode::InvalidRequest,
            "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
        )
    };
    if let Some(auth) = headers.get(http::header::AUTHORIZATION) {
        let auth = auth.to_str().map_err(|_| sigv2())?;
        let Some(rest) = auth.strip_prefix("AWS4-HMAC-SHA256 ") else {
            return Err(sigv2());
        };
        let credential = rest
            .split(',')
            .map(str::trim)
            .find_map(|p| p.strip_prefix("Credential="))
            .ok_or_else(|| s3_error!(AuthorizationHeaderMalformed, "The authorization header has no Credential."))?;
        scope(credential, region, S3ErrorCode::AuthorizationHeaderMalformed)?;
    }
    let Some(query) = uri.query() else { return Ok(()) };
    let mut algorithm = None;
    let mut credential = None;
    let mut expires = None;
    for (k, v) in crate::query::pairs(query) {
        match k.as_str() {
            "Signature" | "AWSAccessKeyId" => return Err(sigv2()),
            "X-Amz-Algorithm" => algorithm = Some(v),
            "X-Amz-Credential" => credential = Some(v),
            "X-Amz-Expires" => expires = Some(v),
            _ => {}
        }
    }
    let presigned = algorithm.is_some() || credential.is_some();
    if !presigned {
        return Ok(());
    }
    let qerr = |m: &'static str| S3Error::with_message(S3ErrorCode::AuthorizationQueryParametersError, m);
    if algorithm.as_deref() != Some("AWS4-HMAC-SHA256") {
        return Err(qerr("X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"."));
    }
    // A negative or non-numeric lifetime can never have been a valid signature: refused as
    // unauthenticated (403), as S3 refuses it.
    let secs = expires.as_deref().and_then(|e| e.parse::<u64>().ok()).ok_or_else(|| {
        let mut e = qerr("X-Amz-Expires must be a non-negative number of seconds.");
        e.set_status_code(http::StatusCode::FORBIDDEN);
        e
    })?;
    if !(1..=MAX_PRESIGNED_SECS).contains(&secs) {
        return Err(qerr(
            "X-Amz-Expires must be less than a week (in seconds) that is 604800, and at least 1.",
        ));
    }
    let credential = credential.ok_or_else(|| qerr("X-Amz-Credential is missing."))?;
    scope(&credential, region, S3ErrorCode::AuthorizationQueryParametersError)
}

/// SigV4 takes the request's time from `X-Amz-Date`, or else from `Date` (S3 accepts both; some
/// SDKs and hand-written clients sign `Date`). s3s reads only `X-Amz-Date`, so a request that
/// has only `Date` gets the same instant as `X-Amz-Date` in SigV4's format; the signature still
/// covers `Date` itself if the client signed it.
pub fn date_as_amz_date(headers: &mut http::HeaderMap) {
    if headers.contains_key("x-amz-date")
        || !headers
            .get(http::header::AUTHORIZATION)
            .is_some_and(|a| a.as_bytes().starts_with(b"AWS4-HMAC-SHA256 "))
    {
        return;
    }
    let Some(date) = headers
        .get(http::header::DATE)
        .and_then(|d| d.to_str().ok())
        .and_then(|d| httpdate::parse_http_date(d).ok())
    else {
        return;
    };
    let t = time::OffsetDateTime::from(date);
    let amz = format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    if let Ok(v) = http::HeaderValue::from_str(&amz) {
        headers.insert("x-amz-date", v);
    }
}

/// Largest XML request body (CompleteMultipartUpload of 10,000 parts and DeleteObjects of 1,000
/// keys of 1,024 bytes both fit); s3s is configured with the same bound.
pub(crate) const MAX_XML_BODY: u64 = 2 * 1024 * 1024;

/// A POST other than a form upload carries an XML document that s3s reads whole: its length
/// must be declared and within [`MAX_XML_BODY`] (s3s answers an oversized one with a bare 500).
fn xml_body_bound(method: &http::Method, headers: &http::HeaderMap) -> S3Result<()> {
    if method != http::Method::POST || super::post::is_form(method, headers) {
        return Ok(());
    }
    let len = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match len {
        None if headers.contains_key(http::header::TRANSFER_ENCODING) => {
            Err(s3_error!(MissingContentLength, "You must provide the Content-Length HTTP header."))
        }
        Some(n) if n > MAX_XML_BODY => Err(S3Error::with_message(
            S3ErrorCode::EntityTooLarge,
            format!("XML request bodies are limited to {MAX_XML_BODY} bytes."),
        )),
        _ => Ok(()),
    }
}

/// Checks `AKID/yyyymmdd/region/service/aws4_request`.
fn scope(credential: &str, region: &str, code: S3ErrorCode) -> S3Result<()> {
    let parts: Vec<&str> = credential.split('/').collect();
    let [_, _, r, service, "aws4_request"] = parts.as_slice() else {
        return Err(S3Error::with_message(code, "The credential scope is malformed."));
    };
    if *r != region {
        return Err(S3Error::with_message(
            code,
            format!("The credential scope's region '{}' is wrong; expecting '{region}'.", truncate(r)),
        ));
    }
    if *service != "s3" {
        return Err(S3Error::with_message(
            code,
            format!("The credential scope's service '{}' is wrong; expecting 's3'.", truncate(service)),
        ));
    }
    Ok(())
}

/// At most 64 characters of a client value echoed in an error.
fn truncate(s: &str) -> String {
    s.chars().take(64).filter(|c| !c.is_control()).collect()
}

/// Applies the requirement table and [`policy::decide`] to every request.
pub struct Access {
    pub(crate) control: Control,
}

impl Access {
    fn deny(&self, cred: &Credential, cx: &mut S3AccessContext<'_>, op: &str, reason: DenyReason) -> S3Error {
        let key = match cx.s3_path() {
            S3Path::Object { key, .. } if names::key(key).is_ok() => Some(key.to_string()),
            _ => None,
        };
        let info = cx.extensions_mut().get::<RequestInfo>().cloned();
        let mut row = super::request::object_event(cred, info.as_ref(), cx.headers(), op, key.as_deref(), "AccessDenied", 0);
        row.detail = Some(format!("{reason:?}"));
        self.control.audit(row);
        denied(reason)
    }

    /// For a [`Requirement::Names`] operation: once `check` allowed every name the request
    /// carries, hand the credential over to the face.
    fn release<T>(&self, req: &mut S3Request<T>, check: impl FnOnce(&Credential) -> S3Result<()>) -> S3Result<()> {
        let Some(Pending(cred)) = req.extensions.remove::<Pending>() else {
            return Err(s3_error!(AccessDenied, "The request was not authorized."));
        };
        if let Err(e) = check(&cred) {
            let info = req.extensions.get::<RequestInfo>().cloned();
            let op = info.as_ref().and_then(RequestInfo::op).unwrap_or("unknown").to_owned();
            // The names the client sent stay out of the row: they may be the invalid ones.
            let mut row = super::request::object_event(&cred, info.as_ref(), &req.headers, &op, None, e.code().as_str(), 0);
            row.detail = e.message().map(str::to_owned);
            self.control.audit(row);
            return Err(e);
        }
        req.extensions.insert(cred);
        Ok(())
    }
}

pub(crate) fn copy_source(cs: &CopySource) -> S3Result<(&str, &str, Option<&str>)> {
    match cs {
        CopySource::Bucket { bucket, key, version_id } => {
            if let Some(v) = version_id {
                rustshare_control::versioning::check_id(v).map_err(|e| s3_error!(InvalidArgument, "{e}"))?;
            }
            Ok((bucket, key, version_id.as_deref()))
        }
        _ => Err(s3_error!(NotImplemented, "Access point copy sources are not supported.")),
    }
}

/// The copy source of CopyObject and UploadPartCopy: a valid key this credential may read.
fn check_copy_source(cred: &Credential, cs: &CopySource, now: OffsetDateTime) -> S3Result<()> {
    let (bucket, key, _) = copy_source(cs)?;
    names::key(key).map_err(|e| bad_name("copy source key", e))?;
    authorize(cred, bucket, Action::GetObject, Resource::Object(key), now)
}

fn check_listing(
    cred: &Credential,
    bucket: &str,
    action: Action,
    prefix: Option<&String>,
    markers: &[(&str, Option<&String>)],
    now: OffsetDateTime,
) -> S3Result<()> {
    let prefix = prefix.map_or("", String::as_str);
    check_prefix("prefix", prefix)?;
    for (what, m) in markers {
        if let Some(m) = m {
            check_prefix(what, m)?;
        }
    }
    authorize(cred, bucket, action, Resource::Prefix(prefix), now)
}

/// The key a POST form names, with `${filename}` replaced by the uploaded file's name, as S3
/// does; the file name is reduced to its last path component first.
pub(crate) fn post_key(key: &str, filename: Option<&str>) -> String {
    if !key.contains("${filename}") {
        return key.to_owned();
    }
    let name = filename.unwrap_or_default();
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    key.replace("${filename}", base)
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
        if let Some(i) = cx.extensions_mut().get::<RequestInfo>() {
            i.set_op(op);
        }
        let req = requirement(op);
        let (bucket, key) = match cx.s3_path() {
            S3Path::Root => (cred.space.bucket.as_str().to_owned(), None),
            S3Path::Bucket { bucket } => (bucket.to_string(), None),
            S3Path::Object { bucket, key } => (bucket.to_string(), Some(key.to_string())),
        };
        if let Some(k) = &key {
            check_key(k)?;
        }
        let now = self.control.now();
        // A tenant-wide key acts in the space the bucket names, when that is its tenant's; from
        // here on the credential carries that space, so every later check and path is its.
        let tenant_wide = cred.identity.mode == PermissionMode::TenantWide;
        let (cred, found) = if tenant_wide && bucket != cred.space.bucket {
            match self
                .control
                .tenant_space(&cred.identity.tenant_id, &bucket)
                .await
                .map_err(super::errors::control)?
            {
                Some(space) => (
                    Arc::new(Credential {
                        identity: cred.identity.clone(),
                        space: (*space).clone(),
                        secret: cred.secret.clone(),
                    }),
                    true,
                ),
                None => (cred, false),
            }
        } else {
            (cred, true)
        };
        if tenant_wide && !found && !matches!(req, Requirement::Root | Requirement::Create) {
            // Another tenant's bucket answers as one that does not exist.
            if let Decision::Deny(reason) = policy::key_active(&cred.identity, now) {
                return Err(self.deny(&cred, cx, op, reason));
            }
            return Err(s3_error!(NoSuchBucket, "The specified bucket does not exist."));
        }
        let decision = |action, res| policy::decide(&cred.identity, &cred.space, &bucket, action, res, now);
        let d = match (req, cx.s3_path(), key.as_deref()) {
            (Requirement::Refused, ..) => {
                return Err(S3Error::with_message(
                    S3ErrorCode::NotImplemented,
                    format!("{op} is not supported by this endpoint."),
                ));
            }
            // A tenant-wide key lists its tenant's buckets, whichever space it was issued from.
            (Requirement::Root, S3Path::Root, None) if tenant_wide => policy::key_active(&cred.identity, now),
            (Requirement::Root, S3Path::Root, None) | (Requirement::Bucket, S3Path::Bucket { .. }, None) => {
                decision(None, Resource::Bucket)
            }
            // An existing bucket the key reaches: answered as made (the handler). A new name:
            // a key that may create buckets (the handler checks the name is its tenant's).
            (Requirement::Create, S3Path::Bucket { .. }, None) if found => decision(None, Resource::Bucket),
            (Requirement::Create, S3Path::Bucket { .. }, None) => match policy::key_active(&cred.identity, now) {
                Decision::Allow if policy::grants(cred.identity.mode, Action::ManageBuckets) => Decision::Allow,
                Decision::Allow => Decision::Deny(DenyReason::ActionNotGranted),
                deny @ Decision::Deny(_) => deny,
            },
            (Requirement::Object(a), S3Path::Object { .. }, Some(k)) => decision(Some(a), Resource::Object(k)),
            (Requirement::Names(a), S3Path::Bucket { .. }, None) => decision(Some(a), Resource::Bucket),
            (Requirement::Setting(a), S3Path::Bucket { .. }, None) => decision(Some(a), Resource::Settings),
            // An operation on a path shape its entry does not describe.
            _ => return Err(s3_error!(InvalidRequest, "The operation does not apply to this path.")),
        };
        if let Decision::Deny(reason) = d {
            return Err(self.deny(&cred, cx, op, reason));
        }
        self.control.touch(&cred.identity.id);
        if matches!(req, Requirement::Names(_)) {
            cx.extensions_mut().insert(Pending(cred));
        } else {
            cx.extensions_mut().insert(cred);
        }
        Ok(())
    }

    async fn list_objects(&self, req: &mut S3Request<ListObjectsInput>) -> S3Result<()> {
        let i = req.input.clone();
        let now = self.control.now();
        self.release(req, |c| {
            check_listing(
                c,
                &i.bucket,
                Action::ListBucket,
                i.prefix.as_ref(),
                &[("marker", i.marker.as_ref())],
                now,
            )
        })
    }

    async fn list_objects_v2(&self, req: &mut S3Request<ListObjectsV2Input>) -> S3Result<()> {
        let i = req.input.clone();
        let token = continuation(i.continuation_token.as_ref());
        let now = self.control.now();
        self.release(req, |c| {
            let token = token?;
            check_listing(
                c,
                &i.bucket,
                Action::ListBucket,
                i.prefix.as_ref(),
                &[("start-after", i.start_after.as_ref()), ("continuation token", token.as_ref())],
                now,
            )
        })
    }

    async fn list_object_versions(&self, req: &mut S3Request<ListObjectVersionsInput>) -> S3Result<()> {
        let i = req.input.clone();
        let now = self.control.now();
        self.release(req, |c| {
            if let Some(v) = &i.version_id_marker {
                rustshare_control::versioning::check_id(v).map_err(|e| s3_error!(InvalidArgument, "{e}"))?;
            }
            check_listing(
                c,
                &i.bucket,
                Action::ListBucket,
                i.prefix.as_ref(),
                &[("key-marker", i.key_marker.as_ref())],
                now,
            )
        })
    }

    async fn list_multipart_uploads(&self, req: &mut S3Request<ListMultipartUploadsInput>) -> S3Result<()> {
        let i = req.input.clone();
        let now = self.control.now();
        self.release(req, |c| {
            check_listing(
                c,
                &i.bucket,
                Action::ListBucketMultipartUploads,
                i.prefix.as_ref(),
                &[("key-marker", i.key_marker.as_ref())],
                now,
            )
        })
    }

    async fn delete_objects(&self, req: &mut S3Request<DeleteObjectsInput>) -> S3Result<()> {
        let has_digest = req.headers.contains_key("content-md5")
            || req.headers.keys().any(|h| h.as_str().starts_with("x-amz-checksum-"))
            || req.input.checksum_algorithm.is_some();
        let keys: Vec<String> = req.input.delete.objects.iter().map(|o| o.key.clone()).collect();
        self.release(req, |_| {
            if !has_digest {
                return Err(s3_error!(
                    InvalidRequest,
                    "Missing required header for this request: Content-MD5 or x-amz-checksum-*."
                ));
            }
            if keys.len() > 1000 {
                return Err(s3_error!(MalformedXML, "A DeleteObjects request may name at most 1000 keys."));
            }
            // Keys outside the prefix are answered per key (AccessDenied in the result); a key
            // that is not a valid name refuses the whole request.
            keys.iter().try_for_each(|k| check_key(k))
        })
    }

    async fn put_bucket_acl(&self, req: &mut S3Request<PutBucketAclInput>) -> S3Result<()> {
        // It names nothing but the bucket, which Access checked.
        self.release(req, |_| Ok(()))
    }

    async fn copy_object(&self, req: &mut S3Request<CopyObjectInput>) -> S3Result<()> {
        let cred = authorized(req)?;
        check_copy_source(&cred, &req.input.copy_source, self.control.now())
    }

    async fn upload_part_copy(&self, req: &mut S3Request<UploadPartCopyInput>) -> S3Result<()> {
        let cred = authorized(req)?;
        check_copy_source(&cred, &req.input.copy_source, self.control.now())
    }

    async fn put_object(&self, req: &mut S3Request<PutObjectInput>) -> S3Result<()> {
        // s3s calls this hook for PutObject and, with the form's fields, for PostObject.
        let is_post = req.extensions.get::<RequestInfo>().and_then(RequestInfo::op) == Some("PostObject");
        if !is_post {
            return Ok(());
        }
        let filename = req.extensions.get::<super::post::FormFile>().and_then(super::post::FormFile::name);
        let key = post_key(&req.input.key, filename.as_deref());
        req.input.key.clone_from(&key);
        let bucket = req.input.bucket.clone();
        let now = self.control.now();
        self.release(req, |c| {
            names::key(&key).map_err(|e| bad_name("key", e))?;
            authorize(c, &bucket, Action::PutObject, Resource::Object(&key), now)
        })
    }

    async fn post_object(&self, req: &mut S3Request<PostObjectInput>) -> S3Result<()> {
        // After the put_object hook released the credential: check the key once more, as the
        // face will use it.
        let cred = authorized(req)?;
        check_key(&req.input.key)?;
        authorize(
            &cred,
            &req.input.bucket,
            Action::PutObject,
            Resource::Object(&req.input.key),
            self.control.now(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_date_header_dates_a_sigv4_request_without_x_amz_date() {
        let mut h = http::HeaderMap::new();
        h.insert(http::header::DATE, http::HeaderValue::from_static("Sun, 06 Dec 2026 09:05:07 GMT"));
        date_as_amz_date(&mut h);
        assert!(h.get("x-amz-date").is_none(), "not a SigV4 request");
        h.insert(
            http::header::AUTHORIZATION,
            http::HeaderValue::from_static("AWS4-HMAC-SHA256 Credential=x"),
        );
        date_as_amz_date(&mut h);
        assert_eq!(h.get("x-amz-date").map(http::HeaderValue::as_bytes), Some(&b"20261206T090507Z"[..]));
        // An X-Amz-Date the client sent is never replaced.
        h.insert("x-amz-date", http::HeaderValue::from_static("20260101T000000Z"));
        date_as_amz_date(&mut h);
        assert_eq!(h.get("x-amz-date").map(http::HeaderValue::as_bytes), Some(&b"20260101T000000Z"[..]));
    }

    /// The S3 face decides a key's expiry by the control service's clock: a real S3 client
    /// over loopback is served until the key's end and refused with ExpiredToken from then on,
    /// without waiting for the seconds to pass.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_key_expires_by_the_control_clock() {
        use rustshare_control::model::PermissionMode;
        use rustshare_control::{NewIdentity, NewSpace};
        let dir = tempfile::tempdir().expect("dir");
        let store = Arc::new(rustshare_store::FsStore::open_sync(dir.path().to_path_buf()).expect("store"));
        let clock = rustshare_control::clock::ManualClock::new();
        let control = Control::with_clock(
            Arc::new(rustshare_control::db::SqliteRepo::in_memory().expect("db")),
            rustshare_control::seal::MasterKey::generate(),
            clock.clone(),
        );
        let tok = control.bootstrap_operator(None).await.expect("bootstrap").expect("token");
        let p = control.authenticate(&tok).await.expect("operator");
        control.create_tenant(&p, "t").await.expect("tenant");
        let space = NewSpace {
            tenant: Some("t".into()),
            name: "ci".into(),
            purpose: None,
            visibility: None,
            quota_bytes: None,
            workspace_id: None,
        };
        let space = control.create_space(&p, space).await.expect("space");
        let key = NewIdentity {
            name: "short".into(),
            mode: PermissionMode::ReadWrite,
            prefix: String::new(),
            expires_at: None,
            expires_in_seconds: Some(2),
        };
        let key = control.create_identity(&p, &space.id, key).await.expect("key");
        let s3 =
            Arc::new(crate::face::s3::S3Face::new(store, control.clone(), crate::metrics::Metrics::new(), "us-east-1".into()).service());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((io, _)) = listener.accept().await {
                let s3 = s3.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req: ::http::Request<hyper::body::Incoming>| {
                        let s3 = s3.clone();
                        async move { s3.call(req.map(s3s::Body::from)).await }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                        .serve_connection(hyper_util::rt::TokioIo::new(io), svc)
                        .await;
                });
            }
        });
        let creds = aws_credential_types::Credentials::new(&key.identity.access_key_id, &key.secret_access_key, None, None, "test");
        let conf = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .endpoint_url(format!("http://{addr}"))
            .credentials_provider(creds)
            .force_path_style(true)
            .build();
        let client = aws_sdk_s3::Client::from_conf(conf);
        let put = || {
            client
                .put_object()
                .bucket(&space.bucket)
                .key("a.txt")
                .body(aws_sdk_s3::primitives::ByteStream::from_static(b"v"))
                .send()
        };
        put().await.expect("a fresh key writes");
        clock.advance(std::time::Duration::from_millis(1999));
        put().await.expect("the key still has a millisecond");
        clock.advance(std::time::Duration::from_millis(1));
        let e = put().await.expect_err("expired");
        let code = e
            .as_service_error()
            .and_then(|e| aws_sdk_s3::error::ProvideErrorMetadata::code(e).map(str::to_owned));
        assert_eq!(code.as_deref(), Some("ExpiredToken"), "{e:?}");
        let e = client
            .get_object()
            .bucket(&space.bucket)
            .key("a.txt")
            .send()
            .await
            .expect_err("expired");
        let code = e
            .as_service_error()
            .and_then(|e| aws_sdk_s3::error::ProvideErrorMetadata::code(e).map(str::to_owned));
        assert_eq!(code.as_deref(), Some("ExpiredToken"), "{e:?}");
    }

    /// Every operation name s3s can dispatch, read from the s3s sources this crate builds with.
    fn s3s_operations() -> Vec<String> {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = std::process::Command::new(cargo)
            // Filtered to this platform so that no other platform's crates must be fetched.
            .args(["metadata", "--format-version", "1", "--offline", "--filter-platform"])
            .arg(format!("{}-unknown-linux-gnu", std::env::consts::ARCH))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("cargo metadata runs");
        let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON");
        let manifest = meta["packages"]
            .as_array()
            .expect("packages")
            .iter()
            .find(|p| p["name"] == "s3s")
            .and_then(|p| p["manifest_path"].as_str())
            .expect("s3s is a dependency")
            .to_owned();
        let dir = std::path::Path::new(&manifest).parent().expect("manifest dir");
        let src = std::fs::read_to_string(dir.join("src/ops/generated.rs")).expect("s3s's operation table");
        let mut ops = Vec::new();
        let mut lines = src.lines();
        while let Some(l) = lines.next() {
            if l.trim() == "fn name(&self) -> &'static str {"
                && let Some(n) = lines.next()
            {
                ops.push(n.trim().trim_matches('"').to_owned());
            }
        }
        ops
    }

    #[test]
    fn every_s3s_operation_has_an_explicit_requirement() {
        let ops = s3s_operations();
        assert!(ops.len() >= 90, "found only {} operations in s3s's sources", ops.len());
        let missing: Vec<_> = ops.iter().filter(|o| !REQUIREMENTS.iter().any(|(n, _)| n == o)).collect();
        assert!(missing.is_empty(), "operations without a requirement: {missing:?}");
        let unknown: Vec<_> = REQUIREMENTS.iter().filter(|(n, _)| !ops.iter().any(|o| o == n)).collect();
        assert!(unknown.is_empty(), "requirements for operations s3s does not have: {unknown:?}");
        let mut names: Vec<_> = REQUIREMENTS.iter().map(|(n, _)| n).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), REQUIREMENTS.len(), "an operation is listed twice");
    }

    #[test]
    fn unknown_operations_are_refused_and_writes_need_write_actions() {
        assert_eq!(requirement("SomethingNew"), Requirement::Refused);
        assert_eq!(requirement("PostObject"), Requirement::Names(Action::PutObject));
        for (op, r) in REQUIREMENTS {
            let writes = op.starts_with("Put")
                || op.starts_with("Post")
                || op.starts_with("Delete")
                || op.contains("Upload")
                || op.starts_with("Copy")
                || op.starts_with("Create")
                || op.starts_with("Complete")
                || op.starts_with("Restore")
                || op.starts_with("Write")
                || op.starts_with("Abort");
            if writes {
                assert!(
                    matches!(
                        r,
                        Requirement::Refused
                            | Requirement::Object(_)
                            | Requirement::Names(_)
                            | Requirement::Setting(_)
                            | Requirement::Create
                    ),
                    "{op} would be allowed for any key of the space"
                );
            }
        }
    }

    #[test]
    fn precheck_refuses_v2_long_presigns_and_foreign_scopes() {
        let h = |v: &str| {
            let mut m = http::HeaderMap::new();
            m.insert(http::header::AUTHORIZATION, http::HeaderValue::from_str(v).expect("header"));
            m
        };
        let none = http::HeaderMap::new();
        let uri = |q: &str| format!("/b/k?{q}").parse::<http::Uri>().expect("uri");
        let plain: http::Uri = "/b/k".parse().expect("uri");
        let code = |r: S3Result<()>| r.err().map(|e| e.code().as_str().to_owned());
        assert_eq!(
            code(precheck(&http::Method::GET, &h("AWS RS3X:c2ln"), &plain, "us-east-1")).as_deref(),
            Some("InvalidRequest")
        );
        let v4 = |region: &str, svc: &str| {
            format!("AWS4-HMAC-SHA256 Credential=RS3X/20261206/{region}/{svc}/aws4_request, SignedHeaders=host, Signature=00")
        };
        assert!(precheck(&http::Method::GET, &h(&v4("us-east-1", "s3")), &plain, "us-east-1").is_ok());
        assert_eq!(
            code(precheck(&http::Method::GET, &h(&v4("eu-west-1", "s3")), &plain, "us-east-1")).as_deref(),
            Some("AuthorizationHeaderMalformed")
        );
        assert_eq!(
            code(precheck(&http::Method::GET, &h(&v4("us-east-1", "sts")), &plain, "us-east-1")).as_deref(),
            Some("AuthorizationHeaderMalformed")
        );
        assert_eq!(
            code(precheck(
                &http::Method::GET,
                &none,
                &uri("AWSAccessKeyId=RS3X&Expires=9999999999&Signature=x"),
                "us-east-1"
            ))
            .as_deref(),
            Some("InvalidRequest")
        );
        let q = |exp: &str, region: &str, svc: &str| {
            uri(&format!(
                "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=RS3X%2F20261206%2F{region}%2F{svc}%2Faws4_request&X-Amz-Date=20261206T000000Z&X-Amz-Expires={exp}&X-Amz-SignedHeaders=host&X-Amz-Signature=00"
            ))
        };
        assert!(precheck(&http::Method::GET, &none, &q("604800", "us-east-1", "s3"), "us-east-1").is_ok());
        assert!(precheck(&http::Method::GET, &none, &q("1", "us-east-1", "s3"), "us-east-1").is_ok());
        for bad in ["604801", "0", "315360000", "-5", "x"] {
            assert_eq!(
                code(precheck(&http::Method::GET, &none, &q(bad, "us-east-1", "s3"), "us-east-1")).as_deref(),
                Some("AuthorizationQueryParametersError"),
                "{bad}"
            );
        }
        assert_eq!(
            code(precheck(&http::Method::GET, &none, &q("60", "eu-west-1", "s3"), "us-east-1")).as_deref(),
            Some("AuthorizationQueryParametersError")
        );
        assert_eq!(
            code(precheck(&http::Method::GET, &none, &q("60", "us-east-1", "sts"), "us-east-1")).as_deref(),
            Some("AuthorizationQueryParametersError")
        );
        assert!(precheck(&http::Method::GET, &none, &uri("list-type=2&prefix=a"), "us-east-1").is_ok());
        let len = |n: u64| {
            let mut m = http::HeaderMap::new();
            m.insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(n));
            m
        };
        assert!(precheck(&http::Method::POST, &len(MAX_XML_BODY), &uri("delete"), "us-east-1").is_ok());
        assert_eq!(
            code(precheck(&http::Method::POST, &len(MAX_XML_BODY + 1), &uri("delete"), "us-east-1")).as_deref(),
            Some("EntityTooLarge")
        );
        assert!(
            precheck(&http::Method::PUT, &len(MAX_XML_BODY + 1), &plain, "us-east-1").is_ok(),
            "object bodies are not XML"
        );
    }

    #[test]
    fn post_keys_take_the_file_name() {
        assert_eq!(post_key("uploads/${filename}", Some("C:\\photos\\a.png")), "uploads/a.png");
        assert_eq!(post_key("uploads/${filename}", Some("../../etc/passwd")), "uploads/passwd");
        assert_eq!(post_key("uploads/x", Some("y")), "uploads/x");
        assert_eq!(post_key("uploads/${filename}", None), "uploads/");
    }
}
