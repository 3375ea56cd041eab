//! The edge cache: moka, bounded by bytes. An entry is one object's metadata and, when small
//! enough, its bytes (plus compressed variants made on demand); a negative entry remembers a
//! 404 for a short while. Concurrent misses for one key share one origin read (moka's
//! `try_get_with` coalesces them).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rustshare_store::ObjectMeta;

use super::freshness::Content;
use super::http::Coding;

/// One cached object (or its absence).
#[derive(Debug)]
pub struct Entry {
    /// What is held: nothing (a 404), the metadata, or the metadata and the bytes.
    pub content: Content,
    /// When it was fetched or last revalidated, by the CDN's clock.
    pub stored: Instant,
    variants: Mutex<HashMap<Coding, Bytes>>,
    /// Header values that depend only on the object, made on first use.
    pub prebuilt: std::sync::OnceLock<Prebuilt>,
}

/// Response header values fixed for a cached object.
#[derive(Debug)]
pub struct Prebuilt {
    /// Strong ETag of the identity representation, quoted.
    pub etag: http::HeaderValue,
    /// Last-Modified.
    pub last_modified: http::HeaderValue,
    /// Content-Type as sent.
    pub content_type: String,
    /// Content-Type as a header value.
    pub content_type_value: Option<http::HeaderValue>,
}

impl Entry {
    /// An entry holding `content`, stored at `now`.
    #[must_use]
    pub fn new(content: Content, now: Instant) -> Self {
        Self {
            content,
            stored: now,
            variants: Mutex::default(),
            prebuilt: std::sync::OnceLock::new(),
        }
    }

    /// The same object, confirmed unchanged at `now`.
    #[must_use]
    pub fn revalidated(&self, now: Instant) -> Self {
        let variants = self.variants.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        Self {
            content: self.content.clone(),
            stored: now,
            variants: Mutex::new(variants),
            prebuilt: std::sync::OnceLock::new(),
        }
    }

    /// The object's metadata, unless it was absent.
    #[must_use]
    pub fn meta(&self) -> Option<&ObjectMeta> {
        self.content.meta()
    }

    /// The object's bytes, when held.
    #[must_use]
    pub fn body(&self) -> Option<&Bytes> {
        self.content.body()
    }

    /// The body compressed with `c`, made once and kept with the entry.
    pub fn variant(&self, c: Coding) -> Option<Bytes> {
        let body = self.content.body()?;
        if let Some(v) = self.variants.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&c) {
            return Some(v.clone());
        }
        let out = compress(c, body)?;
        self.variants
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(c, out.clone());
        Some(out)
    }

    fn weight(&self) -> u32 {
        let body = self.content.body().map_or(0, Bytes::len);
        let variants: usize = self.variants.lock().map_or(0, |v| v.values().map(Bytes::len).sum());
        u32::try_from(body + variants + 512).unwrap_or(u32::MAX)
    }
}

fn compress(c: Coding, data: &[u8]) -> Option<Bytes> {
    use std::io::Write;
    let out = match c {
        Coding::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::with_capacity(data.len() / 3), flate2::Compression::new(6));
            e.write_all(data).ok()?;
            e.finish().ok()?
        }
        Coding::Brotli => {
            let mut out = Vec::with_capacity(data.len() / 3);
            {
                let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
                w.write_all(data).ok()?;
            }
            out
        }
        Coding::Zstd => zstd::bulk::compress(data, 3).ok()?,
    };
    Some(Bytes::from(out))
}

/// The cache, shared by the CDN face and everything that must invalidate it.
#[derive(Clone)]
pub struct Cache {
    inner: moka::future::Cache<String, Arc<Entry>>,
    /// Tells the other nodes to drop what this one drops.
    announce: Option<rustshare_control::Control>,
}

/// The cache key of an object of a space.
#[must_use]
pub fn key_of(space_id: &str, key: &str) -> String {
    format!("{space_id}\0{key}")
}

impl Cache {
    /// A cache holding about `bytes` of object data.
    #[must_use]
    pub fn new(bytes: u64) -> Self {
        let inner = moka::future::Cache::builder()
            .max_capacity(bytes)
            .weigher(|k: &String, v: &Arc<Entry>| v.weight().saturating_add(u32::try_from(k.len()).unwrap_or(u32::MAX)))
            // Nothing stays longer than a day without a look at the store.
            .time_to_live(Duration::from_hours(24))
            .support_invalidation_closures()
            .build();
        Self { inner, announce: None }
    }

    /// Announces every [`Cache::invalidate`] and [`Cache::invalidate_prefix`] through the
    /// control change feed, so every node drops the same entries.
    #[must_use]
    pub fn announcing(mut self, control: rustshare_control::Control) -> Self {
        self.announce = Some(control);
        self
    }

    fn tell_others(&self, space_id: &str, key: &str, prefix: bool) {
        // Queued: S3 writes call this on their request path.
        if let Some(c) = &self.announce {
            c.announce_soon(rustshare_control::ChangeKind::Purge {
                space_id: space_id.to_owned(),
                key: key.to_owned(),
                prefix,
            });
        }
    }

    pub(crate) fn moka(&self) -> &moka::future::Cache<String, Arc<Entry>> {
        &self.inner
    }

    /// Forgets one object of a space (after a write, delete or purge), here and on every node.
    pub async fn invalidate(&self, space_id: &str, key: &str) {
        self.forget(space_id, key).await;
        self.tell_others(space_id, key, false);
    }

    /// Forgets every object of a space under `prefix` (empty: the whole space), here and on
    /// every node.
    pub fn invalidate_prefix(&self, space_id: &str, prefix: &str) {
        self.forget_prefix(space_id, prefix);
        self.tell_others(space_id, prefix, true);
    }

    /// [`Cache::invalidate`] on this node only (what another node announced).
    pub async fn forget(&self, space_id: &str, key: &str) {
        self.inner.invalidate(&key_of(space_id, key)).await;
    }

    /// Forgets everything on this node (the change feed was unreadable too long to trust).
    pub fn forget_all(&self) {
        self.inner.invalidate_all();
    }

    /// [`Cache::invalidate_prefix`] on this node only.
    pub fn forget_prefix(&self, space_id: &str, prefix: &str) {
        let start = key_of(space_id, prefix);
        if let Err(e) = self.inner.invalidate_entries_if(move |k, _| k.starts_with(&start)) {
            tracing::error!("cache purge: {e}");
        }
    }

    /// Bytes held, for tests and metrics.
    pub async fn weighted_size(&self) -> u64 {
        self.inner.run_pending_tasks().await;
        self.inner.weighted_size()
    }
}

impl crate::face::Purge for Cache {
    fn purge_key<'a>(&'a self, space_id: &'a str, key: &'a str) -> futures::future::BoxFuture<'a, ()> {
        Box::pin(self.invalidate(space_id, key))
    }

    fn purge_prefix(&self, space_id: &str, prefix: &str) {
        self.invalidate_prefix(space_id, prefix);
    }
}
