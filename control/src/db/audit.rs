//! AuditRepo over SQL (SQLite and PostgreSQL alike).

use super::*;

impl<B: Backend> AuditRepo for SqlRepo<B> {
    fn insert_audit(&self, events: &[(OffsetDateTime, NewAuditEvent)]) -> Result<()> {
        self.db.with(|c| {
            c.tx(|c| {
                for (at, e) in events {
                    c.exec(
                        "INSERT INTO audit_events(ts, tenant_id, space_id, identity_id, actor, kind, operation, object_key, source_ip, user_agent, status, bytes, detail)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                        p![
                            *at,
                            &e.tenant_id,
                            &e.object_space_id,
                            &e.identity_id,
                            &e.actor,
                            &e.kind,
                            &e.operation,
                            &e.object_key,
                            &e.source_ip,
                            &e.user_agent,
                            &e.status,
                            e.bytes,
                            &e.detail
                        ],
                    )?;
                }
                Ok(())
            })
        })
    }

    fn query_audit(&self, f: &AuditFilter) -> Result<Vec<AuditEvent>> {
        let limit = f.limit.unwrap_or(100).clamp(1, 1000);
        self.db.with(|c| {
            all(
                c,
                "SELECT id, ts, tenant_id, space_id, identity_id, actor, kind, operation, object_key, source_ip, user_agent, status, bytes, detail
                 FROM audit_events
                 WHERE (CAST(?1 AS TEXT) IS NULL OR tenant_id = ?1) AND (CAST(?2 AS TEXT) IS NULL OR space_id = ?2) AND (CAST(?3 AS TEXT) IS NULL OR identity_id = ?3)
                   AND (CAST(?4 AS TEXT) IS NULL OR operation = ?4) AND (CAST(?5 AS BIGINT) IS NULL OR ts >= ?5) AND (CAST(?6 AS BIGINT) IS NULL OR ts < ?6)
                   AND (CAST(?8 AS BIGINT) IS NULL OR id < ?8)
                 ORDER BY id DESC LIMIT ?7",
                p![&f.tenant_id, &f.space_id, &f.identity_id, &f.operation, f.since, f.until, limit, f.before_id],
                audit_row,
            )
        })
    }
}
