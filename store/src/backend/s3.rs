//! The S3 backend: objects in a bucket of any S3-compatible service (RustFS, MinIO, AWS),
//! through aws-sdk-s3. Bodies stream both ways; nothing is buffered whole.

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream as SdkByteStream;
use aws_sdk_s3::types::{ChecksumMode, CompletedMultipartUpload, CompletedPart as SdkPart, MetadataDirective};
use aws_smithy_types::body::SdkBody;
use futures::TryStreamExt;
use http_body::Frame;
use time::OffsetDateTime;

use crate::{
    ByteRange, ByteStream, CompletedPart, Error, GetObject, ListEntry, ListPage, ListRequest, ObjectAttrs, ObjectMeta, ObjectStore,
    PartInfo, Result, UploadInfo,
};

/// Where the backend is and how to reach it.
#[derive(Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3StoreConfig {
    /// Endpoint URL, for example `http://127.0.0.1:9000` for RustFS.
    pub endpoint: String,
    /// Region name the backend expects.
    #[serde(default = "default_region")]
    pub region: String,
    /// Backend access key (root or service credentials; never shown to users).
    pub access_key_id: String,
    /// Backend secret key.
    pub secret_access_key: String,
    /// The one backend bucket that holds everything.
    pub bucket: String,
    /// Key prefix inside that bucket, for example `rustshare/`; empty for the whole bucket.
    #[serde(default)]
    pub root_prefix: String,
    /// Path-style addressing (RustFS and MinIO need it).
    #[serde(default = "yes")]
    pub path_style: bool,
}

impl std::fmt::Debug for S3StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3StoreConfig")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("bucket", &self.bucket)
            .field("root_prefix", &self.root_prefix)
            .field("path_style", &self.path_style)
            .finish_non_exhaustive()
    }
}

fn default_region() -> String {
    "us-east-1".into()
}

fn yes() -> bool {
    true
}

/// Objects in one bucket of an S3 service.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    endpoint: String,
    bucket: String,
    root: String,
    /// Whether this engine's GetObject answers carry the standard headers (see
    /// [`GetHeaders`]).
    get_headers: std::sync::Arc<std::sync::atomic::AtomicU8>,
}

/// What an engine's GetObject answer says of the headers an object was stored with.
/// RustFS 1.0.0-beta.7 leaves out Cache-Control, Content-Disposition, Content-Language and
/// Expires on GET (HEAD has them); S3, Ceph and MinIO send them. The store learns which kind of
/// engine it talks to from the first answers instead of being told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum GetHeaders {
    /// Not known yet: a GET without any of the four asks HEAD once more.
    Unknown = 0,
    /// A GET answer carried one of them: GET answers are complete.
    Sent = 1,
    /// A HEAD had one the GET of the same object lacked: take them from HEAD.
    Dropped = 2,
}

impl S3Store {
    fn get_headers(&self) -> GetHeaders {
        match self.get_headers.load(std::sync::atomic::Ordering::Relaxed) {
            1 => GetHeaders::Sent,
            2 => GetHeaders::Dropped,
            _ => GetHeaders::Unknown,
        }
    }

    fn learn(&self, g: GetHeaders) {
        self.get_headers.store(g as u8, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Whether metadata carries any of the headers some engines leave out of GET answers.
fn has_standard_headers(a: &ObjectAttrs) -> bool {
    a.cache_control.is_some() || a.content_disposition.is_some() || a.content_language.is_some() || a.expires.is_some()
}

impl S3Store {
    /// Builds a client for the configured backend. No request is made until first use.
    #[must_use]
    pub fn new(cfg: &S3StoreConfig) -> Self {
        let creds = Credentials::new(&cfg.access_key_id, &cfg.secret_access_key, None, None, "rustshare-config");
        let conf = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(cfg.region.clone()))
            .endpoint_url(&cfg.endpoint)
            .credentials_provider(creds)
            .force_path_style(cfg.path_style)
            // The edge verifies client checksums itself; asking the SDK for more would hash every
            // byte twice.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            .build();
        Self {
            client: Client::from_conf(conf),
            endpoint: cfg.endpoint.clone(),
            bucket: cfg.bucket.clone(),
            root: cfg.root_prefix.clone(),
            get_headers: std::sync::Arc::new(std::sync::atomic::AtomicU8::new(GetHeaders::Unknown as u8)),
        }
    }

    fn full(&self, key: &str) -> Result<String> {
        crate::key::validate(key)?;
        Ok(format!("{}{key}", self.root))
    }

    fn strip<'a>(&self, key: &'a str) -> Option<&'a str> {
        key.strip_prefix(self.root.as_str())
    }
}

