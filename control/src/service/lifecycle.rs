//! Lifecycle rules of spaces (see [`crate::lifecycle`]): set by an admin or by a key whose mode
//! may (PutBucketLifecycleConfiguration), read by the expirer.

use super::*;
use crate::lifecycle::{self as rules, LifecycleRule};

impl Core {
    /// A space's lifecycle rules (admin view).
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub fn lifecycle(&self, p: &AdminPrincipal, space: &str) -> Result<(Space, Option<Vec<LifecycleRule>>)> {
        let s = self.space(p, space)?;
        let r = self.inner.repo.lifecycle(&s.id)?;
        Ok((s, r))
    }

    /// Sets (or with `None` removes) a space's lifecycle rules, as an admin; audited.
    ///
    /// # Errors
    /// [`Error::Invalid`] for rules S3 would refuse, [`Error::NotFound`], [`Error::Forbidden`].
    pub fn set_lifecycle(&self, p: &AdminPrincipal, space: &str, rules: Option<&[LifecycleRule]>) -> Result<Space> {
        let s = self.space(p, space)?;
        require(p, AdminAction::Manage, Target::Tenant(&s.tenant_id), "space")?;
        self.put_space_lifecycle(&s.id, rules)?;
        let (op, detail) = match rules {
            Some(r) => ("lifecycle.set", Some(format!("rules={}", r.len()))),
            None => ("lifecycle.removed", None),
        };
        self.audit_security(p, Some(&s.tenant_id), Some(&s.id), None, op, detail);
        Ok(s)
    }

    /// A space's rules, for a caller already allowed to read them (GetBucketLifecycleConfiguration).
    ///
    /// # Errors
    /// Database errors.
    pub fn space_lifecycle(&self, space_id: &str) -> Result<Option<Vec<LifecycleRule>>> {
        self.inner.repo.lifecycle(space_id)
    }

    /// Stores a space's rules, for a caller already allowed to.
    ///
    /// # Errors
    /// [`Error::Invalid`] for rules S3 would refuse; database errors.
    pub fn put_space_lifecycle(&self, space_id: &str, r: Option<&[LifecycleRule]>) -> Result<()> {
        if let Some(r) = r {
            rules::check(r).map_err(Error::Invalid)?;
        }
        self.inner.repo.set_lifecycle(space_id, r, self.now())
    }

    /// Every enabled space with rules (the expirer's work list).
    ///
    /// # Errors
    /// Database errors.
    pub fn spaces_with_lifecycle(&self) -> Result<Vec<(Space, Vec<LifecycleRule>)>> {
        self.inner.repo.spaces_with_lifecycle()
    }
}
