//! Versioned spaces on the S3 face. What happens to a key's versions is decided by
//! [`rustshare_control::versioning`]; this module does the store's part in the order that
//! keeps every version readable if the process dies between two steps:
//!
//! - a write keeps the current version by linking (fs) or copying (S3) its bytes beside the
//!   space first, then writes the key, then records both in one transaction;
//! - a delete keeps the current version the same way, removes the key, then records the marker;
//! - removing the current version for good copies the newest older version to the key first.
//!
//! All of it under the key's write lease, so two writers cannot keep the same version twice.
//! Which state the space is in is read fresh under that lease; a node whose cached credential
//! still says "unversioned" for a space versioned a moment ago on another node writes
//! unversioned until the change feed reaches it (as S3 asks clients to wait after enabling).

use rustshare_control::db::{ObjectRecord, Preserved, VersionChange, VersionRow};
use rustshare_control::lock::{self, ObjectLock, Retention};
use rustshare_control::model::Versioning;
use rustshare_control::new_version_id;
use rustshare_control::versioning::{self, WritePlan};
use rustshare_store::ObjectMeta;
use s3s::{S3Error, S3ErrorCode, S3Result, s3_error};

use rustshare_control::model::Space;

use std::sync::Arc;

use rustshare_control::Control;
use rustshare_store::ObjectStore;

use super::{auth, conditional, errors};

/// The versioned writes, reads and deletes of the S3 face (and of the control API's restore).
#[derive(Clone)]
pub(crate) struct Versions {
    store: Arc<dyn ObjectStore>,
    control: Control,
    cdn: Option<Arc<dyn crate::face::Purge>>,
}

/// A write to a versioned space, from its decision until its record.
pub(super) struct Landing {
    plan: WritePlan,
    preserved: Option<Preserved>,
    guard: Option<conditional::Guard>,
    lock: ObjectLock,
}

/// 403 AccessDenied for what object lock protects, as S3 answers.
pub(super) fn locked(r: lock::Refusal) -> S3Error {
    S3Error::with_message(S3ErrorCode::AccessDenied, r.message())
}

/// 400 InvalidRequest for lock headers or calls on a space without object lock, as S3 answers.
pub(super) fn no_lock_config() -> S3Error {
    S3Error::with_message(S3ErrorCode::InvalidRequest, "Bucket is missing Object Lock Configuration")
}

/// Where a read finds a version's bytes.
pub(super) struct Found {
    /// The store key.
    pub full: String,
    /// The version read, when the space is versioned or a version was named.
    pub row: Option<VersionRow>,
}

impl Found {
    /// The version id to answer with (`x-amz-version-id`).
    pub fn version_id(&self) -> Option<String> {
        self.row.as_ref().map(|r| r.version_id.clone())
    }

    /// Whether the bytes are a noncurrent version's (kept beside the space).
    pub fn noncurrent(&self) -> bool {
        self.row.as_ref().is_some_and(|r| !r.is_current())
    }

    /// The store's metadata of the copy, with the ETag and time the version had when written
    /// (a copy on an S3 engine gets its own).
    pub fn patch(&self, m: &mut ObjectMeta) {
        if let Some(r) = self.row.as_ref().filter(|r| !r.is_current()) {
            if let Some(e) = &r.etag {
                m.etag.clone_from(e);
            }
            if let Some(t) = r.modified {
                m.last_modified = t;
            }
        }
    }
}

/// Where `key` of `space` lives in the store, after the one name validator.
fn space_key(space: &Space, key: &str) -> S3Result<String> {
    auth::check_key(key)?;
    Ok(format!("{}{key}", space.base_prefix))
}

fn bad_version(e: &str) -> S3Error {
    S3Error::with_message(S3ErrorCode::InvalidArgument, e.to_owned())
}

impl Versions {
    /// Over `store`, purging `cdn` (when there is one) on every change.
    pub(crate) fn new(store: Arc<dyn ObjectStore>, control: Control, cdn: Option<Arc<dyn crate::face::Purge>>) -> Self {
        Self { store, control, cdn }
    }

