//! Lookups by a public name (a CDN site's name, a bucket's CORS rules) kept for
//! [`CREDENTIAL_TTL`] by the control's clock. Unknown names are kept too, so a scan of names
//! costs one database read each per TTL, and the map is bounded so a scan cannot grow it.

use super::*;

/// Entries beyond this clear the map.
const MAX_NAMES: usize = 10_000;

/// When an answer was read, and the answer (`None`: no such name).
type Entry<V> = (Instant, Option<Arc<V>>);

pub(super) struct NameCache<V>(RwLock<HashMap<String, Entry<V>>>);

impl<V> NameCache<V> {
    pub(super) fn new() -> Self {
        NameCache(RwLock::new(HashMap::new()))
    }

    /// The answer kept for `name` if it is younger than the TTL at `now`.
    #[allow(clippy::option_option, reason = "outer: whether the cache knows; inner: whether the name exists")]
    pub(super) fn get(&self, name: &str, now: Instant) -> Option<Option<Arc<V>>> {
        let m = self.0.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        m.get(name)
            .filter(|(at, _)| now.saturating_duration_since(*at) < CREDENTIAL_TTL)
            .map(|(_, v)| v.clone())
    }

    pub(super) fn put(&self, name: &str, v: Option<Arc<V>>, now: Instant) {
        let mut m = self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if m.len() >= MAX_NAMES {
            m.clear();
        }
        m.insert(name.to_owned(), (now, v));
    }

    pub(super) fn clear(&self) {
        self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
    }
}
