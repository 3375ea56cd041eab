//! Object lock on the S3 wire: the lock headers of writes and reads, and the documents of
//! Put/GetObjectLockConfiguration, Put/GetObjectRetention and Put/GetObjectLegalHold, turned
//! into [`rustshare_control::lock`]'s types and back, with S3's errors. What is allowed is
//! decided by that module; this one only translates.

use rustshare_control::lock::{DefaultRetention, LockConfig, ObjectLock, Retention, RetentionMode};
use rustshare_control::model::PermissionMode;
use rustshare_control::policy::{self, Action};
use s3s::dto::{
    ObjectLockConfiguration, ObjectLockEnabled, ObjectLockLegalHold, ObjectLockLegalHoldStatus, ObjectLockMode, ObjectLockRetention,
    ObjectLockRetentionMode, ObjectLockRule, Timestamp,
};
use s3s::{S3Error, S3ErrorCode, S3Result, s3_error};
use time::OffsetDateTime;

fn invalid(msg: &str) -> S3Error {
    S3Error::with_message(S3ErrorCode::InvalidArgument, msg.to_owned())
}

fn mode_of(s: &str) -> S3Result<RetentionMode> {
    s.parse().map_err(|_| invalid("Unknown wormMode directive."))
}

fn hold_of(s: &str) -> S3Result<bool> {
    match s {
        ObjectLockLegalHoldStatus::ON => Ok(true),
        ObjectLockLegalHoldStatus::OFF => Ok(false),
        _ => Err(invalid("Legal Hold must be either of 'ON' or 'OFF'")),
    }
}

/// The lock a write's headers ask for (`x-amz-object-lock-mode`,
/// `-retain-until-date`, `-legal-hold`): both retention headers or neither, a date in the
/// future; and the key's mode must grant setting them (S3's `s3:PutObjectRetention` and
/// `s3:PutObjectLegalHold`), so a key that may only write cannot lock what it writes.
///
/// # Errors
/// 400 InvalidArgument for malformed headers, 403 AccessDenied for a mode that may not.
pub(super) fn asked(
    mode: Option<&ObjectLockMode>,
    until: Option<&Timestamp>,
    hold: Option<&ObjectLockLegalHoldStatus>,
    key_mode: PermissionMode,
    now: OffsetDateTime,
) -> S3Result<ObjectLock> {
    let retention = match (mode, until) {
        (None, None) => None,
        (Some(m), Some(u)) => {
            let r = Retention {
                mode: mode_of(m.as_str())?,
                until: OffsetDateTime::from(u.clone()),
            };
            rustshare_control::lock::check_asked(&r, now).map_err(invalid)?;
            Some(r)
        }
        _ => {
            return Err(invalid(
                "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied",
            ));
        }
    };
    let legal_hold = hold.map(|h| hold_of(h.as_str())).transpose()?.unwrap_or(false);
    if retention.is_some() && !policy::grants(key_mode, Action::PutObjectRetention) {
        return Err(denied("s3:PutObjectRetention"));
    }
    if hold.is_some() && !policy::grants(key_mode, Action::PutObjectLegalHold) {
        return Err(denied("s3:PutObjectLegalHold"));
    }
    Ok(ObjectLock { retention, legal_hold })
}

fn denied(what: &str) -> S3Error {
    S3Error::with_message(
        S3ErrorCode::AccessDenied,
        format!("Access Denied: this key's mode does not grant {what}; a publisher key may set object lock."),
    )
}

/// The governance bypass is the operator's, through the control API; no S3 key has it.
///
/// # Errors
/// 403 AccessDenied when the header asks for it.
pub(super) fn refuse_bypass(bypass: Option<bool>) -> S3Result<()> {
    if bypass == Some(true) {
        return Err(S3Error::with_message(
            S3ErrorCode::AccessDenied,
            "Access Denied: only the operator may bypass governance retention (rustshare object retention|delete-version --bypass-governance).",
        ));
    }
    Ok(())
}

