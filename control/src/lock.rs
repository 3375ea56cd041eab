//! Object lock (S3's Object Lock) and write-once prefixes, decided here and nowhere else. Pure:
//! the S3 face, the control API and the lifecycle expirer ask these functions and do the work.
//!
//! - A version may carry a **retention** (a mode and a date until which it may not be
//!   removed) and a **legal hold** (no end date; lifted explicitly). Both protect the version,
//!   not the key: as in S3, a write over a locked object makes a new version and a delete
//!   without a version id a delete marker ([`may_remove`] guards removing the version itself).
//! - In **governance** mode only the operator may shorten or lift a retention, or remove the
//!   version before it ends; in **compliance** mode nobody may ([`may_change`]).
//! - A space's [`LockConfig`] holds S3's default retention and our **write-once prefixes**:
//!   under such a prefix every new version gets the prefix's retention, and while a key's
//!   current version is protected no write or delete marker may replace it ([`frozen`]). The
//!   CDN and the packages face serve current versions, so "`releases/v1.2.0/` cannot change"
//!   needs the key itself frozen, which S3's per-version lock alone does not give.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A retention's mode, named as S3 names it on the wire and in JSON alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub enum RetentionMode {
    /// The operator may shorten or lift it, and remove the version before it ends.
    #[serde(rename = "GOVERNANCE")]
    Governance,
    /// Nobody may shorten or lift it.
    #[serde(rename = "COMPLIANCE")]
    Compliance,
}

impl RetentionMode {
    /// The wire and database name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            RetentionMode::Governance => "GOVERNANCE",
            RetentionMode::Compliance => "COMPLIANCE",
        }
    }
}

impl std::str::FromStr for RetentionMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "GOVERNANCE" => Ok(RetentionMode::Governance),
            "COMPLIANCE" => Ok(RetentionMode::Compliance),
            _ => Err(format!("unknown retention mode {s:?}; expected GOVERNANCE or COMPLIANCE")),
        }
    }
}

impl std::fmt::Display for RetentionMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Most write-once prefixes a space may have.
pub const MAX_PREFIXES: usize = 100;

/// Longest retention a rule may give, in days (100 years, S3's longest default retention).
pub const MAX_DAYS: u32 = 36_500;

/// The date a "forever" write-once prefix retains until: the last second S3's date format
/// has a four-digit year for.
#[must_use]
pub fn forever() -> OffsetDateTime {
    time::macros::datetime!(9999-12-31 23:59:59 UTC)
}

/// A retention: the mode and the date until which the version may not be removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Retention {
    /// Governance (the operator may shorten or lift it) or compliance (nobody may).
    pub mode: RetentionMode,
    /// Until when.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String")]
    pub until: OffsetDateTime,
}

/// What protects one version.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ObjectLock {
    /// Its retention, if it was given one (it may have ended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<Retention>,
    /// Whether a legal hold is on.
    #[serde(default)]
    pub legal_hold: bool,
}

impl ObjectLock {
    /// Whether the version may not be removed at `now` (retention not ended, or a legal hold).
    #[must_use]
    pub fn active(&self, now: OffsetDateTime) -> bool {
        self.legal_hold || self.retained(now).is_some()
    }

    /// The retention still running at `now`.
    #[must_use]
    pub fn retained(&self, now: OffsetDateTime) -> Option<Retention> {
        self.retention.filter(|r| r.until > now)
    }

    /// Whether there is anything to record.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.retention.is_none() && !self.legal_hold
    }
}

/// A default retention: a mode and a period in days or years (exactly one), as in S3's
/// `DefaultRetention`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DefaultRetention {
    /// The mode new versions get.
    pub mode: RetentionMode,
    /// Days from the write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<u32>,
    /// Years from the write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub years: Option<u32>,
}

/// A write-once prefix: keys under it cannot be replaced or deleted for `days` after they are
/// written (`None`: ever).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteOnce {
    /// Keys starting with this (not empty: a whole space frozen is the default retention's
    /// job).
    pub prefix: String,
    /// The retention's mode: governance lets the operator lift it.
    pub mode: RetentionMode,
    /// Days; `None` for ever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<u32>,
}

