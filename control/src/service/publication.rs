//! Public web access: publication rules and the public-site cache the CDN reads.

use super::*;

impl Core {
    /// A space's publication rules, if it ever had any.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub fn publication(&self, p: &AdminPrincipal, space: &str) -> Result<(Space, Option<PublicationRules>)> {
        let s = self.space(p, space)?;
        let r = self.inner.repo.publication(&s.id)?;
        Ok((s, r))
    }

    /// Enables public web access (or changes its rules); takes effect on the next request.
    ///
    /// # Errors
    /// [`Error::Invalid`], [`Error::Conflict`] for a taken public name, [`Error::NotFound`].
    pub fn enable_publication(&self, p: &AdminPrincipal, space: &str, input: PublicationInput) -> Result<(Space, PublicationRules)> {
        let (s, current) = self.publication(p, space)?;
        require(p, AdminAction::Manage, Target::Tenant(&s.tenant_id), "space")?;
        let was_enabled = current.as_ref().is_some_and(|r| r.enabled);
        let mut r = current.unwrap_or_else(|| PublicationRules::defaults(s.bucket.strip_prefix("rs-").unwrap_or(&s.bucket)));
        r.enabled = true;
        let PublicationInput {
            public_name,
            prefixes,
            public_base_url,
            cache_control,
            cache_overrides,
            immutable_prefixes,
            allowed_content_types,
            directory_listing,
            cors_origins,
        } = input;
        if let Some(v) = public_name {
            r.public_name = v;
        }
        if let Some(v) = prefixes {
            r.prefixes = v;
        }
        if let Some(v) = public_base_url {
            r.public_base_url = Some(v).filter(|u| !u.is_empty());
        }
        if let Some(v) = cache_control {
            r.cache_control = v;
        }
        if let Some(v) = cache_overrides {
            r.cache_overrides = v;
        }
        if let Some(v) = immutable_prefixes {
            r.immutable_prefixes = v;
        }
        if let Some(v) = allowed_content_types {
            r.allowed_content_types = v;
        }
        if let Some(v) = directory_listing {
            r.directory_listing = v;
        }
        if let Some(v) = cors_origins {
            r.cors_origins = v;
        }
        r.validate()?;
        self.inner.repo.set_publication(&s.id, &r, self.now())?;
        self.invalidate();
        let op = if was_enabled { "public.changed" } else { "public.enabled" };
        let detail = format!(
            "public_name={} prefixes={:?} listing={} cors={:?}",
            r.public_name, r.prefixes, r.directory_listing, r.cors_origins
        );
        self.audit_security(p, Some(&s.tenant_id), Some(&s.id), None, op, Some(detail));
        Ok((s, r))
    }

    /// Disables public web access; the next anonymous request gets 404.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub fn disable_publication(&self, p: &AdminPrincipal, space: &str) -> Result<(Space, Option<PublicationRules>)> {
        let (s, current) = self.publication(p, space)?;
        require(p, AdminAction::Manage, Target::Tenant(&s.tenant_id), "space")?;
        let Some(mut r) = current else { return Ok((s, None)) };
        if r.enabled {
            r.enabled = false;
            self.inner.repo.set_publication(&s.id, &r, self.now())?;
            self.invalidate();
            self.audit_security(
                p,
                Some(&s.tenant_id),
                Some(&s.id),
                None,
                "public.disabled",
                Some(format!("public_name={}", r.public_name)),
            );
        }
        Ok((s, Some(r)))
    }

    /// [`Core::public_site`] from memory only: `None` when the database must be asked.
    #[must_use]
    pub fn public_site_cached(&self, public_name: &str) -> Option<Option<Arc<PublicSite>>> {
        self.inner.sites.get(public_name, self.inner.clock.now())
    }

    /// The published, enabled, not disabled space behind a public name, from cache when fresh.
    ///
    /// # Errors
    /// Database errors.
    pub fn public_site(&self, public_name: &str) -> Result<Option<Arc<PublicSite>>> {
        if let Some(hit) = self.public_site_cached(public_name) {
            return Ok(hit);
        }
        let loaded = self.inner.clock.now();
        let site = match self.inner.repo.publication_by_name(public_name)? {
            Some((space_id, rules)) if rules.enabled => match self.inner.repo.space(&space_id)? {
                Some(space) if space.disabled_at.is_none() => Some(Arc::new(PublicSite { space, rules })),
                _ => None,
            },
            _ => None,
        };
        self.inner.sites.put(public_name, site.clone(), loaded);
        Ok(site)
    }

    /// The space a client-visible bucket names.
    ///
    /// # Errors
    /// Database errors.
    pub fn space_by_bucket(&self, bucket: &str) -> Result<Option<Space>> {
        self.inner.repo.space_by_bucket(bucket)
    }
}