#[allow(
    clippy::needless_pass_by_value,
    reason = "used as `.map_err(map_err)`, which hands the error over by value"
)]
fn map_err<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static>(e: SdkError<E>) -> Error {
    let status = e.raw_response().map(|r| r.status().as_u16());
    match (e.code(), status) {
        (Some("NoSuchKey" | "NotFound"), _) | (None, Some(404)) => Error::NotFound,
        (Some("NoSuchUpload"), _) => Error::NoSuchUpload,
        (Some("InvalidPart"), _) => Error::InvalidPart(e.message().unwrap_or("invalid part").to_owned()),
        (Some("InvalidPartOrder"), _) => Error::InvalidPartOrder,
        (Some("InvalidPartNumber"), _) | (None, Some(416)) => Error::InvalidPartNumber { parts: 0 },
        (Some("NotImplemented"), _) => Error::Unsupported(e.message().unwrap_or("not implemented by the backend").to_owned()),
        (Some("EntityTooSmall"), _) => Error::InvalidPart("EntityTooSmall: a part is smaller than 5 MiB".into()),
        _ => Error::Backend(DisplayErrorContext(&e).to_string()),
    }
}

fn to_time(t: Option<&aws_smithy_types::DateTime>) -> OffsetDateTime {
    t.and_then(|d| OffsetDateTime::from_unix_timestamp(d.secs()).ok())
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn unquote(s: Option<&str>) -> String {
    s.unwrap_or_default().trim_matches('"').to_owned()
}

/// The first error the caller's body stream raised, kept whole: the SDK turns a failed body
/// into its own dispatch error, flattened to text, and the edge needs the original (a digest or
/// chunk-signature mismatch is a 400 of its own kind, not a short body).
#[derive(Clone, Default)]
struct BodyError(std::sync::Arc<std::sync::Mutex<Option<std::io::Error>>>);

impl BodyError {
    fn take(&self) -> Option<std::io::Error> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()
    }

    /// `e` as the SDK's failure, unless the body failed first: then the body's own error.
    fn or_map<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static>(&self, e: SdkError<E>) -> Error {
        if let Some(io) = self.take() {
            return Error::Body(io);
        }
        match e {
            SdkError::DispatchFailure(ref d) if d.is_io() || d.is_user() => {
                Error::Body(std::io::Error::other(DisplayErrorContext(&e).to_string()))
            }
            other => map_err(other),
        }
    }
}

fn sdk_body(body: ByteStream, failed: &BodyError) -> SdkByteStream {
    let slot = failed.clone();
    let frames = body
        .map_err(move |e| {
            let copy = std::io::Error::new(e.kind(), e.to_string());
            slot.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get_or_insert(e);
            copy
        })
        .map_ok(Frame::data);
    SdkByteStream::new(SdkBody::from_body_1_x(http_body_util::StreamBody::new(
        sync_wrapper::SyncStream::new(frames),
    )))
}