    /// The CDN forgets its copy of the key on this node (the change feed tells the others).
    pub(crate) async fn changed(&self, space_id: &str, key: &str) {
        if let Some(c) = &self.cdn {
            c.purge_key(space_id, key).await;
        }
    }

    /// Before a write of `key` lands: in a versioned space, takes the key (unless the caller
    /// holds it already for a conditional write), decides, and keeps the current version's
    /// bytes when the decision keeps it. `asked`: the retention and legal hold the write's
    /// headers name. `None`: an unversioned write.
    ///
    /// # Errors
    /// 403 AccessDenied when a write-once prefix freezes the key; 400 InvalidRequest for a
    /// lock asked of a space without object lock.
    pub(super) async fn land(&self, space: &Space, full: &str, key: &str, held: bool, asked: ObjectLock) -> S3Result<Option<Landing>> {
        if space.versioning == Versioning::Unversioned && space.object_lock.is_none() {
            if !asked.is_empty() {
                return Err(no_lock_config());
            }
            return Ok(None);
        }
        let guard = if held {
            None
        } else {
            Some(conditional::lock_waiting(&self.control, &space.id, key).await?)
        };
        let decided = self.decide_write(space, full, key, asked).await;
        match decided {
            Ok(Some((plan, preserved, lock))) => Ok(Some(Landing {
                plan,
                preserved,
                guard,
                lock,
            })),
            other => {
                if let Some(g) = guard {
                    g.release().await;
                }
                other.map(|_| None)
            }
        }
    }

    /// Refuses, before any byte is sent, a write a write-once prefix would refuse when it
    /// lands (CreateMultipartUpload); [`Versions::land`] decides again under the key's lease.
    ///
    /// # Errors
    /// 403 AccessDenied.
    pub(super) async fn check_writable(&self, space: &Space, key: &str) -> S3Result<()> {
        let Some(c) = &space.object_lock else { return Ok(()) };
        if lock::write_once_for(c, key).is_none() {
            return Ok(());
        }
        let st = self.control.version_state(&space.id, key).await.map_err(errors::control)?;
        match st
            .lock
            .as_ref()
            .and_then(|c| lock::frozen(c, key, st.current.as_ref().map(|c| &c.lock), self.control.now()))
        {
            Some(r) => Err(write_once(key, r)),
            None => Ok(()),
        }
    }

    /// The decision of [`Versions::land`], under the key's lease.
    async fn decide_write(
        &self,
        space: &Space,
        full: &str,
        key: &str,
        asked: ObjectLock,
    ) -> S3Result<Option<(WritePlan, Option<Preserved>, ObjectLock)>> {
        let st = self.control.version_state(&space.id, key).await.map_err(errors::control)?;
        let lock = match &st.lock {
            None if !asked.is_empty() => return Err(no_lock_config()),
            None => ObjectLock::default(),
            Some(c) => {
                let now = self.control.now();
                if let Some(r) = lock::frozen(c, key, st.current.as_ref().map(|c| &c.lock), now) {
                    return Err(write_once(key, r));
                }
                lock::for_new_version(c, key, asked, now)
            }
        };
        if st.versioning == Versioning::Unversioned {
            return Ok(None);
        }
        let plan = versioning::on_write(st.versioning, st.current.as_ref().map(|c| c.version_id.as_str()), &new_version_id());
        let preserved = if plan.preserve {
            self.preserve(space, full, key).await?
        } else {
            None
        };
        Ok(Some((plan, preserved, lock)))
    }

    /// Links or copies the key's bytes beside the space; `None` when the store has none (a
    /// write that died before its record left the index ahead of the store).
    async fn preserve(&self, space: &Space, full: &str, key: &str) -> S3Result<Option<Preserved>> {
        let m = match self.store.head(full).await {
            Ok(m) => m,
            Err(rustshare_store::Error::NotFound) => return Ok(None),
            Err(e) => return Err(errors::store(e)),
        };
        let kept = Preserved {
            store_name: new_version_id(),
            size: m.size,
            etag: m.etag,
            modified: m.last_modified,
        };
        // Recorded before the copy: a process killed from here until the change is recorded
        // leaves this row, from which reconciliation finishes or undoes the change.
        self.control
            .pending_version(&space.id, key, kept.clone())
            .await
            .map_err(errors::control)?;
        self.store
            .clone_batch(vec![(full.to_owned(), space.version_key(&kept.store_name))])
            .await
            .map_err(errors::store)?;
        rustshare_control::pause::point("version.preserved");
        Ok(Some(kept))
    }

