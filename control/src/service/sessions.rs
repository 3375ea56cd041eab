//! Console sessions and per-minute traffic.

use super::*;

impl Core {
    /// Opens a console session for an admin token. Returns the cookie value (shown only here)
    /// and the session, whose `csrf` the console must echo on state-changing requests.
    ///
    /// # Errors
    /// [`Error::Unauthorized`] for an unknown or revoked token; [`Error::Invalid`] for a zero lifetime.
    pub fn open_session(&self, token: &str, lifetime: Duration) -> Result<(String, SessionRecord, AdminPrincipal)> {
        let p = self.authenticate(token)?;
        let secs = i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX);
        if secs == 0 {
            return Err(Error::Invalid("session lifetime must be at least one second".into()));
        }
        let value = random(43);
        let t = self.now();
        let rec = SessionRecord {
            id_hash: hash_token(&value),
            token_id: p.token_id.clone(),
            csrf: random(43),
            created_at: t,
            expires_at: t.saturating_add(time::Duration::seconds(secs)),
        };
        self.inner.repo.insert_session(&rec)?;
        let _ = self.inner.repo.purge_sessions(t);
        self.audit_security(&p, p.tenant_id.as_deref(), None, None, "console.login", None);
        Ok((value, rec, p))
    }

    /// The live session behind a cookie value: expired sessions and those whose token was
    /// revoked are gone.
    ///
    /// # Errors
    /// [`Error::Unauthorized`] when there is none.
    pub fn session(&self, cookie: &str) -> Result<(SessionRecord, AdminPrincipal)> {
        self.inner
            .repo
            .session_by_hash(&hash_token(cookie), self.now())?
            .ok_or(Error::Unauthorized)
    }

    /// Ends a session (logout).
    ///
    /// # Errors
    /// Database errors.
    pub fn close_session(&self, cookie: &str, p: &AdminPrincipal) -> Result<()> {
        self.inner.repo.delete_session(&hash_token(cookie))?;
        self.audit_security(p, p.tenant_id.as_deref(), None, None, "console.logout", None);
        Ok(())
    }

    // ---- traffic ----

    /// Adds this node's traffic figures (see [`TrafficSample`]).
    ///
    /// # Errors
    /// Database errors.
    pub fn record_traffic(&self, samples: &[TrafficSample]) -> Result<()> {
        if samples.is_empty() {
            return Ok(());
        }
        self.inner.repo.add_traffic(samples)
    }

    /// A space's traffic per minute over the last `minutes`, summed over nodes, oldest first.
    ///
    /// # Errors
    /// [`Error::NotFound`] for a space the principal cannot see.
    pub fn traffic(&self, p: &AdminPrincipal, space: &str, minutes: u32) -> Result<Vec<TrafficSample>> {
        let s = self.space(p, space)?;
        let since = self.now() - time::Duration::minutes(i64::from(minutes.clamp(1, 60 * 24 * 31)));
        self.inner.repo.traffic(&s.id, since)
    }
}
