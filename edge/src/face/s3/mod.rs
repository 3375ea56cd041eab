//! The S3 face: s3s parses and verifies the protocol; this module maps each operation onto
//! the caller's Object Space in the store, with policy, quota, usage and audit.

mod acl;
mod auth;
mod conditional;
pub mod cors;
pub mod errors;
pub mod expirer;
mod lifecycle;
mod meter;
mod objectlock;
pub mod post;
mod request;
mod tagging;
pub mod verify;
mod versions;

use std::sync::Arc;

use base64::Engine;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use rustshare_control::db::{ObjectRecord, PartRecord, UploadExtras, UploadRecord};
use rustshare_control::model::PermissionMode;
use rustshare_control::model::Versioning;
use rustshare_control::policy::{Action, Resource};
use rustshare_control::tags::TagSet;
use rustshare_control::versioning::Listed;
use rustshare_control::{Control, Credential};
use rustshare_store::{ByteRange, ListRequest, ObjectAttrs, ObjectMeta, ObjectStore};
use s3s::dto::{
    AbortMultipartUploadInput, AbortMultipartUploadOutput, Bucket, BucketCannedACL, BucketLocationConstraint, CORSConfiguration, Checksum,
    ChecksumAlgorithm, ChecksumMode, ChecksumType, CommonPrefix, CompleteMultipartUploadInput, CompleteMultipartUploadOutput,
    CopyObjectInput, CopyObjectOutput, CopyObjectResult, CopyPartResult, CreateBucketInput, CreateBucketOutput, CreateMultipartUploadInput,
    CreateMultipartUploadOutput, DeleteBucketCorsInput, DeleteBucketCorsOutput, DeleteBucketInput, DeleteBucketOutput, DeleteObjectInput,
    DeleteObjectOutput, DeleteObjectTaggingInput, DeleteObjectTaggingOutput, DeleteObjectsInput, DeleteObjectsOutput, DeletedObject, ETag,
    ETagCondition, EncodingType, Error, GetBucketAclInput, GetBucketAclOutput, GetBucketCorsInput, GetBucketCorsOutput,
    GetBucketLocationInput, GetBucketLocationOutput, GetBucketOwnershipControlsInput, GetBucketOwnershipControlsOutput, GetObjectAclInput,
    GetObjectAclOutput, GetObjectAttributesInput, GetObjectAttributesOutput, GetObjectAttributesParts, GetObjectInput, GetObjectOutput,
    GetObjectTaggingInput, GetObjectTaggingOutput, HeadBucketInput, HeadBucketOutput, HeadObjectInput, HeadObjectOutput, ListBucketsInput,
    ListBucketsOutput, ListMultipartUploadsInput, ListMultipartUploadsOutput, ListObjectsInput, ListObjectsOutput, ListObjectsV2Input,
    ListObjectsV2Output, ListPartsInput, ListPartsOutput, Metadata, MetadataDirective, MultipartUpload, Object, ObjectAttributes,
    ObjectCannedACL, ObjectPart, ObjectStorageClass, Owner, Part, PutBucketAclInput, PutBucketAclOutput, PutBucketCorsInput,
    PutBucketCorsOutput, PutObjectAclInput, PutObjectAclOutput, PutObjectInput, PutObjectOutput, PutObjectTaggingInput,
    PutObjectTaggingOutput, Range, StorageClass, StreamingBlob, Timestamp, TimestampFormat, UploadPartCopyInput, UploadPartCopyOutput,
    UploadPartInput, UploadPartOutput,
};
use s3s::dto::{
    BucketVersioningStatus, DeleteMarkerEntry, GetBucketVersioningInput, GetBucketVersioningOutput, ListObjectVersionsInput,
    ListObjectVersionsOutput, MFADelete, ObjectVersion, ObjectVersionStorageClass, PutBucketVersioningInput, PutBucketVersioningOutput,
};
use s3s::dto::{
    DeleteBucketLifecycleInput, DeleteBucketLifecycleOutput, GetBucketLifecycleConfigurationInput, GetBucketLifecycleConfigurationOutput,
    PutBucketLifecycleConfigurationInput, PutBucketLifecycleConfigurationOutput,
};
use s3s::dto::{
    GetObjectLegalHoldInput, GetObjectLegalHoldOutput, GetObjectLockConfigurationInput, GetObjectLockConfigurationOutput,
    GetObjectRetentionInput, GetObjectRetentionOutput, PutObjectLegalHoldInput, PutObjectLegalHoldOutput, PutObjectLockConfigurationInput,
    PutObjectLockConfigurationOutput, PutObjectRetentionInput, PutObjectRetentionOutput,
};
use s3s::{S3, S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

pub use auth::{Access, Auth, date_as_amz_date, precheck};
use request::object_event;
pub use request::{RequestInfo, unsized_put};

use crate::metrics::Metrics;
use verify::{Expected, verifying};

/// Largest single PUT or part S3 accepts.
const MAX_PUT: u64 = 5 * 1024 * 1024 * 1024;
/// Smallest part but the last.
const MIN_PART: u64 = 5 * 1024 * 1024;
/// Default bound of a POST form's file.
pub const DEFAULT_POST_MAX: u64 = 64 * 1024 * 1024;
/// S3's bound on user metadata (names and values).
const MAX_METADATA: usize = 2048;

/// The S3 operations over the store.
#[derive(Clone)]
pub struct S3Face {
    store: Arc<dyn ObjectStore>,
    control: Control,
    metrics: Metrics,
    region: String,
    post_max_bytes: u64,
    versions: versions::Versions,
}

impl S3Face {
    /// The part sizes of a multipart object, from the completion's record (the stores keep none,
    /// or do not tell them alike); `None` for an object stored in one piece. The record counts
    /// only if it has as many parts as the ETag says and as many bytes as the object.
    async fn part_sizes(&self, cred: &Credential, key: &str, meta: &ObjectMeta) -> S3Result<Option<Vec<u64>>> {
        let Some(count) = meta.etag.rsplit_once('-').and_then(|(_, c)| c.parse::<usize>().ok()) else {
            return Ok(None);
        };
        let recorded = self.control.object_parts(&cred.space.id, key).await.map_err(errors::control)?;
        let sizes = recorded
            .filter(|s| s.len() == count && s.iter().sum::<u64>() == meta.size)
            .unwrap_or_default();
        if sizes.is_empty() {
            return Err(s3_error!(
                NotImplemented,
                "The part boundaries of this object are not known here; use Range."
            ));
        }
        Ok(Some(sizes))
    }

    /// Part `n` of an object for GET/HEAD `?partNumber=`: its metadata, the part's byte span and
    /// `x-amz-mp-parts-count` (for objects completed from parts). An object stored in one piece
    /// has one part.
    async fn part_of(&self, cred: &Credential, full: &str, key: &str, n: u32) -> S3Result<(ObjectMeta, (u64, u64), Option<i32>)> {
        let meta = self.store.head(full).await.map_err(errors::store)?;
        let sizes = self.part_sizes(cred, key, &meta).await?;
        let (range, count) = rustshare_store::part_span(meta.size, sizes.as_deref().unwrap_or(&[]), n).map_err(errors::store)?;
        let parts_count = sizes.map(|_| i32::try_from(count).unwrap_or(i32::MAX));
        Ok((meta, range, parts_count))
    }

    /// An object's whole checksum and its type: those stored with it, else (for an object
    /// completed from parts) the composite recorded at completion, if its part count is this
    /// object's.
    async fn whole_checksum(&self, cred: &Credential, key: &str, m: &ObjectMeta) -> S3Result<(Checksum, Option<ChecksumType>)> {
        if !m.attrs.checksums.is_empty() {
            return Ok((
                checksum_from_map(&m.attrs.checksums),
                Some(ChecksumType::from_static(ChecksumType::FULL_OBJECT)),
            ));
        }
        let Some((_, count)) = m.etag.rsplit_once('-') else {
            return Ok((Checksum::default(), None));
        };
        let rec = self.control.object_checksum(&cred.space.id, key).await.map_err(errors::control)?;
        let rec = rec.filter(|r| r.ends_with(&format!("-{count}")));
        Ok(recorded_checksum(rec.as_deref()).map_or((Checksum::default(), None), |(c, t)| (c, Some(t))))
    }

    /// Refuses an operation that acts on the current version only when the request names a
    /// noncurrent one (naming the current version, or `null` in an unversioned space, is fine).
    async fn current_only(&self, cred: &Credential, key: &str, version: Option<&str>, op: &str) -> S3Result<()> {
        if version.is_none() {
            return Ok(());
        }
        if self.versions.locate(&cred.space, key, version).await?.noncurrent() {
            return Err(S3Error::with_message(
                S3ErrorCode::NotImplemented,
                format!("{op} of a noncurrent version is not supported; it acts on the current version only."),
            ));
        }
        Ok(())
    }

    /// The version whose retention or legal hold is read: 400 without object lock, 404 for a
    /// key without a current version, 405 for a marker (as [`versions::Versions::locate`]).
    async fn lock_row(&self, cred: &Credential, key: &str, version: Option<&str>) -> S3Result<rustshare_control::db::VersionRow> {
        if self.control.space_lock(&cred.space.id).await.map_err(errors::control)?.is_none() {
            return Err(versions::no_lock_config());
        }
        let found = self.versions.locate(&cred.space, key, version).await?;
        found.row.ok_or_else(|| s3_error!(NoSuchKey, "The specified key does not exist."))
    }

    /// The tags of the version `found` names: a noncurrent version's from its row.
    async fn version_tags(&self, cred: &Credential, key: &str, found: &versions::Found) -> S3Result<TagSet> {
        match &found.row {
            Some(r) if !r.is_current() => Ok(TagSet::decode(r.tags.as_deref())),
            _ => self.tags(cred, key).await,
        }
    }

    /// The tags recorded for an object (none for an object the index does not know).
    async fn tags(&self, cred: &Credential, key: &str) -> S3Result<TagSet> {
        let t = self.control.object_tags(&cred.space.id, key).await.map_err(errors::control)?;
        Ok(t.unwrap_or_default())
    }

    /// Replaces an existing object's tags (the object's bytes and ETag stay). An object the
    /// store has and the index lacks (a crash between the two) is recorded now.
    async fn retag(&self, cred: &Credential, full: &str, key: &str, tags: TagSet) -> S3Result<((), u64)> {
        let m = self.store.head(full).await.map_err(errors::store)?;
        match self.control.set_object_tags(&cred.space.id, key, tags.clone()).await {
            Ok(()) => Ok(((), 0)),
            Err(rustshare_control::Error::NotFound(_)) => {
                let rec = ObjectRecord {
                    size: m.size,
                    tags,
                    etag: Some(m.etag.clone()),
                    modified: Some(m.last_modified),
                    ..ObjectRecord::default()
                };
                self.control
                    .object_stored(&cred.space.id, key, rec)
                    .await
                    .map(|()| ((), 0))
                    .map_err(errors::control)
            }
            Err(e) => Err(errors::control(e)),
        }
    }

    /// For a write with `If-Match` or `If-None-Match`: takes the key for this writer, then
    /// checks the condition against the stored object. `None` (nothing held) for a write
    /// without conditions.
    async fn write_condition(
        &self,
        cred: &Credential,
        full: &str,
        key: &str,
        if_match: Option<&ETagCondition>,
        if_none_match: Option<&ETagCondition>,
    ) -> S3Result<Option<conditional::Guard>> {
        if if_match.is_none() && if_none_match.is_none() {
            return Ok(None);
        }
        let guard = conditional::lock(&self.control, &cred.space.id, key).await?;
        let current = match self.store.head(full).await {
            Ok(m) => Some(m.etag),
            Err(rustshare_store::Error::NotFound) => None,
            Err(e) => return Err(errors::store(e)),
        };
        conditional::decide(current.as_deref(), if_match, if_none_match)?;
        Ok(Some(guard))
    }

    /// A face over `store`.
    #[must_use]
    pub fn new(store: Arc<dyn ObjectStore>, control: Control, metrics: Metrics, region: String) -> Self {
        Self {
            versions: versions::Versions::new(store.clone(), control.clone(), None),
            store,
            control,
            metrics,
            region,
            post_max_bytes: DEFAULT_POST_MAX,
        }
    }

    /// The largest file a POST form upload may carry (s3s buffers it whole).
    #[must_use]
    pub fn with_post_max_bytes(mut self, max: u64) -> Self {
        self.post_max_bytes = max;
        self
    }

    /// The credential the access layer released for this request, after checking that it was
    /// signed with SigV4 for our region and for `s3` (POST forms reach here with SigV2 fields,
    /// which [`precheck`] cannot see: their signature is in the body).
    fn cred<T>(&self, req: &S3Request<T>) -> S3Result<Arc<Credential>> {
        // SigV2 carries no credential scope: s3s leaves the region unset.
        let (Some(region), Some(service)) = (req.region.as_ref(), req.service.as_deref()) else {
            return Err(s3_error!(
                InvalidRequest,
                "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."
            ));
        };
        if region.as_str() != self.region || service != "s3" {
            return Err(S3Error::with_message(
                S3ErrorCode::AuthorizationHeaderMalformed,
                format!("The credential scope must name region '{}' and service 's3'.", self.region),
            ));
        }
        auth::authorized(req)
    }

    /// Invalidate this CDN cache on every write, copy and delete, so the next public read
    /// sees the change on this node.
    #[must_use]
    pub fn with_purge(mut self, purge: std::sync::Arc<dyn crate::face::Purge>) -> Self {
        self.versions = versions::Versions::new(self.store.clone(), self.control.clone(), Some(purge));
        self
    }

    /// The lifecycle expirer over this face's versioned operations.
    #[must_use]
    pub fn expirer(&self) -> expirer::Expirer {
        expirer::Expirer::new(self.versions.clone(), self.control.clone(), self.store.clone())
    }

    /// Makes an old version of `key` current again (the control API's restore): answers the
    /// new version's id and its size.
    ///
    /// # Errors
    /// S3 errors: NoSuchVersion, MethodNotAllowed for a marker, QuotaExceeded, store errors.
    pub async fn restore_version(&self, space: &rustshare_control::model::Space, key: &str, version_id: &str) -> S3Result<(String, u64)> {
        self.versions.restore_version(space, key, version_id).await
    }

    /// Sets a version's retention (the control API's; `bypass` is the operator's governance
    /// bypass, decided by the caller). As [`versions::Versions::set_retention`].
    ///
    /// # Errors
    /// As PutObjectRetention.
    pub async fn set_retention(
        &self,
        space: &rustshare_control::model::Space,
        key: &str,
        version: Option<&str>,
        new: Option<rustshare_control::lock::Retention>,
        bypass: bool,
    ) -> S3Result<(String, rustshare_control::lock::ObjectLock)> {
        self.versions.set_retention(space, key, version, new, bypass).await
    }

    /// Puts or lifts a version's legal hold (the control API's).
    ///
    /// # Errors
    /// As PutObjectLegalHold.
    pub async fn set_legal_hold(
        &self,
        space: &rustshare_control::model::Space,
        key: &str,
        version: Option<&str>,
        on: bool,
    ) -> S3Result<(String, rustshare_control::lock::ObjectLock)> {
        self.versions.set_legal_hold(space, key, version, on).await
    }

    /// Removes one version for good (the control API's; `bypass` as for
    /// [`S3Face::set_retention`]); answers whether it was a delete marker.
    ///
    /// # Errors
    /// As DeleteObject with a version id.
    pub async fn delete_version(
        &self,
        space: &rustshare_control::model::Space,
        key: &str,
        version_id: &str,
        bypass: bool,
    ) -> S3Result<bool> {
        let (_, marker) = self.versions.delete_one(space, key, Some(version_id), bypass).await?;
        Ok(marker)
    }

    async fn changed(&self, space_id: &str, key: &str) {
        self.versions.changed(space_id, key).await;
    }

    /// The s3s service with our auth and access control.
    #[must_use]
    pub fn service(self) -> s3s::service::S3Service {
        let control = self.control.clone();
        let post_max = self.post_max_bytes;
        let mut b = s3s::service::S3ServiceBuilder::new(self);
        let mut config = s3s::config::S3Config::default();
        // The largest XML body we take: CompleteMultipartUpload of 10,000 parts and
        // DeleteObjects of 1,000 keys of 1,024 bytes both fit.
        config.xml_max_body_size = usize::try_from(auth::MAX_XML_BODY).unwrap_or(usize::MAX);
        // s3s holds a POST form's file in memory before the handler runs; the bound is ours.
        config.post_object_max_file_size = post_max;
        config.form_max_field_size = 64 * 1024;
        config.form_max_fields_size = post::SCAN_LIMIT - 4096;
        config.form_max_parts = 64;
        b.set_config(Arc::new(s3s::config::StaticConfigProvider::new(Arc::new(config))));
        b.set_auth(Auth { control: control.clone() });
        b.set_access(Access { control });
        b.build()
    }

    fn audit<T>(&self, req: &S3Request<T>, cred: &Credential, op: &str, key: Option<&str>, status: &str, bytes: u64) {
        let info = req.extensions.get::<RequestInfo>();
        self.control.audit(object_event(cred, info, &req.headers, op, key, status, bytes));
    }

    /// Runs `f` and writes one audit row with its outcome.
    async fn audited<T, O, F>(&self, req: &S3Request<T>, op: &str, key: Option<&str>, f: F) -> S3Result<O>
    where
        F: std::future::Future<Output = S3Result<(O, u64)>>,
    {
        let cred = self.cred(req)?;
        let r = f.await;
        match &r {
            Ok((_, bytes)) => self.audit(req, &cred, op, key, "ok", *bytes),
            Err(e) => self.audit(req, &cred, op, key, e.code().as_str(), 0),
        }
        r.map(|(o, _)| o)
    }
}

fn full_key(cred: &Credential, key: &str) -> S3Result<String> {
    auth::check_key(key)?;
    Ok(format!("{}{key}", cred.space.base_prefix))
}

/// S3 allows 2 KB of user metadata, names and values together.
fn check_metadata(m: Option<&Metadata>) -> S3Result<()> {
    if let Some(k) = m
        .into_iter()
        .flatten()
        .map(|(k, _)| k)
        .find(|k| k.to_ascii_lowercase().starts_with(rustshare_store::RESERVED_METADATA_PREFIX))
    {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            format!("The metadata name x-amz-meta-{k} is reserved."),
        ));
    }
    let size: usize = m.map_or(0, |m| m.iter().map(|(k, v)| k.len() + v.len()).sum());
    if size > MAX_METADATA {
        return Err(S3Error::with_message(
            S3ErrorCode::MetadataTooLarge,
            format!("Your metadata headers exceed the maximum allowed metadata size ({size} of {MAX_METADATA} bytes)."),
        ));
    }
    Ok(())
}

