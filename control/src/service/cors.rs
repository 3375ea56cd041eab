//! The S3 face's bucket CORS rules: set by the operator or a tenant admin (control API) or by a
//! key whose mode may (PutBucketCors), read by the S3 face for preflights and actual requests.

use super::*;
use crate::cors::{self as rules, CorsRule};

/// A bucket's CORS rules as the S3 face applies them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketCors {
    /// The space the bucket names.
    pub space_id: String,
    /// Its rules, in order.
    pub rules: Vec<CorsRule>,
}

impl Core {
    /// A space's CORS rules (admin view).
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub fn cors(&self, p: &AdminPrincipal, space: &str) -> Result<(Space, Option<Vec<CorsRule>>)> {
        let s = self.space(p, space)?;
        let r = self.inner.repo.cors(&s.id)?;
        Ok((s, r))
    }

    /// Sets (or with `None` removes) a space's CORS rules, as an admin; audited.
    ///
    /// # Errors
    /// [`Error::Invalid`] for rules S3 would refuse, [`Error::NotFound`], [`Error::Forbidden`].
    pub fn set_cors(&self, p: &AdminPrincipal, space: &str, cors: Option<&[CorsRule]>) -> Result<Space> {
        let s = self.space(p, space)?;
        require(p, AdminAction::Manage, Target::Tenant(&s.tenant_id), "space")?;
        let detail = cors.as_ref().map(|r| format!("rules={}", r.len()));
        let op = if cors.is_some() { "cors.set" } else { "cors.removed" };
        self.put_space_cors(&s.id, cors)?;
        self.audit_security(p, Some(&s.tenant_id), Some(&s.id), None, op, detail);
        Ok(s)
    }

    /// A space's CORS rules, for a caller already allowed to read them (GetBucketCors).
    ///
    /// # Errors
    /// Database errors.
    pub fn space_cors(&self, space_id: &str) -> Result<Option<Vec<CorsRule>>> {
        self.inner.repo.cors(space_id)
    }

    /// Stores a space's CORS rules, for a caller already allowed to (PutBucketCors,
    /// DeleteBucketCors); every node drops its cached rules.
    ///
    /// # Errors
    /// [`Error::Invalid`] for rules S3 would refuse; database errors.
    pub fn put_space_cors(&self, space_id: &str, cors: Option<&[CorsRule]>) -> Result<()> {
        if let Some(r) = cors {
            rules::check(r).map_err(|e| Error::Invalid(e.0))?;
        }
        self.inner.repo.set_cors(space_id, cors, self.now())?;
        self.invalidate();
        Ok(())
    }

    /// [`Core::bucket_cors`] from memory only: `None` when the database must be asked.
    #[must_use]
    pub fn bucket_cors_cached(&self, bucket: &str) -> Option<Option<Arc<BucketCors>>> {
        self.inner.cors.get(bucket, self.inner.clock.now())
    }

    /// The CORS rules of the space a bucket name names (`None` for an unknown bucket, a disabled
    /// space, or no rules), from cache when fresh. Preflights carry no credential, so this is
    /// what an anonymous caller can make the server read: cached by name, unknown names too.
    ///
    /// # Errors
    /// Database errors.
    pub fn bucket_cors(&self, bucket: &str) -> Result<Option<Arc<BucketCors>>> {
        if let Some(hit) = self.bucket_cors_cached(bucket) {
            return Ok(hit);
        }
        let loaded = self.inner.clock.now();
        let found = match self.inner.repo.space_by_bucket(bucket)? {
            Some(s) if s.disabled_at.is_none() => self
                .inner
                .repo
                .cors(&s.id)?
                .map(|rules| Arc::new(BucketCors { space_id: s.id, rules })),
            _ => None,
        };
        self.inner.cors.put(bucket, found.clone(), loaded);
        Ok(found)
    }
}
