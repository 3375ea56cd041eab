//! Object versioning (see [`crate::versioning`]): a space's state, set by an admin or by a key
//! whose mode may (PutBucketVersioning), and the version index the S3 face keeps.

use super::*;
use crate::db::{VersionChange, VersionRow};
use crate::versioning::{self, Cursor, Paginator};

/// A new version id: 32 alphanumerics, as opaque as S3's.
#[must_use]
pub fn new_version_id() -> String {
    random(32)
}

/// What a version listing asks for (S3's `ListObjectVersions` parameters, already checked).
#[derive(Debug, Clone, Default)]
pub struct VersionQuery {
    /// Only keys starting with this.
    pub prefix: String,
    /// Roll keys up to the first delimiter after the prefix.
    pub delimiter: Option<String>,
    /// Resume after this key ...
    pub key_marker: Option<String>,
    /// ... and, within it, after this version.
    pub version_marker: Option<String>,
    /// Page size (1..=1000).
    pub max: usize,
}

/// What a write or delete of one key decides by, read fresh under the key's lease.
#[derive(Debug, Clone)]
pub struct KeyState {
    /// The space's versioning.
    pub versioning: Versioning,
    /// The space's object lock configuration, once enabled.
    pub lock: Option<crate::lock::LockConfig>,
    /// The key's current version.
    pub current: Option<VersionRow>,
}

/// Rows fetched per round trip while cutting a page.
const BATCH: usize = 1000;

impl Core {
    /// Sets a space's versioning, as an admin; audited. Registry spaces stay unversioned:
    /// Distribution's blobs are named by their digest and never change, and its upload and
    /// link files churn, so versions would only fill the space.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a registry space or a return to unversioned, [`Error::NotFound`],
    /// [`Error::Forbidden`].
    pub fn set_versioning(&self, p: &AdminPrincipal, space: &str, v: Versioning) -> Result<Space> {
        let s = self.space(p, space)?;
        require(p, AdminAction::Manage, Target::Tenant(&s.tenant_id), "space")?;
        self.put_space_versioning(&s.id, v)?;
        self.audit_security(
            p,
            Some(&s.tenant_id),
            Some(&s.id),
            None,
            "versioning.set",
            Some(format!("versioning={v}")),
        );
        self.space(p, &s.id)
    }

