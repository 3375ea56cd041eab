//! The lifecycle expirer: one pass over every space with rules, deciding by
//! [`rustshare_control::lifecycle`] what is due at `now` and removing it through the same
//! versioned operations as the S3 face ([`Versions`]): a current object's expiry is a delete
//! marker in a versioned space and a delete otherwise, noncurrent versions and lone markers are
//! removed for good, uploads in progress are aborted. Every removal is accounted as the S3
//! face's are, so a pass cut short (a restart, kill -9) double-counts nothing: the next pass
//! finds what is still due. One node runs passes at a time, under the `lifecycle` lease
//! (`start.rs`); a pass does at most `budget` removals.

use std::collections::BTreeMap;
use std::sync::Arc;

use rustshare_control::lifecycle::{self, LifecycleRule};
use rustshare_control::model::{NewAuditEvent, Space};
use rustshare_control::tags::TagSet;
use rustshare_control::versioning::Listed;
use rustshare_control::{Control, VersionQuery};
use rustshare_store::ObjectStore;
use time::OffsetDateTime;

use super::versions::Versions;

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct PassReport {
    /// Spaces with rules looked at.
    pub spaces: u64,
    /// Current objects expired (deleted, or hidden by a delete marker in a versioned space).
    pub expired: u64,
    /// Noncurrent versions removed for good.
    pub noncurrent_removed: u64,
    /// Delete markers removed (the only version left of their key).
    pub markers_removed: u64,
    /// Multipart uploads aborted.
    pub uploads_aborted: u64,
    /// Bytes freed or hidden.
    pub bytes: u64,
    /// Whether everything due was done (false: the budget ran out; the next pass goes on).
    pub complete: bool,
}

impl PassReport {
    /// What it removed, by the kinds the metrics name.
    #[must_use]
    pub fn removed(&self) -> [(&'static str, u64); 4] {
        [
            ("expired", self.expired),
            ("noncurrent", self.noncurrent_removed),
            ("markers", self.markers_removed),
            ("uploads", self.uploads_aborted),
        ]
    }
}

/// One thing a rule made due.
#[derive(Debug)]
enum Due {
    Current {
        key: String,
        version_id: String,
        modified: OffsetDateTime,
        size: u64,
    },
    Version {
        key: String,
        version_id: String,
        size: u64,
    },
    Marker {
        key: String,
        version_id: String,
    },
    Upload {
        key: String,
        upload_id: String,
    },
}

/// Runs lifecycle passes.
#[derive(Clone)]
pub struct Expirer {
    versions: Versions,
    control: Control,
    store: Arc<dyn ObjectStore>,
}

/// Where a key's rows stand while a space's versions are read in order.
#[derive(Default)]
struct KeyState {
    key: String,
    rows: u32,
    newer_noncurrent: u32,
    latest_marker: Option<String>,
}

impl Expirer {
    pub(super) fn new(versions: Versions, control: Control, store: Arc<dyn ObjectStore>) -> Self {
        Self { versions, control, store }
    }

    /// One pass at `now`, doing at most `budget` removals.
    ///
    /// # Errors
    /// Database and store errors; what was removed before one stays removed and accounted.
    pub async fn pass(&self, now: OffsetDateTime, budget: usize) -> anyhow::Result<PassReport> {
        let mut report = PassReport {
            complete: true,
            ..PassReport::default()
        };
        let mut left = budget;
        for (space, rules) in self.control.spaces_with_lifecycle().await? {
            report.spaces += 1;
            let (due, more) = self.collect(&space, &rules, now, left).await?;
            left -= due.len().min(left);
            if more {
                report.complete = false;
            }
            self.act(&space, &rules, due, &mut report).await?;
            if left == 0 {
                report.complete = false;
                break;
            }
        }
        Ok(report)
    }

    /// What is due in one space, up to `limit` items; and whether more may be.
    async fn collect(
        &self,
        space: &Space,
        rules: &[LifecycleRule],
        now: OffsetDateTime,
        limit: usize,
    ) -> anyhow::Result<(Vec<(Due, String)>, bool)> {
        let mut out = Vec::new();
        // Object lock outlasts lifecycle, as in S3; judged by the real clock, never by the
        // pass's `now` (which an operator may move ahead).
        let lock_now = self.control.now();
        let mut st = KeyState::default();
        let lone_marker = |st: &KeyState, out: &mut Vec<(Due, String)>| {
            if let (1, Some(m)) = (st.rows, &st.latest_marker)
                && let Some(rule) = lifecycle::marker_due(rules, &st.key)
            {
                out.push((
                    Due::Marker {
                        key: st.key.clone(),
                        version_id: m.clone(),
                    },
                    rule.to_owned(),
                ));
            }
        };
        let mut q = VersionQuery {
            max: 1000,
            ..VersionQuery::default()
        };
        'pages: loop {
            let page = self.control.list_versions(&space.id, q.clone()).await?;
            for l in page.out {
                let Listed::Version(row, latest) = l else { continue };
                if row.key != st.key {
                    lone_marker(&st, &mut out);
                    st = KeyState {
                        key: row.key.clone(),
                        ..KeyState::default()
                    };
                }
                if out.len() >= limit {
                    return Ok((out, true));
                }
                st.rows += 1;
                let tags = TagSet::decode(row.tags.as_deref());
                if row.is_current() {
                    // Objects recorded before versions were (no time in the index): the store says.
                    let modified = match row.modified {
                        Some(m) => m,
                        None => match self.store.head(&format!("{}{}", space.base_prefix, row.key)).await {
                            Ok(m) => m.last_modified,
                            Err(_) => continue,
                        },
                    };
                    if let Some(rule) = lifecycle::current_due(rules, &row.key, &tags, modified, now) {
                        out.push((
                            Due::Current {
                                key: row.key.clone(),
                                version_id: row.version_id.clone(),
                                modified,
                                size: row.size,
                            },
                            rule.to_owned(),
                        ));
                    }
                } else if row.delete_marker && latest {
                    st.latest_marker = Some(row.version_id.clone());
                } else {
                    let newer = st.newer_noncurrent;
                    if !row.delete_marker {
                        st.newer_noncurrent += 1;
                    }
                    let Some(since) = row.noncurrent_at else { continue };
                    if row.lock.active(lock_now) {
                        continue;
                    }
                    if let Some(rule) = lifecycle::noncurrent_due(rules, &row.key, &tags, since, newer, now) {
                        out.push((
                            Due::Version {
                                key: row.key.clone(),
                                version_id: row.version_id.clone(),
                                size: row.size,
                            },
                            rule.to_owned(),
                        ));
                    }
                }
            }
            match (page.truncated, page.next) {
                (true, Some((k, v))) => {
                    q.key_marker = Some(k);
                    q.version_marker = v;
                }
                _ => break 'pages,
            }
        }
        lone_marker(&st, &mut out);
        if rules.iter().any(|r| r.abort_multipart_days.is_some()) {
            for u in self.control.list_uploads(&space.id, "").await? {
                if out.len() >= limit {
                    return Ok((out, true));
                }
                if let Some(rule) = lifecycle::upload_due(rules, &u.key, u.initiated, now) {
                    out.push((
                        Due::Upload {
                            key: u.key.clone(),
                            upload_id: u.upload_id.clone(),
                        },
                        rule.to_owned(),
                    ));
                }
            }
        }
        Ok((out, false))
    }

