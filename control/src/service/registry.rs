//! OCI registry namespaces, robots and the token signing key.

use super::*;

impl Core {
    /// Creates a registry namespace: a space of purpose `registry` (named after it) and the
    /// storage identity Distribution uses for it.
    ///
    /// # Errors
    /// [`Error::Invalid`], [`Error::Conflict`], [`Error::Forbidden`].
    pub fn create_namespace(
        &self,
        p: &AdminPrincipal,
        tenant: Option<&str>,
        name: &str,
        quota_bytes: Option<u64>,
    ) -> Result<RegistryNamespace> {
        validate_slug("a registry namespace", name)?;
        if self.inner.repo.namespace(name)?.is_some() {
            return Err(Error::Conflict(format!("a registry namespace named {name:?} already exists")));
        }
        let space = self.create_space(
            p,
            NewSpace {
                tenant: tenant.map(str::to_owned),
                name: name.to_owned(),
                purpose: Some(Purpose::Registry),
                visibility: None,
                quota_bytes,
                workspace_id: None,
            },
        )?;
        let storage = self.create_identity(
            p,
            &space.id,
            NewIdentity {
                name: "registry-storage".into(),
                mode: PermissionMode::RegistryBackend,
                prefix: String::new(),
                expires_at: None,
                expires_in_seconds: None,
            },
        )?;
        let ns = RegistryNamespace {
            name: name.to_owned(),
            tenant_id: space.tenant_id.clone(),
            space_id: space.id.clone(),
            storage_identity_id: storage.identity.id,
            public: false,
            retention: RetentionRules::default(),
            upstream: None,
            created_by: p.name.clone(),
            created_at: self.now(),
        };
        let events = self.key().seal(random(40).as_bytes())?;
        self.inner.repo.insert_namespace(&ns, &events)?;
        self.audit_admin(p, &space, "registry.namespace.created", Some(format!("namespace={name}")));
        Ok(ns)
    }

