//! Object storage for RustShare.
//!
//! [`ObjectStore`] is the one interface the rest of the system uses to read and write bytes.
//! Two backends implement it: [`FsStore`], the embedded default (a directory on local disk),
//! and [`S3Store`], any S3-compatible service such as RustFS, reached with aws-sdk-s3.
//! Keys are flat strings; callers (the edge) decide how spaces map onto them.

mod backend;
mod error;
pub mod key;
mod types;

pub use backend::fs::FsStore;
pub use backend::s3::{S3Store, S3StoreConfig};
pub use error::{Error, Result};
pub use types::*;

use async_trait::async_trait;

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
    async fn list_uploads(&self, prefix: &str) -> Result<Vec<UploadInfo>>;
    /// Checks that the backend answers.
    async fn health(&self) -> Result<()>;
}
