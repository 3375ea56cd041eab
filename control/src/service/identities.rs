//! S3 keys (identities) and the credential cache the S3 face reads.

use super::*;

impl Core {
    /// Creates an S3 identity in a space; the secret is returned this once.
    ///
    /// # Errors
    /// [`Error::Invalid`], [`Error::Conflict`], [`Error::NotFound`].
    pub fn create_identity(&self, p: &AdminPrincipal, space: &str, n: NewIdentity) -> Result<CreatedIdentity> {
        let s = self.space(p, space)?;
        require(p, AdminAction::Manage, Target::Tenant(&s.tenant_id), "space")?;
        validate_slug("key name", &n.name)?;
        validate_prefix(&n.prefix)?;
        if n.mode == PermissionMode::TenantWide && !n.prefix.is_empty() {
            return Err(Error::Invalid(
                "a tenant-wide key reaches whole spaces and takes no prefix; use another mode for a prefix".into(),
            ));
        }
        let t = self.now();
        let expires_at = match (n.expires_at, n.expires_in_seconds) {
            (Some(_), Some(_)) => return Err(Error::Invalid("give expires_at or expires_in_seconds, not both".into())),
            (Some(e), None) => Some(e),
            (None, Some(secs)) => Some(t + Duration::from_secs(secs)),
            (None, None) => None,
        };
        if expires_at.is_some_and(|e| e <= t) {
            return Err(Error::Invalid("expiry must be in the future".into()));
        }
        let secret = random(40);
        let identity = Identity {
            id: new_id("id_"),
            tenant_id: s.tenant_id.clone(),
            space_id: s.id.clone(),
            name: n.name,
            access_key_id: new_access_key(),
            mode: n.mode,
            allowed_prefix: n.prefix,
            expires_at,
            last_used_at: None,
            revoked_at: None,
            created_by: p.name.clone(),
            created_at: t,
            rotated_at: None,
        };
        let sealed = self.key().seal(secret.as_bytes())?;
        self.inner.repo.insert_identity(&identity, &sealed)?;
        self.audit_security(
            p,
            Some(&s.tenant_id),
            Some(&s.id),
            Some(&identity.id),
            "key.created",
            Some(format!(
                "access_key_id={} mode={} prefix={:?}",
                identity.access_key_id, identity.mode, identity.allowed_prefix
            )),
        );
        Ok(CreatedIdentity {
            identity,
            secret_access_key: secret,
            space: s,
        })
    }