    /// The write failed after [`Versions::land`]: the kept copy goes (the current version is
    /// still at the key).
    pub(super) async fn abandon(&self, space: &Space, landing: Option<Landing>) {
        if let Some(Landing {
            preserved: Some(p), guard, ..
        }) = landing
        {
            self.free(space, vec![p.store_name.clone()]).await;
            if let Err(e) = self.control.drop_pending(&space.id, &p.store_name).await {
                tracing::warn!(space = %space.id, "forgetting a copy of a failed write: {e}; reconciliation forgets it");
            }
            if let Some(g) = guard {
                g.release().await;
            }
        }
    }

    /// Records a write that landed; answers the version id to send (`None` in an unversioned
    /// space, where S3 sends none).
    pub(super) async fn record_write(
        &self,
        space: &Space,
        key: &str,
        landing: Option<Landing>,
        mut rec: ObjectRecord,
    ) -> S3Result<Option<String>> {
        let Some(l) = landing else {
            self.control.object_stored(&space.id, key, rec).await.map_err(errors::control)?;
            return Ok(None);
        };
        rec.version_id = Some(l.plan.id.clone());
        rec.lock = l.lock;
        let change = VersionChange {
            preserve: l.preserved,
            drop_null: l.plan.drop_null,
            marker: None,
            current: Some(rec),
        };
        self.apply(space, key, change).await?;
        if let Some(g) = l.guard {
            g.release().await;
        }
        Ok(Some(l.plan.id))
    }

    /// Records a change to the key's versions, then deletes the bytes it freed.
    async fn apply(&self, space: &Space, key: &str, change: VersionChange) -> S3Result<()> {
        let freed = self
            .control
            .change_versions(&space.id, key, change)
            .await
            .map_err(errors::control)?;
        self.free(space, freed).await;
        Ok(())
    }

    /// A server-side copy of `src` (a store key) onto `key`, as a write: in a versioned space the
    /// current version is kept first; answers the new object's metadata and version id.
    pub(super) async fn copy_write(
        &self,
        space: &Space,
        src: &str,
        key: &str,
        attrs: Option<rustshare_store::ObjectAttrs>,
        tags: rustshare_control::tags::TagSet,
        asked: ObjectLock,
    ) -> S3Result<(ObjectMeta, Option<String>)> {
        let full = space_key(space, key)?;
        let landing = self.land(space, &full, key, false, asked).await?;
        let nm = match self.store.copy(src, &full, attrs).await {
            Ok(nm) => nm,
            Err(e) => {
                self.abandon(space, landing).await;
                return Err(errors::store(e));
            }
        };
        let rec = ObjectRecord {
            size: nm.size,
            tags,
            etag: Some(nm.etag.clone()),
            modified: Some(nm.last_modified),
            ..ObjectRecord::default()
        };
        let id = self.record_write(space, key, landing, rec).await?;
        Ok((nm, id))
    }

    /// Deletes bytes no version uses any more. A failure leaves an orphan that
    /// reconciliation removes; the versions themselves are already recorded.
    async fn free(&self, space: &Space, names: Vec<String>) {
        if names.is_empty() {
            return;
        }
        let keys = names.iter().map(|n| space.version_key(n)).collect();
        if let Err(e) = self.store.delete_batch(keys).await {
            tracing::warn!(space = %space.id, "removing the bytes of replaced versions: {e}; reconciliation removes them");
        }
    }

