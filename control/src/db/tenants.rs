//! TenantRepo over SQL (SQLite and PostgreSQL alike).

use super::*;

impl<B: Backend> TenantRepo for SqlRepo<B> {
    fn insert_tenant(&self, t: &Tenant) -> Result<()> {
        self.db.with(|c| {
            c.exec(
                "INSERT INTO tenants(id, name, created_at) VALUES (?1, ?2, ?3)",
                p![&t.id, &t.name, t.created_at],
            )
            .map_err(|e| e.unique_as("a tenant with this name"))?;
            Ok(())
        })
    }

    fn tenant(&self, id_or_name: &str) -> Result<Option<Tenant>> {
        self.db.with(|c| {
            one(
                c,
                "SELECT id, name, created_at FROM tenants WHERE id = ?1 OR name = ?1",
                p![id_or_name],
                tenant_row,
            )
        })
    }

    fn list_tenants(&self) -> Result<Vec<Tenant>> {
        self.db
            .with(|c| all(c, "SELECT id, name, created_at FROM tenants ORDER BY name", &[], tenant_row))
    }

    fn insert_token(&self, id: &str, tenant_id: Option<&str>, name: &str, hash: &str, now: OffsetDateTime) -> Result<()> {
        self.db.with(|c| {
            c.exec(
                "INSERT INTO admin_tokens(id, tenant_id, name, token_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                p![id, tenant_id, name, hash, now],
            )
            .map_err(|e| e.unique_as("this admin token"))?;
            Ok(())
        })
    }

    fn token_by_hash(&self, hash: &str) -> Result<Option<AdminPrincipal>> {
        self.db.with(|c| {
            one(
                c,
                "SELECT id, name, tenant_id FROM admin_tokens WHERE token_hash = ?1 AND revoked_at IS NULL",
                p![hash],
                |mut r| {
                    Ok(AdminPrincipal {
                        token_id: r.text(0)?,
                        name: r.text(1)?,
                        tenant_id: r.opt_text(2)?,
                    })
                },
            )
        })
    }

    fn operator_token_count(&self) -> Result<u64> {
        self.db.with(|c| {
            Ok(one(
                c,
                "SELECT COUNT(*) FROM admin_tokens WHERE tenant_id IS NULL AND revoked_at IS NULL",
                &[],
                |mut r| r.size(0),
            )?
            .unwrap_or(0))
        })
    }
}