/// A body of unknown length, written to an unlinked temporary file (in `TMPDIR`) and read back
/// with its length: an S3 PUT needs the length before the first byte, and a multipart upload
/// instead would give the object a multipart ETag. A body error (a failed digest, a quota
/// passed) ends it unchanged, and the file goes with it.
async fn spooled(mut body: ByteStream) -> Result<(ByteStream, u64)> {
    use futures::StreamExt;
    use tokio::io::{AsyncSeekExt, AsyncWriteExt};
    let io = |e: std::io::Error| Error::Backend(format!("spooling an upload of unknown length: {e}"));
    let file = tokio::task::spawn_blocking(tempfile::tempfile)
        .await
        .map_err(|e| Error::Backend(format!("spooling an upload of unknown length: {e}")))?
        .map_err(io)?;
    let mut file = tokio::fs::File::from_std(file);
    let mut size = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(Error::Body)?;
        file.write_all(&chunk).await.map_err(io)?;
        size += chunk.len() as u64;
    }
    file.flush().await.map_err(io)?;
    file.seek(std::io::SeekFrom::Start(0)).await.map_err(io)?;
    Ok((Box::pin(tokio_util::io::ReaderStream::new(file)), size))
}

fn stream_of(body: SdkByteStream) -> ByteStream {
    Box::pin(futures::stream::unfold(body, |mut b| async move {
        match b.try_next().await {
            Ok(Some(bytes)) => Some((Ok(bytes), b)),
            Ok(None) => None,
            Err(e) => Some((Err(std::io::Error::other(e)), b)),
        }
    }))
}