    /// Where a read of `key` (of `version`, when named) finds its bytes.
    ///
    /// # Errors
    /// 400 for a malformed id, 404 NoSuchVersion, 405 for a delete marker (as S3).
    pub(super) async fn locate(&self, space: &Space, key: &str, version: Option<&str>) -> S3Result<Found> {
        let full = space_key(space, key)?;
        let Some(v) = version else {
            if space.versioning == Versioning::Unversioned {
                return Ok(Found { full, row: None });
            }
            let row = self.control.current_version(&space.id, key).await.map_err(errors::control)?;
            return Ok(Found { full, row });
        };
        versioning::check_id(v).map_err(bad_version)?;
        let row = self
            .control
            .object_version(&space.id, key, v)
            .await
            .map_err(errors::control)?
            .ok_or_else(|| s3_error!(NoSuchVersion, "The specified version does not exist."))?;
        if row.delete_marker {
            let mut e = s3_error!(MethodNotAllowed, "The specified method is not allowed against this resource.");
            let mut h = http::HeaderMap::new();
            h.insert("x-amz-delete-marker", http::HeaderValue::from_static("true"));
            e.set_headers(h);
            return Err(e);
        }
        let full = if row.is_current() {
            full
        } else {
            let name = row
                .store_name
                .as_deref()
                .ok_or_else(|| errors::internal(&"a noncurrent version without bytes"))?;
            space.version_key(name)
        };
        Ok(Found { full, row: Some(row) })
    }

    /// DeleteObject, and each key of DeleteObjects: answers the version id and whether it was
    /// (or made) a delete marker.
    /// `bypass`: the operator's governance bypass (never an S3 key's).
    pub(crate) async fn delete_one(
        &self,
        space: &Space,
        key: &str,
        version: Option<&str>,
        bypass: bool,
    ) -> S3Result<(Option<String>, bool)> {
        let full = space_key(space, key)?;
        if let Some(v) = version {
            versioning::check_id(v).map_err(bad_version)?;
        }
        if version.is_none() && space.versioning == Versioning::Unversioned && space.object_lock.is_none() {
            self.store.delete(&full).await.map_err(errors::store)?;
            self.control.object_deleted(&space.id, key).await.map_err(errors::control)?;
            self.changed(&space.id, key).await;
            return Ok((None, false));
        }
        let guard = conditional::lock_waiting(&self.control, &space.id, key).await?;
        let r = match version {
            Some(v) => self.delete_version(space, &full, key, v, bypass).await,
            None => self.delete_current(space, &full, key).await,
        };
        guard.release().await;
        self.changed(&space.id, key).await;
        r
    }

    /// The lifecycle expirer's delete of a current version: done only if the key's current
    /// version is still the one the expirer judged (`version_id`, written at `modified`), so a
    /// write that landed meanwhile is never expired; answers whether it was done.
    pub(crate) async fn expire_current(
        &self,
        space: &Space,
        key: &str,
        version_id: &str,
        modified: time::OffsetDateTime,
    ) -> S3Result<bool> {
        let full = space_key(space, key)?;
        let guard = conditional::lock_waiting(&self.control, &space.id, key).await?;
        let current = self.control.current_version(&space.id, key).await.map_err(errors::control)?;
        // A row without a time predates version records, and any write since would have set one.
        // A key a write-once prefix freezes is left as it is.
        let frozen = space
            .object_lock
            .as_ref()
            .zip(current.as_ref())
            .is_some_and(|(c, cur)| lock::frozen(c, key, Some(&cur.lock), self.control.now()).is_some());
        let same = !frozen && current.is_some_and(|c| c.version_id == version_id && c.modified.is_none_or(|m| m == modified));
        let r = if same {
            self.delete_current(space, &full, key).await.map(|_| true)
        } else {
            Ok(false)
        };
        guard.release().await;
        if same {
            self.changed(&space.id, key).await;
        }
        r
    }