/// A space's object lock configuration. Its presence is S3's `ObjectLockEnabled`: once set it
/// stays (the rules may change; the retention of versions already written does not).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LockConfig {
    /// The retention every new version gets unless its write names one (S3's bucket rule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_retention: Option<DefaultRetention>,
    /// Write-once prefixes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub write_once: Vec<WriteOnce>,
}

fn period(days: Option<u32>, years: Option<u32>) -> Result<u32, String> {
    match (days, years) {
        (Some(d), None) if (1..=MAX_DAYS).contains(&d) => Ok(d),
        (None, Some(y)) if (1..=MAX_DAYS / 365).contains(&y) => Ok(y * 365),
        (Some(_), Some(_)) | (None, None) => Err("a default retention takes either days or years".into()),
        _ => Err(format!("a retention period must be 1 to {MAX_DAYS} days (100 years)")),
    }
}

/// Checks a configuration; the message says what to fix.
///
/// # Errors
/// The first thing wrong.
pub fn check(c: &LockConfig) -> Result<(), String> {
    if let Some(d) = &c.default_retention {
        period(d.days, d.years)?;
    }
    if c.write_once.len() > MAX_PREFIXES {
        return Err(format!("at most {MAX_PREFIXES} write-once prefixes"));
    }
    let mut seen = std::collections::HashSet::new();
    for w in &c.write_once {
        if w.prefix.is_empty() {
            return Err("a write-once prefix may not be empty; a default retention covers the whole space".into());
        }
        crate::names::prefix(&w.prefix).map_err(|e| format!("write-once prefix {:?}: {e}", w.prefix))?;
        if !seen.insert(w.prefix.as_str()) {
            return Err(format!("write-once prefix {:?} is given twice", w.prefix));
        }
        if let Some(d) = w.days {
            period(Some(d), None).map_err(|e| format!("write-once prefix {:?}: {e}", w.prefix))?;
        }
    }
    Ok(())
}

/// The write-once prefix that covers `key` (the longest, when several do).
#[must_use]
pub fn write_once_for<'a>(c: &'a LockConfig, key: &str) -> Option<&'a WriteOnce> {
    c.write_once
        .iter()
        .filter(|w| key.starts_with(&w.prefix))
        .max_by_key(|w| w.prefix.len())
}

fn until(now: OffsetDateTime, days: u32) -> OffsetDateTime {
    (now + time::Duration::days(i64::from(days))).min(forever())
}

fn strictness(m: RetentionMode) -> u8 {
    match m {
        RetentionMode::Governance => 0,
        RetentionMode::Compliance => 1,
    }
}

/// Whether `a` protects at least as much as `b`: as strict a mode, as late a date.
#[must_use]
pub fn covers(a: &Retention, b: &Retention) -> bool {
    strictness(a.mode) >= strictness(b.mode) && a.until >= b.until
}

/// The lock a new version of `key` written at `now` gets: the write's own (`asked`, from its
/// headers) if it names a retention, else the default; under a write-once prefix, the
/// prefix's retention unless the write's own covers it (a writer may lock longer, never
/// shorter).
#[must_use]
pub fn for_new_version(c: &LockConfig, key: &str, asked: ObjectLock, now: OffsetDateTime) -> ObjectLock {
    let default = c.default_retention.and_then(|d| {
        let days = period(d.days, d.years).ok()?;
        Some(Retention {
            mode: d.mode,
            until: until(now, days),
        })
    });
    let mut retention = asked.retention.or(default);
    if let Some(w) = write_once_for(c, key) {
        let rule = Retention {
            mode: w.mode,
            until: w.days.map_or_else(forever, |d| until(now, d)),
        };
        if !retention.is_some_and(|r| covers(&r, &rule)) {
            retention = Some(rule);
        }
    }
    ObjectLock {
        retention,
        legal_hold: asked.legal_hold,
    }
}

/// Why a version or key is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A legal hold is on.
    LegalHold,
    /// A compliance retention runs until this date.
    Compliance(OffsetDateTime),
    /// A governance retention runs until this date; the operator may bypass it.
    Governance(OffsetDateTime),
}

