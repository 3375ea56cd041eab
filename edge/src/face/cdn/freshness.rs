//! The CDN's one freshness decision, pure: given what is cached, when it was stored, the time
//! now and the lifetimes the space's rules give it, whether it is served as is, revalidated
//! against the store, fetched again, or (when the store fails) served stale. No IO and no clock
//! reads here; the caller passes `now` from its injected clock.

use std::time::{Duration, Instant};

/// What a cache entry holds: the three states a cached object can be in.
#[derive(Debug, Clone)]
pub enum Content {
    /// The object did not exist when fetched (a negative entry).
    Absent,
    /// Its metadata only: too large to hold, so bytes stream from the store per request (or a
    /// HEAD that has not read the bytes).
    MetaOnly(rustshare_store::ObjectMeta),
    /// Metadata and every byte.
    Whole(rustshare_store::ObjectMeta, bytes::Bytes),
}

impl Content {
    /// The object's metadata, unless it was absent.
    #[must_use]
    pub fn meta(&self) -> Option<&rustshare_store::ObjectMeta> {
        match self {
            Content::Absent => None,
            Content::MetaOnly(m) | Content::Whole(m, _) => Some(m),
        }
    }

    /// The object's bytes, when held.
    #[must_use]
    pub fn body(&self) -> Option<&bytes::Bytes> {
        match self {
            Content::Whole(_, b) => Some(b),
            _ => None,
        }
    }
}

/// How long an entry lives, from the space's rules and the CDN's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    /// Fresh for this long after it was stored (`max-age`, or the negative TTL for a 404).
    pub fresh_for: Duration,
    /// How long past freshness it may still be served while the store fails.
    pub stale_if_error: Duration,
}

/// What to do with a cached entry on a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Serve it as is.
    Fresh,
    /// Ask the store whether it changed (a conditional HEAD): it has validators.
    Revalidate,
    /// Fetch it again: a negative entry has nothing to revalidate with.
    Refetch,
}

/// What to do when the store fails while an entry was being revalidated or refetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    /// Serve the old copy (`X-Cache: STALE`).
    ServeStale,
    /// Fail the request: the copy is too old to stand in.
    Fail,
}

/// The decision for `content` stored at `stored`, at `now`.
#[must_use]
pub fn decide(content: &Content, stored: Instant, now: Instant, l: Lifetimes) -> Decision {
    if now.saturating_duration_since(stored) < l.fresh_for {
        return Decision::Fresh;
    }
    match content {
        Content::Absent => Decision::Refetch,
        Content::MetaOnly(_) | Content::Whole(..) => Decision::Revalidate,
    }
}

/// Whether an entry stored at `stored` may stand in for the store at `now`.
#[must_use]
pub fn on_origin_error(stored: Instant, now: Instant, l: Lifetimes) -> OnError {
    if now.saturating_duration_since(stored) < l.fresh_for.saturating_add(l.stale_if_error) {
        OnError::ServeStale
    } else {
        OnError::Fail
    }
}

/// The `Age` header's value: whole seconds since the entry was stored or revalidated.
#[must_use]
pub fn age(stored: Instant, now: Instant) -> u64 {
    now.saturating_duration_since(stored).as_secs()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> rustshare_store::ObjectMeta {
        rustshare_store::ObjectMeta {
            size: 1,
            etag: "e".into(),
            last_modified: time::OffsetDateTime::UNIX_EPOCH,
            attrs: rustshare_store::ObjectAttrs::default(),
        }
    }

    const L: Lifetimes = Lifetimes {
        fresh_for: Duration::from_mins(1),
        stale_if_error: Duration::from_hours(1),
    };

    #[test]
    fn fresh_until_max_age_then_revalidated_or_refetched() {
        let t0 = Instant::now();
        let whole = Content::Whole(meta(), bytes::Bytes::from_static(b"x"));
        let large = Content::MetaOnly(meta());
        for c in [&whole, &large, &Content::Absent] {
            assert_eq!(decide(c, t0, t0, L), Decision::Fresh);
            assert_eq!(decide(c, t0, t0 + Duration::from_millis(59_999), L), Decision::Fresh);
        }
        let later = t0 + Duration::from_mins(1);
        assert_eq!(decide(&whole, t0, later, L), Decision::Revalidate);
        assert_eq!(decide(&large, t0, later, L), Decision::Revalidate);
        assert_eq!(decide(&Content::Absent, t0, later, L), Decision::Refetch);
    }

    #[test]
    fn max_age_zero_is_never_fresh() {
        let t0 = Instant::now();
        let l = Lifetimes {
            fresh_for: Duration::ZERO,
            ..L
        };
        assert_eq!(decide(&Content::MetaOnly(meta()), t0, t0, l), Decision::Revalidate);
    }

    #[test]
    fn stale_only_within_the_stale_if_error_window() {
        let t0 = Instant::now();
        assert_eq!(on_origin_error(t0, t0 + Duration::from_secs(61), L), OnError::ServeStale);
        assert_eq!(on_origin_error(t0, t0 + Duration::from_secs(3659), L), OnError::ServeStale);
        assert_eq!(on_origin_error(t0, t0 + Duration::from_mins(61), L), OnError::Fail);
        let none = Lifetimes {
            fresh_for: Duration::from_secs(1),
            stale_if_error: Duration::ZERO,
        };
        assert_eq!(on_origin_error(t0, t0 + Duration::from_secs(1), none), OnError::Fail);
    }

    #[test]
    fn a_clock_behind_the_entry_counts_as_no_time() {
        let t0 = Instant::now() + Duration::from_secs(5);
        assert_eq!(age(t0, t0.checked_sub(Duration::from_secs(5)).expect("a time before t0")), 0);
        assert_eq!(
            decide(
                &Content::Absent,
                t0,
                t0.checked_sub(Duration::from_secs(5)).expect("a time before t0"),
                L
            ),
            Decision::Fresh
        );
        assert_eq!(age(t0, t0 + Duration::from_millis(2500)), 2);
    }
}