    async fn delete_current(&self, space: &Space, full: &str, key: &str) -> S3Result<(Option<String>, bool)> {
        let st = self.control.version_state(&space.id, key).await.map_err(errors::control)?;
        if let Some(c) = &st.lock
            && let Some(r) = lock::frozen(c, key, st.current.as_ref().map(|c| &c.lock), self.control.now())
        {
            return Err(write_once(key, r));
        }
        let (state, current) = (st.versioning, st.current);
        if state == Versioning::Unversioned {
            self.store.delete(full).await.map_err(errors::store)?;
            self.control.object_deleted(&space.id, key).await.map_err(errors::control)?;
            return Ok((None, false));
        }
        let plan = versioning::on_delete(state, current.as_ref().map(|c| c.version_id.as_str()), &new_version_id());
        let preserved = if plan.preserve {
            self.preserve(space, full, key).await?
        } else {
            None
        };
        self.store.delete(full).await.map_err(errors::store)?;
        rustshare_control::pause::point("version.unlinked");
        let change = VersionChange {
            preserve: preserved,
            drop_null: plan.drop_null,
            marker: plan.marker.clone(),
            current: None,
        };
        self.apply(space, key, change).await?;
        Ok((plan.marker, true))
    }

    async fn delete_version(&self, space: &Space, full: &str, key: &str, v: &str, bypass: bool) -> S3Result<(Option<String>, bool)> {
        let sid = &space.id;
        let Some(row) = self.control.object_version(sid, key, v).await.map_err(errors::control)? else {
            // Deleting a version that is not there changes nothing, as in S3.
            return Ok((Some(v.to_owned()), false));
        };
        // Read from the row, not the space's configuration: a version keeps the retention it was
        // given whatever the rules say now.
        lock::may_remove(&row.lock, self.control.now(), bypass).map_err(locked)?;
        if row.is_current() {
            self.surface(space, full, key, Some(v)).await?;
        } else {
            if let Some(r) = self.control.remove_noncurrent(sid, key, v).await.map_err(errors::control)? {
                self.free(space, r.store_name.into_iter().collect()).await;
            }
            // Removing the marker on top (or whatever hid the key) brings the newest version back.
            if self.control.current_version(sid, key).await.map_err(errors::control)?.is_none() {
                self.surface(space, full, key, None).await?;
            }
        }
        Ok((Some(v.to_owned()), row.delete_marker))
    }

    /// The key's current version `removed` is gone for good (or, with `None`, the key has no
    /// current version): when its newest remaining version is an object, its bytes go to the key
    /// and it becomes current; a marker on top keeps the key deleted.
    async fn surface(&self, space: &Space, full: &str, key: &str, removed: Option<&str>) -> S3Result<()> {
        let sid = &space.id;
        let next = self.control.newest_noncurrent(sid, key).await.map_err(errors::control)?;
        match next {
            Some(n) if !n.delete_marker && n.store_name.is_some() => {
                let name = n.store_name.clone().unwrap_or_default();
                self.store
                    .clone_batch(vec![(space.version_key(&name), full.to_owned())])
                    .await
                    .map_err(errors::store)?;
                rustshare_control::pause::point("version.surfaced");
                self.control
                    .promote(sid, key, removed.unwrap_or_default(), Some(n.version_id))
                    .await
                    .map_err(errors::control)?;
                self.free(space, vec![name]).await;
            }
            _ => {
                if let Some(v) = removed {
                    self.store.delete(full).await.map_err(errors::store)?;
                    self.control.promote(sid, key, v, None).await.map_err(errors::control)?;
                }
            }
        }
        Ok(())
    }

    /// Makes an old version current again, as a copy of it onto its key (a new version, as S3
    /// clients restore one): the control API's and console's restore. Quota, usage, the CDN's
    /// cache and the key's lease as for CopyObject; the caller audits.
    ///
    /// # Errors
    /// As [`Versions::locate`]; 403 QuotaExceeded; store errors.
    pub async fn restore_version(&self, space: &Space, key: &str, version_id: &str) -> S3Result<(String, u64)> {
        let found = self.locate(space, key, Some(version_id)).await?;
        let m = self.store.head(&found.full).await.map_err(errors::store)?;
        let tags = rustshare_control::tags::TagSet::decode(found.row.as_ref().and_then(|r| r.tags.as_deref()));
        let reservation = self.control.reserve(space, m.size).await.map_err(errors::control)?;
        let (nm, id) = self.copy_write(space, &found.full, key, None, tags, ObjectLock::default()).await?;
        reservation.release().await;
        self.changed(&space.id, key).await;
        Ok((id.unwrap_or_else(|| versioning::NULL_VERSION.to_owned()), nm.size))
    }

