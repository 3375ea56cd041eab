//! The audit log: the writer thread's queue and queries.

use super::*;

impl Core {
    /// Queues an audit event; it is written in the background, in order.
    pub fn audit(&self, e: NewAuditEvent) {
        let tx = self.inner.audit_tx.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if tx.send(AuditMsg::Event(self.now(), Box::new(e))).is_err() {
            tracing::error!("audit writer has stopped; an audit event was lost");
        }
    }

    pub(super) fn audit_security(
        &self,
        p: &AdminPrincipal,
        tenant: Option<&str>,
        space: Option<&str>,
        identity: Option<&str>,
        op: &str,
        detail: Option<String>,
    ) {
        self.audit(NewAuditEvent {
            tenant_id: tenant.map(str::to_owned),
            object_space_id: space.map(str::to_owned),
            identity_id: identity.map(str::to_owned),
            actor: p.name.clone(),
            kind: "security".into(),
            operation: op.to_owned(),
            status: "ok".into(),
            detail,
            ..NewAuditEvent::default()
        });
    }

    /// Records a security event on behalf of an admin principal (public access, purges, ...).
    pub fn audit_admin(&self, p: &AdminPrincipal, space: &Space, op: &str, detail: Option<String>) {
        self.audit_security(p, Some(&space.tenant_id), Some(&space.id), None, op, detail);
    }

    /// Waits until every queued audit event is written.
    pub fn flush_audit(&self) {
        let (tx, rx) = mpsc::sync_channel(1);
        let sent = self
            .inner
            .audit_tx
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .send(AuditMsg::Flush(tx))
            .is_ok();
        if sent {
            let _ = rx.recv_timeout(Duration::from_secs(10));
        }
    }

    /// Reads the audit log; tenant tokens see only their tenant.
    ///
    /// # Errors
    /// Database errors.
    pub fn audit_events(&self, p: &AdminPrincipal, mut f: AuditFilter) -> Result<Vec<AuditEvent>> {
        if let Some(t) = &p.tenant_id {
            f.tenant_id = Some(t.clone());
        }
        if let Some(sp) = f.space_id.clone() {
            f.space_id = Some(self.space(p, &sp)?.id);
        }
        // The console filters by access key id, which people see; rows carry the identity id.
        if let Some(key) = f.identity_id.clone().filter(|k| k.starts_with("RS3")) {
            let id = match self.inner.repo.identity_by_key(&key)? {
                Some((i, _)) if require(p, AdminAction::Read, Target::Tenant(&i.tenant_id), "key").is_ok() => i.id,
                _ => return Ok(Vec::new()),
            };
            f.identity_id = Some(id);
        }
        self.flush_audit();
        self.inner.repo.query_audit(&f)
    }

    // ---- registry namespaces ----
}
