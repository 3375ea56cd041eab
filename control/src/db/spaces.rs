//! SpaceRepo over SQL (SQLite and PostgreSQL alike).

use super::*;

fn lock_json(c: Option<&crate::lock::LockConfig>) -> Result<Option<String>> {
    c.map(|c| serde_json::to_string(c).map_err(|e| Error::Db(format!("object lock of a space: {e}").into())))
        .transpose()
}

impl<B: Backend> SpaceRepo for SqlRepo<B> {
    fn insert_space(&self, s: &Space) -> Result<()> {
        let lock = lock_json(s.object_lock.as_ref())?;
        let sql = format!("INSERT INTO spaces({SPACE_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)");
        self.db.with(|c| {
            c.tx(|c| {
                c.exec(
                    &sql,
                    p![
                        &s.id,
                        &s.tenant_id,
                        &s.workspace_id,
                        &s.name,
                        &s.bucket,
                        &s.base_prefix,
                        s.visibility.as_str(),
                        s.purpose.as_str(),
                        s.quota_bytes,
                        &s.created_by,
                        s.created_at,
                        s.disabled_at,
                        s.versioning.as_str(),
                        lock.as_deref()
                    ],
                )
                .map_err(|e| e.unique_as("a space with this name or bucket"))?;
                c.exec("INSERT INTO usage(space_id) VALUES (?1)", p![&s.id])?;
                Ok(())
            })
        })
    }

    fn space(&self, id: &str) -> Result<Option<Space>> {
        self.db
            .with(|c| one(c, &format!("SELECT {SPACE_COLS} FROM spaces WHERE id = ?1"), p![id], space_row))
    }

    fn space_by_bucket(&self, bucket: &str) -> Result<Option<Space>> {
        self.db.with(|c| {
            one(
                c,
                &format!("SELECT {SPACE_COLS} FROM spaces WHERE bucket = ?1"),
                p![bucket],
                space_row,
            )
        })
    }

    fn space_by_name(&self, tenant_id: &str, name: &str) -> Result<Option<Space>> {
        self.db.with(|c| {
            one(
                c,
                &format!("SELECT {SPACE_COLS} FROM spaces WHERE tenant_id = ?1 AND name = ?2"),
                p![tenant_id, name],
                space_row,
            )
        })
    }

    fn list_spaces(&self, tenant_id: Option<&str>) -> Result<Vec<Space>> {
        self.db.with(|c| {
            all(
                c,
                &format!("SELECT {SPACE_COLS} FROM spaces WHERE CAST(?1 AS TEXT) IS NULL OR tenant_id = ?1 ORDER BY tenant_id, name"),
                p![tenant_id],
                space_row,
            )
        })
    }

    fn set_space_disabled(&self, id: &str, at: Option<OffsetDateTime>) -> Result<()> {
        self.db.with(|c| {
            c.exec("UPDATE spaces SET disabled_at = ?2 WHERE id = ?1", p![id, at])?;
            Ok(())
        })
    }

    fn retire_space(&self, id: &str, at: OffsetDateTime) -> Result<()> {
        self.db.with(|c| {
            c.exec(
                "UPDATE spaces SET disabled_at = ?2, name = name || '~' || id, bucket = 'retired-' || id WHERE id = ?1",
                p![id, at],
            )?;
            Ok(())
        })
    }

    fn set_space_lock(&self, id: &str, c: &crate::lock::LockConfig) -> Result<()> {
        let j = lock_json(Some(c))?;
        self.db.with(|c| {
            c.exec("UPDATE spaces SET object_lock = ?2 WHERE id = ?1", p![id, j.as_deref()])?;
            Ok(())
        })
    }

    fn set_space_versioning(&self, id: &str, v: crate::model::Versioning) -> Result<()> {
        self.db.with(|c| {
            c.exec("UPDATE spaces SET versioning = ?2 WHERE id = ?1", p![id, v.as_str()])?;
            Ok(())
        })
    }

    fn set_space_quota(&self, id: &str, quota: Option<u64>) -> Result<()> {
        self.db.with(|c| {
            c.exec("UPDATE spaces SET quota_bytes = ?2 WHERE id = ?1", p![id, quota])?;
            Ok(())
        })
    }
}