    /// Sets the retention of `key`'s version (`None`: the current one) to `new`, as
    /// PutObjectRetention and the control API do; `bypass`: the operator's governance bypass.
    /// Answers the version's id and its lock now.
    ///
    /// # Errors
    /// 400 InvalidRequest without object lock, 404 NoSuchKey/NoSuchVersion, 405 for a delete
    /// marker, 403 AccessDenied for a change the retention forbids.
    pub(crate) async fn set_retention(
        &self,
        space: &Space,
        key: &str,
        version: Option<&str>,
        new: Option<Retention>,
        bypass: bool,
    ) -> S3Result<(String, ObjectLock)> {
        if let Some(r) = &new {
            lock::check_asked(r, self.control.now()).map_err(|e| S3Error::with_message(S3ErrorCode::InvalidArgument, e))?;
        }
        self.change_lock(space, key, version, |old, now| {
            lock::may_change(old, new.as_ref(), now, bypass).map_err(locked)?;
            Ok(ObjectLock {
                retention: new,
                legal_hold: old.legal_hold,
            })
        })
        .await
    }

    /// Puts a legal hold on `key`'s version (`None`: the current one) or lifts it, as
    /// PutObjectLegalHold and the control API do.
    ///
    /// # Errors
    /// As [`Versions::set_retention`], without the retention's refusals.
    pub(crate) async fn set_legal_hold(&self, space: &Space, key: &str, version: Option<&str>, on: bool) -> S3Result<(String, ObjectLock)> {
        self.change_lock(space, key, version, |old, _| {
            Ok(ObjectLock {
                retention: old.retention,
                legal_hold: on,
            })
        })
        .await
    }

    /// Reads a version's lock under the key's lease, asks `decide` for the new one, records it.
    async fn change_lock(
        &self,
        space: &Space,
        key: &str,
        version: Option<&str>,
        decide: impl FnOnce(&ObjectLock, time::OffsetDateTime) -> S3Result<ObjectLock>,
    ) -> S3Result<(String, ObjectLock)> {
        auth::check_key(key)?;
        if let Some(v) = version {
            versioning::check_id(v).map_err(bad_version)?;
        }
        let guard = conditional::lock_waiting(&self.control, &space.id, key).await?;
        let r = self.change_lock_held(space, key, version, decide).await;
        guard.release().await;
        r
    }

    async fn change_lock_held(
        &self,
        space: &Space,
        key: &str,
        version: Option<&str>,
        decide: impl FnOnce(&ObjectLock, time::OffsetDateTime) -> S3Result<ObjectLock>,
    ) -> S3Result<(String, ObjectLock)> {
        let st = self.control.version_state(&space.id, key).await.map_err(errors::control)?;
        if st.lock.is_none() {
            return Err(no_lock_config());
        }
        let row = match version {
            None => st
                .current
                .ok_or_else(|| s3_error!(NoSuchKey, "The specified key does not exist."))?,
            Some(v) => self
                .control
                .object_version(&space.id, key, v)
                .await
                .map_err(errors::control)?
                .ok_or_else(|| s3_error!(NoSuchVersion, "The specified version does not exist."))?,
        };
        if row.delete_marker {
            return Err(s3_error!(
                MethodNotAllowed,
                "The specified method is not allowed against this resource."
            ));
        }
        let new = decide(&row.lock, self.control.now())?;
        let found = self
            .control
            .set_version_lock(&space.id, key, &row.version_id, new)
            .await
            .map_err(errors::control)?;
        if !found {
            return Err(s3_error!(NoSuchVersion, "The specified version does not exist."));
        }
        Ok((row.version_id, new))
    }
}

/// 403 AccessDenied for a write or delete marker a write-once prefix refuses.
fn write_once(key: &str, r: lock::Refusal) -> S3Error {
    let why = r.reason();
    S3Error::with_message(
        S3ErrorCode::AccessDenied,
        format!(
            "Access Denied because object protected by object lock: {key:?} is under a write-once prefix and its current version is protected ({why}); nothing was written."
        ),
    )
}