/// The headers a read answers with.
pub(super) fn headers(l: &ObjectLock) -> (Option<ObjectLockMode>, Option<Timestamp>, Option<ObjectLockLegalHoldStatus>) {
    (
        l.retention.map(|r| ObjectLockMode::from(r.mode.as_str().to_owned())),
        l.retention.map(|r| Timestamp::from(r.until)),
        l.legal_hold
            .then(|| ObjectLockLegalHoldStatus::from_static(ObjectLockLegalHoldStatus::ON)),
    )
}

/// A PutObjectLockConfiguration document as our configuration, keeping the write-once
/// prefixes of `current` (S3's document has no place for them).
///
/// # Errors
/// 400 MalformedXML / InvalidArgument as S3 answers.
pub(super) fn config_from_s3(c: Option<&ObjectLockConfiguration>, current: Option<&LockConfig>) -> S3Result<LockConfig> {
    let c = c.ok_or_else(|| s3_error!(MalformedXML, "The XML you provided was not well-formed."))?;
    if c.object_lock_enabled.as_ref().map(ObjectLockEnabled::as_str) != Some(ObjectLockEnabled::ENABLED) {
        return Err(s3_error!(MalformedXML, "ObjectLockEnabled must be Enabled."));
    }
    let default_retention = match c.rule.as_ref().and_then(|r| r.default_retention.as_ref()) {
        None => None,
        Some(d) => {
            let mode = d
                .mode
                .as_ref()
                .ok_or_else(|| s3_error!(MalformedXML, "A DefaultRetention needs a Mode."))?;
            let positive = |n: i32| {
                u32::try_from(n)
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| invalid("Default retention period must be a positive integer value."))
            };
            let (days, years) = match (d.days, d.years) {
                (Some(n), None) => (Some(positive(n)?), None),
                (None, Some(n)) => (None, Some(positive(n)?)),
                _ => return Err(s3_error!(MalformedXML, "A DefaultRetention takes either Days or Years.")),
            };
            Some(DefaultRetention {
                mode: mode_of(mode.as_str())?,
                days,
                years,
            })
        }
    };
    Ok(LockConfig {
        default_retention,
        write_once: current.map(|c| c.write_once.clone()).unwrap_or_default(),
    })
}

/// Our configuration as GetObjectLockConfiguration answers it.
pub(super) fn config_to_s3(c: &LockConfig) -> ObjectLockConfiguration {
    ObjectLockConfiguration {
        object_lock_enabled: Some(ObjectLockEnabled::from_static(ObjectLockEnabled::ENABLED)),
        rule: c.default_retention.map(|d| ObjectLockRule {
            default_retention: Some(s3s::dto::DefaultRetention {
                days: d.days.and_then(|n| i32::try_from(n).ok()),
                mode: Some(ObjectLockRetentionMode::from(d.mode.as_str().to_owned())),
                years: d.years.and_then(|n| i32::try_from(n).ok()),
            }),
        }),
    }
}

/// A PutObjectRetention document: a retention, or none (an empty `<Retention/>` removes it).
///
/// # Errors
/// 400 MalformedXML / InvalidArgument as S3 answers.
pub(super) fn retention_from_s3(r: Option<&ObjectLockRetention>) -> S3Result<Option<Retention>> {
    let Some(r) = r else { return Ok(None) };
    match (&r.mode, &r.retain_until_date) {
        (None, None) => Ok(None),
        (Some(m), Some(u)) => Ok(Some(Retention {
            mode: mode_of(m.as_str())?,
            until: OffsetDateTime::from(u.clone()),
        })),
        _ => Err(s3_error!(MalformedXML, "A Retention needs both Mode and RetainUntilDate.")),
    }
}

/// A retention as GetObjectRetention answers it.
pub(super) fn retention_to_s3(r: &Retention) -> ObjectLockRetention {
    ObjectLockRetention {
        mode: Some(ObjectLockRetentionMode::from(r.mode.as_str().to_owned())),
        retain_until_date: Some(Timestamp::from(r.until)),
    }
}