impl Refusal {
    /// What protects it, in words (`a legal hold is on`).
    #[must_use]
    pub fn reason(self) -> String {
        let date = |t: OffsetDateTime| {
            t.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_else(|_| t.to_string())
        };
        match self {
            Refusal::LegalHold => "a legal hold is on".into(),
            Refusal::Compliance(t) => format!("compliance retention until {}", date(t)),
            Refusal::Governance(t) => format!("governance retention until {} (only the operator may bypass it)", date(t)),
        }
    }

    /// A message for the caller, as S3 words it.
    #[must_use]
    pub fn message(self) -> String {
        format!("Access Denied because object protected by object lock: {}.", self.reason())
    }
}

/// Whether a version with `lock` may be removed for good at `now`; `bypass`: the operator's
/// governance bypass.
///
/// # Errors
/// What protects it.
pub fn may_remove(lock: &ObjectLock, now: OffsetDateTime, bypass: bool) -> Result<(), Refusal> {
    if lock.legal_hold {
        return Err(Refusal::LegalHold);
    }
    match lock.retained(now) {
        Some(r) if r.mode == RetentionMode::Compliance => Err(Refusal::Compliance(r.until)),
        Some(r) if !bypass => Err(Refusal::Governance(r.until)),
        _ => Ok(()),
    }
}

/// Whether a version's retention may become `new` (`None`: removed) at `now`. Extending, or
/// making it stricter, is anyone's who may set retention; shortening or lifting a governance
/// retention needs the bypass; a compliance retention can only be extended.
///
/// # Errors
/// What protects it.
pub fn may_change(old: &ObjectLock, new: Option<&Retention>, now: OffsetDateTime, bypass: bool) -> Result<(), Refusal> {
    let Some(cur) = old.retained(now) else {
        return Ok(());
    };
    if new.is_some_and(|n| covers(n, &cur)) {
        return Ok(());
    }
    match cur.mode {
        RetentionMode::Compliance => Err(Refusal::Compliance(cur.until)),
        RetentionMode::Governance if bypass => Ok(()),
        RetentionMode::Governance => Err(Refusal::Governance(cur.until)),
    }
}

/// Whether the key (whose current version has `current`) is frozen: under a write-once prefix
/// and still protected, so no new version and no delete marker may replace it. Answers what
/// protects it.
#[must_use]
pub fn frozen(c: &LockConfig, key: &str, current: Option<&ObjectLock>, now: OffsetDateTime) -> Option<Refusal> {
    write_once_for(c, key)?;
    let lock = current?;
    may_remove(lock, now, false).err()
}

/// Checks a retention a client asks for: the date must be in the future (as S3 answers).
///
/// # Errors
/// S3's message.
pub fn check_asked(r: &Retention, now: OffsetDateTime) -> Result<(), &'static str> {
    if r.until <= now {
        return Err("The retain until date must be in the future!");
    }
    if r.until > forever() {
        return Err("The retain until date is too far in the future.");
    }
    Ok(())
}

/// The stored form of a lock (`mode`, unix seconds, hold) and back, for the version index.
#[must_use]
pub fn to_columns(l: &ObjectLock) -> (Option<&'static str>, Option<OffsetDateTime>, bool) {
    (l.retention.map(|r| r.mode.as_str()), l.retention.map(|r| r.until), l.legal_hold)
}

