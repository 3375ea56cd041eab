//! Bucket lifecycle on the S3 face: the `LifecycleConfiguration` document to and from control's
//! rules. What the rules mean and when they make something due is
//! [`rustshare_control::lifecycle`]'s; the expirer (`expirer`) acts on them.

use std::collections::BTreeMap;

use rustshare_control::lifecycle::{self, LifecycleRule};
use s3s::dto::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, ExpirationStatus, LifecycleExpiration, LifecycleRule as WireRule,
    LifecycleRuleAndOperator, LifecycleRuleFilter, NoncurrentVersionExpiration, Tag,
};
use s3s::{S3Error, S3ErrorCode, S3Result, s3_error};

fn days(d: Option<i32>, what: &str) -> S3Result<Option<u32>> {
    d.map(|d| {
        u32::try_from(d)
            .map_err(|_| S3Error::with_message(S3ErrorCode::InvalidArgument, format!("{what} must be a positive number of days.")))
    })
    .transpose()
}

fn tags_of(tags: impl IntoIterator<Item = Tag>) -> S3Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for t in tags {
        let (Some(k), Some(v)) = (t.key, t.value) else {
            return Err(s3_error!(MalformedXML, "A Tag needs a Key and a Value."));
        };
        out.insert(k, v);
    }
    Ok(out)
}

/// The rules of a PutBucketLifecycleConfiguration document.
pub(super) fn from_document(c: Option<&BucketLifecycleConfiguration>) -> S3Result<Vec<LifecycleRule>> {
    let c = c.ok_or_else(|| s3_error!(MalformedXML, "The request has no LifecycleConfiguration."))?;
    let mut out = Vec::with_capacity(c.rules.len());
    for (n, r) in c.rules.iter().enumerate() {
        let id = r.id.clone().filter(|i| !i.is_empty()).unwrap_or_else(|| format!("rule-{}", n + 1));
        let enabled = match r.status.as_str() {
            ExpirationStatus::ENABLED => true,
            ExpirationStatus::DISABLED => false,
            _ => return Err(s3_error!(MalformedXML, "A rule's Status must be Enabled or Disabled.")),
        };
        if r.transitions.as_ref().is_some_and(|t| !t.is_empty()) || r.noncurrent_version_transitions.as_ref().is_some_and(|t| !t.is_empty())
        {
            return Err(s3_error!(
                InvalidArgument,
                "Transitions are not supported: there is one storage class."
            ));
        }
        let (mut prefix, mut tags) = (r.prefix.clone().unwrap_or_default(), BTreeMap::new());
        if let Some(f) = &r.filter {
            if f.object_size_greater_than.is_some()
                || f.object_size_less_than.is_some()
                || f.and
                    .as_ref()
                    .is_some_and(|a| a.object_size_greater_than.is_some() || a.object_size_less_than.is_some())
            {
                return Err(s3_error!(NotImplemented, "Object size filters are not supported."));
            }
            if let Some(p) = &f.prefix {
                prefix.clone_from(p);
            }
            if let Some(t) = &f.tag {
                tags = tags_of([t.clone()])?;
            }
            if let Some(a) = &f.and {
                if let Some(p) = &a.prefix {
                    prefix.clone_from(p);
                }
                tags.extend(tags_of(a.tags.clone().unwrap_or_default())?);
            }
        }
        let exp = r.expiration.as_ref();
        if exp.is_some_and(|e| e.date.is_some()) {
            return Err(s3_error!(NotImplemented, "Expiration by Date is not supported; use Days."));
        }
        let nve = r.noncurrent_version_expiration.as_ref();
        out.push(LifecycleRule {
            id,
            enabled,
            prefix,
            tags,
            expire_days: days(exp.and_then(|e| e.days), "Days")?,
            noncurrent_days: days(nve.and_then(|e| e.noncurrent_days), "NoncurrentDays")?,
            keep_noncurrent: days(nve.and_then(|e| e.newer_noncurrent_versions), "NewerNoncurrentVersions")?,
            expired_delete_markers: exp.and_then(|e| e.expired_object_delete_marker).unwrap_or(false),
            abort_multipart_days: days(
                r.abort_incomplete_multipart_upload.as_ref().and_then(|a| a.days_after_initiation),
                "DaysAfterInitiation",
            )?,
        });
    }
    lifecycle::check(&out).map_err(|e| S3Error::with_message(S3ErrorCode::InvalidArgument, e))?;
    Ok(out)
}

fn wire_days(d: Option<u32>) -> Option<i32> {
    d.map(|d| i32::try_from(d).unwrap_or(i32::MAX))
}

/// The rules of a GetBucketLifecycleConfiguration answer.
pub(super) fn to_document(rules: &[LifecycleRule]) -> Vec<WireRule> {
    rules
        .iter()
        .map(|r| {
            let tags: Vec<Tag> = r
                .tags
                .iter()
                .map(|(k, v)| Tag {
                    key: Some(k.clone()),
                    value: Some(v.clone()),
                })
                .collect();
            let filter = if tags.is_empty() {
                LifecycleRuleFilter {
                    prefix: Some(r.prefix.clone()),
                    ..Default::default()
                }
            } else if tags.len() == 1 && r.prefix.is_empty() {
                LifecycleRuleFilter {
                    tag: tags.into_iter().next(),
                    ..Default::default()
                }
            } else {
                LifecycleRuleFilter {
                    and: Some(LifecycleRuleAndOperator {
                        prefix: Some(r.prefix.clone()),
                        tags: Some(tags),
                        ..Default::default()
                    }),
                    ..Default::default()
                }
            };
            let expiration = (r.expire_days.is_some() || r.expired_delete_markers).then(|| LifecycleExpiration {
                days: wire_days(r.expire_days),
                expired_object_delete_marker: r.expired_delete_markers.then_some(true),
                ..Default::default()
            });
            WireRule {
                id: Some(r.id.clone()),
                status: ExpirationStatus::from_static(if r.enabled {
                    ExpirationStatus::ENABLED
                } else {
                    ExpirationStatus::DISABLED
                }),
                filter: Some(filter),
                expiration,
                noncurrent_version_expiration: r.noncurrent_days.map(|d| NoncurrentVersionExpiration {
                    noncurrent_days: wire_days(Some(d)),
                    newer_noncurrent_versions: wire_days(r.keep_noncurrent),
                }),
                abort_incomplete_multipart_upload: r.abort_multipart_days.map(|d| AbortIncompleteMultipartUpload {
                    days_after_initiation: wire_days(Some(d)),
                }),
                noncurrent_version_transitions: None,
                prefix: None,
                transitions: None,
            }
        })
        .collect()
}
