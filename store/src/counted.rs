//! A store that counts the requests made of the one it wraps.

use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;

use crate::{
    ByteRange, ByteStream, CompletedPart, GetObject, ListEntry, ListPage, ListRequest, ObjectAttrs, ObjectMeta, ObjectStore, PartInfo,
    Result, UploadInfo,
};

/// Requests made so far, by kind.
#[derive(Debug, Default)]
pub struct Counts {
    /// Whole-object reads.
    pub get: AtomicU64,
    /// Ranged reads.
    pub ranged_get: AtomicU64,
    /// Metadata reads.
    pub head: AtomicU64,
    /// Every other request (writes, listings, multipart, copies, health).
    pub other: AtomicU64,
}

impl Counts {
    /// `(get, ranged_get, head)` now.
    #[must_use]
    pub fn reads(&self) -> (u64, u64, u64) {
        (
            self.get.load(Ordering::Relaxed),
            self.ranged_get.load(Ordering::Relaxed),
            self.head.load(Ordering::Relaxed),
        )
    }
}

/// Wraps a store and counts what is asked of it, to hold a caller to the requests it should
/// make (a HEAD that must not open a read, a miss that must read once). Batch operations go
/// through the trait's defaults, so each object in a batch counts as its own request.
pub struct Counted<S> {
    inner: S,
    /// The counts.
    pub counts: Counts,
}

impl<S> Counted<S> {
    /// Counts the requests made of `inner`.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            counts: Counts::default(),
        }
    }

    fn other(&self) {
        self.counts.other.fetch_add(1, Ordering::Relaxed);
    }
}

#[async_trait]
impl<S: ObjectStore> ObjectStore for Counted<S> {
    async fn head(&self, key: &str) -> Result<ObjectMeta> {
        self.counts.head.fetch_add(1, Ordering::Relaxed);
        self.inner.head(key).await
    }
    async fn get(&self, key: &str, range: Option<ByteRange>) -> Result<GetObject> {
        let n = if range.is_some() {
            &self.counts.ranged_get
        } else {
            &self.counts.get
        };
        n.fetch_add(1, Ordering::Relaxed);
        self.inner.get(key, range).await
    }
    async fn put(&self, key: &str, body: ByteStream, size: Option<u64>, attrs: ObjectAttrs) -> Result<ObjectMeta> {
        self.other();
        self.inner.put(key, body, size, attrs).await
    }
    async fn delete(&self, key: &str) -> Result<()> {
        self.other();
        self.inner.delete(key).await
    }
    async fn list(&self, req: &ListRequest) -> Result<ListPage> {
        self.other();
        self.inner.list(req).await
    }
    async fn list_all(&self, prefix: &str) -> Result<Vec<ListEntry>> {
        self.other();
        self.inner.list_all(prefix).await
    }
    async fn copy(&self, src: &str, dst: &str, attrs: Option<ObjectAttrs>) -> Result<ObjectMeta> {
        self.other();
        self.inner.copy(src, dst, attrs).await
    }
    async fn create_multipart(&self, key: &str, attrs: ObjectAttrs) -> Result<String> {
        self.other();
        self.inner.create_multipart(key, attrs).await
    }
    async fn upload_part(&self, key: &str, upload_id: &str, part_number: u32, body: ByteStream, size: Option<u64>) -> Result<PartInfo> {
        self.other();
        self.inner.upload_part(key, upload_id, part_number, body, size).await
    }
    async fn complete_multipart(&self, key: &str, upload_id: &str, parts: &[CompletedPart]) -> Result<ObjectMeta> {
        self.other();
        self.inner.complete_multipart(key, upload_id, parts).await
    }
    async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<()> {
        self.other();
        self.inner.abort_multipart(key, upload_id).await
    }
    async fn list_parts(&self, key: &str, upload_id: &str) -> Result<Vec<PartInfo>> {
        self.other();
        self.inner.list_parts(key, upload_id).await
    }
    async fn list_uploads(&self, prefix: &str) -> Result<Vec<UploadInfo>> {
        self.other();
        self.inner.list_uploads(prefix).await
    }
    async fn health(&self) -> Result<()> {
        self.other();
        self.inner.health().await
    }
}
