//! The faces a request reaches after host routing: S3, CDN, packages and the registry front.
//! Faces depend on narrow traits rather than on each other.

pub mod cdn;
pub mod console;
pub mod packages;
pub mod registry;
pub mod s3;

/// Forgetting cached copies of objects after they changed: what the S3 face and the control API
/// need of the CDN, and no more.
pub trait Purge: Send + Sync {
    /// Forgets one object (and tells other nodes to).
    fn purge_key<'a>(&'a self, space_id: &'a str, key: &'a str) -> futures::future::BoxFuture<'a, ()>;
    /// Forgets every object under `prefix` (and tells other nodes to).
    fn purge_prefix(&self, space_id: &str, prefix: &str);
}