fn etag(v: &str) -> ETag {
    ETag::Strong(v.to_owned())
}

fn ts(t: time::OffsetDateTime) -> Timestamp {
    Timestamp::from(t)
}

/// The `x-amz-copy-source-range` of an UploadPartCopy: `bytes=first-last`, within the source,
/// as S3 requires (no open or suffix ranges; a range past the end is 400 InvalidRange).
fn copy_range(r: &str, size: u64) -> S3Result<ByteRange> {
    match Range::parse(r) {
        Ok(Range::Int { first, last: Some(last) }) if first <= last && last < size => Ok(ByteRange::FromTo(first, last)),
        Ok(Range::Int { last: Some(_), .. }) => {
            let mut e = S3Error::with_message(
                S3ErrorCode::InvalidRange,
                format!("The x-amz-copy-source-range {r:?} is not within the source object of size {size}."),
            );
            e.set_status_code(http::StatusCode::BAD_REQUEST);
            Err(e)
        }
        _ => Err(s3_error!(
            InvalidArgument,
            "The x-amz-copy-source-range value must be of the form bytes=first-last."
        )),
    }
}

/// The ACL headers of a write (PutObject, CopyObject, CreateMultipartUpload): only ones that
/// change nothing pass ([`acl::check_request`]).
macro_rules! object_acl {
    ($i:expr) => {
        acl::check_request(
            $i.acl.as_ref().map(ObjectCannedACL::as_str),
            &[
                $i.grant_full_control.as_ref(),
                $i.grant_read.as_ref(),
                $i.grant_read_acp.as_ref(),
                $i.grant_write_acp.as_ref(),
            ],
        )
    };
}

/// PutBucketAcl and PutObjectAcl ([`acl::check_put`]): s3s names their fields alike.
macro_rules! acl_put {
    ($i:expr, $canned:ty, $cred:expr) => {
        acl::check_put(
            $i.acl.as_ref().map(<$canned>::as_str),
            &[
                $i.grant_full_control.as_ref(),
                $i.grant_read.as_ref(),
                $i.grant_read_acp.as_ref(),
                $i.grant_write.as_ref(),
                $i.grant_write_acp.as_ref(),
            ],
            $i.access_control_policy.as_ref(),
            &$cred.space.tenant_id,
        )
    };
}

fn to_range(r: Range) -> ByteRange {
    match r {
        Range::Int { first, last: Some(last) } => ByteRange::FromTo(first, last),
        Range::Int { first, last: None } => ByteRange::From(first),
        Range::Suffix { length } => ByteRange::Suffix(length),
    }
}

/// What a write says of its object, as the standard headers carry it.
struct Headers {
    content_type: Option<String>,
    cache_control: Option<String>,
    content_disposition: Option<String>,
    content_encoding: Option<String>,
    content_language: Option<String>,
    expires: Option<Timestamp>,
    metadata: Option<Metadata>,
}

/// The [`Headers`] of a write's input (PutObject, CopyObject, CreateMultipartUpload: s3s names
/// their fields alike).
macro_rules! headers_of {
    ($i:expr) => {
        Headers {
            content_type: $i.content_type.clone(),
            cache_control: $i.cache_control.clone(),
            content_disposition: $i.content_disposition.clone(),
            content_encoding: $i.content_encoding.clone(),
            content_language: $i.content_language.clone(),
            expires: $i.expires.clone(),
            metadata: $i.metadata.clone(),
        }
    };
}

fn attrs_from(h: Headers) -> ObjectAttrs {
    // aws-chunked is a transfer detail, not part of the object's encoding: it is taken out and
    // the rest kept as the client wrote it.
    let content_encoding = h.content_encoding.map(|e| without_aws_chunked(&e)).filter(|e| !e.is_empty());
    let expires = h.expires.and_then(|t| {
        let mut out = Vec::new();
        t.format(TimestampFormat::HttpDate, &mut out).ok()?;
        String::from_utf8(out).ok()
    });
    ObjectAttrs {
        content_type: h.content_type,
        cache_control: h.cache_control,
        content_disposition: h.content_disposition,
        content_encoding,
        content_language: h.content_language,
        expires,
        user_metadata: h.metadata.map(|m| m.into_iter().collect()).unwrap_or_default(),
        checksums: std::collections::BTreeMap::default(),
    }
}

/// `Content-Encoding` without `aws-chunked`; a value without it is kept exactly as sent.
fn without_aws_chunked(e: &str) -> String {
    if !e.split(',').any(|p| p.trim().eq_ignore_ascii_case("aws-chunked")) {
        return e.to_owned();
    }
    e.split(',')
        .filter(|p| !p.trim().eq_ignore_ascii_case("aws-chunked"))
        .collect::<Vec<_>>()
        .join(",")
        .trim()
        .to_owned()
}

/// A stored `Expires` for a response.
fn expires_of(attrs: &ObjectAttrs) -> Option<Timestamp> {
    attrs
        .expires
        .as_deref()
        .and_then(|e| Timestamp::parse(TimestampFormat::HttpDate, e).ok())
}

