//! Operator bootstrap, admin tokens and tenants.

use super::*;

impl Core {
    /// The repository, for health checks.
    #[must_use]
    pub fn repo(&self) -> &dyn Repo {
        &*self.inner.repo
    }

    /// The repository, shared (another service on the same database, as a second node).
    #[must_use]
    pub fn repo_handle(&self) -> Arc<dyn Repo> {
        self.inner.repo.clone()
    }

    // ---- admin tokens ----

    /// Makes sure an operator token exists. With `explicit`, that value becomes one (if it is
    /// not already known). Without, and if none exists, one is generated and returned so the
    /// caller can show it once.
    ///
    /// # Errors
    /// Database errors.
    pub fn bootstrap_operator(&self, explicit: Option<&str>) -> Result<Option<String>> {
        let r = &self.inner.repo;
        if let Some(t) = explicit {
            if t.len() < 16 {
                return Err(Error::Invalid("RUSTSHARE_ADMIN_TOKEN must be at least 16 characters".into()));
            }
            if r.token_by_hash(&hash_token(t))?.is_none() {
                match r.insert_token(&new_id("tok_"), None, "operator", &hash_token(t), self.now()) {
                    // Another node starting with the same token stored it first.
                    Ok(()) | Err(Error::Conflict(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            return Ok(None);
        }
        if r.operator_token_count()? > 0 {
            return Ok(None);
        }
        let token = format!("rsat_{}", random(40));
        r.insert_token(&new_id("tok_"), None, "operator", &hash_token(&token), self.now())?;
        Ok(Some(token))
    }

    /// Resolves a bearer token.
    ///
    /// # Errors
    /// [`Error::Unauthorized`] if unknown or revoked.
    pub fn authenticate(&self, token: &str) -> Result<AdminPrincipal> {
        self.inner.repo.token_by_hash(&hash_token(token))?.ok_or(Error::Unauthorized)
    }

    // ---- tenants ----

    /// Creates a tenant (operator only).
    ///
    /// # Errors
    /// [`Error::Forbidden`], [`Error::Invalid`], [`Error::Conflict`].
    pub fn create_tenant(&self, p: &AdminPrincipal, name: &str) -> Result<Tenant> {
        require(p, AdminAction::CreateTenant, Target::Installation, "installation")?;
        validate_slug("tenant name", name)?;
        let t = Tenant {
            id: new_id("t_"),
            name: name.to_owned(),
            created_at: self.now(),
        };
        self.inner.repo.insert_tenant(&t)?;
        self.audit_security(p, Some(&t.id), None, None, "tenant.created", Some(format!("name={name}")));
        Ok(t)
    }

    /// Tenants the principal can see.
    ///
    /// # Errors
    /// Database errors.
    pub fn list_tenants(&self, p: &AdminPrincipal) -> Result<Vec<Tenant>> {
        Ok(self
            .inner
            .repo
            .list_tenants()?
            .into_iter()
            .filter(|t| require(p, AdminAction::Read, Target::Tenant(&t.id), "tenant").is_ok())
            .collect())
    }

    /// The tenant named (a tenant admin's own when none is), once `p` may do `action` on it.
    pub(super) fn tenant_for(&self, p: &AdminPrincipal, id_or_name: Option<&str>, action: AdminAction) -> Result<Tenant> {
        let key = match (id_or_name, &p.tenant_id) {
            (Some(k), _) => k.to_owned(),
            (None, Some(t)) => t.clone(),
            (None, None) => return Err(Error::Invalid("tenant is required for operator tokens".into())),
        };
        let t = self.inner.repo.tenant(&key)?.ok_or(Error::NotFound("tenant"))?;
        require(p, action, Target::Tenant(&t.id), "tenant")?;
        Ok(t)
    }

    /// Issues a token scoped to one tenant (operator only); returns it once.
    ///
    /// # Errors
    /// [`Error::Forbidden`], [`Error::NotFound`], [`Error::Invalid`].
    pub fn create_tenant_token(&self, p: &AdminPrincipal, tenant: &str, name: &str) -> Result<String> {
        validate_slug("token name", name)?;
        let t = self.tenant_for(p, Some(tenant), AdminAction::IssueTenantToken)?;
        let token = format!("rsat_{}", random(40));
        self.inner
            .repo
            .insert_token(&new_id("tok_"), Some(&t.id), name, &hash_token(&token), self.now())?;
        self.audit_security(p, Some(&t.id), None, None, "token.created", Some(format!("name={name}")));
        Ok(token)
    }

    // ---- spaces ----
}
