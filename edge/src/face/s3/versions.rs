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
use rustshare_control::model::Versioning;
use rustshare_control::new_version_id;
use rustshare_control::versioning::{self, WritePlan};
use rustshare_store::ObjectMeta;
use s3s::{S3Error, S3ErrorCode, S3Result, s3_error};

use super::{Credential, S3Face, conditional, errors, full_key};

/// A write to a versioned space, from its decision until its record.
pub(super) struct Landing {
    plan: WritePlan,
    preserved: Option<Preserved>,
    guard: Option<conditional::Guard>,
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

fn bad_version(e: &str) -> S3Error {
    S3Error::with_message(S3ErrorCode::InvalidArgument, e.to_owned())
}

impl S3Face {
    /// Before a write of `key` lands: in a versioned space, takes the key (unless the caller
    /// holds it already for a conditional write), decides, and keeps the current version's
    /// bytes when the decision keeps it. `None`: an unversioned write.
    pub(super) async fn land(&self, cred: &Credential, full: &str, key: &str, held: bool) -> S3Result<Option<Landing>> {
        if cred.space.versioning == Versioning::Unversioned {
            return Ok(None);
        }
        let guard = if held {
            None
        } else {
            Some(conditional::lock_waiting(&self.control, &cred.space.id, key).await?)
        };
        let (state, current) = self.control.version_state(&cred.space.id, key).await.map_err(errors::control)?;
        if state == Versioning::Unversioned {
            return Ok(None);
        }
        let plan = versioning::on_write(state, current.as_ref().map(|c| c.version_id.as_str()), &new_version_id());
        let preserved = if plan.preserve { self.preserve(cred, full).await? } else { None };
        Ok(Some(Landing { plan, preserved, guard }))
    }

    /// Links or copies the key's bytes beside the space; `None` when the store has none (a
    /// write that died before its record left the index ahead of the store).
    async fn preserve(&self, cred: &Credential, full: &str) -> S3Result<Option<Preserved>> {
        let m = match self.store.head(full).await {
            Ok(m) => m,
            Err(rustshare_store::Error::NotFound) => return Ok(None),
            Err(e) => return Err(errors::store(e)),
        };
        let name = new_version_id();
        self.store
            .clone_batch(vec![(full.to_owned(), cred.space.version_key(&name))])
            .await
            .map_err(errors::store)?;
        rustshare_control::pause::point("version.preserved");
        Ok(Some(Preserved {
            store_name: name,
            etag: m.etag,
            modified: m.last_modified,
        }))
    }

    /// The write failed after [`S3Face::land`]: the kept copy goes (the current version is
    /// still at the key).
    pub(super) async fn abandon(&self, cred: &Credential, landing: Option<Landing>) {
        if let Some(Landing {
            preserved: Some(p), guard, ..
        }) = landing
        {
            self.free(cred, vec![p.store_name]).await;
            if let Some(g) = guard {
                g.release().await;
            }
        }
    }

    /// Records a write that landed; answers the version id to send (`None` in an unversioned
    /// space, where S3 sends none).
    pub(super) async fn record_write(
        &self,
        cred: &Credential,
        key: &str,
        landing: Option<Landing>,
        mut rec: ObjectRecord,
    ) -> S3Result<Option<String>> {
        let Some(l) = landing else {
            self.control
                .object_stored(&cred.space.id, key, rec)
                .await
                .map_err(errors::control)?;
            return Ok(None);
        };
        rec.version_id = Some(l.plan.id.clone());
        let change = VersionChange {
            preserve: l.preserved,
            drop_null: l.plan.drop_null,
            marker: None,
            current: Some(rec),
        };
        let freed = self
            .control
            .change_versions(&cred.space.id, key, change)
            .await
            .map_err(errors::control)?;
        self.free(cred, freed).await;
        if let Some(g) = l.guard {
            g.release().await;
        }
        Ok(Some(l.plan.id))
    }

    /// Deletes bytes no version uses any more. A failure leaves an orphan that
    /// reconciliation removes; the versions themselves are already recorded.
    async fn free(&self, cred: &Credential, names: Vec<String>) {
        if names.is_empty() {
            return;
        }
        let keys = names.iter().map(|n| cred.space.version_key(n)).collect();
        if let Err(e) = self.store.delete_batch(keys).await {
            tracing::warn!(space = %cred.space.id, "removing the bytes of replaced versions: {e}; reconciliation removes them");
        }
    }

