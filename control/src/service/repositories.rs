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

    /// The repository's signing keys, unsealed, for the publisher only: the current key, then
    /// the next one during a rotation.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Seal`].
    pub fn repository_signing_keys(&self, name: &str) -> Result<Vec<Vec<u8>>> {
        let mut keys = vec![self.repository_signing_key(name)?];
        if let Some(next) = self.inner.repo.next_signing_key(name)? {
            keys.push(self.key().unseal(&next)?);
        }
        Ok(keys)
    }

    /// Starts a key rotation: `sealed` (by [`Core::seal`]) becomes the repository's next key,
    /// signing beside the current one until [`Core::retire_signing_key`].
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::Conflict`] when a rotation is already under way.
    pub fn add_signing_key(
        &self,
        p: &AdminPrincipal,
        name: &str,
        sealed: &[u8],
        public_key: &str,
        fingerprint: &str,
    ) -> Result<Repository> {
        let r = self.repository(p, name)?;
        require(p, AdminAction::Manage, Target::Tenant(&r.tenant_id), "repository")?;
        if !self.inner.repo.add_next_signing_key(name, sealed, public_key, fingerprint)? {
            return Err(Error::Conflict(format!(
                "repository {name:?} already has a next signing key ({}); retire the old key first",
                r.next_fingerprint.as_deref().unwrap_or("?")
            )));
        }
        self.invalidate();
        let s = self.space(p, &r.space_id)?;
        self.audit_admin(
            p,
            &s,
            "repo.key-added",
            Some(format!("repo={name} fingerprint={fingerprint} current={}", r.fingerprint)),
        );
        self.repository(p, name)
    }

    /// Ends a key rotation: the next key becomes the only key and the old one is forgotten.
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::Conflict`] when no rotation is under way.
    pub fn retire_signing_key(&self, p: &AdminPrincipal, name: &str) -> Result<Repository> {
        let r = self.repository(p, name)?;
        require(p, AdminAction::Manage, Target::Tenant(&r.tenant_id), "repository")?;
        if !self.inner.repo.retire_signing_key(name)? {
            return Err(Error::Conflict(format!(
                "repository {name:?} has no next signing key to take over; add one first (repo rotate-key)"
            )));
        }
        self.invalidate();
        let s = self.space(p, &r.space_id)?;
        self.audit_admin(
            p,
            &s,
            "repo.key-retired",
            Some(format!(
                "repo={name} retired={} current={}",
                r.fingerprint,
                r.next_fingerprint.as_deref().unwrap_or("?")
            )),
        );
        self.repository(p, name)
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