/// The body's decoded length: Content-Length, or for aws-chunked bodies (which s3s 0.14 leaves
/// without one) `x-amz-decoded-content-length`.
fn declared_len(len: Option<i64>, headers: &http::HeaderMap) -> S3Result<u64> {
    let decoded = || {
        headers
            .get("x-amz-decoded-content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<i64>().ok())
    };
    let len = len
        .or_else(decoded)
        .ok_or_else(|| s3_error!(MissingContentLength, "You must provide the Content-Length HTTP header."))?;
    let len = u64::try_from(len).map_err(|_| s3_error!(InvalidArgument, "Content-Length must not be negative."))?;
    if len > MAX_PUT {
        return Err(s3_error!(
            EntityTooLarge,
            "Your proposed upload exceeds the maximum allowed object size of 5 GiB."
        ));
    }
    Ok(len)
}

/// The length of a PutObject body: [`declared_len`], or `None` for a body sent with
/// `Transfer-Encoding: chunked` and no length at all (streamed; the quota is reserved as it
/// arrives).
fn streamed_len(len: Option<i64>, headers: &http::HeaderMap) -> S3Result<Option<u64>> {
    let chunked = headers
        .get_all(http::header::TRANSFER_ENCODING)
        .iter()
        .any(|v| v.to_str().is_ok_and(|v| v.to_ascii_lowercase().contains("chunked")));
    if len.is_none() && chunked && !headers.contains_key("x-amz-decoded-content-length") {
        return Ok(None);
    }
    declared_len(len, headers).map(Some)
}

fn md5_of(v: Option<&String>) -> S3Result<Option<[u8; 16]>> {
    v.map(|s| verify::parse_content_md5(s).ok_or_else(|| s3_error!(InvalidDigest, "The Content-MD5 you specified is not valid.")))
        .transpose()
}

/// The `x-amz-checksum-*` values an input declares (PutObject and UploadPart name them alike).
macro_rules! declared_checksums {
    ($i:expr) => {
        Checksum {
            checksum_crc32: $i.checksum_crc32.clone(),
            checksum_crc32c: $i.checksum_crc32c.clone(),
            checksum_sha1: $i.checksum_sha1.clone(),
            checksum_sha256: $i.checksum_sha256.clone(),
            checksum_crc64nvme: $i.checksum_crc64nvme.clone(),
            ..Default::default()
        }
    };
}

/// What a body must match: Content-MD5, declared checksums, trailers, length.
fn expectations<T>(
    req: &S3Request<T>,
    content_md5: Option<&String>,
    checksums: Checksum,
    alg: Option<&ChecksumAlgorithm>,
    len: Option<u64>,
) -> S3Result<Expected> {
    Ok(Expected {
        md5: md5_of(content_md5)?,
        checksums,
        algorithms: trailer_algorithms(&req.headers, alg),
        trailers: req.trailing_headers.clone(),
        length: len,
    })
}

fn trailer_algorithms(headers: &http::HeaderMap, alg: Option<&ChecksumAlgorithm>) -> Vec<String> {
    let mut out: Vec<String> = headers
        .get("x-amz-trailer")
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(',')
                .filter_map(|t| t.trim().strip_prefix("x-amz-checksum-"))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if let Some(a) = alg {
        out.push(a.as_str().to_ascii_lowercase());
    }
    out
}

/// Sets the five `checksum_*` fields of an output struct from a [`Checksum`].
macro_rules! with_checksums {
    ($t:ident { $($body:tt)* }, $c:expr) => {{
        let c: Checksum = $c;
        $t {
            checksum_crc32: c.checksum_crc32,
            checksum_crc32c: c.checksum_crc32c,
            checksum_sha1: c.checksum_sha1,
            checksum_sha256: c.checksum_sha256,
            checksum_crc64nvme: c.checksum_crc64nvme,
            $($body)*
        }
    }};
}

/// What a verifying stream computed, once it has ended.
fn take_computed(c: &verify::Computed) -> Checksum {
    c.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take()
        .unwrap_or_default()
}

/// One page of an object's parts for GetObjectAttributes: after `marker`, at most `max` (1000
/// by default), with S3's truncation fields.
fn parts_page(sizes: &[u64], marker: Option<i32>, max: Option<i32>) -> S3Result<GetObjectAttributesParts> {
    let after = match marker {
        Some(m) => usize::try_from(m).map_err(|_| s3_error!(InvalidArgument, "part-number-marker must be a part number."))?,
        None => 0,
    };
    let max = match max {
        Some(m) if m < 0 => return Err(s3_error!(InvalidArgument, "max-parts must be between 0 and 1000.")),
        Some(m) => usize::try_from(m).unwrap_or(1000).min(1000),
        None => 1000,
    };
    let page: Vec<ObjectPart> = sizes
        .iter()
        .enumerate()
        .skip(after)
        .take(max)
        .map(|(n, size)| ObjectPart {
            part_number: i32::try_from(n + 1).ok(),
            size: i64::try_from(*size).ok(),
            ..Default::default()
        })
        .collect();
    let last = after + page.len();
    let truncated = last < sizes.len();
    Ok(GetObjectAttributesParts {
        total_parts_count: i32::try_from(sizes.len()).ok(),
        part_number_marker: marker,
        next_part_number_marker: truncated.then(|| i32::try_from(last).unwrap_or(i32::MAX)),
        max_parts: i32::try_from(max).ok(),
        is_truncated: Some(truncated),
        parts: Some(page),
    })
}

/// The `partNumber` of a GET or HEAD: 1 to 10,000, and not together with a Range.
fn part_number(n: Option<i32>, ranged: bool) -> S3Result<Option<u32>> {
    let Some(n) = n else { return Ok(None) };
    if ranged {
        return Err(s3_error!(
            InvalidRequest,
            "Cannot specify both Range header and partNumber query parameter."
        ));
    }
    u32::try_from(n)
        .ok()
        .filter(|n| (1..=10_000).contains(n))
        .map(Some)
        .ok_or_else(|| s3_error!(InvalidArgument, "Part number must be an integer between 1 and 10000, inclusive."))
}

/// Whether a GET or HEAD asked for the object's checksums.
fn checksums_asked(mode: Option<&ChecksumMode>) -> bool {
    mode.is_some_and(|m| m.as_str().eq_ignore_ascii_case(ChecksumMode::ENABLED))
}

/// A composite checksum (`<base64>-<parts>`) as a [`Checksum`] of its algorithm.
fn composite_checksum(alg: &str, value: String) -> Checksum {
    checksum_from_map(&std::iter::once((alg.to_owned(), value)).collect())
}

/// The checksum control recorded for an object (`algorithm:value`, the composite of a
/// multipart upload) as a [`Checksum`] and its type.
fn recorded_checksum(stored: Option<&str>) -> Option<(Checksum, ChecksumType)> {
    let (alg, v) = stored?.split_once(':')?;
    Some((
        composite_checksum(alg, v.to_owned()),
        ChecksumType::from_static(ChecksumType::COMPOSITE),
    ))
}

/// Stored checksums (by algorithm name) as a [`Checksum`].
fn checksum_from_map(m: &std::collections::BTreeMap<String, String>) -> Checksum {
    Checksum {
        checksum_crc32: m.get("crc32").cloned(),
        checksum_crc32c: m.get("crc32c").cloned(),
        checksum_sha1: m.get("sha1").cloned(),
        checksum_sha256: m.get("sha256").cloned(),
        checksum_crc64nvme: m.get("crc64nvme").cloned(),
        ..Default::default()
    }
}

fn checksums_to_map(c: &Checksum) -> std::collections::BTreeMap<String, String> {
    let mut m = std::collections::BTreeMap::new();
    for (k, v) in [
        ("crc32", &c.checksum_crc32),
        ("crc32c", &c.checksum_crc32c),
        ("sha1", &c.checksum_sha1),
        ("sha256", &c.checksum_sha256),
        ("crc64nvme", &c.checksum_crc64nvme),
    ] {
        if let Some(v) = v {
            m.insert(k.to_owned(), v.clone());
        }
    }
    m
}

/// Evaluates If-Match / If-None-Match / If-(Un)Modified-Since as RFC 9110 orders them.
fn preconditions(
    meta: &ObjectMeta,
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
    if_modified_since: Option<&Timestamp>,
    if_unmodified_since: Option<&Timestamp>,
) -> S3Result<()> {
    let matches = |c: &ETagCondition| conditional::etag_matches(c, &meta.etag);
    let lm: time::OffsetDateTime = meta.last_modified;
    if let Some(c) = if_match {
        if !matches(c) {
            return Err(s3_error!(
                PreconditionFailed,
                "At least one of the pre-conditions you specified did not hold."
            ));
        }
    } else if let Some(t) = if_unmodified_since
        && lm > time::OffsetDateTime::from(t.clone())
    {
        return Err(s3_error!(
            PreconditionFailed,
            "At least one of the pre-conditions you specified did not hold."
        ));
    }
    if let Some(c) = if_none_match {
        if matches(c) {
            return Err(not_modified(meta));
        }
    } else if let Some(t) = if_modified_since
        && lm <= time::OffsetDateTime::from(t.clone())
    {
        return Err(not_modified(meta));
    }
    Ok(())
}

fn not_modified(meta: &ObjectMeta) -> S3Error {
    let mut e = S3Error::new(S3ErrorCode::NotModified);
    e.set_status_code(http::StatusCode::NOT_MODIFIED);
    let mut h = http::HeaderMap::new();
    if let Ok(v) = http::HeaderValue::from_str(&format!("\"{}\"", meta.etag)) {
        h.insert(http::header::ETAG, v);
    }
    e.set_headers(h);
    e
}

/// Keys in list results, URL-encoded when the client asked for `encoding-type=url` (aws-cli
/// always does, and decodes what it gets back).
const URL_ENCODE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~').remove(b'/');

fn enc(url: bool, s: &str) -> String {
    if url {
        utf8_percent_encode(s, URL_ENCODE).to_string()
    } else {
        s.to_owned()
    }
}

use auth::copy_source;

/// The inputs ListObjects V1 and V2 share, in the space's own key namespace.
struct ListQuery<'a> {
    bucket: &'a str,
    prefix: &'a str,
    delimiter: Option<&'a str>,
    after: Option<String>,
    max_keys: Option<i32>,
    url: bool,
}

struct Listing {
    contents: Vec<Object>,
    prefixes: Vec<CommonPrefix>,
    truncated: bool,
    next: Option<String>,
}

impl S3Face {
    async fn list_common(&self, cred: &Credential, q: ListQuery<'_>) -> S3Result<Listing> {
        let ListQuery {
            bucket,
            prefix,
            delimiter,
            after,
            max_keys,
            url,
        } = q;
        auth::check_prefix("prefix", prefix)?;
        if let Some(a) = &after {
            auth::check_prefix("marker", a)?;
        }
        auth::authorize(cred, bucket, Action::ListBucket, Resource::Prefix(prefix), self.control.now())?;
        let max = match max_keys {
            Some(m) if m < 0 => return Err(s3_error!(InvalidArgument, "max-keys must be between 0 and 1000.")),
            Some(m) => usize::try_from(m).unwrap_or(1000).min(1000),
            None => 1000,
        };
        if max == 0 {
            return Ok(Listing {
                contents: vec![],
                prefixes: vec![],
                truncated: false,
                next: None,
            });
        }
        let base = &cred.space.base_prefix;
        let req = ListRequest {
            prefix: format!("{base}{prefix}"),
            delimiter: delimiter.filter(|d| !d.is_empty()).map(str::to_owned),
            start_after: after.map(|a| format!("{base}{a}")),
            max_keys: max,
        };
        let page = self.store.list(&req).await.map_err(errors::store)?;
        let strip = |k: &str| k.strip_prefix(base.as_str()).unwrap_or(k).to_owned();
        let contents = page
            .entries
            .iter()
            .map(|e| Object {
                key: Some(enc(url, &strip(&e.key))),
                size: Some(i64::try_from(e.size).unwrap_or(i64::MAX)),
                e_tag: (!e.etag.is_empty()).then(|| etag(&e.etag)),
                last_modified: Some(ts(e.last_modified)),
                storage_class: Some(ObjectStorageClass::from_static(ObjectStorageClass::STANDARD)),
                ..Default::default()
            })
            .collect();
        let prefixes = page
            .common_prefixes
            .iter()
            .map(|p| CommonPrefix {
                prefix: Some(enc(url, &strip(p))),
            })
            .collect();
        Ok(Listing {
            contents,
            prefixes,
            truncated: page.is_truncated,
            next: page.next_marker.map(|m| strip(&m)),
        })
    }

    async fn put_part_body(
        &self,
        cred: &Credential,
        full: &str,
        upload_id: &str,
        part: u32,
        (body, len): (rustshare_store::ByteStream, u64),
        checksum: impl FnOnce() -> Option<String> + Send,
    ) -> S3Result<rustshare_store::PartInfo> {
        let reservation = self.control.reserve(&cred.space, len).await.map_err(errors::control)?;
        let info = self
            .store
            .upload_part(full, upload_id, part, body, Some(len))
            .await
            .map_err(errors::store)?;
        rustshare_control::pause::point("part.stored");
        let rec = PartRecord {
            part_number: part,
            size: info.size,
            etag: info.etag.clone(),
            checksum: checksum(),
        };
        self.control.part_stored(upload_id, rec).await.map_err(errors::control)?;
        // Released before the answer, so the client's next request sees the quota exactly.
        reservation.release().await;
        self.metrics.bytes_in(&cred.space.id, info.size);
        Ok(info)
    }

    async fn upload_of(&self, cred: &Credential, upload_id: &str, key: &str) -> S3Result<UploadRecord> {
        match self.control.upload(upload_id, &cred.space.id, key).await.map_err(errors::control)? {
            Some(u) => Ok(u),
            None => Err(s3_error!(NoSuchUpload, "The specified multipart upload does not exist.")),
        }
    }
}

