//! Object lock of spaces (see [`crate::lock`]): the configuration, set by an admin or by a key
//! whose mode may (PutObjectLockConfiguration), and each version's retention and legal hold,
//! which the S3 face and the control API change under the key's lease.

use super::*;
use crate::lock::{self, LockConfig, ObjectLock};

impl Core {
    /// Sets a space's object lock configuration as an admin (enabling it when it was not);
    /// audited.
    ///
    /// # Errors
    /// As [`Core::put_space_lock`]; [`Error::NotFound`], [`Error::Forbidden`].
    pub fn set_object_lock(&self, p: &AdminPrincipal, space: &str, c: &LockConfig) -> Result<Space> {
        let s = self.space(p, space)?;
        require(p, AdminAction::Manage, Target::Tenant(&s.tenant_id), "space")?;
        self.put_space_lock(&s.id, c)?;
        let detail = format!(
            "default={} write_once={}",
            c.default_retention.map_or_else(|| "none".to_owned(), |d| d.mode.to_string()),
            c.write_once.iter().map(|w| w.prefix.as_str()).collect::<Vec<_>>().join(",")
        );
        self.audit_security(p, Some(&s.tenant_id), Some(&s.id), None, "object_lock.set", Some(detail));
        self.space(p, &s.id)
    }

    /// Sets a space's object lock configuration for a caller already allowed to. Object lock
    /// needs versioning enabled (as S3 answers, `InvalidBucketState`), and is refused to
    /// repository and registry spaces, whose own services remove what they wrote (the
    /// publisher its incoming files and unreferenced pool files, Distribution its uploads).
    ///
    /// # Errors
    /// [`Error::Invalid`] for a bad configuration or a space of the wrong purpose;
    /// [`Error::Conflict`] when versioning is not enabled; [`Error::NotFound`].
    pub fn put_space_lock(&self, space_id: &str, c: &LockConfig) -> Result<()> {
        let s = self.inner.repo.space(space_id)?.ok_or_else(|| Error::NotFound("space"))?;
        lock::check(c).map_err(Error::Invalid)?;
        if matches!(s.purpose, Purpose::Packages | Purpose::Registry) {
            return Err(Error::Invalid(format!(
                "object lock is not offered on {} spaces: their service removes the files it wrote (use snapshots and retention instead)",
                s.purpose
            )));
        }
        if s.versioning != Versioning::Enabled {
            return Err(Error::Conflict(
                "InvalidBucketState: versioning must be enabled on the space before object lock".into(),
            ));
        }
        if s.object_lock.as_ref() != Some(c) {
            self.inner.repo.set_space_lock(space_id, c)?;
            self.invalidate();
        }
        Ok(())
    }

    /// Records one version's retention and legal hold (the caller decided, under the key's
    /// lease); answers whether the version was there.
    ///
    /// # Errors
    /// Database errors.
    pub fn set_version_lock(&self, space_id: &str, key: &str, version_id: &str, l: &ObjectLock) -> Result<bool> {
        self.inner.repo.set_lock(space_id, key, version_id, l)
    }

    /// A space's object lock configuration, read fresh.
    ///
    /// # Errors
    /// [`Error::NotFound`]; database errors.
    pub fn space_lock(&self, space_id: &str) -> Result<Option<LockConfig>> {
        let s = self.inner.repo.space(space_id)?.ok_or_else(|| Error::NotFound("space"))?;
        Ok(s.object_lock)
    }
}
