//! Lifecycle rules of a space (S3's bucket lifecycle): what a rule says, checked as S3 checks
//! it, and when a rule makes an object, a noncurrent version, a delete marker or an upload in
//! progress due. Pure: the expirer (`face::s3::expirer` in the edge) reads the candidates and
//! acts; the S3 face, the control API and the CLI set the same rules.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::tags::TagSet;

/// Most rules a space may have (S3's limit).
pub const MAX_RULES: usize = 1000;

/// One rule: which keys (prefix, and tags that must all be on the object) and what happens to
/// them. At least one action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LifecycleRule {
    /// Unique within the space, up to 255 characters.
    pub id: String,
    /// A disabled rule is kept but does nothing.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Keys starting with this (empty: every key).
    #[serde(default)]
    pub prefix: String,
    /// Tags the object must carry, every one of them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// Current objects expire this many days after they were written (a delete marker in a
    /// versioned space, a delete otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_days: Option<u32>,
    /// Noncurrent versions are removed this many days after they stopped being current ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noncurrent_days: Option<u32>,
    /// ... except the newest this many noncurrent versions of each key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_noncurrent: Option<u32>,
    /// A delete marker that is the only version left of its key is removed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub expired_delete_markers: bool,
    /// Multipart uploads still in progress this many days after they began are aborted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort_multipart_days: Option<u32>,
}

fn yes() -> bool {
    true
}

/// Checks rules as S3 does; the message says what to fix.
///
/// # Errors
/// The first rule that is wrong, and why.
pub fn check(rules: &[LifecycleRule]) -> Result<(), String> {
    if rules.is_empty() {
        return Err("a lifecycle configuration needs at least one rule".into());
    }
    if rules.len() > MAX_RULES {
        return Err(format!("at most {MAX_RULES} rules"));
    }
    let mut ids = std::collections::HashSet::new();
    for r in rules {
        let id = &r.id;
        if id.is_empty() || id.len() > 255 {
            return Err("every rule needs an id of 1 to 255 characters".into());
        }
        if !ids.insert(id.as_str()) {
            return Err(format!("rule id {id:?} is used twice"));
        }
        crate::names::prefix(&r.prefix).map_err(|e| format!("rule {id:?}: prefix: {e}"))?;
        let pairs: Vec<(String, String)> = r.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        TagSet::new(pairs).map_err(|e| format!("rule {id:?}: tags: {e}"))?;
        let days = [r.expire_days, r.noncurrent_days, r.abort_multipart_days];
        if days.iter().flatten().any(|d| *d == 0) {
            return Err(format!("rule {id:?}: days must be positive"));
        }
        if r.expire_days.is_none() && r.noncurrent_days.is_none() && !r.expired_delete_markers && r.abort_multipart_days.is_none() {
            return Err(format!(
                "rule {id:?} has no action: set expire_days, noncurrent_days, expired_delete_markers or abort_multipart_days"
            ));
        }
        if r.expired_delete_markers && r.expire_days.is_some() {
            return Err(format!(
                "rule {id:?}: expired_delete_markers cannot be combined with expire_days (as in S3's Expiration)"
            ));
        }
        if r.expired_delete_markers && !r.tags.is_empty() {
            return Err(format!("rule {id:?}: expired_delete_markers cannot be used with a tag filter"));
        }
        if r.abort_multipart_days.is_some() && !r.tags.is_empty() {
            return Err(format!("rule {id:?}: abort_multipart_days cannot be used with a tag filter"));
        }
        match r.keep_noncurrent {
            Some(_) if r.noncurrent_days.is_none() => {
                return Err(format!("rule {id:?}: keep_noncurrent needs noncurrent_days"));
            }
            Some(n) if n == 0 || n > 100 => return Err(format!("rule {id:?}: keep_noncurrent must be 1 to 100")),
            _ => {}
        }
    }
    Ok(())
}

/// When something `days` after `t` is due: S3 adds the days and rounds up to the next midnight
/// UTC.
#[must_use]
pub fn due_at(t: OffsetDateTime, days: u32) -> OffsetDateTime {
    let t = t.to_offset(time::UtcOffset::UTC) + time::Duration::days(i64::from(days));
    let midnight = t.replace_time(time::Time::MIDNIGHT);
    if midnight == t { t } else { midnight + time::Duration::days(1) }
}

fn applies(r: &LifecycleRule, key: &str, tags: &TagSet) -> bool {
    r.enabled && key.starts_with(&r.prefix) && r.tags.iter().all(|(k, v)| tags.pairs().iter().any(|(tk, tv)| tk == k && tv == v))
}

/// The rule under which a current object written at `modified` is due at `now`.
#[must_use]
pub fn current_due<'a>(
    rules: &'a [LifecycleRule],
    key: &str,
    tags: &TagSet,
    modified: OffsetDateTime,
    now: OffsetDateTime,
) -> Option<&'a str> {
    rules
        .iter()
        .filter(|r| applies(r, key, tags))
        .find(|r| r.expire_days.is_some_and(|d| now >= due_at(modified, d)))
        .map(|r| r.id.as_str())
}

/// The rule under which a noncurrent version is due: it stopped being current at
/// `noncurrent_at`, and `newer` noncurrent versions of its key are newer than it.
#[must_use]
pub fn noncurrent_due<'a>(
    rules: &'a [LifecycleRule],
    key: &str,
    tags: &TagSet,
    noncurrent_at: OffsetDateTime,
    newer: u32,
    now: OffsetDateTime,
) -> Option<&'a str> {
    rules
        .iter()
        .filter(|r| applies(r, key, tags))
        .find(|r| r.noncurrent_days.is_some_and(|d| now >= due_at(noncurrent_at, d)) && newer >= r.keep_noncurrent.unwrap_or(0))
        .map(|r| r.id.as_str())
}