    /// Removes what was found due, several at a time (removals of one key queue on its lease),
    /// and audits each rule's share (count, bytes).
    async fn act(&self, space: &Space, rules: &[LifecycleRule], due: Vec<(Due, String)>, report: &mut PassReport) -> anyhow::Result<()> {
        use futures::StreamExt as _;
        let mut by_rule: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        let mut done = futures::stream::iter(due)
            .map(|(d, rule)| async move { self.remove(space, d).await.map(|r| r.map(|(kind, bytes)| (kind, bytes, rule))) })
            .buffer_unordered(PARALLEL);
        let mut result = Ok(());
        while let Some(r) = done.next().await {
            match r {
                Ok(Some((kind, bytes, rule))) => {
                    match kind {
                        Kind::Expired => report.expired += 1,
                        Kind::Noncurrent => report.noncurrent_removed += 1,
                        Kind::Marker => report.markers_removed += 1,
                        Kind::Upload => report.uploads_aborted += 1,
                    }
                    report.bytes += bytes;
                    let e = by_rule.entry(rule).or_default();
                    e.0 += 1;
                    e.1 += bytes;
                }
                Ok(None) => {}
                Err(e) => {
                    if result.is_ok() {
                        result = Err(e);
                    }
                }
            }
        }
        // Audited whatever happened: what was removed before an error stays removed.
        for (rule, (count, bytes)) in by_rule {
            let known = rules.iter().any(|r| r.id == rule);
            self.control.audit(NewAuditEvent {
                tenant_id: Some(space.tenant_id.clone()),
                object_space_id: Some(space.id.clone()),
                actor: "lifecycle".into(),
                kind: "lifecycle".into(),
                operation: "lifecycle.expired".into(),
                status: "ok".into(),
                bytes,
                detail: Some(format!(
                    "rule={rule} objects={count} bytes={bytes}{}",
                    if known { "" } else { " (rule since removed)" }
                )),
                ..NewAuditEvent::default()
            });
        }
        result.map_err(|e| e.context(format!("lifecycle of space {}", space.bucket)))
    }

    /// Removes one thing; `None` when it is no longer due (written again meanwhile).
    async fn remove(&self, space: &Space, d: Due) -> anyhow::Result<Option<(Kind, u64)>> {
        Ok(Some(match d {
            Due::Current {
                key,
                version_id,
                modified,
                size,
            } => {
                if !self.versions.expire_current(space, &key, &version_id, modified).await? {
                    return Ok(None);
                }
                (Kind::Expired, size)
            }
            Due::Version { key, version_id, size } => {
                match self.versions.delete_one(space, &key, Some(&version_id), false).await {
                    Ok(_) => {}
                    // Locked since it was found due (a retention or hold set meanwhile): kept.
                    Err(e) if *e.code() == s3s::S3ErrorCode::AccessDenied => return Ok(None),
                    Err(e) => return Err(e.into()),
                }
                (Kind::Noncurrent, size)
            }
            Due::Marker { key, version_id } => {
                self.versions.delete_one(space, &key, Some(&version_id), false).await?;
                (Kind::Marker, 0)
            }
            Due::Upload { key, upload_id } => {
                let full = format!("{}{key}", space.base_prefix);
                let parts: u64 = self.control.parts(&upload_id).await?.iter().map(|p| p.size).sum();
                match self.store.abort_multipart(&full, &upload_id).await {
                    Ok(()) | Err(rustshare_store::Error::NoSuchUpload) => {}
                    Err(e) => return Err(e.into()),
                }
                self.control.upload_finished(&upload_id).await?;
                (Kind::Upload, parts)
            }
        }))
    }
}

/// Removals of one pass at a time: they wait mostly on the database and the disk.
const PARALLEL: usize = 8;

/// What a removal was, for the report.
enum Kind {
    Expired,
    Noncurrent,
    Marker,
    Upload,
}
