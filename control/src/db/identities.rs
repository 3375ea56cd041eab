//! IdentityRepo over SQL (SQLite and PostgreSQL alike).

use super::*;

impl<B: Backend> IdentityRepo for SqlRepo<B> {
    fn insert_identity(&self, x: &Identity, sealed: &[u8]) -> Result<()> {
        let sql = format!("INSERT INTO identities({IDENT_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)");
        self.db.with(|c| {
            c.exec(
                &sql,
                p![
                    &x.id,
                    &x.tenant_id,
                    &x.space_id,
                    &x.name,
                    &x.access_key_id,
                    x.mode.as_str(),
                    &x.allowed_prefix,
                    x.expires_at,
                    x.last_used_at,
                    x.revoked_at,
                    &x.created_by,
                    x.created_at,
                    x.rotated_at,
                    sealed
                ],
            )
            .map_err(|e| e.unique_as("a key with this name in this space"))?;
            Ok(())
        })
    }

    fn identity(&self, id: &str) -> Result<Option<Identity>> {
        self.db.with(|c| {
            one(c, &format!("SELECT {IDENT_COLS} FROM identities WHERE id = ?1"), p![id], |mut r| {
                ident_row(&mut r)
            })
        })
    }

    fn identity_by_key(&self, ak: &str) -> Result<Option<(Identity, Vec<u8>)>> {
        self.db.with(|c| {
            one(
                c,
                &format!("SELECT {IDENT_COLS} FROM identities WHERE access_key_id = ?1"),
                p![ak],
                |mut r| Ok((ident_row(&mut r)?, r.blob(13)?)),
            )
        })
    }

    fn list_identities(&self, space_id: &str) -> Result<Vec<Identity>> {
        self.db.with(|c| {
            all(
                c,
                &format!("SELECT {IDENT_COLS} FROM identities WHERE space_id = ?1 ORDER BY name"),
                p![space_id],
                |mut r| ident_row(&mut r),
            )
        })
    }

    fn revoke_identity(&self, id: &str, at: OffsetDateTime) -> Result<()> {
        self.db.with(|c| {
            c.exec(
                "UPDATE identities SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1",
                p![id, at],
            )?;
            Ok(())
        })
    }

    fn rotate_identity(&self, id: &str, sealed: &[u8], at: OffsetDateTime) -> Result<()> {
        self.db.with(|c| {
            c.exec(
                "UPDATE identities SET secret_sealed = ?2, rotated_at = ?3 WHERE id = ?1",
                p![id, sealed, at],
            )?;
            Ok(())
        })
    }

    fn touch_identity(&self, id: &str, at: OffsetDateTime) -> Result<()> {
        self.db.with(|c| {
            c.exec("UPDATE identities SET last_used_at = ?2 WHERE id = ?1", p![id, at])?;
            Ok(())
        })
    }
}