    /// One namespace the principal may see.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub fn namespace(&self, p: &AdminPrincipal, name: &str) -> Result<RegistryNamespace> {
        self.inner
            .repo
            .namespace(name)?
            .ok_or(Error::NotFound("registry namespace"))
            .and_then(|n| require(p, AdminAction::Read, Target::Tenant(&n.tenant_id), "registry namespace").map(|()| n))
    }

    /// A namespace by name, for the token service (which has no admin principal).
    ///
    /// # Errors
    /// Database errors.
    pub fn namespace_for_token(&self, name: &str) -> Result<Option<RegistryNamespace>> {
        let Some(ns) = self.inner.repo.namespace(name)? else {
            return Ok(None);
        };
        // Disabled means disabled on the registry face too: a namespace whose space is
        // disabled is granted nothing, as if it did not exist.
        match self.inner.repo.space(&ns.space_id)? {
            Some(s) if s.disabled_at.is_none() => Ok(Some(ns)),
            _ => Ok(None),
        }
    }

    /// Namespaces the principal may see.
    ///
    /// # Errors
    /// Database errors.
    pub fn list_namespaces(&self, p: &AdminPrincipal) -> Result<Vec<RegistryNamespace>> {
        self.inner.repo.list_namespaces(p.tenant_id.as_deref())
    }

    /// Changes anonymous pulls, retention and the upstream registry (absent values stay).
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Invalid`].
    pub fn update_namespace(
        &self,
        p: &AdminPrincipal,
        name: &str,
        public: Option<bool>,
        retention: Option<RetentionRules>,
        upstream: Option<String>,
    ) -> Result<RegistryNamespace> {
        let mut ns = self.namespace(p, name)?;
        require(p, AdminAction::Manage, Target::Tenant(&ns.tenant_id), "registry namespace")?;
        if let Some(u) = upstream {
            if !(u.starts_with("http://") || u.starts_with("https://")) || u.contains(char::is_whitespace) {
                return Err(Error::Invalid(format!("upstream {u:?} must be an http:// or https:// URL")));
            }
            ns.upstream = Some(u.trim_end_matches('/').to_owned());
        }
        if let Some(r) = retention {
            r.validate()?;
            ns.retention = r;
        }
        if let Some(public) = public {
            ns.public = public;
        }
        self.inner
            .repo
            .set_namespace_settings(name, ns.public, &ns.retention, ns.upstream.as_deref())?;
        let space = self.space(p, &ns.space_id)?;
        self.audit_admin(
            p,
            &space,
            "registry.namespace.changed",
            Some(format!(
                "namespace={name} public={} retention={}",
                ns.public,
                serde_json::to_string(&ns.retention).unwrap_or_default()
            )),
        );
        Ok(ns)
    }

    /// The storage identity's access key and secret, unsealed, for rendering Distribution's
    /// environment (admins of the namespace's tenant only).
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Seal`].
    pub fn namespace_storage_credentials(&self, p: &AdminPrincipal, name: &str) -> Result<(Identity, String)> {
        let ns = self.namespace(p, name)?;
        require(p, AdminAction::Manage, Target::Tenant(&ns.tenant_id), "registry namespace")?;
        let i = self.identity_for(p, &ns.storage_identity_id)?;
        let c = self.credential(&i.access_key_id)?.ok_or(Error::NotFound("storage identity"))?;
        Ok((i, c.secret.clone()))
    }

    /// The secret Distribution sends with its notifications for this namespace (for the config).
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Seal`].
    pub fn namespace_events_secret(&self, p: &AdminPrincipal, name: &str) -> Result<String> {
        let ns = self.namespace(p, name)?;
        require(p, AdminAction::Manage, Target::Tenant(&ns.tenant_id), "registry namespace")?;
        self.events_secret(&ns.name)?.ok_or(Error::NotFound("registry namespace"))
    }

    pub(super) fn events_secret(&self, name: &str) -> Result<Option<String>> {
        self.inner
            .repo
            .namespace_events_sealed(name)?
            .map(|sealed| self.key().unseal_text(&sealed))
            .transpose()
    }

    /// Checks a notification's secret; the namespace if it matches.
    ///
    /// # Errors
    /// Database and unsealing errors.
    pub fn check_events_secret(&self, name: &str, given: &str) -> Result<Option<RegistryNamespace>> {
        match self.events_secret(name)? {
            Some(want) if crate::seal::same_secret(want.as_bytes(), given.as_bytes()) => self.inner.repo.namespace(name),
            _ => Ok(None),
        }
    }

    /// Creates a robot; its secret is returned this once.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Invalid`], [`Error::Conflict`].
    pub fn create_robot(&self, p: &AdminPrincipal, namespace: &str, name: &str, access: RobotAccess) -> Result<(Robot, String)> {
        let ns = self.namespace(p, namespace)?;
        require(p, AdminAction::Manage, Target::Tenant(&ns.tenant_id), "registry namespace")?;
        validate_slug("a robot name", name)?;
        let secret = random(40);
        let r = Robot {
            id: new_id("rb_"),
            namespace: ns.name.clone(),
            name: name.to_owned(),
            username: format!("{}+{name}", ns.name),
            access,
            created_by: p.name.clone(),
            created_at: self.now(),
            revoked_at: None,
        };
        self.inner.repo.insert_robot(&r, &hash_token(&secret))?;
        let space = self.space(p, &ns.space_id)?;
        self.audit_admin(
            p,
            &space,
            "registry.robot.created",
            Some(format!("robot={} access={access}", r.username)),
        );
        Ok((r, secret))
    }

    /// Robots of a namespace.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub fn list_robots(&self, p: &AdminPrincipal, namespace: &str) -> Result<Vec<Robot>> {
        let ns = self.namespace(p, namespace)?;
        self.inner.repo.list_robots(&ns.name)
    }

    /// Revokes a robot: its next token request fails (tokens already issued live out their
    /// few minutes).
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub fn revoke_robot(&self, p: &AdminPrincipal, namespace: &str, name: &str) -> Result<Robot> {
        let ns = self.namespace(p, namespace)?;
        require(p, AdminAction::Manage, Target::Tenant(&ns.tenant_id), "registry namespace")?;
        let r = self
            .inner
            .repo
            .robot_by_username(&format!("{}+{name}", ns.name))?
            .map(|(r, _)| r)
            .ok_or(Error::NotFound("robot"))?;
        self.inner.repo.revoke_robot(&r.id, self.now())?;
        let space = self.space(p, &ns.space_id)?;
        self.audit_admin(p, &space, "registry.robot.revoked", Some(format!("robot={}", r.username)));
        self.inner
            .repo
            .robot_by_username(&r.username)?
            .map(|(r, _)| r)
            .ok_or(Error::NotFound("robot"))
    }

    /// Checks a robot's login; `None` for an unknown name, a wrong secret or a revoked robot.
    ///
    /// # Errors
    /// Database errors.
    pub fn authenticate_robot(&self, username: &str, secret: &str) -> Result<Option<(Robot, RegistryNamespace)>> {
        let Some((robot, hash)) = self.inner.repo.robot_by_username(username)? else {
            return Ok(None);
        };
        // Equal-time comparison: the stored hash must not leak through timing.
        if !crate::seal::same_secret(hash_token(secret).as_bytes(), hash.as_bytes()) || robot.revoked_at.is_some() {
            return Ok(None);
        }
        Ok(self.inner.repo.namespace(&robot.namespace)?.map(|ns| (robot, ns)))
    }

    /// The registry token signing key (PKCS#8 PEM, unsealed) and certificate, made by `make`
    /// on first use; every node then uses the same one.
    ///
    /// # Errors
    /// Database and sealing errors, or what `make` returns.
    pub fn registry_signing_key(&self, make: impl FnOnce() -> Result<(String, String)>) -> Result<(String, String)> {
        if self.inner.repo.registry_signing()?.is_none() {
            let (key, cert) = make()?;
            self.inner.repo.init_registry_signing(&self.key().seal(key.as_bytes())?, &cert)?;
        }
        let (sealed, cert) = self.inner.repo.registry_signing()?.ok_or(Error::NotFound("registry signing key"))?;
        Ok((self.key().unseal_text(&sealed)?, cert))
    }

    /// `(used, quota)` of the namespace's space, if it has a quota (uploads in progress count).
    ///
    /// # Errors
    /// Database errors.
    pub fn namespace_quota(&self, ns: &RegistryNamespace) -> Result<Option<(u64, u64)>> {
        let Some(space) = self.inner.repo.space(&ns.space_id)? else {
            return Ok(None);
        };
        let Some(quota) = space.quota_bytes else {
            return Ok(None);
        };
        let u = self.inner.repo.usage(&space.id)?;
        Ok(Some((u.counted(), quota)))
    }

    /// `(used, quota)` when the namespace's space has reached its quota (uploads in progress
    /// count), so the token service can refuse pushes with a clear message.
    ///
    /// # Errors
    /// Database errors.
    pub fn namespace_full(&self, ns: &RegistryNamespace) -> Result<Option<(u64, u64)>> {
        Ok(self.namespace_quota(ns)?.filter(|(used, quota)| used >= quota))
    }

    /// Records an event about a namespace (token issued, push, pull) in its tenant's audit log.
    pub fn audit_registry(&self, ns: &RegistryNamespace, actor: &str, op: &str, status: &str, detail: Option<String>) {
        self.audit(NewAuditEvent {
            tenant_id: Some(ns.tenant_id.clone()),
            object_space_id: Some(ns.space_id.clone()),
            actor: actor.to_owned(),
            kind: "registry".into(),
            operation: op.to_owned(),
            status: status.to_owned(),
            detail,
            ..NewAuditEvent::default()
        });
    }

    // ---- console sessions ----
}
