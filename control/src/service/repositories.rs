//! Package repositories' records and their sealed signing keys.

use super::*;

impl Core {
    /// Registers a repository in a `packages` space. The caller made the signing key; its
    /// secret part arrives sealed by [`Core::seal`].
    ///
    /// # Errors
    /// [`Error::Invalid`], [`Error::Conflict`] for a taken name, [`Error::NotFound`] for the space.
    pub fn create_repository(&self, p: &AdminPrincipal, space: &str, mut repo: Repository, signing_sealed: &[u8]) -> Result<Repository> {
        validate_slug("a repository name", &repo.name)?;
        repo.config.validate()?;
        let s = self.space(p, space)?;
        require(p, AdminAction::Manage, Target::Tenant(&s.tenant_id), "space")?;
        if s.purpose != Purpose::Packages {
            return Err(Error::Invalid(format!(
                "space {:?} has purpose {}; repositories live in a space of purpose packages",
                s.name, s.purpose
            )));
        }
        repo.tenant_id.clone_from(&s.tenant_id);
        repo.space_id.clone_from(&s.id);
        repo.created_by.clone_from(&p.name);
        repo.created_at = self.now();
        self.inner.repo.insert_repository(&repo, signing_sealed)?;
        // A request for the name before it existed is remembered as absent.
        self.invalidate();
        self.audit_admin(
            p,
            &s,
            "repo.created",
            Some(format!("repo={} fingerprint={}", repo.name, repo.fingerprint)),
        );
        Ok(repo)
    }

    /// One repository the principal may see.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub fn repository(&self, p: &AdminPrincipal, name: &str) -> Result<Repository> {
        self.inner
            .repo
            .repository(name)?
            .map(|(r, _)| r)
            .ok_or(Error::NotFound("repository"))
            .and_then(|r| require(p, AdminAction::Read, Target::Tenant(&r.tenant_id), "repository").map(|()| r))
    }

    /// A repository by name, for anonymous reads on the packages face.
    ///
    /// # Errors
    /// Database errors.
    pub fn repository_public(&self, name: &str) -> Result<Option<Arc<Repository>>> {
        if let Some(hit) = self.repository_public_cached(name) {
            return Ok(hit);
        }
        let found = match self.inner.repo.repository(name)? {
            // Disabled means disabled on every face: the repository of a disabled space is gone
            // for apt as its objects are for S3 and the CDN.
            Some((r, _)) => match self.inner.repo.space(&r.space_id)? {
                Some(s) if s.disabled_at.is_none() => Some(Arc::new(r)),
                _ => None,
            },
            None => None,
        };
        let mut m = self.inner.repos.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Unknown names are remembered too, but the map is bounded so scans cannot grow it.
        if m.len() > 10_000 {
            m.clear();
        }
        m.insert(name.to_owned(), (found.clone(), self.inner.clock.now()));
        Ok(found)
    }

    /// [`Core::repository_public`] from memory only: `None` when the database must be asked.
    /// Entries live as long as cached credentials; a change on this node (a disabled space, a
    /// new or changed repository) drops them at once, and other nodes through the change feed.
    #[must_use]
    pub fn repository_public_cached(&self, name: &str) -> Option<Option<Arc<Repository>>> {
        let m = self.inner.repos.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        m.get(name)
            .filter(|(_, at)| self.inner.age(*at) < CREDENTIAL_TTL)
            .map(|(r, _)| r.clone())
    }

    /// The repository's signing key, unsealed, for the publisher only.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Seal`].
    pub fn repository_signing_key(&self, name: &str) -> Result<Vec<u8>> {
        let (_, sealed) = self.inner.repo.repository(name)?.ok_or(Error::NotFound("repository"))?;
        self.key().unseal(&sealed)
    }

    /// Repositories the principal may see.
    ///
    /// # Errors
    /// Database errors.
    pub fn list_repositories(&self, p: &AdminPrincipal) -> Result<Vec<Repository>> {
        self.inner.repo.list_repositories(p.tenant_id.as_deref())
    }

    /// Replaces a repository's configuration; it applies from the next publish.
    ///
    /// # Errors
    /// [`Error::Invalid`], [`Error::NotFound`].
    pub fn update_repository(&self, p: &AdminPrincipal, name: &str, config: RepositoryConfig) -> Result<Repository> {
        let mut r = self.repository(p, name)?;
        require(p, AdminAction::Manage, Target::Tenant(&r.tenant_id), "repository")?;
        config.validate()?;
        self.inner.repo.set_repository_config(name, &config)?;
        r.config = config;
        // The packages face's cached copy (here and on other nodes) has the old configuration.
        self.invalidate();
        let s = self.space(p, &r.space_id)?;
        self.audit_admin(p, &s, "repo.changed", Some(format!("repo={name}")));
        Ok(r)
    }

    /// Seals a secret under the master key.
    ///
    /// # Errors
    /// [`Error::Seal`].
    pub fn seal(&self, plain: &[u8]) -> Result<Vec<u8>> {
        self.key().seal(plain)
    }

    // ---- public web access ----
}
