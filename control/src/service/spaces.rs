//! Object Spaces: creation, listing, disabling, quotas and usage.

use super::*;

impl Core {
    /// Creates a space. Its bucket is `rs-<tenant>-<name>`.
    ///
    /// # Errors
    /// [`Error::Invalid`], [`Error::Conflict`], [`Error::NotFound`].
    pub fn create_space(&self, p: &AdminPrincipal, n: NewSpace) -> Result<Space> {
        validate_slug("space name", &n.name)?;
        let t = self.tenant_for(p, n.tenant.as_deref(), AdminAction::CreateSpace)?;
        let bucket = format!("rs-{}-{}", t.name, n.name);
        if bucket.len() > 63 {
            return Err(Error::Invalid(format!(
                "bucket name {bucket:?} would exceed 63 characters; choose a shorter space name"
            )));
        }
        // `rs-<tenant>-<space>` is unique in the database; tenant and space names may both hold
        // '-', so two tenants can reach the same name (`sq` + `x-art`, `sq-x` + `art`). Say so
        // rather than answer a bare conflict.
        if let Some(other) = self.inner.repo.space_by_bucket(&bucket)? {
            return Err(Error::Conflict(if other.tenant_id == t.id {
                format!("this tenant already has a space with bucket {bucket:?}")
            } else {
                format!("bucket name {bucket:?} is already taken by another tenant's space; choose another space name")
            }));
        }
        let id = new_id("sp_");
        let s = Space {
            base_prefix: format!("object-spaces/{}/{}/", t.id, id),
            id,
            tenant_id: t.id.clone(),
            workspace_id: n.workspace_id,
            name: n.name,
            bucket,
            visibility: n.visibility.unwrap_or(Visibility::Private),
            purpose: n.purpose.unwrap_or(Purpose::Generic),
            quota_bytes: n.quota_bytes,
            created_by: p.name.clone(),
            created_at: self.now(),
            disabled_at: None,
        };
        self.inner.repo.insert_space(&s)?;
        self.audit_security(
            p,
            Some(&s.tenant_id),
            Some(&s.id),
            None,
            "space.created",
            Some(format!("bucket={} purpose={}", s.bucket, s.purpose)),
        );
        Ok(s)
    }

    /// Spaces the principal can see.
    ///
    /// # Errors
    /// Database errors.
    pub fn list_spaces(&self, p: &AdminPrincipal) -> Result<Vec<Space>> {
        self.inner.repo.list_spaces(p.tenant_id.as_deref())
    }

    /// One space by id, bucket, or name within the principal's tenant.
    ///
    /// # Errors
    /// [`Error::NotFound`] if absent or not the principal's.
    pub fn space(&self, p: &AdminPrincipal, id: &str) -> Result<Space> {
        let r = &self.inner.repo;
        let found = match r.space(id)? {
            Some(s) => Some(s),
            None => match r.space_by_bucket(id)? {
                Some(s) => Some(s),
                None => match &p.tenant_id {
                    Some(t) => r.space_by_name(t, id)?,
                    None => None,
                },
            },
        };
        let s = found.ok_or(Error::NotFound("space"))?;
        require(p, AdminAction::Read, Target::Tenant(&s.tenant_id), "space")?;
        Ok(s)
    }

    /// Disables a space: every S3 request to it is refused from the next one on.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub fn disable_space(&self, p: &AdminPrincipal, id: &str) -> Result<Space> {
        let s = self.space(p, id)?;
        require(p, AdminAction::Manage, Target::Tenant(&s.tenant_id), "space")?;
        if s.disabled_at.is_none() {
            self.inner.repo.set_space_disabled(&s.id, Some(self.now()))?;
            self.invalidate();
            self.audit_security(p, Some(&s.tenant_id), Some(&s.id), None, "space.disabled", None);
        }
        self.space(p, &s.id)
    }

    /// Sets or clears a space's quota.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub fn set_quota(&self, p: &AdminPrincipal, id: &str, quota: Option<u64>) -> Result<Space> {
        let s = self.space(p, id)?;
        let action = AdminAction::SetQuota {
            current: s.quota_bytes,
            requested: quota,
        };
        require(p, action, Target::Tenant(&s.tenant_id), "space")?;
        self.inner.repo.set_space_quota(&s.id, quota)?;
        self.invalidate();
        let detail = quota.map_or_else(|| "quota=unlimited".to_owned(), |q| format!("quota={q}"));
        self.audit_security(p, Some(&s.tenant_id), Some(&s.id), None, "quota.changed", Some(detail));
        self.space(p, &s.id)
    }

    /// Usage of a space.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub fn usage(&self, p: &AdminPrincipal, id: &str) -> Result<(Space, Usage)> {
        let s = self.space(p, id)?;
        let u = self.inner.repo.usage(&s.id)?;
        Ok((s, u))
    }

    // ---- identities ----
}
