//! Object Spaces: creation, listing, disabling, quotas and usage.

use super::*;

impl Core {
    /// Creates a space. Its bucket is `rs-<tenant>-<name>`.
    ///
    /// # Errors
    /// [`Error::Invalid`], [`Error::Conflict`], [`Error::NotFound`].
    pub fn create_space(&self, p: &AdminPrincipal, n: NewSpace) -> Result<Space> {
        let t = self.tenant_for(p, n.tenant.as_deref(), AdminAction::CreateSpace)?;
        let s = self.insert_space(&t, n, &p.name)?;
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

    /// Creates a space in tenant `t`, for an admin or a tenant-wide key.
    fn insert_space(&self, t: &Tenant, n: NewSpace, created_by: &str) -> Result<Space> {
        validate_slug("space name", &n.name)?;
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
            created_by: created_by.to_owned(),
            created_at: self.now(),
            disabled_at: None,
            versioning: Versioning::Unversioned,
            object_lock: None,
        };
        self.inner.repo.insert_space(&s)?;
        // A bucket name looked up before (and found absent) must now find the space.
        self.invalidate();
        Ok(s)
    }

    /// The space a bucket names, if it is an enabled space of `tenant_id` (what a tenant-wide
    /// key may reach), from cache when fresh. Another tenant's bucket is `None`, as if it did
    /// not exist.
    ///
    /// # Errors
    /// Database errors.
    pub fn tenant_space(&self, tenant_id: &str, bucket: &str) -> Result<Option<Arc<Space>>> {
        if let Some(hit) = self.tenant_space_cached(tenant_id, bucket) {
            return Ok(hit);
        }
        let now = self.inner.clock.now();
        let s = self.inner.repo.space_by_bucket(bucket)?.map(Arc::new);
        self.inner.buckets.put(bucket, s.clone(), now);
        Ok(s.filter(|s| s.tenant_id == tenant_id && s.disabled_at.is_none()))
    }

    /// [`Core::tenant_space`] from memory only: `None` when the database must be asked.
    #[must_use]
    #[allow(
        clippy::option_option,
        reason = "outer: whether the cache knows; inner: whether the space is the tenant's"
    )]
    pub fn tenant_space_cached(&self, tenant_id: &str, bucket: &str) -> Option<Option<Arc<Space>>> {
        let hit = self.inner.buckets.get(bucket, self.inner.clock.now())?;
        Some(hit.filter(|s| s.tenant_id == tenant_id && s.disabled_at.is_none()))
    }

    /// The enabled spaces of a tenant (ListBuckets for a tenant-wide key).
    ///
    /// # Errors
    /// Database errors.
    pub fn tenant_spaces(&self, tenant_id: &str) -> Result<Vec<Space>> {
        let mut all = self.inner.repo.list_spaces(Some(tenant_id))?;
        all.retain(|s| s.disabled_at.is_none());
        Ok(all)
    }

    /// CreateBucket by a tenant-wide key: a space `rs-<tenant>-<name>` in the key's tenant,
    /// with the quota of the space the key was issued from; audited with the key as actor.
    ///
    /// # Errors
    /// [`Error::Forbidden`] for another mode or a bucket outside the tenant's names,
    /// [`Error::Invalid`] for a bad name, [`Error::Conflict`] when the bucket exists.
    pub fn create_space_for_key(&self, key: &Identity, home: &Space, bucket: &str) -> Result<Space> {
        if key.mode != PermissionMode::TenantWide {
            return Err(Error::Forbidden("only a tenant-wide key creates buckets"));
        }
        let t = self.inner.repo.tenant(&key.tenant_id)?.ok_or(Error::NotFound("tenant"))?;
        let Some(name) = bucket.strip_prefix(&format!("rs-{}-", t.name)) else {
            return Err(Error::Forbidden(
                "a tenant-wide key creates buckets of its own tenant only, named rs-<tenant>-<name>",
            ));
        };
        let n = NewSpace {
            tenant: None,
            name: name.to_owned(),
            purpose: None,
            visibility: None,
            quota_bytes: home.quota_bytes,
            workspace_id: None,
        };
        let actor = format!("key:{}", key.access_key_id);
        let s = self.insert_space(&t, n, &actor)?;
        self.audit(NewAuditEvent {
            tenant_id: Some(s.tenant_id.clone()),
            object_space_id: Some(s.id.clone()),
            identity_id: Some(key.id.clone()),
            actor,
            kind: "security".into(),
            operation: "space.created".into(),
            status: "ok".into(),
            detail: Some(format!("bucket={} purpose={} by=CreateBucket", s.bucket, s.purpose)),
            ..NewAuditEvent::default()
        });
        Ok(s)
    }

    /// DeleteBucket by a tenant-wide key: the space must hold no objects, no uploads in
    /// progress, and no package repository or registry namespace. It is retired: disabled, its
    /// name and bucket free for a new space, its row kept for the audit log.
    ///
    /// # Errors
    /// [`Error::Forbidden`] for another mode or tenant, [`Error::Conflict`] when not empty or
    /// in use.
    pub fn delete_space_for_key(&self, key: &Identity, space: &Space) -> Result<()> {
        if key.mode != PermissionMode::TenantWide || key.tenant_id != space.tenant_id {
            return Err(Error::Forbidden("only a tenant-wide key of the tenant deletes buckets"));
        }
        let r = &self.inner.repo;
        let u = r.usage(&space.id)?;
        // Noncurrent versions and delete markers count, as in S3: a space emptied by deletes
        // in a versioned space still holds its versions (and any object lock protecting them).
        if u.objects > 0 || u.bytes > 0 || u.noncurrent_objects > 0 || u.delete_markers > 0 || !r.list_uploads(&space.id, "")?.is_empty() {
            return Err(Error::Conflict("BucketNotEmpty".into()));
        }
        let used_by_repo = r.list_repositories(Some(&space.tenant_id))?.iter().any(|x| x.space_id == space.id);
        let used_by_registry = r.list_namespaces(Some(&space.tenant_id))?.iter().any(|x| x.space_id == space.id);
        if used_by_repo || used_by_registry {
            return Err(Error::Conflict(
                "the bucket holds a package repository or a registry namespace; remove it with the control API".into(),
            ));
        }
        r.retire_space(&space.id, self.now())?;
        self.invalidate();
        self.audit(NewAuditEvent {
            tenant_id: Some(space.tenant_id.clone()),
            object_space_id: Some(space.id.clone()),
            identity_id: Some(key.id.clone()),
            actor: format!("key:{}", key.access_key_id),
            kind: "security".into(),
            operation: "space.deleted".into(),
            status: "ok".into(),
            detail: Some(format!("bucket={} by=DeleteBucket", space.bucket)),
            ..NewAuditEvent::default()
        });
        Ok(())
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