/// A PutObjectLegalHold document.
///
/// # Errors
/// 400 MalformedXML / InvalidArgument as S3 answers.
pub(super) fn hold_from_s3(h: Option<&ObjectLockLegalHold>) -> S3Result<bool> {
    let s = h
        .and_then(|h| h.status.as_ref())
        .ok_or_else(|| s3_error!(MalformedXML, "The XML you provided was not well-formed."))?;
    hold_of(s.as_str())
}

/// A legal hold as GetObjectLegalHold answers it.
pub(super) fn hold_to_s3(on: bool) -> ObjectLockLegalHold {
    let s = if on {
        ObjectLockLegalHoldStatus::ON
    } else {
        ObjectLockLegalHoldStatus::OFF
    };
    ObjectLockLegalHold {
        status: Some(ObjectLockLegalHoldStatus::from_static(s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-01-10 12:00 UTC);

    #[test]
    fn write_headers_need_both_retention_parts_a_future_date_and_a_mode_that_may() {
        let gov = ObjectLockMode::from_static(ObjectLockMode::GOVERNANCE);
        let later = Timestamp::from(datetime!(2026-02-01 0:00 UTC));
        let past = Timestamp::from(datetime!(2026-01-01 0:00 UTC));
        let on = ObjectLockLegalHoldStatus::from_static(ObjectLockLegalHoldStatus::ON);
        let p = PermissionMode::Publisher;
        let l = asked(Some(&gov), Some(&later), Some(&on), p, NOW).expect("valid");
        assert!(l.legal_hold && l.retention.is_some());
        assert!(asked(Some(&gov), None, None, p, NOW).is_err());
        assert!(asked(None, Some(&later), None, p, NOW).is_err());
        assert!(asked(Some(&gov), Some(&past), None, p, NOW).is_err());
        let bad = ObjectLockMode::from("SOMETIMES".to_owned());
        assert!(asked(Some(&bad), Some(&later), None, p, NOW).is_err());
        // A key that may write but not lock.
        let e = asked(Some(&gov), Some(&later), None, PermissionMode::ReadWrite, NOW).expect_err("refused");
        assert_eq!(*e.code(), S3ErrorCode::AccessDenied);
        assert!(asked(None, None, Some(&on), PermissionMode::ReadWriteDelete, NOW).is_err());
        assert_eq!(
            asked(None, None, None, PermissionMode::WriteOnly, NOW).ok(),
            Some(ObjectLock::default())
        );
    }

    #[test]
    fn configurations_translate_both_ways_and_keep_write_once_prefixes() {
        let current = LockConfig {
            default_retention: None,
            write_once: vec![rustshare_control::lock::WriteOnce {
                prefix: "releases/".into(),
                mode: RetentionMode::Compliance,
                days: None,
            }],
        };
        let doc = ObjectLockConfiguration {
            object_lock_enabled: Some(ObjectLockEnabled::from_static(ObjectLockEnabled::ENABLED)),
            rule: Some(ObjectLockRule {
                default_retention: Some(s3s::dto::DefaultRetention {
                    days: Some(3),
                    mode: Some(ObjectLockRetentionMode::from_static(ObjectLockRetentionMode::GOVERNANCE)),
                    years: None,
                }),
            }),
        };
        let c = config_from_s3(Some(&doc), Some(&current)).expect("valid");
        assert_eq!(c.write_once, current.write_once);
        assert_eq!(c.default_retention.and_then(|d| d.days), Some(3));
        assert_eq!(config_to_s3(&c), doc);
        let mut both = doc.clone();
        if let Some(d) = both.rule.as_mut().and_then(|r| r.default_retention.as_mut()) {
            d.years = Some(1);
        }
        assert!(config_from_s3(Some(&both), None).is_err());
        let mut zero = doc.clone();
        if let Some(d) = zero.rule.as_mut().and_then(|r| r.default_retention.as_mut()) {
            d.days = Some(0);
        }
        assert!(config_from_s3(Some(&zero), None).is_err());
        let disabled = ObjectLockConfiguration {
            object_lock_enabled: None,
            rule: None,
        };
        assert!(config_from_s3(Some(&disabled), None).is_err());
    }
}