/// The lock stored as `mode`, `until` and `hold` (a row without a mode has no retention).
#[must_use]
pub fn from_columns(mode: Option<&str>, until: Option<OffsetDateTime>, hold: bool) -> ObjectLock {
    let retention = match (mode.and_then(|m| m.parse().ok()), until) {
        (Some(mode), Some(until)) => Some(Retention { mode, until }),
        _ => None,
    };
    ObjectLock {
        retention,
        legal_hold: hold,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-01-10 12:00 UTC);

    fn ret(mode: RetentionMode, until: OffsetDateTime) -> Retention {
        Retention { mode, until }
    }

    fn config() -> LockConfig {
        LockConfig {
            default_retention: Some(DefaultRetention {
                mode: RetentionMode::Governance,
                days: Some(1),
                years: None,
            }),
            write_once: vec![
                WriteOnce {
                    prefix: "releases/".into(),
                    mode: RetentionMode::Compliance,
                    days: Some(30),
                },
                WriteOnce {
                    prefix: "releases/forever/".into(),
                    mode: RetentionMode::Governance,
                    days: None,
                },
            ],
        }
    }

    #[test]
    fn configurations_are_checked() {
        assert!(check(&config()).is_ok());
        assert!(check(&LockConfig::default()).is_ok());
        let mut c = config();
        c.default_retention = Some(DefaultRetention {
            mode: RetentionMode::Governance,
            days: Some(1),
            years: Some(1),
        });
        assert!(check(&c).expect_err("refused").contains("either days or years"));
        let mut c = config();
        c.default_retention = Some(DefaultRetention {
            mode: RetentionMode::Governance,
            days: None,
            years: None,
        });
        assert!(check(&c).is_err());
        let mut c = config();
        c.write_once[0].days = Some(0);
        assert!(check(&c).expect_err("refused").contains("1 to 36500"));
        let mut c = config();
        c.write_once[1].prefix = "releases/".into();
        assert!(check(&c).expect_err("refused").contains("twice"));
        let mut c = config();
        c.write_once[0].prefix = "../x/".into();
        assert!(check(&c).is_err());
        let mut c = config();
        c.write_once[0].prefix = String::new();
        assert!(check(&c).expect_err("refused").contains("may not be empty"));
    }

    #[test]
    fn the_longest_write_once_prefix_applies() {
        let c = config();
        assert_eq!(write_once_for(&c, "releases/forever/a").map(|w| w.days), Some(None));
        assert_eq!(write_once_for(&c, "releases/v1/a").map(|w| w.days), Some(Some(30)));
        assert!(write_once_for(&c, "ci/a").is_none());
    }

    #[test]
    fn new_versions_get_the_default_the_prefix_or_what_the_write_asked() {
        let c = config();
        let plain = for_new_version(&c, "ci/a", ObjectLock::default(), NOW);
        assert_eq!(
            plain.retention,
            Some(ret(RetentionMode::Governance, datetime!(2026-01-11 12:00 UTC)))
        );
        let asked = ObjectLock {
            retention: Some(ret(RetentionMode::Governance, datetime!(2026-01-10 13:00 UTC))),
            legal_hold: true,
        };
        // Outside write-once prefixes a write may ask for less than the default (as S3).
        assert_eq!(for_new_version(&c, "ci/a", asked, NOW), asked);
        // Under one it may not: the prefix's retention wins unless the write's covers it.
        let r = for_new_version(&c, "releases/v1/a", asked, NOW);
        assert_eq!(r.retention, Some(ret(RetentionMode::Compliance, datetime!(2026-02-09 12:00 UTC))));
        assert!(r.legal_hold);
        let longer = ObjectLock {
            retention: Some(ret(RetentionMode::Compliance, datetime!(2027-01-01 0:00 UTC))),
            legal_hold: false,
        };
        assert_eq!(for_new_version(&c, "releases/v1/a", longer, NOW), longer);
        let forever_lock = for_new_version(&c, "releases/forever/a", ObjectLock::default(), NOW);
        assert_eq!(forever_lock.retention.map(|r| r.until), Some(forever()));
        // No default and no prefix: nothing.
        assert!(for_new_version(&LockConfig::default(), "a", ObjectLock::default(), NOW).is_empty());
    }

    #[test]
    fn removal_needs_every_protection_gone_or_bypassed() {
        let hold = ObjectLock {
            retention: None,
            legal_hold: true,
        };
        assert_eq!(may_remove(&hold, NOW, true), Err(Refusal::LegalHold));
        let gov = ObjectLock {
            retention: Some(ret(RetentionMode::Governance, datetime!(2026-01-11 0:00 UTC))),
            legal_hold: false,
        };
        assert!(matches!(may_remove(&gov, NOW, false), Err(Refusal::Governance(_))));
        assert_eq!(may_remove(&gov, NOW, true), Ok(()));
        assert_eq!(may_remove(&gov, datetime!(2026-01-11 0:00 UTC), false), Ok(()), "ended at its date");
        let comp = ObjectLock {
            retention: Some(ret(RetentionMode::Compliance, datetime!(2026-01-11 0:00 UTC))),
            legal_hold: false,
        };
        assert!(matches!(may_remove(&comp, NOW, true), Err(Refusal::Compliance(_))));
        assert_eq!(may_remove(&ObjectLock::default(), NOW, false), Ok(()));
    }

    #[test]
    fn retention_may_grow_but_only_the_operator_shrinks_governance_and_nobody_compliance() {
        let t1 = datetime!(2026-02-01 0:00 UTC);
        let t2 = datetime!(2026-03-01 0:00 UTC);
        let gov = ObjectLock {
            retention: Some(ret(RetentionMode::Governance, t1)),
            legal_hold: false,
        };
        let comp = ObjectLock {
            retention: Some(ret(RetentionMode::Compliance, t1)),
            legal_hold: false,
        };
        // Longer, or stricter: allowed.
        assert_eq!(may_change(&gov, Some(&ret(RetentionMode::Governance, t2)), NOW, false), Ok(()));
        assert_eq!(may_change(&gov, Some(&ret(RetentionMode::Compliance, t1)), NOW, false), Ok(()));
        assert_eq!(may_change(&comp, Some(&ret(RetentionMode::Compliance, t2)), NOW, false), Ok(()));
        // Shorter, looser or removed: governance with the bypass only, compliance never.
        let shorter = ret(RetentionMode::Governance, datetime!(2026-01-20 0:00 UTC));
        assert!(may_change(&gov, Some(&shorter), NOW, false).is_err());
        assert_eq!(may_change(&gov, Some(&shorter), NOW, true), Ok(()));
        assert!(may_change(&gov, None, NOW, false).is_err());
        assert_eq!(may_change(&gov, None, NOW, true), Ok(()));
        assert!(matches!(
            may_change(&comp, Some(&ret(RetentionMode::Governance, t2)), NOW, true),
            Err(Refusal::Compliance(_))
        ));
        assert!(may_change(&comp, None, NOW, true).is_err());
        // An ended retention is no protection.
        assert_eq!(may_change(&comp, None, t1, false), Ok(()));
    }

    #[test]
    fn only_keys_under_write_once_prefixes_with_a_protected_current_version_are_frozen() {
        let c = config();
        let locked = ObjectLock {
            retention: Some(ret(RetentionMode::Compliance, datetime!(2026-02-01 0:00 UTC))),
            legal_hold: false,
        };
        assert!(frozen(&c, "releases/v1/a", Some(&locked), NOW).is_some());
        assert!(frozen(&c, "releases/v1/a", None, NOW).is_none(), "a first write is allowed");
        assert!(frozen(&c, "releases/v1/a", Some(&locked), datetime!(2026-02-01 0:00 UTC)).is_none());
        assert!(
            frozen(&c, "ci/a", Some(&locked), NOW).is_none(),
            "S3's lock protects versions, not keys"
        );
        let held = ObjectLock {
            retention: None,
            legal_hold: true,
        };
        assert_eq!(frozen(&c, "releases/v1/a", Some(&held), NOW), Some(Refusal::LegalHold));
    }

    #[test]
    fn asked_dates_must_be_in_the_future_and_columns_round_trip() {
        assert!(check_asked(&ret(RetentionMode::Governance, NOW), NOW).is_err());
        assert!(check_asked(&ret(RetentionMode::Governance, datetime!(2026-01-10 12:00:01 UTC)), NOW).is_ok());
        let l = ObjectLock {
            retention: Some(ret(RetentionMode::Compliance, datetime!(2026-02-01 0:00 UTC))),
            legal_hold: true,
        };
        let (m, u, h) = to_columns(&l);
        assert_eq!(from_columns(m, u, h), l);
        assert_eq!(from_columns(None, None, false), ObjectLock::default());
    }
}