/// The rule under which a delete marker that is its key's only version goes.
#[must_use]
pub fn marker_due<'a>(rules: &'a [LifecycleRule], key: &str) -> Option<&'a str> {
    rules
        .iter()
        .filter(|r| applies(r, key, &TagSet::default()))
        .find(|r| r.expired_delete_markers)
        .map(|r| r.id.as_str())
}

/// The rule under which an upload begun at `initiated` is aborted at `now`.
#[must_use]
pub fn upload_due<'a>(rules: &'a [LifecycleRule], key: &str, initiated: OffsetDateTime, now: OffsetDateTime) -> Option<&'a str> {
    rules
        .iter()
        .filter(|r| applies(r, key, &TagSet::default()))
        .find(|r| r.abort_multipart_days.is_some_and(|d| now >= due_at(initiated, d)))
        .map(|r| r.id.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn rule(id: &str) -> LifecycleRule {
        LifecycleRule {
            id: id.into(),
            enabled: true,
            prefix: String::new(),
            tags: BTreeMap::new(),
            expire_days: None,
            noncurrent_days: None,
            keep_noncurrent: None,
            expired_delete_markers: false,
            abort_multipart_days: None,
        }
    }

    #[test]
    fn days_round_up_to_the_next_midnight_utc() {
        assert_eq!(due_at(datetime!(2026-01-15 10:30 UTC), 1), datetime!(2026-01-17 00:00 UTC));
        assert_eq!(due_at(datetime!(2026-01-15 00:00 UTC), 1), datetime!(2026-01-16 00:00 UTC));
        assert_eq!(due_at(datetime!(2026-01-15 23:59:59 UTC), 30), datetime!(2026-02-15 00:00 UTC));
    }

    #[test]
    fn rules_are_checked_as_s3_does() {
        let ok = LifecycleRule {
            expire_days: Some(30),
            prefix: "ci/".into(),
            ..rule("ci")
        };
        assert!(check(std::slice::from_ref(&ok)).is_ok());
        assert!(check(&[]).is_err());
        let bad = |r: LifecycleRule| check(&[r]).expect_err("refused");
        assert!(bad(rule("nothing")).contains("no action"));
        assert!(
            bad(LifecycleRule {
                expire_days: Some(0),
                ..rule("zero")
            })
            .contains("positive")
        );
        assert!(
            bad(LifecycleRule {
                keep_noncurrent: Some(5),
                ..ok.clone()
            })
            .contains("needs noncurrent_days")
        );
        assert!(
            bad(LifecycleRule {
                expired_delete_markers: true,
                ..ok.clone()
            })
            .contains("cannot be combined")
        );
        assert!(
            bad(LifecycleRule {
                prefix: "../x".into(),
                ..ok.clone()
            })
            .contains("prefix")
        );
        assert!(
            bad(LifecycleRule {
                id: String::new(),
                ..ok.clone()
            })
            .contains("id")
        );
        assert!(check(&[ok.clone(), ok.clone()]).expect_err("twice").contains("twice"));
        let mut tagged = ok.clone();
        tagged.tags.insert("aws:x".into(), "y".into());
        assert!(bad(tagged).contains("tags"));
    }

    #[test]
    fn what_is_due_and_when() {
        let now = datetime!(2026-03-01 12:00 UTC);
        let tags = TagSet::from_header("keep=no").expect("tags");
        let mut ci = LifecycleRule {
            prefix: "ci/".into(),
            expire_days: Some(30),
            noncurrent_days: Some(90),
            keep_noncurrent: Some(5),
            abort_multipart_days: Some(7),
            ..rule("ci")
        };
        let rules = vec![ci.clone()];
        // Current objects: 30 days, by prefix.
        assert_eq!(current_due(&rules, "ci/a", &tags, datetime!(2026-01-29 08:00 UTC), now), Some("ci"));
        assert_eq!(current_due(&rules, "ci/a", &tags, datetime!(2026-01-30 08:00 UTC), now), None);
        assert_eq!(current_due(&rules, "release/a", &tags, datetime!(2025-01-01 08:00 UTC), now), None);
        // Noncurrent versions: 90 days after they became noncurrent, the newest 5 kept.
        let old = datetime!(2025-11-01 00:00 UTC);
        assert_eq!(noncurrent_due(&rules, "ci/a", &tags, old, 5, now), Some("ci"));
        assert_eq!(noncurrent_due(&rules, "ci/a", &tags, old, 4, now), None, "one of the newest five");
        assert_eq!(noncurrent_due(&rules, "ci/a", &tags, datetime!(2026-02-01 00:00 UTC), 9, now), None);
        // Uploads: 7 days.
        assert_eq!(upload_due(&rules, "ci/big", datetime!(2026-02-21 00:00 UTC), now), Some("ci"));
        assert_eq!(upload_due(&rules, "ci/big", datetime!(2026-02-23 00:00 UTC), now), None);
        // A tag filter: every tag must be on the object; a disabled rule does nothing.
        ci.tags.insert("keep".into(), "no".into());
        let tagged = vec![ci.clone()];
        assert_eq!(current_due(&tagged, "ci/a", &tags, old, now), Some("ci"));
        assert_eq!(current_due(&tagged, "ci/a", &TagSet::default(), old, now), None);
        ci.enabled = false;
        assert_eq!(current_due(&[ci], "ci/a", &tags, old, now), None);
        // Expired delete markers.
        let markers = vec![LifecycleRule {
            expired_delete_markers: true,
            ..rule("m")
        }];
        assert_eq!(marker_due(&markers, "any"), Some("m"));
        assert_eq!(marker_due(&rules, "ci/a"), None);
    }
}