    /// Identities of a space.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub fn list_identities(&self, p: &AdminPrincipal, space: &str) -> Result<Vec<Identity>> {
        let s = self.space(p, space)?;
        self.inner.repo.list_identities(&s.id)
    }

    pub(super) fn identity_for(&self, p: &AdminPrincipal, id_or_key: &str) -> Result<Identity> {
        let r = &self.inner.repo;
        let found = match r.identity(id_or_key)? {
            Some(i) => Some(i),
            None => r.identity_by_key(id_or_key)?.map(|(i, _)| i),
        };
        let i = found.ok_or(Error::NotFound("key"))?;
        require(p, AdminAction::Read, Target::Tenant(&i.tenant_id), "key")?;
        Ok(i)
    }

    /// Revokes an identity: its next request fails.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub fn revoke_identity(&self, p: &AdminPrincipal, id_or_key: &str) -> Result<Identity> {
        let i = self.identity_for(p, id_or_key)?;
        require(p, AdminAction::Manage, Target::Tenant(&i.tenant_id), "key")?;
        self.inner.repo.revoke_identity(&i.id, self.now())?;
        self.invalidate();
        self.audit_security(
            p,
            Some(&i.tenant_id),
            Some(&i.space_id),
            Some(&i.id),
            "key.revoked",
            Some(format!("access_key_id={}", i.access_key_id)),
        );
        self.identity_for(p, &i.id)
    }

    /// Gives an identity a new secret, returned this once; the old one stops working at once.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Invalid`] for a revoked key.
    pub fn rotate_identity(&self, p: &AdminPrincipal, id_or_key: &str) -> Result<CreatedIdentity> {
        let i = self.identity_for(p, id_or_key)?;
        require(p, AdminAction::Manage, Target::Tenant(&i.tenant_id), "key")?;
        if i.revoked_at.is_some() {
            return Err(Error::Invalid("a revoked key cannot be rotated; create a new key".into()));
        }
        let secret = random(40);
        self.inner
            .repo
            .rotate_identity(&i.id, &self.key().seal(secret.as_bytes())?, self.now())?;
        self.invalidate();
        self.audit_security(
            p,
            Some(&i.tenant_id),
            Some(&i.space_id),
            Some(&i.id),
            "key.rotated",
            Some(format!("access_key_id={}", i.access_key_id)),
        );
        let identity = self.identity_for(p, &i.id)?;
        let space = self.space(p, &identity.space_id)?;
        Ok(CreatedIdentity {
            identity,
            secret_access_key: secret,
            space,
        })
    }

    // ---- the S3 face ----

    /// The credential for an access key, from cache when fresh. Revoked and expired keys are
    /// returned too: the caller decides (policy) so the error can say why.
    ///
    /// # Errors
    /// Database or unsealing errors.
    pub fn credential(&self, access_key_id: &str) -> Result<Option<Arc<Credential>>> {
        /// Why nothing was cached: absent keys and failures are not remembered.
        enum Miss {
            Absent,
            Failed(Error),
        }
        let loaded = self
            .inner
            .creds
            .try_get_with(access_key_id.to_owned(), || match self.load_credential(access_key_id) {
                Ok(Some(c)) => Ok(c),
                Ok(None) => Err(Miss::Absent),
                Err(e) => Err(Miss::Failed(e)),
            });
        match loaded {
            Ok(c) => Ok(Some(c)),
            Err(miss) => match &*miss {
                Miss::Absent => Ok(None),
                // Every waiter gets the failure; the cause is logged once here.
                Miss::Failed(e) => {
                    tracing::warn!("loading a credential: {e}");
                    Err(Error::Db(e.to_string().into()))
                }
            },
        }
    }

    /// [`Core::credential`] from memory only: `None` when the database must be asked, so
    /// callers on an async runtime can skip the executor for a fresh hit.
    #[must_use]
    pub fn credential_cached(&self, access_key_id: &str) -> Option<Arc<Credential>> {
        self.inner.creds.get(access_key_id)
    }

    pub(super) fn load_credential(&self, access_key_id: &str) -> Result<Option<Arc<Credential>>> {
        self.inner.cred_loads.fetch_add(1, Ordering::Relaxed);
        let Some((identity, sealed)) = self.inner.repo.identity_by_key(access_key_id)? else {
            return Ok(None);
        };
        let Some(space) = self.inner.repo.space(&identity.space_id)? else {
            return Ok(None);
        };
        let secret = self.key().unseal_text(&sealed)?;
        Ok(Some(Arc::new(Credential { identity, space, secret })))
    }

    /// Records that an identity was used (at most once a minute per identity).
    pub fn touch(&self, identity_id: &str) {
        let mut m = self.inner.touched.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if m.get(identity_id).is_some_and(|t| self.inner.age(*t) < TOUCH_EVERY) {
            return;
        }
        m.insert(identity_id.to_owned(), self.inner.clock.now());
        drop(m);
        // Off the request's path: when a key was last used need not hold up its request.
        let (inner, id) = (self.inner.clone(), identity_id.to_owned());
        let record = move || {
            if let Err(e) = inner.repo.touch_identity(&id, inner.now()) {
                tracing::warn!("recording key use: {e}");
            }
        };
        self.inner.exec.spawn(record);
    }

    /// Drops cached credentials and sites here and on every other node.
    pub(super) fn invalidate(&self) {
        self.clear_caches();
        self.announce(&ChangeKind::Caches);
    }

    pub(super) fn clear_caches(&self) {
        self.inner.creds.invalidate_all();
        self.inner.sites.clear();
        self.inner.cors.clear();
        self.inner.buckets.clear();
        self.inner.repos.write().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
    }

    // ---- package repositories ----
}