#[async_trait::async_trait]
impl S3 for S3Face {
    async fn list_buckets(&self, req: S3Request<ListBucketsInput>) -> S3Result<S3Response<ListBucketsOutput>> {
        let cred = self.cred(&req)?;
        // A tenant-wide key sees its tenant's buckets; any other key its own only.
        let spaces = if cred.identity.mode == PermissionMode::TenantWide {
            self.control
                .tenant_spaces(&cred.identity.tenant_id)
                .await
                .map_err(errors::control)?
        } else {
            vec![cred.space.clone()]
        };
        let buckets = spaces
            .iter()
            .map(|s| Bucket {
                name: Some(s.bucket.clone()),
                creation_date: Some(ts(s.created_at)),
                bucket_region: None,
            })
            .collect();
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(buckets),
            owner: Some(Owner {
                display_name: Some(cred.space.tenant_id.clone()),
                id: Some(cred.space.tenant_id.clone()),
            }),
            ..Default::default()
        }))
    }

    async fn head_bucket(&self, _req: S3Request<HeadBucketInput>) -> S3Result<S3Response<HeadBucketOutput>> {
        Ok(S3Response::new(HeadBucketOutput {
            bucket_region: Some(self.region.clone()),
            ..Default::default()
        }))
    }

    async fn get_bucket_location(&self, _req: S3Request<GetBucketLocationInput>) -> S3Result<S3Response<GetBucketLocationOutput>> {
        let location_constraint = (self.region != "us-east-1").then(|| BucketLocationConstraint::from(self.region.clone()));
        Ok(S3Response::new(GetBucketLocationOutput { location_constraint }))
    }

    async fn get_bucket_acl(&self, req: S3Request<GetBucketAclInput>) -> S3Result<S3Response<GetBucketAclOutput>> {
        let cred = self.cred(&req)?;
        Ok(S3Response::new(GetBucketAclOutput {
            grants: Some(acl::grants(&cred)),
            owner: Some(acl::owner(&cred)),
        }))
    }

    async fn get_object_acl(&self, req: S3Request<GetObjectAclInput>) -> S3Result<S3Response<GetObjectAclOutput>> {
        let cred = self.cred(&req)?;
        let full = full_key(&cred, &req.input.key)?;
        self.store.head(&full).await.map_err(errors::store)?;
        Ok(S3Response::new(GetObjectAclOutput {
            grants: Some(acl::grants(&cred)),
            owner: Some(acl::owner(&cred)),
            ..Default::default()
        }))
    }

    async fn put_bucket_acl(&self, req: S3Request<PutBucketAclInput>) -> S3Result<S3Response<PutBucketAclOutput>> {
        let cred = self.cred(&req)?;
        let i = &req.input;
        acl_put!(i, BucketCannedACL, &cred)?;
        Ok(S3Response::new(PutBucketAclOutput::default()))
    }

    async fn put_object_acl(&self, req: S3Request<PutObjectAclInput>) -> S3Result<S3Response<PutObjectAclOutput>> {
        let cred = self.cred(&req)?;
        let i = &req.input;
        let full = full_key(&cred, &i.key)?;
        acl_put!(i, ObjectCannedACL, &cred)?;
        self.store.head(&full).await.map_err(errors::store)?;
        Ok(S3Response::new(PutObjectAclOutput::default()))
    }

    async fn get_bucket_ownership_controls(
        &self,
        _req: S3Request<GetBucketOwnershipControlsInput>,
    ) -> S3Result<S3Response<GetBucketOwnershipControlsOutput>> {
        Ok(S3Response::new(GetBucketOwnershipControlsOutput {
            ownership_controls: Some(acl::ownership()),
        }))
    }

    async fn create_bucket(&self, req: S3Request<CreateBucketInput>) -> S3Result<S3Response<CreateBucketOutput>> {
        let cred = self.cred(&req)?;
        let i = &req.input;
        self.audited(&req, "CreateBucket", None, async {
            acl::check_request(
                i.acl.as_ref().map(BucketCannedACL::as_str),
                &[
                    i.grant_full_control.as_ref(),
                    i.grant_read.as_ref(),
                    i.grant_read_acp.as_ref(),
                    i.grant_write.as_ref(),
                    i.grant_write_acp.as_ref(),
                ],
            )?;
            // A bucket the key already reaches: rclone and others create the bucket before
            // their first upload, so it answers as made (as S3 does in us-east-1).
            if i.bucket == cred.space.bucket {
                return Ok(((), 0));
            }
            // A new name, from a tenant-wide key (Access checked the mode).
            let made = self
                .control
                .create_space_for_key(&cred.identity, &cred.space, &i.bucket)
                .await
                .map_err(|e| match e {
                    rustshare_control::Error::Conflict(m) if m.contains("this tenant already has") => S3Error::with_message(
                        S3ErrorCode::BucketAlreadyOwnedByYou,
                        "Your previous request to create the named bucket succeeded and you already own it.",
                    ),
                    rustshare_control::Error::Conflict(_) => S3Error::with_message(
                        S3ErrorCode::BucketAlreadyExists,
                        "The requested bucket name is not available. Please select a different name and try again.",
                    ),
                    rustshare_control::Error::Invalid(m) => S3Error::with_message(S3ErrorCode::InvalidBucketName, m),
                    rustshare_control::Error::Forbidden(m) => S3Error::with_message(S3ErrorCode::AccessDenied, m),
                    other => errors::control(other),
                })?;
            // `x-amz-bucket-object-lock-enabled`: versioned and locked from the start, as S3.
            if i.object_lock_enabled_for_bucket == Some(true) {
                self.control
                    .put_space_versioning(&made.id, Versioning::Enabled)
                    .await
                    .map_err(errors::control)?;
                self.control
                    .put_space_lock(&made.id, rustshare_control::lock::LockConfig::default())
                    .await
                    .map_err(errors::control)?;
            }
            Ok(((), 0))
        })
        .await?;
        Ok(S3Response::new(CreateBucketOutput::default()))
    }

    async fn delete_bucket(&self, req: S3Request<DeleteBucketInput>) -> S3Result<S3Response<DeleteBucketOutput>> {
        let cred = self.cred(&req)?;
        self.audited(&req, "DeleteBucket", None, async {
            self.control
                .delete_space_for_key(&cred.identity, &cred.space)
                .await
                .map_err(|e| match e {
                    rustshare_control::Error::Conflict(m) if m == "BucketNotEmpty" => {
                        S3Error::with_message(S3ErrorCode::BucketNotEmpty, "The bucket you tried to delete is not empty.")
                    }
                    rustshare_control::Error::Conflict(m) => {
                        let mut e = S3Error::with_message(S3ErrorCode::Custom("BucketInUse".into()), m);
                        e.set_status_code(http::StatusCode::CONFLICT);
                        e
                    }
                    rustshare_control::Error::Forbidden(m) => S3Error::with_message(S3ErrorCode::AccessDenied, m),
                    other => errors::control(other),
                })?;
            Ok(((), 0))
        })
        .await?;
        Ok(S3Response::with_status(DeleteBucketOutput::default(), http::StatusCode::NO_CONTENT))
    }

    async fn list_objects(&self, req: S3Request<ListObjectsInput>) -> S3Result<S3Response<ListObjectsOutput>> {
        let cred = self.cred(&req)?;
        let i = &req.input;
        let url = i.encoding_type.as_ref().is_some_and(|e| e.as_str() == EncodingType::URL);
        let prefix = i.prefix.clone().unwrap_or_default();
        let out = self
            .audited(&req, "ListObjects", None, async {
                let l = self
                    .list_common(
                        &cred,
                        ListQuery {
                            bucket: &i.bucket,
                            prefix: &prefix,
                            delimiter: i.delimiter.as_deref(),
                            after: i.marker.clone(),
                            max_keys: i.max_keys,
                            url,
                        },
                    )
                    .await?;
                // V1 lists each object's owner, and always has a Marker, empty when none was given.
                let owner = acl::owner(&cred);
                let contents = l
                    .contents
                    .into_iter()
                    .map(|o| Object {
                        owner: Some(owner.clone()),
                        ..o
                    })
                    .collect();
                let out = ListObjectsOutput {
                    name: Some(i.bucket.clone()),
                    // V1 leaves Prefix as sent even with encoding-type=url (S3 does; botocore decodes
                    // every other field of a V1 answer, but not this one).
                    prefix: Some(prefix.clone()),
                    marker: Some(i.marker.as_ref().map(|m| enc(url, m)).unwrap_or_default()),
                    delimiter: i.delimiter.as_ref().filter(|d| !d.is_empty()).map(|d| enc(url, d)),
                    max_keys: Some(i.max_keys.unwrap_or(1000)),
                    is_truncated: Some(l.truncated),
                    next_marker: if l.truncated { l.next.as_ref().map(|m| enc(url, m)) } else { None },
                    contents: Some(contents),
                    common_prefixes: Some(l.prefixes),
                    encoding_type: i.encoding_type.clone(),
                    ..Default::default()
                };
                Ok((out, 0))
            })
            .await?;
        Ok(S3Response::new(out))
    }

    async fn list_objects_v2(&self, req: S3Request<ListObjectsV2Input>) -> S3Result<S3Response<ListObjectsV2Output>> {
        let cred = self.cred(&req)?;
        let i = &req.input;
        let url = i.encoding_type.as_ref().is_some_and(|e| e.as_str() == EncodingType::URL);
        let prefix = i.prefix.clone().unwrap_or_default();
        let token = auth::continuation(i.continuation_token.as_ref())?;
        let after = match (token, i.start_after.clone()) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let out = self
            .audited(&req, "ListObjectsV2", None, async {
                let l = self
                    .list_common(
                        &cred,
                        ListQuery {
                            bucket: &i.bucket,
                            prefix: &prefix,
                            delimiter: i.delimiter.as_deref(),
                            after,
                            max_keys: i.max_keys,
                            url,
                        },
                    )
                    .await?;
                let key_count = i32::try_from(l.contents.len() + l.prefixes.len()).unwrap_or(i32::MAX);
                // V2 names owners only when asked to (fetch-owner=true).
                let owner = i.fetch_owner.unwrap_or(false).then(|| acl::owner(&cred));
                let contents = l.contents.into_iter().map(|o| Object { owner: owner.clone(), ..o }).collect();
                let out = ListObjectsV2Output {
                    name: Some(i.bucket.clone()),
                    prefix: Some(enc(url, &prefix)),
                    delimiter: i.delimiter.as_ref().filter(|d| !d.is_empty()).map(|d| enc(url, d)),
                    max_keys: Some(i.max_keys.unwrap_or(1000)),
                    key_count: Some(key_count),
                    is_truncated: Some(l.truncated),
                    continuation_token: i.continuation_token.clone(),
                    next_continuation_token: if l.truncated {
                        l.next.map(|m| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(m))
                    } else {
                        None
                    },
                    start_after: i.start_after.as_ref().map(|s| enc(url, s)),
                    contents: Some(contents),
                    common_prefixes: Some(l.prefixes),
                    encoding_type: i.encoding_type.clone(),
                    ..Default::default()
                };
                Ok((out, 0))
            })
            .await?;
        Ok(S3Response::new(out))
    }

    async fn head_object(&self, req: S3Request<HeadObjectInput>) -> S3Result<S3Response<HeadObjectOutput>> {
        let cred = self.cred(&req)?;
        let i = &req.input;
        let out = self
            .audited(&req, "HeadObject", Some(&i.key), async {
                let found = self.versions.locate(&cred.space, &i.key, i.version_id.as_deref()).await?;
                let (lock_mode, lock_until, lock_hold) = found.row.as_ref().map(|r| objectlock::headers(&r.lock)).unwrap_or_default();
                let full = found.full.clone();
                let part = part_number(i.part_number, i.range.is_some())?;
                if part.is_some() && found.noncurrent() {
                    return Err(s3_error!(
                        InvalidArgument,
                        "partNumber is not supported with the versionId of a noncurrent version."
                    ));
                }
                let (mut m, span, parts_count) = match part {
                    Some(n) => {
                        let (m, range, count) = self.part_of(&cred, &full, &i.key, n).await?;
                        (m, Some(range), count)
                    }
                    None => (self.store.head(&full).await.map_err(errors::store)?, None, None),
                };
                found.patch(&mut m);
                let tags = self.version_tags(&cred, &i.key, &found).await?;
                let (sum, sum_type) = if part.is_none() && !found.noncurrent() && checksums_asked(i.checksum_mode.as_ref()) {
                    self.whole_checksum(&cred, &i.key, &m).await?
                } else {
                    (Checksum::default(), None)
                };
                preconditions(
                    &m,
                    i.if_match.as_ref(),
                    i.if_none_match.as_ref(),
                    i.if_modified_since.as_ref(),
                    i.if_unmodified_since.as_ref(),
                )?;
                let span = match (span, i.range) {
                    (Some(s), _) => Some(s),
                    (None, Some(r)) => Some(to_range(r).resolve(m.size).map_err(errors::store)?),
                    (None, None) => None,
                };
                let (len, content_range) = match span {
                    Some((a, b)) => (b - a + 1, Some(format!("bytes {a}-{b}/{}", m.size))),
                    None => (m.size, None),
                };
                let out = with_checksums!(
                    HeadObjectOutput {
                        content_length: Some(i64::try_from(len).unwrap_or(i64::MAX)),
                        content_range,
                        e_tag: Some(etag(&m.etag)),
                        last_modified: Some(ts(m.last_modified)),
                        content_type: m.attrs.content_type.clone().or_else(|| Some("binary/octet-stream".into())),
                        cache_control: m.attrs.cache_control.clone(),
                        content_disposition: m.attrs.content_disposition.clone(),
                        content_encoding: m.attrs.content_encoding.clone(),
                        content_language: m.attrs.content_language.clone(),
                        expires: expires_of(&m.attrs),
                        metadata: (!m.attrs.user_metadata.is_empty()).then(|| m.attrs.user_metadata.clone().into_iter().collect()),
                        accept_ranges: Some("bytes".into()),
                        parts_count,
                        checksum_type: sum_type,
                        version_id: found.version_id(),
                        object_lock_mode: lock_mode,
                        object_lock_retain_until_date: lock_until,
                        object_lock_legal_hold_status: lock_hold,
                        ..Default::default()
                    },
                    sum
                );
                Ok(((out, tagging::count(&tags)), 0))
            })
            .await?;
        let (out, tag_count) = out;
        let mut resp = S3Response::new(out);
        // s3s's HeadObjectOutput has no tag count; S3 sends it on HEAD as on GET.
        if let Some(n) = tag_count {
            resp.headers.insert("x-amz-tagging-count", http::HeaderValue::from(n));
        }
        Ok(resp)
    }

    async fn get_object_attributes(&self, req: S3Request<GetObjectAttributesInput>) -> S3Result<S3Response<GetObjectAttributesOutput>> {
        let cred = self.cred(&req)?;
        let i = &req.input;
        let full = full_key(&cred, &i.key)?;
        let out = self
            .audited(&req, "GetObjectAttributes", Some(&i.key), async {
                self.current_only(&cred, &i.key, i.version_id.as_deref(), "GetObjectAttributes")
                    .await?;
                // One header, `x-amz-object-attributes: ETag,ObjectSize`, may arrive as one item.
                let wanted: Vec<&str> = i
                    .object_attributes
                    .iter()
                    .flat_map(|a| a.as_str().split(','))
                    .map(str::trim)
                    .collect();
                let want = |name: &str| wanted.iter().any(|w| w.eq_ignore_ascii_case(name));
                let m = self.store.head(&full).await.map_err(errors::store)?;
                let object_parts = if want(ObjectAttributes::OBJECT_PARTS) {
                    match self.part_sizes(&cred, &i.key, &m).await? {
                        Some(sizes) => Some(parts_page(&sizes, i.part_number_marker, i.max_parts)?),
                        None => None,
                    }
                } else {
                    None
                };
                let out = GetObjectAttributesOutput {
                    e_tag: want(ObjectAttributes::ETAG).then(|| etag(&m.etag)),
                    object_size: want(ObjectAttributes::OBJECT_SIZE).then(|| i64::try_from(m.size).unwrap_or(i64::MAX)),
                    storage_class: want(ObjectAttributes::STORAGE_CLASS).then(|| StorageClass::from_static(StorageClass::STANDARD)),
                    checksum: if want(ObjectAttributes::CHECKSUM) {
                        Some(self.whole_checksum(&cred, &i.key, &m).await?)
                            .filter(|(_, t)| t.is_some())
                            .map(|(c, t)| Checksum { checksum_type: t, ..c })
                    } else {
                        None
                    },
                    object_parts,
                    last_modified: Some(ts(m.last_modified)),
                    ..Default::default()
                };
                Ok((out, 0))
            })
            .await?;
        Ok(S3Response::new(out))
    }

    async fn get_object(&self, req: S3Request<GetObjectInput>) -> S3Result<S3Response<GetObjectOutput>> {
        let cred = self.cred(&req)?;
        let i = &req.input;
        let out = self
            .audited(&req, "GetObject", Some(&i.key), async {
                let found = self.versions.locate(&cred.space, &i.key, i.version_id.as_deref()).await?;
                let (lock_mode, lock_until, lock_hold) = found.row.as_ref().map(|r| objectlock::headers(&r.lock)).unwrap_or_default();
                let full = found.full.clone();
                let part = part_number(i.part_number, i.range.is_some())?;
                if part.is_some() && found.noncurrent() {
                    return Err(s3_error!(
                        InvalidArgument,
                        "partNumber is not supported with the versionId of a noncurrent version."
                    ));
                }
                let (range, parts_count, expect) = match part {
                    Some(n) => {
                        let (m, (a, b), count) = self.part_of(&cred, &full, &i.key, n).await?;
                        (Some(ByteRange::FromTo(a, b)), count, Some(m.etag))
                    }
                    None => (i.range.map(to_range), None, None),
                };
                let (g, tags) = tokio::join!(self.store.get(&full, range), self.version_tags(&cred, &i.key, &found));
                let (mut g, tags) = (g.map_err(errors::store)?, tags?);
                found.patch(&mut g.meta);
                if expect.is_some_and(|e| e != g.meta.etag) {
                    return Err(s3_error!(InternalError, "The object changed while it was read; retry."));
                }
                preconditions(
                    &g.meta,
                    i.if_match.as_ref(),
                    i.if_none_match.as_ref(),
                    i.if_modified_since.as_ref(),
                    i.if_unmodified_since.as_ref(),
                )?;
                let m = &g.meta;
                let (len, content_range) = match g.range {
                    Some((a, b)) => (b - a + 1, Some(format!("bytes {a}-{b}/{}", m.size))),
                    None => (m.size, None),
                };
                // Checksums describe the whole object; S3 omits them for ranges, and sends them
                // only to a client that asks (x-amz-checksum-mode: ENABLED).
                let (c, sum_type) = if g.range.is_none() && !found.noncurrent() && checksums_asked(i.checksum_mode.as_ref()) {
                    self.whole_checksum(&cred, &i.key, m).await?
                } else {
                    (Checksum::default(), None)
                };
                self.metrics.bytes_out(&cred.space.id, len);
                let out = with_checksums!(
                    GetObjectOutput {
                        body: Some(StreamingBlob::wrap(sync_wrapper::SyncStream::new(g.body))),
                        content_length: Some(i64::try_from(len).unwrap_or(i64::MAX)),
                        content_range,
                        e_tag: Some(etag(&m.etag)),
                        last_modified: Some(ts(m.last_modified)),
                        content_type: i
                            .response_content_type
                            .clone()
                            .or_else(|| m.attrs.content_type.clone())
                            .or_else(|| Some("binary/octet-stream".into())),
                        cache_control: i.response_cache_control.clone().or_else(|| m.attrs.cache_control.clone()),
                        content_disposition: i
                            .response_content_disposition
                            .clone()
                            .or_else(|| m.attrs.content_disposition.clone()),
                        content_encoding: i.response_content_encoding.clone().or_else(|| m.attrs.content_encoding.clone()),
                        content_language: i.response_content_language.clone().or_else(|| m.attrs.content_language.clone()),
                        expires: i.response_expires.clone().or_else(|| expires_of(&m.attrs)),
                        metadata: (!m.attrs.user_metadata.is_empty()).then(|| m.attrs.user_metadata.clone().into_iter().collect()),
                        accept_ranges: Some("bytes".into()),
                        parts_count,
                        tag_count: tagging::count(&tags),
                        checksum_type: sum_type,
                        version_id: found.version_id(),
                        object_lock_mode: lock_mode,
                        object_lock_retain_until_date: lock_until,
                        object_lock_legal_hold_status: lock_hold,
                        ..Default::default()
                    },
                    c
                );
                Ok((out, len))
            })
            .await?;
        let status = if out.content_range.is_some() {
            http::StatusCode::PARTIAL_CONTENT
        } else {
            http::StatusCode::OK
        };
        Ok(S3Response::with_status(out, status))
    }

    async fn put_object(&self, req: S3Request<PutObjectInput>) -> S3Result<S3Response<PutObjectOutput>> {
        let cred = self.cred(&req)?;
        let mut req = req;
        let body = req.input.body.take();
        let i = &req.input;
        let full = full_key(&cred, &i.key)?;
        let key = i.key.clone();
        // POST forms arrive here through s3s's default post_object, after their access hook.
        let op = match req.extensions.get::<RequestInfo>().and_then(RequestInfo::op) {
            Some("PostObject") => "PostObject",
            _ => "PutObject",
        };
        let out = self
            .audited(&req, op, Some(&key), async {
                check_metadata(i.metadata.as_ref())?;
                object_acl!(i)?;
                let tags = tagging::from_header(i.tagging.as_ref())?;
                let asked = objectlock::asked(
                    i.object_lock_mode.as_ref(),
                    i.object_lock_retain_until_date.as_ref(),
                    i.object_lock_legal_hold_status.as_ref(),
                    cred.identity.mode,
                    self.control.now(),
                )?;
                // `None`: a chunked body of unknown length.
                let unsized_body = req.extensions.get::<RequestInfo>().is_some_and(RequestInfo::unsized_body);
                let len = if unsized_body {
                    None
                } else {
                    streamed_len(i.content_length, &req.headers)?
                };
                let body = body.ok_or_else(|| s3_error!(IncompleteBody, "The request body is missing."))?;
                // Held until the write is accounted: check and write are one step for
                // conditional writers on every node.
                let guard = self
                    .write_condition(&cred, &full, &key, i.if_match.as_ref(), i.if_none_match.as_ref())
                    .await?;
                // Quota before the first byte is read: with `Expect: 100-continue` the client
                // has not even sent the body yet. A body of unknown length reserves as it
                // arrives (`meter`).
                let reservation = match len {
                    Some(n) => Some(self.control.reserve(&cred.space, n).await.map_err(errors::control)?),
                    None => None,
                };
                let exp = expectations(
                    &req,
                    i.content_md5.as_ref(),
                    declared_checksums!(i),
                    i.checksum_algorithm.as_ref(),
                    len,
                )?;
                let (stream, computed) = verifying(body, exp);
                let (stream, held) = match len {
                    Some(_) => (stream, meter::Held::default()),
                    None => meter::metered(stream, self.control.clone(), cred.space.clone(), MAX_PUT),
                };
                let mut attrs = attrs_from(headers_of!(i));
                // Checksums declared in headers are stored with the object. Trailer-only ones are
                // verified but not stored: the store takes metadata before the body streams.
                attrs.checksums = checksums_to_map(&declared_checksums!(i));
                let landing = match self.versions.land(&cred.space, &full, &key, guard.is_some(), asked).await {
                    Ok(l) => l,
                    Err(e) => {
                        if let Some(g) = guard {
                            g.release().await;
                        }
                        return Err(e);
                    }
                };
                let m = match self.store.put(&full, stream, len, attrs).await {
                    Ok(m) => m,
                    Err(e) => {
                        self.versions.abandon(&cred.space, landing).await;
                        return Err(errors::store(e));
                    }
                };
                rustshare_control::pause::point("put.stored");
                let rec = ObjectRecord {
                    size: m.size,
                    tags,
                    etag: Some(m.etag.clone()),
                    modified: Some(m.last_modified),
                    ..ObjectRecord::default()
                };
                let version_id = self.versions.record_write(&cred.space, &key, landing, rec).await?;
                if let Some(r) = reservation {
                    r.release().await;
                }
                held.release().await;
                // Freed before the answer: the writer's next conditional write must not find
                // its own lease.
                if let Some(g) = guard {
                    g.release().await;
                }
                self.changed(&cred.space.id, &key).await;
                self.metrics.bytes_in(&cred.space.id, m.size);
                let out = with_checksums!(
                    PutObjectOutput {
                        e_tag: Some(etag(&m.etag)),
                        version_id,
                        ..Default::default()
                    },
                    take_computed(&computed)
                );
                Ok((out, m.size))
            })
            .await?;
        Ok(S3Response::new(out))
    }

    async fn delete_object(&self, req: S3Request<DeleteObjectInput>) -> S3Result<S3Response<DeleteObjectOutput>> {
        let cred = self.cred(&req)?;
        let i = &req.input;
        let (version_id, marker) = self
            .audited(&req, "DeleteObject", Some(&i.key), async {
                objectlock::refuse_bypass(i.bypass_governance_retention)?;
                Ok((
                    self.versions
                        .delete_one(&cred.space, &i.key, i.version_id.as_deref(), false)
                        .await?,
                    0,
                ))
            })
            .await?;
        let out = DeleteObjectOutput {
            delete_marker: marker.then_some(true),
            version_id,
            ..Default::default()
        };
        Ok(S3Response::with_status(out, http::StatusCode::NO_CONTENT))
    }

    async fn delete_objects(&self, req: S3Request<DeleteObjectsInput>) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let cred = self.cred(&req)?;
        let i = &req.input;
        if i.delete.objects.len() > 1000 {
            return Err(s3_error!(MalformedXML, "A DeleteObjects request may name at most 1000 keys."));
        }
        objectlock::refuse_bypass(i.bypass_governance_retention)?;
        let quiet = i.delete.quiet.unwrap_or(false);
        let mut deleted = Vec::new();
        let mut errs = Vec::new();
        // Every key of the request is decided at the same time.
        let now = self.control.now();
        for o in &i.delete.objects {
            let r = async {
                auth::authorize(&cred, &i.bucket, Action::DeleteObject, Resource::Object(&o.key), now)?;
                self.versions.delete_one(&cred.space, &o.key, o.version_id.as_deref(), false).await
            }
            .await;
            match r {
                Ok((version_id, marker)) => {
                    self.audit(&req, &cred, "DeleteObject", Some(&o.key), "ok", 0);
                    if !quiet {
                        // A marker this delete made is named apart from a version it removed.
                        let made_marker = marker && o.version_id.is_none();
                        deleted.push(DeletedObject {
                            key: Some(o.key.clone()),
                            delete_marker: marker.then_some(true),
                            delete_marker_version_id: if made_marker { version_id.clone() } else { None },
                            version_id: if made_marker { None } else { version_id },
                        });
                    }
                }
                Err(e) => {
                    self.audit(&req, &cred, "DeleteObject", Some(&o.key), e.code().as_str(), 0);
                    errs.push(Error {
                        key: Some(o.key.clone()),
                        code: Some(e.code().as_str().to_owned()),
                        message: e.message().map(str::to_owned),
                        ..Default::default()
                    });
                }
            }
        }
        Ok(S3Response::new(DeleteObjectsOutput {
            deleted: Some(deleted),
            errors: Some(errs),
            ..Default::default()
        }))
    }

    async fn copy_object(&self, req: S3Request<CopyObjectInput>) -> S3Result<S3Response<CopyObjectOutput>> {
        let cred = self.cred(&req)?;
        let i = &req.input;
        let dst = full_key(&cred, &i.key)?;
        let out = self
            .audited(&req, "CopyObject", Some(&i.key), async {
                let (sb, sk, sv) = copy_source(&i.copy_source)?;
                // The source must be readable by this key inside its own space.
                auth::authorize(&cred, sb, Action::GetObject, Resource::Object(sk), self.control.now())?;
                let found = self.versions.locate(&cred.space, sk, sv).await?;
                let src = found.full.clone();
                let mut m = self.store.head(&src).await.map_err(errors::store)?;
                found.patch(&mut m);
                preconditions(&m, i.copy_source_if_match.as_ref(), i.copy_source_if_none_match.as_ref(), i.copy_source_if_modified_since.as_ref(), i.copy_source_if_unmodified_since.as_ref())
                    .map_err(|e| if *e.code() == S3ErrorCode::NotModified { s3_error!(PreconditionFailed) } else { e })?;
                let replace = i.metadata_directive.as_ref().is_some_and(|d| d.as_str() == MetadataDirective::REPLACE);
                check_metadata(i.metadata.as_ref())?;
                object_acl!(i)?;
                if src == dst && !replace {
                    return Err(s3_error!(InvalidRequest, "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata."));
                }
                let attrs = replace.then(|| attrs_from(headers_of!(i)));
                let tags = if tagging::replaces(i.tagging_directive.as_ref())? {
                    tagging::from_header(i.tagging.as_ref())?
                } else if found.noncurrent() {
                    TagSet::decode(found.row.as_ref().and_then(|r| r.tags.as_deref()))
                } else {
                    self.tags(&cred, sk).await?
                };
                let asked = objectlock::asked(
                    i.object_lock_mode.as_ref(),
                    i.object_lock_retain_until_date.as_ref(),
                    i.object_lock_legal_hold_status.as_ref(),
                    cred.identity.mode,
                    self.control.now(),
                )?;
                let reservation = self.control.reserve(&cred.space, m.size).await.map_err(errors::control)?;
                let (nm, version_id) = self.versions.copy_write(&cred.space, &src, &i.key, attrs, tags, asked).await?;
                reservation.release().await;
                self.changed(&cred.space.id, &i.key).await;
                let out = CopyObjectOutput {
                    copy_object_result: Some(CopyObjectResult { e_tag: Some(etag(&nm.etag)), last_modified: Some(ts(nm.last_modified)), ..Default::default() }),
                    copy_source_version_id: sv.map(str::to_owned),
                    version_id,
                    ..Default::default()
                };
                Ok((out, nm.size))
            })
            .await?;
        Ok(S3Response::new(out))
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let cred = self.cred(&req)?;
        let i = &req.input;
        let full = full_key(&cred, &i.key)?;
        let out = self
            .audited(&req, "CreateMultipartUpload", Some(&i.key), async {
                check_metadata(i.metadata.as_ref())?;
                object_acl!(i)?;
                let extras = UploadExtras {
                    tags: tagging::from_header(i.tagging.as_ref())?,
                    checksum_algorithm: i.checksum_algorithm.as_ref().map(|a| a.as_str().to_ascii_lowercase()),
                    lock: objectlock::asked(
                        i.object_lock_mode.as_ref(),
                        i.object_lock_retain_until_date.as_ref(),
                        i.object_lock_legal_hold_status.as_ref(),
                        cred.identity.mode,
                        self.control.now(),
                    )?,
                };
                if !extras.lock.is_empty() && cred.space.object_lock.is_none() {
                    return Err(s3_error!(InvalidRequest, "Bucket is missing Object Lock Configuration"));
                }
                self.versions.check_writable(&cred.space, &i.key).await?;
                let attrs = attrs_from(headers_of!(i));
                let id = self.store.create_multipart(&full, attrs).await.map_err(errors::store)?;
                rustshare_control::pause::point("multipart.created");
                self.control
                    .upload_started(&id, &cred.space.id, &i.key, &cred.identity.id, extras)
                    .await
                    .map_err(errors::control)?;
                Ok((
                    CreateMultipartUploadOutput {
                        bucket: Some(i.bucket.clone()),
                        key: Some(i.key.clone()),
                        upload_id: Some(id),
                        checksum_algorithm: i.checksum_algorithm.clone(),
                        ..Default::default()
                    },
                    0,
                ))
            })
            .await?;
        Ok(S3Response::new(out))
    }

    async fn upload_part(&self, req: S3Request<UploadPartInput>) -> S3Result<S3Response<UploadPartOutput>> {
        let cred = self.cred(&req)?;
        let mut req = req;
        let body = req.input.body.take();
        let i = &req.input;
        let full = full_key(&cred, &i.key)?;
        let out = self
            .audited(&req, "UploadPart", Some(&i.key), async {
                let part = u32::try_from(i.part_number)
                    .ok()
                    .filter(|n| (1..=10_000).contains(n))
                    .ok_or_else(|| s3_error!(InvalidArgument, "Part number must be an integer between 1 and 10000, inclusive."))?;
                let upload = self.upload_of(&cred, &i.upload_id, &i.key).await?;
                if req.extensions.get::<RequestInfo>().is_some_and(RequestInfo::unsized_body) {
                    return Err(s3_error!(MissingContentLength, "A part needs a Content-Length."));
                }
                let len = declared_len(i.content_length, &req.headers)?;
                let body = body.ok_or_else(|| s3_error!(IncompleteBody, "The request body is missing."))?;
                let mut exp = expectations(
                    &req,
                    i.content_md5.as_ref(),
                    declared_checksums!(i),
                    i.checksum_algorithm.as_ref(),
                    Some(len),
                )?;
                // The upload's algorithm is computed for every part, declared or not: the
                // completion's composite checksum is made from them.
                let alg = upload.checksum_algorithm;
                exp.algorithms.extend(alg.clone());
                let (stream, computed) = verifying(body, exp);
                let sum = || {
                    let c = computed.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    c.as_ref().zip(alg.as_deref()).and_then(|(c, a)| verify::value_of(c, a))
                };
                let info = self.put_part_body(&cred, &full, &i.upload_id, part, (stream, len), sum).await?;
                let out = with_checksums!(
                    UploadPartOutput {
                        e_tag: Some(etag(&info.etag)),
                        ..Default::default()
                    },
                    take_computed(&computed)
                );
                Ok((out, info.size))
            })
            .await?;
        Ok(S3Response::new(out))
    }

    async fn upload_part_copy(&self, req: S3Request<UploadPartCopyInput>) -> S3Result<S3Response<UploadPartCopyOutput>> {
        let cred = self.cred(&req)?;
        let i = &req.input;
        let full = full_key(&cred, &i.key)?;
        let out = self
            .audited(&req, "UploadPartCopy", Some(&i.key), async {
                let part = u32::try_from(i.part_number)
                    .ok()
                    .filter(|n| (1..=10_000).contains(n))
                    .ok_or_else(|| s3_error!(InvalidArgument, "Part number must be an integer between 1 and 10000, inclusive."))?;
                self.upload_of(&cred, &i.upload_id, &i.key).await?;
                let (sb, sk, sv) = copy_source(&i.copy_source)?;
                auth::authorize(&cred, sb, Action::GetObject, Resource::Object(sk), self.control.now())?;
                let src = self.versions.locate(&cred.space, sk, sv).await?.full;
                let range = match &i.copy_source_range {
                    Some(r) => {
                        let size = self.store.head(&src).await.map_err(errors::store)?.size;
                        Some(copy_range(r, size)?)
                    }
                    None => None,
                };
                let g = self.store.get(&src, range).await.map_err(errors::store)?;
                let len = g.range.map_or(g.meta.size, |(a, b)| b - a + 1);
                if len > MAX_PUT {
                    return Err(s3_error!(EntityTooLarge));
                }
                // Copied parts carry no checksum: an upload with one completes without a
                // composite.
                let info = self.put_part_body(&cred, &full, &i.upload_id, part, (g.body, len), || None).await?;
                let out = UploadPartCopyOutput {
                    copy_part_result: Some(CopyPartResult {
                        e_tag: Some(etag(&info.etag)),
                        last_modified: Some(ts(info.last_modified)),
                        ..Default::default()
                    }),
                    copy_source_version_id: sv.map(str::to_owned),
                    ..Default::default()
                };
                Ok((out, len))
            })
            .await?;
        Ok(S3Response::new(out))
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let cred = self.cred(&req)?;
        let i = &req.input;
        let full = full_key(&cred, &i.key)?;
        let out = self
            .audited(&req, "CompleteMultipartUpload", Some(&i.key), async {
                let open = self
                    .control
                    .upload(&i.upload_id, &cred.space.id, &i.key)
                    .await
                    .map_err(errors::control)?;
                let Some(open) = open else {
                    // A client that lost the answer to its completion asks again: S3 answers
                    // it the same.
                    let done = self
                        .control
                        .completed_upload(&i.upload_id, &cred.space.id, &i.key)
                        .await
                        .map_err(errors::control)?;
                    let e_tag = done.ok_or_else(|| s3_error!(NoSuchUpload, "The specified multipart upload does not exist."))?;
                    let out = CompleteMultipartUploadOutput {
                        bucket: Some(i.bucket.clone()),
                        key: Some(i.key.clone()),
                        e_tag: Some(etag(&e_tag)),
                        ..Default::default()
                    };
                    return Ok((out, 0));
                };
                let named = i.multipart_upload.as_ref().and_then(|m| m.parts.clone()).unwrap_or_default();
                if named.is_empty() {
                    return Err(s3_error!(MalformedXML, "The XML you provided did not list any parts."));
                }
                let mut numbered = Vec::with_capacity(named.len());
                for p in &named {
                    let num = p
                        .part_number
                        .and_then(|x| u32::try_from(x).ok())
                        .ok_or_else(|| s3_error!(InvalidPart, "A part has no valid PartNumber."))?;
                    if numbered.last().is_some_and(|(prev, _, _)| *prev >= num) {
                        return Err(s3_error!(InvalidPartOrder, "The list of parts was not in ascending order."));
                    }
                    let given = Checksum {
                        checksum_crc32: p.checksum_crc32.clone(),
                        checksum_crc32c: p.checksum_crc32c.clone(),
                        checksum_sha1: p.checksum_sha1.clone(),
                        checksum_sha256: p.checksum_sha256.clone(),
                        checksum_crc64nvme: p.checksum_crc64nvme.clone(),
                        ..Default::default()
                    };
                    numbered.push((
                        num,
                        p.e_tag.as_ref().map(|e| e.value().trim_matches('"').to_owned()).unwrap_or_default(),
                        open.checksum_algorithm.as_deref().and_then(|a| verify::value_of(&given, a)),
                    ));
                }
                let stored = self.control.parts(&i.upload_id).await.map_err(errors::control)?;
                let mut parts = Vec::with_capacity(numbered.len());
                let mut sizes = Vec::with_capacity(numbered.len());
                let mut sums = Vec::with_capacity(numbered.len());
                let mut size = 0u64;
                for (n, (num, tag, given)) in numbered.into_iter().enumerate() {
                    let s = stored
                        .iter()
                        .find(|s| s.part_number == num)
                        .ok_or_else(|| S3Error::with_message(S3ErrorCode::InvalidPart, format!("Part {num} was not uploaded.")))?;
                    if s.etag != tag {
                        return Err(S3Error::with_message(
                            S3ErrorCode::InvalidPart,
                            format!("The ETag of part {num} does not match."),
                        ));
                    }
                    if let (Some(g), Some(c)) = (&given, &s.checksum)
                        && g != c
                    {
                        return Err(S3Error::with_message(
                            S3ErrorCode::InvalidPart,
                            format!("The checksum of part {num} does not match."),
                        ));
                    }
                    sums.push(s.checksum.as_deref());
                    if n + 1 < named.len() && s.size < MIN_PART {
                        return Err(s3_error!(
                            EntityTooSmall,
                            "Your proposed upload is smaller than the minimum allowed object size."
                        ));
                    }
                    size += s.size;
                    sizes.push(s.size);
                    parts.push(rustshare_store::CompletedPart {
                        part_number: num,
                        etag: tag,
                    });
                }
                self.control
                    .check_completion(&cred.space, &i.upload_id, &i.key, size)
                    .await
                    .map_err(errors::control)?;
                let guard = self
                    .write_condition(&cred, &full, &i.key, i.if_match.as_ref(), i.if_none_match.as_ref())
                    .await?;
                let landing = match self.versions.land(&cred.space, &full, &i.key, guard.is_some(), open.lock).await {
                    Ok(l) => l,
                    Err(e) => {
                        if let Some(g) = guard {
                            g.release().await;
                        }
                        return Err(e);
                    }
                };
                let m = match self.store.complete_multipart(&full, &i.upload_id, &parts).await {
                    Ok(m) => m,
                    Err(e) => {
                        self.versions.abandon(&cred.space, landing).await;
                        return Err(errors::store(e));
                    }
                };
                rustshare_control::pause::point("multipart.completed");
                self.control
                    .upload_completed(&i.upload_id, &m.etag)
                    .await
                    .map_err(errors::control)?;
                let alg = open.checksum_algorithm.as_deref();
                let whole = alg.and_then(|a| verify::composite(a, &sums).map(|v| (a, v)));
                let rec = ObjectRecord {
                    size: m.size,
                    parts: sizes,
                    tags: TagSet::decode(open.tags.as_deref()),
                    checksum: whole.as_ref().map(|(a, v)| format!("{a}:{v}")),
                    etag: Some(m.etag.clone()),
                    modified: Some(m.last_modified),
                    version_id: None,
                    lock: rustshare_control::lock::ObjectLock::default(),
                };
                let version_id = self.versions.record_write(&cred.space, &i.key, landing, rec).await?;
                if let Some(g) = guard {
                    g.release().await;
                }
                self.changed(&cred.space.id, &i.key).await;
                let sum_type = whole.as_ref().map(|_| ChecksumType::from_static(ChecksumType::COMPOSITE));
                let out = with_checksums!(
                    CompleteMultipartUploadOutput {
                        bucket: Some(i.bucket.clone()),
                        key: Some(i.key.clone()),
                        e_tag: Some(etag(&m.etag)),
                        checksum_type: sum_type,
                        version_id,
                        ..Default::default()
                    },
                    whole.map(|(a, v)| composite_checksum(a, v)).unwrap_or_default()
                );
                Ok((out, 0))
            })
            .await?;
        Ok(S3Response::new(out))
    }

    async fn get_bucket_lifecycle_configuration(
        &self,
        req: S3Request<GetBucketLifecycleConfigurationInput>,
    ) -> S3Result<S3Response<GetBucketLifecycleConfigurationOutput>> {
        let cred = self.cred(&req)?;
        let out = self
            .audited(&req, "GetBucketLifecycleConfiguration", None, async {
                let rules = self.control.space_lifecycle(&cred.space.id).await.map_err(errors::control)?;
                let rules = rules.ok_or_else(|| s3_error!(NoSuchLifecycleConfiguration, "The lifecycle configuration does not exist"))?;
                Ok((
                    GetBucketLifecycleConfigurationOutput {
                        rules: Some(lifecycle::to_document(&rules)),
                        ..Default::default()
                    },
                    0,
                ))
            })
            .await?;
        Ok(S3Response::new(out))
    }

    async fn put_bucket_lifecycle_configuration(
        &self,
        req: S3Request<PutBucketLifecycleConfigurationInput>,
    ) -> S3Result<S3Response<PutBucketLifecycleConfigurationOutput>> {
        let cred = self.cred(&req)?;
        let doc = req.input.lifecycle_configuration.as_ref();
        self.audited(&req, "PutBucketLifecycleConfiguration", None, async {
            let rules = lifecycle::from_document(doc)?;
            self.control
                .put_space_lifecycle(&cred.space.id, Some(rules))
                .await
                .map_err(errors::control)?;
            Ok(((), 0))
        })
        .await?;
        Ok(S3Response::new(PutBucketLifecycleConfigurationOutput::default()))
    }

    async fn delete_bucket_lifecycle(
        &self,
        req: S3Request<DeleteBucketLifecycleInput>,
    ) -> S3Result<S3Response<DeleteBucketLifecycleOutput>> {
        let cred = self.cred(&req)?;
        self.audited(&req, "DeleteBucketLifecycle", None, async {
            self.control
                .put_space_lifecycle(&cred.space.id, None)
                .await
                .map_err(errors::control)?;
            Ok(((), 0))
        })
        .await?;
        Ok(S3Response::with_status(
            DeleteBucketLifecycleOutput::default(),
            http::StatusCode::NO_CONTENT,
        ))
    }

    async fn get_bucket_versioning(&self, req: S3Request<GetBucketVersioningInput>) -> S3Result<S3Response<GetBucketVersioningOutput>> {
        let cred = self.cred(&req)?;
        let out = self
            .audited(&req, "GetBucketVersioning", None, async {
                let status = cred.space.versioning.s3_status().map(BucketVersioningStatus::from_static);
                Ok((
                    GetBucketVersioningOutput {
                        status,
                        ..Default::default()
                    },
                    0,
                ))
            })
            .await?;
        Ok(S3Response::new(out))
    }

    async fn put_bucket_versioning(&self, req: S3Request<PutBucketVersioningInput>) -> S3Result<S3Response<PutBucketVersioningOutput>> {
        let cred = self.cred(&req)?;
        let c = &req.input.versioning_configuration;
        self.audited(&req, "PutBucketVersioning", None, async {
            if c.mfa_delete.as_ref().is_some_and(|m| m.as_str() == MFADelete::ENABLED) {
                return Err(s3_error!(
                    NotImplemented,
                    "MFA Delete is not supported; use object lock to protect versions."
                ));
            }
            let v = match c.status.as_ref().map(BucketVersioningStatus::as_str) {
                Some(BucketVersioningStatus::ENABLED) => Versioning::Enabled,
                Some(BucketVersioningStatus::SUSPENDED) => Versioning::Suspended,
                _ => return Err(s3_error!(MalformedXML, "The versioning Status must be Enabled or Suspended.")),
            };
            self.control
                .put_space_versioning(&cred.space.id, v)
                .await
                .map_err(errors::control)?;
            Ok(((), 0))
        })
        .await?;
        Ok(S3Response::new(PutBucketVersioningOutput::default()))
    }

    async fn get_object_lock_configuration(
        &self,
        req: S3Request<GetObjectLockConfigurationInput>,
    ) -> S3Result<S3Response<GetObjectLockConfigurationOutput>> {
        let cred = self.cred(&req)?;
        let out = self
            .audited(&req, "GetObjectLockConfiguration", None, async {
                let c = self.control.space_lock(&cred.space.id).await.map_err(errors::control)?;
                let c = c.ok_or_else(|| {
                    s3_error!(
                        ObjectLockConfigurationNotFoundError,
                        "Object Lock configuration does not exist for this bucket"
                    )
                })?;
                Ok((
                    GetObjectLockConfigurationOutput {
                        object_lock_configuration: Some(objectlock::config_to_s3(&c)),
                    },
                    0,
                ))
            })
            .await?;
        Ok(S3Response::new(out))
    }

    async fn put_object_lock_configuration(
        &self,
        req: S3Request<PutObjectLockConfigurationInput>,
    ) -> S3Result<S3Response<PutObjectLockConfigurationOutput>> {
        let cred = self.cred(&req)?;
        let doc = req.input.object_lock_configuration.as_ref();
        self.audited(&req, "PutObjectLockConfiguration", None, async {
            let current = self.control.space_lock(&cred.space.id).await.map_err(errors::control)?;
            let c = objectlock::config_from_s3(doc, current.as_ref())?;
            self.control.put_space_lock(&cred.space.id, c).await.map_err(errors::control)?;
            Ok(((), 0))
        })
        .await?;
        Ok(S3Response::new(PutObjectLockConfigurationOutput::default()))
    }

    async fn get_object_retention(&self, req: S3Request<GetObjectRetentionInput>) -> S3Result<S3Response<GetObjectRetentionOutput>> {
        let cred = self.cred(&req)?;
        let i = &req.input;
        let out = self
            .audited(&req, "GetObjectRetention", Some(&i.key), async {
                let row = self.lock_row(&cred, &i.key, i.version_id.as_deref()).await?;
                let r = row.lock.retention.ok_or_else(|| {
                    s3_error!(
                        NoSuchObjectLockConfiguration,
                        "The specified object does not have a ObjectLock configuration"
                    )
                })?;
                Ok((
                    GetObjectRetentionOutput {
                        retention: Some(objectlock::retention_to_s3(&r)),
                    },
                    0,
                ))
            })
            .await?;
        Ok(S3Response::new(out))
    }

    async fn put_object_retention(&self, req: S3Request<PutObjectRetentionInput>) -> S3Result<S3Response<PutObjectRetentionOutput>> {
        let cred = self.cred(&req)?;
        let i = &req.input;
        self.audited(&req, "PutObjectRetention", Some(&i.key), async {
            objectlock::refuse_bypass(i.bypass_governance_retention)?;
            let new = objectlock::retention_from_s3(i.retention.as_ref())?;
            self.versions
                .set_retention(&cred.space, &i.key, i.version_id.as_deref(), new, false)
                .await?;
            Ok(((), 0))
        })
        .await?;
        Ok(S3Response::new(PutObjectRetentionOutput::default()))
    }

    async fn get_object_legal_hold(&self, req: S3Request<GetObjectLegalHoldInput>) -> S3Result<S3Response<GetObjectLegalHoldOutput>> {
        let cred = self.cred(&req)?;
        let i = &req.input;
        let out = self
            .audited(&req, "GetObjectLegalHold", Some(&i.key), async {
                let row = self.lock_row(&cred, &i.key, i.version_id.as_deref()).await?;
                Ok((
                    GetObjectLegalHoldOutput {
                        legal_hold: Some(objectlock::hold_to_s3(row.lock.legal_hold)),
                    },
                    0,
                ))
            })
            .await?;
        Ok(S3Response::new(out))
    }

    async fn put_object_legal_hold(&self, req: S3Request<PutObjectLegalHoldInput>) -> S3Result<S3Response<PutObjectLegalHoldOutput>> {
        let cred = self.cred(&req)?;
        let i = &req.input;
        self.audited(&req, "PutObjectLegalHold", Some(&i.key), async {
            let on = objectlock::hold_from_s3(i.legal_hold.as_ref())?;
            self.versions
                .set_legal_hold(&cred.space, &i.key, i.version_id.as_deref(), on)
                .await?;
            Ok(((), 0))
        })
        .await?;
        Ok(S3Response::new(PutObjectLegalHoldOutput::default()))
    }

    async fn list_object_versions(&self, req: S3Request<ListObjectVersionsInput>) -> S3Result<S3Response<ListObjectVersionsOutput>> {
        let cred = self.cred(&req)?;
        let i = &req.input;
        let url = i.encoding_type.as_ref().is_some_and(|e| e.as_str() == EncodingType::URL);
        let prefix = i.prefix.clone().unwrap_or_default();
        let out = self
            .audited(&req, "ListObjectVersions", None, async {
                // The access hook checked the names; checked again here so that a missing hook
                // cannot widen the listing.
                auth::check_prefix("prefix", &prefix)?;
                if let Some(m) = &i.key_marker {
                    auth::check_prefix("key-marker", m)?;
                }
                auth::authorize(&cred, &i.bucket, Action::ListBucket, Resource::Prefix(&prefix), self.control.now())?;
                let max = match i.max_keys {
                    Some(m) if m < 0 => return Err(s3_error!(InvalidArgument, "max-keys must be between 0 and 1000.")),
                    Some(m) => usize::try_from(m).unwrap_or(1000).min(1000),
                    None => 1000,
                };
                let q = rustshare_control::VersionQuery {
                    prefix: prefix.clone(),
                    delimiter: i.delimiter.clone(),
                    key_marker: i.key_marker.clone().filter(|k| !k.is_empty()),
                    version_marker: i.version_id_marker.clone().filter(|v| !v.is_empty()),
                    max,
                };
                let page = if max == 0 {
                    rustshare_control::versioning::Paginator::new(&prefix, None, 0, None)
                } else {
                    self.control.list_versions(&cred.space.id, q).await.map_err(errors::control)?
                };
                // Rows written before versions were recorded carry no ETag or time: the store says.
                let missing: Vec<String> = page
                    .out
                    .iter()
                    .filter_map(|l| match l {
                        Listed::Version(r, _) if r.is_current() && (r.etag.is_none() || r.modified.is_none()) => {
                            Some(format!("{}{}", cred.space.base_prefix, r.key))
                        }
                        _ => None,
                    })
                    .collect();
                let heads: std::collections::HashMap<String, ObjectMeta> = if missing.is_empty() {
                    std::collections::HashMap::new()
                } else {
                    let answers = self.store.head_batch(missing.clone()).await;
                    missing
                        .into_iter()
                        .zip(answers)
                        .filter_map(|(k, a)| a.ok().map(|m| (k, m)))
                        .collect()
                };
                let owner = acl::owner(&cred);
                let mut versions = Vec::new();
                let mut markers = Vec::new();
                let mut prefixes = Vec::new();
                for l in &page.out {
                    match l {
                        Listed::Prefix(p) => prefixes.push(CommonPrefix { prefix: Some(enc(url, p)) }),
                        Listed::Version(r, latest) if r.delete_marker => markers.push(DeleteMarkerEntry {
                            is_latest: Some(*latest),
                            key: Some(enc(url, &r.key)),
                            last_modified: r.modified.map(ts),
                            owner: Some(owner.clone()),
                            version_id: Some(r.version_id.clone()),
                        }),
                        Listed::Version(r, latest) => {
                            let head = heads.get(&format!("{}{}", cred.space.base_prefix, r.key));
                            versions.push(ObjectVersion {
                                e_tag: r.etag.clone().or_else(|| head.map(|m| m.etag.clone())).map(|e| etag(&e)),
                                is_latest: Some(*latest),
                                key: Some(enc(url, &r.key)),
                                last_modified: r.modified.or_else(|| head.map(|m| m.last_modified)).map(ts),
                                owner: Some(owner.clone()),
                                size: Some(i64::try_from(r.size).unwrap_or(i64::MAX)),
                                storage_class: Some(ObjectVersionStorageClass::from_static(ObjectVersionStorageClass::STANDARD)),
                                version_id: Some(r.version_id.clone()),
                                ..Default::default()
                            });
                        }
                    }
                }
                let (next_key, next_version) = match (&page.next, page.truncated) {
                    (Some((k, v)), true) => (Some(enc(url, k)), v.clone()),
                    _ => (None, None),
                };
                let out = ListObjectVersionsOutput {
                    name: Some(i.bucket.clone()),
                    prefix: Some(enc(url, &prefix)),
                    delimiter: i.delimiter.as_ref().filter(|d| !d.is_empty()).map(|d| enc(url, d)),
                    key_marker: Some(i.key_marker.as_ref().map(|k| enc(url, k)).unwrap_or_default()),
                    version_id_marker: Some(i.version_id_marker.clone().unwrap_or_default()),
                    max_keys: Some(i.max_keys.unwrap_or(1000)),
                    is_truncated: Some(page.truncated),
                    next_key_marker: next_key,
                    next_version_id_marker: next_version,
                    versions: Some(versions),
                    delete_markers: Some(markers),
                    common_prefixes: Some(prefixes),
                    encoding_type: i.encoding_type.clone(),
                    ..Default::default()
                };
                Ok((out, 0))
            })
            .await?;
        Ok(S3Response::new(out))
    }

    async fn get_bucket_cors(&self, req: S3Request<GetBucketCorsInput>) -> S3Result<S3Response<GetBucketCorsOutput>> {
        let cred = self.cred(&req)?;
        let out = self
            .audited(&req, "GetBucketCors", None, async {
                let rules = self.control.space_cors(&cred.space.id).await.map_err(errors::control)?;
                let rules = rules.ok_or_else(|| s3_error!(NoSuchCORSConfiguration, "The CORS configuration does not exist"))?;
                Ok((
                    GetBucketCorsOutput {
                        cors_rules: Some(cors::to_document(&rules)),
                    },
                    0,
                ))
            })
            .await?;
        Ok(S3Response::new(out))
    }

    async fn put_bucket_cors(&self, req: S3Request<PutBucketCorsInput>) -> S3Result<S3Response<PutBucketCorsOutput>> {
        let cred = self.cred(&req)?;
        let doc: &CORSConfiguration = &req.input.cors_configuration;
        self.audited(&req, "PutBucketCors", None, async {
            let rules = cors::from_document(doc)?;
            self.control
                .put_space_cors(&cred.space.id, Some(rules))
                .await
                .map_err(errors::control)?;
            Ok(((), 0))
        })
        .await?;
        Ok(S3Response::new(PutBucketCorsOutput::default()))
    }

    async fn delete_bucket_cors(&self, req: S3Request<DeleteBucketCorsInput>) -> S3Result<S3Response<DeleteBucketCorsOutput>> {
        let cred = self.cred(&req)?;
        self.audited(&req, "DeleteBucketCors", None, async {
            self.control.put_space_cors(&cred.space.id, None).await.map_err(errors::control)?;
            Ok(((), 0))
        })
        .await?;
        Ok(S3Response::with_status(
            DeleteBucketCorsOutput::default(),
            http::StatusCode::NO_CONTENT,
        ))
    }

    async fn get_object_tagging(&self, req: S3Request<GetObjectTaggingInput>) -> S3Result<S3Response<GetObjectTaggingOutput>> {
        let cred = self.cred(&req)?;
        let i = &req.input;
        let out = self
            .audited(&req, "GetObjectTagging", Some(&i.key), async {
                let found = self.versions.locate(&cred.space, &i.key, i.version_id.as_deref()).await?;
                self.store.head(&found.full).await.map_err(errors::store)?;
                let tags = self.version_tags(&cred, &i.key, &found).await?;
                let out = GetObjectTaggingOutput {
                    tag_set: tagging::to_document(&tags),
                    ..Default::default()
                };
                Ok((out, 0))
            })
            .await?;
        Ok(S3Response::new(out))
    }

    async fn put_object_tagging(&self, req: S3Request<PutObjectTaggingInput>) -> S3Result<S3Response<PutObjectTaggingOutput>> {
        let cred = self.cred(&req)?;
        let i = &req.input;
        let full = full_key(&cred, &i.key)?;
        self.audited(&req, "PutObjectTagging", Some(&i.key), async {
            self.current_only(&cred, &i.key, i.version_id.as_deref(), "PutObjectTagging")
                .await?;
            let tags = tagging::from_document(&i.tagging)?;
            self.retag(&cred, &full, &i.key, tags).await
        })
        .await?;
        Ok(S3Response::new(PutObjectTaggingOutput::default()))
    }

    async fn delete_object_tagging(&self, req: S3Request<DeleteObjectTaggingInput>) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
        let cred = self.cred(&req)?;
        let i = &req.input;
        let full = full_key(&cred, &i.key)?;
        self.audited(&req, "DeleteObjectTagging", Some(&i.key), async {
            self.current_only(&cred, &i.key, i.version_id.as_deref(), "DeleteObjectTagging")
                .await?;
            self.retag(&cred, &full, &i.key, TagSet::default()).await
        })
        .await?;
        Ok(S3Response::with_status(
            DeleteObjectTaggingOutput::default(),
            http::StatusCode::NO_CONTENT,
        ))
    }

    async fn abort_multipart_upload(&self, req: S3Request<AbortMultipartUploadInput>) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let cred = self.cred(&req)?;
        let i = &req.input;
        let full = full_key(&cred, &i.key)?;
        self.audited(&req, "AbortMultipartUpload", Some(&i.key), async {
            self.upload_of(&cred, &i.upload_id, &i.key).await?;
            match self.store.abort_multipart(&full, &i.upload_id).await {
                Ok(()) | Err(rustshare_store::Error::NoSuchUpload) => {}
                Err(e) => return Err(errors::store(e)),
            }
            self.control.upload_finished(&i.upload_id).await.map_err(errors::control)?;
            Ok(((), 0))
        })
        .await?;
        Ok(S3Response::with_status(
            AbortMultipartUploadOutput::default(),
            http::StatusCode::NO_CONTENT,
        ))
    }

    async fn list_parts(&self, req: S3Request<ListPartsInput>) -> S3Result<S3Response<ListPartsOutput>> {
        let cred = self.cred(&req)?;
        let i = &req.input;
        full_key(&cred, &i.key)?;
        let out = self
            .audited(&req, "ListParts", Some(&i.key), async {
                self.upload_of(&cred, &i.upload_id, &i.key).await?;
                let marker = i.part_number_marker.and_then(|m| u32::try_from(m).ok()).unwrap_or(0);
                let max = usize::try_from(i.max_parts.unwrap_or(1000).clamp(1, 1000)).unwrap_or(1000);
                let all: Vec<_> = self
                    .control
                    .parts(&i.upload_id)
                    .await
                    .map_err(errors::control)?
                    .into_iter()
                    .filter(|p| p.part_number > marker)
                    .collect();
                let truncated = all.len() > max;
                let page: Vec<_> = all.into_iter().take(max).collect();
                let next = page.last().and_then(|p| i32::try_from(p.part_number).ok());
                let parts = page
                    .iter()
                    .map(|p| Part {
                        part_number: i32::try_from(p.part_number).ok(),
                        e_tag: Some(etag(&p.etag)),
                        size: i64::try_from(p.size).ok(),
                        ..Default::default()
                    })
                    .collect();
                let out = ListPartsOutput {
                    bucket: Some(i.bucket.clone()),
                    key: Some(i.key.clone()),
                    upload_id: Some(i.upload_id.clone()),
                    parts: Some(parts),
                    is_truncated: Some(truncated),
                    next_part_number_marker: if truncated { next } else { None },
                    max_parts: Some(i32::try_from(max).unwrap_or(1000)),
                    ..Default::default()
                };
                Ok((out, 0))
            })
            .await?;
        Ok(S3Response::new(out))
    }

    async fn list_multipart_uploads(&self, req: S3Request<ListMultipartUploadsInput>) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let cred = self.cred(&req)?;
        let i = &req.input;
        let prefix = i.prefix.clone().unwrap_or_default();
        let out = self
            .audited(&req, "ListMultipartUploads", None, async {
                auth::authorize(
                    &cred,
                    &i.bucket,
                    Action::ListBucketMultipartUploads,
                    Resource::Prefix(&prefix),
                    self.control.now(),
                )?;
                let ups = self.control.list_uploads(&cred.space.id, &prefix).await.map_err(errors::control)?;
                let uploads = ups
                    .into_iter()
                    .map(|u| MultipartUpload {
                        key: Some(u.key),
                        upload_id: Some(u.upload_id),
                        initiated: Some(ts(u.initiated)),
                        ..Default::default()
                    })
                    .collect();
                let out = ListMultipartUploadsOutput {
                    bucket: Some(i.bucket.clone()),
                    prefix: Some(prefix.clone()),
                    uploads: Some(uploads),
                    is_truncated: Some(false),
                    ..Default::default()
                };
                Ok((out, 0))
            })
            .await?;
        Ok(S3Response::new(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_chunked_is_taken_out_of_content_encoding_and_nothing_else_changes() {
        assert_eq!(without_aws_chunked("aws-chunked"), "");
        assert_eq!(without_aws_chunked("aws-chunked,gzip"), "gzip");
        assert_eq!(without_aws_chunked("gzip, aws-chunked"), "gzip");
        assert_eq!(without_aws_chunked("gzip,AWS-Chunked,br"), "gzip,br");
        assert_eq!(without_aws_chunked("gzip, br"), "gzip, br", "kept as sent");
        assert_eq!(without_aws_chunked("identity"), "identity");
    }

    #[test]
    fn copy_ranges_lie_within_the_source() {
        assert_eq!(copy_range("bytes=0-9", 10).ok(), Some(ByteRange::FromTo(0, 9)));
        let code = |r: &str| copy_range(r, 10).err().map(|e| (e.code().as_str().to_owned(), e.status_code()));
        assert_eq!(
            code("bytes=5-10"),
            Some(("InvalidRange".into(), Some(http::StatusCode::BAD_REQUEST)))
        );
        assert_eq!(
            code("bytes=5-").map(|c| c.0),
            Some("InvalidArgument".into()),
            "open ranges are not copy ranges"
        );
        assert_eq!(code("bytes=-5").map(|c| c.0), Some("InvalidArgument".into()));
    }
}
