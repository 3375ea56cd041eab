//! Object storage for RustShare.
//!
//! [`ObjectStore`] is the one interface the rest of the system uses to read and write bytes.
//! Two backends implement it: [`FsStore`], the embedded default (a directory on local disk),
//! and [`S3Store`], any S3-compatible service such as RustFS, reached with aws-sdk-s3.
//! Keys are flat strings; callers (the edge) decide how spaces map onto them.

mod backend;
mod counted;
mod error;
pub mod key;
mod types;

pub use backend::fs::FsStore;
pub use backend::s3::{S3Store, S3StoreConfig};
pub use counted::{Counted, Counts};
pub use error::{Error, Result};
pub use types::*;

use async_trait::async_trait;

/// User metadata names the store keeps for itself (an object's verified checksums, on engines
/// that keep none); writers must not set them.
pub const RESERVED_METADATA_PREFIX: &str = "rustshare-checksum-";

/// The storage interface: streaming, atomic, multipart-capable.
///
/// Every write is atomic: a reader sees the previous object or the complete new one, and a
/// write whose body stream fails leaves nothing behind.
#[async_trait]
pub trait ObjectStore: Send + Sync + 'static {
    /// Metadata of one object.
    async fn head(&self, key: &str) -> Result<ObjectMeta>;
    /// Streams an object, or the resolved part of it when `range` is given.
    async fn get(&self, key: &str, range: Option<ByteRange>) -> Result<GetObject>;
    /// Stores an object from a stream. `size`, when known, must match the streamed length.
    async fn put(&self, key: &str, body: ByteStream, size: Option<u64>, attrs: ObjectAttrs) -> Result<ObjectMeta>;
    /// Removes an object; removing a missing object succeeds, as in S3.
    async fn delete(&self, key: &str) -> Result<()>;
    /// One page of keys in lexicographic order.
    async fn list(&self, req: &ListRequest) -> Result<ListPage>;
    /// Every key under `prefix`, in lexicographic order, with its metadata: the pages of
    /// [`ObjectStore::list`] one after another. A backend that must walk its whole tree for
    /// each page (the fs store) answers in one walk instead.
    async fn list_all(&self, prefix: &str) -> Result<Vec<ListEntry>> {
        let mut out = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .list(&ListRequest {
                    prefix: prefix.to_owned(),
                    delimiter: None,
                    start_after: after.take(),
                    max_keys: 1000,
                })
                .await?;
            out.extend(page.entries);
            if !page.is_truncated {
                return Ok(out);
            }
            after = page.next_marker;
        }
    }
    /// Server-side copy. `attrs` replaces the metadata; `None` keeps the source's.
    async fn copy(&self, src: &str, dst: &str, attrs: Option<ObjectAttrs>) -> Result<ObjectMeta>;
    /// Starts a multipart upload and returns its id.
    async fn create_multipart(&self, key: &str, attrs: ObjectAttrs) -> Result<String>;
    /// Stores one part (1..=10000) of a multipart upload.
    async fn upload_part(&self, key: &str, upload_id: &str, part_number: u32, body: ByteStream, size: Option<u64>) -> Result<PartInfo>;
    /// Assembles the listed parts, in order, into the final object.
    async fn complete_multipart(&self, key: &str, upload_id: &str, parts: &[CompletedPart]) -> Result<ObjectMeta>;
    /// Discards an upload and its parts.
    async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<()>;
    /// Parts stored so far for an upload, by part number.
    async fn list_parts(&self, key: &str, upload_id: &str) -> Result<Vec<PartInfo>>;
    /// Uploads in progress whose key starts with `prefix`.
    ///
    /// Only an object's exact key is answered by every engine: RustFS and MinIO answer nothing
    /// for a shorter prefix (no error, an empty list), and s3s-fs answers
    /// [`Error::Unsupported`]. So no request path depends on it (the S3 face lists uploads from
    /// the control database); reconciliation uses a directory prefix only to find uploads
    /// nothing recorded, best-effort.
    async fn list_uploads(&self, prefix: &str) -> Result<Vec<UploadInfo>>;
    /// Checks that the backend answers.
    async fn health(&self) -> Result<()>;

    /// A whole object in memory, refused with [`Error::Backend`] above `limit` bytes. The fs
    /// store reads it in one blocking call instead of a stream of chunks.
    async fn get_bytes(&self, key: &str, limit: u64) -> Result<(ObjectMeta, bytes::Bytes)> {
        let g = self.get(key, None).await?;
        if g.meta.size > limit {
            return Err(Error::Backend(format!("object is {} bytes, more than {limit}", g.meta.size)));
        }
        let mut out = Vec::with_capacity(usize::try_from(g.meta.size).unwrap_or(0));
        let mut body = g.body;
        while let Some(chunk) = futures::StreamExt::next(&mut body).await {
            out.extend_from_slice(&chunk.map_err(Error::Body)?);
        }
        Ok((g.meta, out.into()))
    }

    /// [`ObjectStore::get_bytes`] for many objects, answers in the order of `keys`, each one
    /// failing on its own. The fs store reads them all in one blocking call, so a batch costs one
    /// trip to the blocking pool instead of one per object.
    async fn get_bytes_batch(&self, keys: Vec<String>, limit: u64) -> Vec<Result<(ObjectMeta, bytes::Bytes)>> {
        use futures::StreamExt;
        futures::stream::iter(keys)
            .map(|k| async move { self.get_bytes(&k, limit).await })
            .buffered(16)
            .collect()
            .await
    }

    /// [`ObjectStore::head`] for many objects, answers in the order of `keys`, each one failing
    /// on its own (one blocking call on the fs store).
    async fn head_batch(&self, keys: Vec<String>) -> Vec<Result<ObjectMeta>> {
        use futures::StreamExt;
        futures::stream::iter(keys)
            .map(|k| async move { self.head(&k).await })
            .buffered(16)
            .collect()
            .await
    }

    /// Stores many small objects held in memory; every one is durable when this returns, and
    /// each is atomic on its own (readers see it whole or not at all). Backends may batch: the
    /// fs store writes them all and syncs once. The default puts them a few at a time.
    async fn put_batch(&self, items: Vec<(String, bytes::Bytes, ObjectAttrs)>) -> Result<()> {
        let mut pending = futures::stream::FuturesUnordered::new();
        let mut items = items.into_iter();
        loop {
            while pending.len() < 16 {
                let Some((key, data, attrs)) = items.next() else { break };
                let len = data.len() as u64;
                let body: ByteStream = Box::pin(futures::stream::once(async move { Ok(data) }));
                pending.push(async move { self.put(&key, body, Some(len), attrs).await });
            }
            match futures::StreamExt::next(&mut pending).await {
                Some(r) => {
                    r?;
                }
                None => return Ok(()),
            }
        }
    }

    /// [`ObjectStore::put_batch`] of items whose MD5 (hex) the caller has computed already from
    /// the same bytes (the publisher hashes every index file for `Release`), so a backend that
    /// keeps it as the ETag need not hash them again. The default ignores it.
    async fn put_batch_hashed(&self, items: Vec<(String, bytes::Bytes, ObjectAttrs, String)>) -> Result<()> {
        self.put_batch(items.into_iter().map(|(k, d, a, _)| (k, d, a)).collect()).await
    }

    /// Makes each `dst` an identical copy of its `src`, metadata included, durable when this
    /// returns. The fs store links the files (no data copied, no new inode); others copy.
    async fn clone_batch(&self, pairs: Vec<(String, String)>) -> Result<()> {
        let mut pending = futures::stream::FuturesUnordered::new();
        let mut pairs = pairs.into_iter();
        loop {
            while pending.len() < 16 {
                let Some((src, dst)) = pairs.next() else { break };
                pending.push(async move { self.copy(&src, &dst, None).await.map(|_| ()) });
            }
            match futures::StreamExt::next(&mut pending).await {
                Some(r) => r?,
                None => return Ok(()),
            }
        }
    }

    /// Removes many objects; missing ones are fine. The default deletes them a few at a time.
    async fn delete_batch(&self, keys: Vec<String>) -> Result<()> {
        let mut pending = futures::stream::FuturesUnordered::new();
        let mut keys = keys.into_iter();
        loop {
            while pending.len() < 16 {
                let Some(key) = keys.next() else { break };
                pending.push(async move { self.delete(&key).await });
            }
            match futures::StreamExt::next(&mut pending).await {
                Some(r) => r?,
                None => return Ok(()),
            }
        }
    }
}