/// Copy sources are `bucket/key` with the key URL-encoded, `/` kept.
fn copy_source(bucket: &str, key: &str) -> String {
    let mut out = format!("{bucket}/");
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// User metadata names under which the edge keeps an object's verified checksums on the
/// engine (many engines, Ceph RGW before Reef among them, keep none); the S3 face refuses them
/// from clients ([`crate::RESERVED_METADATA_PREFIX`]).
const CHECKSUM_META: &str = crate::RESERVED_METADATA_PREFIX;

macro_rules! meta_from {
    ($o:expr, $size:expr) => {{
        let o = &$o;
        let mut checksums = std::collections::BTreeMap::new();
        for (name, v) in [
            ("crc32", o.checksum_crc32()),
            ("crc32c", o.checksum_crc32_c()),
            ("sha1", o.checksum_sha1()),
            ("sha256", o.checksum_sha256()),
            ("crc64nvme", o.checksum_crc64_nvme()),
        ] {
            // Composite checksums of multipart objects carry a `-N` suffix; they describe parts,
            // not the object, so they are not kept.
            if let Some(v) = v.filter(|v| !v.contains('-')) {
                checksums.insert(name.to_owned(), v.to_owned());
            }
        }
        // Checksums the edge verified, kept beside the object where the engine does not keep
        // them itself.
        for (k, v) in o.metadata().into_iter().flatten() {
            if let Some(name) = k.strip_prefix(CHECKSUM_META) {
                checksums.entry(name.to_owned()).or_insert_with(|| v.clone());
            }
        }
        ObjectMeta {
            size: $size,
            etag: unquote(o.e_tag()),
            last_modified: to_time(o.last_modified()),
            attrs: ObjectAttrs {
                content_type: o.content_type().map(str::to_owned),
                cache_control: o.cache_control().map(str::to_owned),
                content_disposition: o.content_disposition().map(str::to_owned),
                content_encoding: o.content_encoding().map(str::to_owned),
                content_language: o.content_language().map(str::to_owned),
                expires: o.expires_string().map(str::to_owned),
                user_metadata: o
                    .metadata()
                    .map(|m| {
                        m.iter()
                            .filter(|(k, _)| !k.starts_with(CHECKSUM_META))
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect()
                    })
                    .unwrap_or_default(),
                checksums,
            },
        }
    }};
}

/// An `Expires` HTTP date for the SDK; a value that is not one is not sent (the edge only
/// stores dates it parsed).
fn http_date(s: Option<&str>) -> Option<aws_smithy_types::DateTime> {
    s.and_then(|s| aws_smithy_types::DateTime::from_str(s, aws_smithy_types::date_time::Format::HttpDate).ok())
}

#[async_trait]
impl ObjectStore for S3Store {
    async fn head(&self, key: &str) -> Result<ObjectMeta> {
        let o = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(self.full(key)?)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .map_err(map_err)?;
        Ok(meta_from!(o, o.content_length().and_then(|l| u64::try_from(l).ok()).unwrap_or(0)))
    }

    async fn get(&self, key: &str, range: Option<ByteRange>) -> Result<GetObject> {
        let full = self.full(key)?;
        let (meta, resolved) = match range {
            // The store must resolve ranges itself to report the object's size and the exact
            // span, so it asks for the metadata first.
            Some(r) => {
                let meta = self.head(key).await?;
                let (a, b) = r.resolve(meta.size)?;
                (Some(meta), Some((a, b)))
            }
            None => (None, None),
        };
        let mut req = self.client.get_object().bucket(&self.bucket).key(&full);
        if let Some((a, b)) = resolved {
            req = req.range(format!("bytes={a}-{b}"));
        }
        let o = req.send().await.map_err(map_err)?;
        let meta = match meta {
            Some(m) if m.etag == unquote(o.e_tag()) => m,
            // Overwritten between the HEAD and the GET: describe what is actually streamed.
            Some(_) => return Err(Error::Backend("object changed during read; retry".into())),
            None => {
                let size = o.content_length().and_then(|l| u64::try_from(l).ok()).unwrap_or(0);
                let mut m = meta_from!(o, size);
                if has_standard_headers(&m.attrs) {
                    if self.get_headers() == GetHeaders::Unknown {
                        self.learn(GetHeaders::Sent);
                    }
                } else if self.get_headers() != GetHeaders::Sent {
                    // Either the object has none of them, or the engine dropped them: HEAD says.
                    match self.head(key).await {
                        Ok(h) if h.etag == m.etag => {
                            if has_standard_headers(&h.attrs) && self.get_headers() == GetHeaders::Unknown {
                                tracing::info!(endpoint = %self.endpoint, "this S3 engine leaves standard headers out of GET answers; taking them from HEAD");
                                self.learn(GetHeaders::Dropped);
                            }
                            m.attrs = h.attrs;
                        }
                        // Overwritten or deleted meanwhile: describe what is streamed.
                        Ok(_) | Err(Error::NotFound) => {}
                        Err(e) => return Err(e),
                    }
                }
                m
            }
        };
        Ok(GetObject {
            meta,
            range: resolved,
            body: stream_of(o.body),
        })
    }

    async fn put(&self, key: &str, body: ByteStream, size: Option<u64>, attrs: ObjectAttrs) -> Result<ObjectMeta> {
        let (body, size) = match size {
            Some(n) => (body, n),
            None => spooled(body).await?,
        };
        let full = self.full(key)?;
        let failed = BodyError::default();
        let mut req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&full)
            .content_length(i64::try_from(size).map_err(|_| Error::LengthRequired)?)
            .body(sdk_body(body, &failed))
            .set_content_type(attrs.content_type.clone())
            .set_cache_control(attrs.cache_control.clone())
            .set_content_disposition(attrs.content_disposition.clone())
            .set_content_encoding(attrs.content_encoding.clone())
            .set_content_language(attrs.content_language.clone())
            .set_expires(http_date(attrs.expires.as_deref()));
        for (k, v) in &attrs.user_metadata {
            req = req.metadata(k, v);
        }
        for (alg, v) in &attrs.checksums {
            req = req.metadata(format!("{CHECKSUM_META}{alg}"), v);
        }
        let out = req.send().await.map_err(|e| failed.or_map(e))?;
        Ok(ObjectMeta {
            size,
            etag: unquote(out.e_tag()),
            last_modified: now(),
            attrs,
        })
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(self.full(key)?)
            .send()
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn list(&self, req: &ListRequest) -> Result<ListPage> {
        crate::key::validate_prefix(&req.prefix)?;
        let out = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(format!("{}{}", self.root, req.prefix))
            .set_delimiter(req.delimiter.clone().filter(|d| !d.is_empty()))
            .set_start_after(req.start_after.as_ref().map(|s| format!("{}{s}", self.root)))
            .max_keys(i32::try_from(req.max_keys.clamp(1, 1000)).unwrap_or(1000))
            .send()
            .await
            .map_err(map_err)?;
        let after = req.start_after.as_deref().unwrap_or("");
        let mut page = ListPage {
            is_truncated: out.is_truncated().unwrap_or(false),
            ..ListPage::default()
        };
        for o in out.contents() {
            let Some(k) = o.key().and_then(|k| self.strip(k)) else { continue };
            page.entries.push(ListEntry {
                key: k.to_owned(),
                size: o.size().and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
                etag: unquote(o.e_tag()),
                last_modified: to_time(o.last_modified()),
            });
        }
        for cp in out.common_prefixes() {
            // S3 repeats a common prefix that `start_after` names; the caller has it already.
            if let Some(p) = cp.prefix().and_then(|p| self.strip(p))
                && p > after
            {
                page.common_prefixes.push(p.to_owned());
            }
        }
        if page.is_truncated {
            let last_key = page.entries.last().map(|e| e.key.clone());
            let last_cp = page.common_prefixes.last().cloned();
            page.next_marker = match (last_key, last_cp) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b).or_else(|| req.start_after.clone()),
            };
        }
        Ok(page)
    }

    async fn copy(&self, src: &str, dst: &str, attrs: Option<ObjectAttrs>) -> Result<ObjectMeta> {
        let mut req = self
            .client
            .copy_object()
            .bucket(&self.bucket)
            .key(self.full(dst)?)
            .copy_source(copy_source(&self.bucket, &self.full(src)?));
        if let Some(a) = &attrs {
            req = req
                .metadata_directive(MetadataDirective::Replace)
                .set_content_type(a.content_type.clone())
                .set_cache_control(a.cache_control.clone())
                .set_content_disposition(a.content_disposition.clone())
                .set_content_encoding(a.content_encoding.clone())
                .set_content_language(a.content_language.clone())
                .set_expires(http_date(a.expires.as_deref()));
            for (k, v) in &a.user_metadata {
                req = req.metadata(k, v);
            }
        }
        req.send().await.map_err(map_err)?;
        self.head(dst).await
    }

    async fn create_multipart(&self, key: &str, attrs: ObjectAttrs) -> Result<String> {
        let mut req = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(self.full(key)?)
            .set_content_type(attrs.content_type)
            .set_cache_control(attrs.cache_control)
            .set_content_disposition(attrs.content_disposition)
            .set_content_encoding(attrs.content_encoding)
            .set_content_language(attrs.content_language)
            .set_expires(http_date(attrs.expires.as_deref()));
        for (k, v) in &attrs.user_metadata {
            req = req.metadata(k, v);
        }
        let out = req.send().await.map_err(map_err)?;
        out.upload_id()
            .map(str::to_owned)
            .ok_or_else(|| Error::Backend("backend returned no upload id".into()))
    }

    async fn upload_part(&self, key: &str, upload_id: &str, part_number: u32, body: ByteStream, size: Option<u64>) -> Result<PartInfo> {
        let size = size.ok_or(Error::LengthRequired)?;
        if !(1..=10_000).contains(&part_number) {
            return Err(Error::InvalidPart(format!("part number {part_number} is outside 1..=10000")));
        }
        let failed = BodyError::default();
        let out = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(self.full(key)?)
            .upload_id(upload_id)
            .part_number(i32::try_from(part_number).unwrap_or(i32::MAX))
            .content_length(i64::try_from(size).map_err(|_| Error::LengthRequired)?)
            .body(sdk_body(body, &failed))
            .send()
            .await
            .map_err(|e| failed.or_map(e))?;
        Ok(PartInfo {
            part_number,
            etag: unquote(out.e_tag()),
            size,
            last_modified: now(),
        })
    }

    async fn complete_multipart(&self, key: &str, upload_id: &str, parts: &[CompletedPart]) -> Result<ObjectMeta> {
        if parts.is_empty() {
            return Err(Error::InvalidPart("no parts given".into()));
        }
        if parts.windows(2).any(|w| w[0].part_number >= w[1].part_number) {
            return Err(Error::InvalidPartOrder);
        }
        // Not every S3 server checks the named parts (s3s-fs does not); checking here keeps a
        // wrong ETag from silently assembling the wrong bytes.
        let stored = self.list_parts(key, upload_id).await?;
        for p in parts {
            match stored.iter().find(|s| s.part_number == p.part_number) {
                // An empty ETag is a server that does not report them (s3s-fs): nothing to check.
                Some(s) if s.etag.is_empty() || s.etag == p.etag.trim_matches('"') => {}
                Some(_) => return Err(Error::InvalidPart(format!("part {} has a different ETag", p.part_number))),
                None => return Err(Error::InvalidPart(format!("part {} was not uploaded", p.part_number))),
            }
        }
        let parts = parts
            .iter()
            .map(|p| {
                SdkPart::builder()
                    .part_number(i32::try_from(p.part_number).unwrap_or(i32::MAX))
                    .e_tag(format!("\"{}\"", p.etag.trim_matches('"')))
                    .build()
            })
            .collect();
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(self.full(key)?)
            .upload_id(upload_id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
            .send()
            .await
            .map_err(map_err)?;
        self.head(key).await
    }

    async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<()> {
        self.client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(self.full(key)?)
            .upload_id(upload_id)
            .send()
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn list_parts(&self, key: &str, upload_id: &str) -> Result<Vec<PartInfo>> {
        let full = self.full(key)?;
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page = self
                .client
                .list_parts()
                .bucket(&self.bucket)
                .key(&full)
                .upload_id(upload_id)
                .set_part_number_marker(marker.clone())
                .send()
                .await
                .map_err(|e| match map_err(e) {
                    // Ceph RGW answers NoSuchKey for an upload it does not have (finished,
                    // aborted or never made): ListParts names no object, so it can only mean this.
                    Error::NotFound => Error::NoSuchUpload,
                    other => other,
                })?;
            for p in page.parts() {
                out.push(PartInfo {
                    part_number: p.part_number().and_then(|n| u32::try_from(n).ok()).unwrap_or(0),
                    etag: unquote(p.e_tag()),
                    size: p.size().and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
                    last_modified: to_time(p.last_modified()),
                });
            }
            match (page.is_truncated(), page.next_part_number_marker()) {
                (Some(true), Some(m)) => marker = Some(m.to_owned()),
                _ => break,
            }
        }
        out.sort_by_key(|p| p.part_number);
        Ok(out)
    }

    async fn list_uploads(&self, prefix: &str) -> Result<Vec<UploadInfo>> {
        let mut out = Vec::new();
        let mut markers: (Option<String>, Option<String>) = (None, None);
        loop {
            let page = self
                .client
                .list_multipart_uploads()
                .bucket(&self.bucket)
                .prefix(format!("{}{prefix}", self.root))
                .set_key_marker(markers.0.clone())
                .set_upload_id_marker(markers.1.clone())
                .send()
                .await
                .map_err(map_err)?;
            for u in page.uploads() {
                if let (Some(k), Some(id)) = (u.key().and_then(|k| self.strip(k)), u.upload_id()) {
                    out.push(UploadInfo {
                        key: k.to_owned(),
                        upload_id: id.to_owned(),
                        initiated: to_time(u.initiated()),
                    });
                }
            }
            if page.is_truncated() == Some(true) {
                markers = (
                    page.next_key_marker().map(str::to_owned),
                    page.next_upload_id_marker().map(str::to_owned),
                );
            } else {
                break;
            }
        }
        Ok(out)
    }

    async fn health(&self) -> Result<()> {
        match self.client.head_bucket().bucket(&self.bucket).send().await.map_err(map_err) {
            // HeadBucket has no body, so a missing bucket is a bare 404.
            Err(Error::NotFound) => Err(Error::NoBucket {
                bucket: self.bucket.clone(),
                endpoint: self.endpoint.clone(),
            }),
            other => other.map(|_| ()),
        }
    }
}

fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(0).unwrap_or(t)
}