    /// Where a read of `key` (of `version`, when named) finds its bytes.
    ///
    /// # Errors
    /// 400 for a malformed id, 404 NoSuchVersion, 405 for a delete marker (as S3).
    pub(super) async fn locate(&self, cred: &Credential, key: &str, version: Option<&str>) -> S3Result<Found> {
        let full = full_key(cred, key)?;
        let Some(v) = version else {
            if cred.space.versioning == Versioning::Unversioned {
                return Ok(Found { full, row: None });
            }
            let row = self.control.current_version(&cred.space.id, key).await.map_err(errors::control)?;
            return Ok(Found { full, row });
        };
        versioning::check_id(v).map_err(bad_version)?;
        let row = self
            .control
            .object_version(&cred.space.id, key, v)
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
            cred.space.version_key(name)
        };
        Ok(Found { full, row: Some(row) })
    }

    /// DeleteObject, and each key of DeleteObjects: answers the version id and whether it was
    /// (or made) a delete marker.
    pub(super) async fn delete_one(&self, cred: &Credential, key: &str, version: Option<&str>) -> S3Result<(Option<String>, bool)> {
        let full = full_key(cred, key)?;
        if let Some(v) = version {
            versioning::check_id(v).map_err(bad_version)?;
        }
        if version.is_none() && cred.space.versioning == Versioning::Unversioned {
            self.store.delete(&full).await.map_err(errors::store)?;
            self.control.object_deleted(&cred.space.id, key).await.map_err(errors::control)?;
            self.changed(&cred.space.id, key).await;
            return Ok((None, false));
        }
        let guard = conditional::lock_waiting(&self.control, &cred.space.id, key).await?;
        let r = match version {
            Some(v) => self.delete_version(cred, &full, key, v).await,
            None => self.delete_current(cred, &full, key).await,
        };
        guard.release().await;
        self.changed(&cred.space.id, key).await;
        r
    }

    async fn delete_current(&self, cred: &Credential, full: &str, key: &str) -> S3Result<(Option<String>, bool)> {
        let (state, current) = self.control.version_state(&cred.space.id, key).await.map_err(errors::control)?;
        if state == Versioning::Unversioned {
            self.store.delete(full).await.map_err(errors::store)?;
            self.control.object_deleted(&cred.space.id, key).await.map_err(errors::control)?;
            return Ok((None, false));
        }
        let plan = versioning::on_delete(state, current.as_ref().map(|c| c.version_id.as_str()), &new_version_id());
        let preserved = if plan.preserve { self.preserve(cred, full).await? } else { None };
        self.store.delete(full).await.map_err(errors::store)?;
        rustshare_control::pause::point("version.unlinked");
        let change = VersionChange {
            preserve: preserved,
            drop_null: plan.drop_null,
            marker: plan.marker.clone(),
            current: None,
        };
        let freed = self
            .control
            .change_versions(&cred.space.id, key, change)
            .await
            .map_err(errors::control)?;
        self.free(cred, freed).await;
        Ok((plan.marker, true))
    }

    async fn delete_version(&self, cred: &Credential, full: &str, key: &str, v: &str) -> S3Result<(Option<String>, bool)> {
        let space = &cred.space.id;
        let Some(row) = self.control.object_version(space, key, v).await.map_err(errors::control)? else {
            // Deleting a version that is not there changes nothing, as in S3.
            return Ok((Some(v.to_owned()), false));
        };
        if row.is_current() {
            // The newest older version becomes current: its bytes go to the key first.
            let next = self.control.newest_noncurrent(space, key).await.map_err(errors::control)?;
            let promoted = match next {
                Some(n) if !n.delete_marker && n.store_name.is_some() => {
                    let name = n.store_name.clone().unwrap_or_default();
                    self.store
                        .clone_batch(vec![(cred.space.version_key(&name), full.to_owned())])
                        .await
                        .map_err(errors::store)?;
                    Some((n.version_id, name))
                }
                _ => {
                    self.store.delete(full).await.map_err(errors::store)?;
                    None
                }
            };
            self.control
                .promote(space, key, v, promoted.as_ref().map(|(id, _)| id.clone()))
                .await
                .map_err(errors::control)?;
            if let Some((_, name)) = promoted {
                self.free(cred, vec![name]).await;
            }
        } else if let Some(r) = self.control.remove_noncurrent(space, key, v).await.map_err(errors::control)? {
            self.free(cred, r.store_name.into_iter().collect()).await;
        }
        Ok((Some(v.to_owned()), row.delete_marker))
    }
}