    /// A space whose objects the admin may change (restoring a version through the control
    /// API or the console).
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Forbidden`].
    pub fn space_to_manage(&self, p: &AdminPrincipal, space: &str) -> Result<Space> {
        let s = self.space(p, space)?;
        require(p, AdminAction::Manage, Target::Tenant(&s.tenant_id), "space")?;
        Ok(s)
    }

    /// Sets a space's versioning for a caller already allowed to (PutBucketVersioning); every
    /// node drops its cached credentials, which carry the space.
    ///
    /// # Errors
    /// [`Error::Invalid`] as [`Core::set_versioning`]; [`Error::NotFound`].
    pub fn put_space_versioning(&self, space_id: &str, v: Versioning) -> Result<()> {
        let s = self.inner.repo.space(space_id)?.ok_or_else(|| Error::NotFound("space"))?;
        versioning::check_transition(s.versioning, v).map_err(|e| Error::Invalid(e.into()))?;
        if s.object_lock.is_some() && v != Versioning::Enabled {
            return Err(Error::Conflict(
                "InvalidBucketState: object lock is enabled on this space, so its versioning stays enabled".into(),
            ));
        }
        if s.purpose == Purpose::Registry && v != Versioning::Unversioned {
            return Err(Error::Invalid(
                "registry spaces are not versioned: Distribution's blobs never change (they are named by digest), and its upload files would pile up as versions".into(),
            ));
        }
        if s.versioning != v {
            self.inner.repo.set_space_versioning(space_id, v)?;
            self.invalidate();
        }
        Ok(())
    }

    /// The space's versioning state, read fresh (a write decides by it on every node alike),
    /// and the key's current version.
    ///
    /// # Errors
    /// [`Error::NotFound`] for a space that is gone; database errors.
    pub fn version_state(&self, space_id: &str, key: &str) -> Result<KeyState> {
        let s = self.inner.repo.space(space_id)?.ok_or_else(|| Error::NotFound("space"))?;
        let current = if s.versioning == Versioning::Unversioned {
            None
        } else {
            self.inner.repo.current_version(space_id, key)?
        };
        Ok(KeyState {
            versioning: s.versioning,
            lock: s.object_lock,
            current,
        })
    }

    /// One version of a key (current or not).
    ///
    /// # Errors
    /// Database errors.
    pub fn object_version(&self, space_id: &str, key: &str, version_id: &str) -> Result<Option<VersionRow>> {
        self.inner.repo.version(space_id, key, version_id)
    }

    /// A key's current version, if any.
    ///
    /// # Errors
    /// Database errors.
    pub fn current_version(&self, space_id: &str, key: &str) -> Result<Option<VersionRow>> {
        self.inner.repo.current_version(space_id, key)
    }

    /// A key's newest noncurrent version or marker.
    ///
    /// # Errors
    /// Database errors.
    pub fn newest_noncurrent(&self, space_id: &str, key: &str) -> Result<Option<VersionRow>> {
        self.inner.repo.newest_noncurrent(space_id, key)
    }

    /// Records a change to a key's versions (after the store did its part); answers the store
    /// names of bytes no version uses any more.
    ///
    /// # Errors
    /// Database errors.
    pub fn change_versions(&self, space_id: &str, key: &str, change: &VersionChange) -> Result<Vec<String>> {
        self.inner.repo.change_versions(space_id, key, change, self.now())
    }

    /// Removes a noncurrent version or marker for good.
    ///
    /// # Errors
    /// Database errors.
    pub fn remove_noncurrent(&self, space_id: &str, key: &str, version_id: &str) -> Result<Option<VersionRow>> {
        self.inner.repo.remove_noncurrent(space_id, key, version_id)
    }

    /// The current version `removed` is gone; `next` becomes current.
    ///
    /// # Errors
    /// Database errors.
    pub fn promote(&self, space_id: &str, key: &str, removed: &str, next: Option<&str>) -> Result<()> {
        self.inner.repo.promote(space_id, key, removed, next)
    }

    /// One page of a space's versions in S3's order.
    ///
    /// # Errors
    /// Database errors.
    pub fn list_versions(&self, space_id: &str, q: &VersionQuery) -> Result<Paginator> {
        let after = match (&q.key_marker, &q.version_marker) {
            (Some(k), Some(v)) => {
                let below = self.inner.repo.version(space_id, k, v)?.map(|r| r.rank);
                // A version marker no longer there resumes after the whole key.
                Some(Cursor { key: k.clone(), below })
            }
            (Some(k), None) => Some(Cursor {
                key: k.clone(),
                below: None,
            }),
            _ => None,
        };
        let mut page = Paginator::new(&q.prefix, q.delimiter.as_deref(), q.max, after);
        loop {
            let (start, below) = page.start();
            let (cur, non) = self.inner.repo.version_rows(space_id, &start, below, BATCH)?;
            let (rows, more) = versioning::merge(cur, non, BATCH);
            let progressed = rows.last().map(|r| (r.key.clone(), r.rank));
            for r in rows {
                if !page.feed(r) {
                    return Ok(page);
                }
            }
            if !more {
                return Ok(page);
            }
            // The next batch starts at the last key seen; the paginator skips what it has.
            let Some((key, rank)) = progressed else {
                return Ok(page);
            };
            page.resume_at(key, rank);
        }
    }

    /// Every noncurrent version's store name, key and size (reconciliation).
    ///
    /// # Errors
    /// Database errors.
    pub fn version_store_names(&self, space_id: &str) -> Result<Vec<(String, String, u64)>> {
        self.inner.repo.version_store_names(space_id)
    }

    /// Forgets versions whose bytes are gone and recounts the space's noncurrent usage
    /// (reconciliation).
    ///
    /// # Errors
    /// Database errors.
    pub fn forget_versions(&self, space_id: &str, store_names: &[String]) -> Result<()> {
        self.inner.repo.forget_versions(space_id, store_names)
    }

    /// Records a copy about to be made of a key's current version ([`crate::db::VersionRepo::pending_version`]).
    ///
    /// # Errors
    /// Database errors.
    pub fn pending_version(&self, space_id: &str, key: &str, p: &crate::db::Preserved) -> Result<()> {
        self.inner.repo.pending_version(space_id, key, p, self.now())
    }

    /// Forgets a pending copy.
    ///
    /// # Errors
    /// Database errors.
    pub fn drop_pending(&self, space_id: &str, store_name: &str) -> Result<()> {
        self.inner.repo.drop_pending(space_id, store_name)
    }

    /// The pending copies of a space.
    ///
    /// # Errors
    /// Database errors.
    pub fn pending_versions(&self, space_id: &str) -> Result<Vec<(String, crate::db::Preserved)>> {
        self.inner.repo.pending_versions(space_id)
    }

    /// Removes every noncurrent version of these keys; answers the freed store names.
    ///
    /// # Errors
    /// Database errors.
    pub fn purge_versions(&self, space_id: &str, keys: &[String]) -> Result<Vec<String>> {
        self.inner.repo.purge_versions(space_id, keys)
    }
}
